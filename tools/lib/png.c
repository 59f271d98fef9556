/*
 * PNG (ISO/IEC 15948) in its smallest honest form: signature, IHDR (8-bit
 * truecolour, no interlace), one IDAT holding the zlib stream of the scanlines
 * (each prefixed with filter type 0), IEND. Every chunk carries the CRC-32 of
 * its type and data (zlib's crc32 is the same polynomial PNG specifies).
 */
#include "png.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static void put_u32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Append one chunk (length, type, data, CRC over type + data) at *pos. */
static void put_chunk(unsigned char *buf, size_t *pos, const char type[4], const unsigned char *data,
                      uint32_t len) {
    unsigned char *p = buf + *pos;
    put_u32(p, len);
    memcpy(p + 4, type, 4);
    if (len) memcpy(p + 8, data, len);
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, p + 4, (uInt)len + 4);
    put_u32(p + 8 + len, (uint32_t)crc);
    *pos += 12 + (size_t)len;
}

int png_encode_rgb(const unsigned char *rgb, int w, int h, unsigned char **out, size_t *out_len) {
    if (!rgb || !out || !out_len || w <= 0 || h <= 0 || w > 16384 || h > 16384) return -1;
    const size_t stride = (size_t)w * 3 + 1;
    const size_t raw_len = stride * (size_t)h;
    unsigned char *raw = malloc(raw_len);
    if (!raw) return -1;
    for (int y = 0; y < h; y++) {
        raw[(size_t)y * stride] = 0; /* filter: none */
        memcpy(raw + (size_t)y * stride + 1, rgb + (size_t)y * (size_t)w * 3, (size_t)w * 3);
    }
    uLongf z_len = compressBound((uLong)raw_len);
    unsigned char *z = malloc(z_len);
    if (!z) {
        free(raw);
        return -1;
    }
    int zst = compress2(z, &z_len, raw, (uLong)raw_len, 9);
    free(raw);
    if (zst != Z_OK || z_len > 0x7fffffffUL) {
        free(z);
        return -1;
    }
    static const unsigned char sig[8] = {137, 80, 78, 71, 13, 10, 26, 10};
    const size_t total = 8 + (12 + 13) + (12 + (size_t)z_len) + 12;
    unsigned char *buf = malloc(total);
    if (!buf) {
        free(z);
        return -1;
    }
    size_t pos = 0;
    memcpy(buf, sig, 8);
    pos = 8;
    unsigned char ihdr[13];
    put_u32(ihdr, (uint32_t)w);
    put_u32(ihdr + 4, (uint32_t)h);
    ihdr[8] = 8;  /* bit depth */
    ihdr[9] = 2;  /* colour type: truecolour */
    ihdr[10] = 0; /* deflate */
    ihdr[11] = 0; /* adaptive filtering (type 0 per line) */
    ihdr[12] = 0; /* no interlace */
    put_chunk(buf, &pos, "IHDR", ihdr, 13);
    put_chunk(buf, &pos, "IDAT", z, (uint32_t)z_len);
    put_chunk(buf, &pos, "IEND", NULL, 0);
    free(z);
    *out = buf;
    *out_len = pos;
    return 0;
}

int png_write_rgb(const char *path, const unsigned char *rgb, int w, int h) {
    unsigned char *buf = NULL;
    size_t len = 0;
    if (png_encode_rgb(rgb, w, h, &buf, &len) != 0) return -1;
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(buf);
        return -1;
    }
    size_t wr = fwrite(buf, 1, len, f);
    int cl = fclose(f);
    free(buf);
    return (wr == len && cl == 0) ? 0 : -1;
}
