/* A minimal PNG writer (8-bit RGB, one IDAT, zlib deflate, CRC per chunk) for `rope plot`. */
#ifndef ROPE_TOOLS_PNG_H
#define ROPE_TOOLS_PNG_H

#include <stddef.h>

/* Encode w × h pixels (rgb: row-major, 3 bytes each) as a PNG in *out (malloc'd,
 * caller frees) of *out_len bytes. Returns 0, or -1 on bad size / no memory. */
int png_encode_rgb(const unsigned char *rgb, int w, int h, unsigned char **out, size_t *out_len);

/* png_encode_rgb written to path. Returns 0, or -1 (errno set by the failing call). */
int png_write_rgb(const char *path, const unsigned char *rgb, int w, int h);

#endif
