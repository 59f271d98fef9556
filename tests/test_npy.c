/*
 * .npy reader/writer: round trips for every dtype and rank, the three format
 * versions, numpy's exact header text, and every kind of malformed file
 * (bad magic/version, header length, dict syntax, keys, dtype, Fortran order,
 * shape overflow, truncated or oversized data) giving an error message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "npy.h"

static char err[300];

/* A .npy image: magic, version, header text (padded with spaces + '\n' to a
 * multiple of 64 unless raw), then `data_bytes` bytes of 0x11. */
static size_t make(unsigned char *buf, int major, int minor, const char *dict, size_t data_bytes, int raw) {
    size_t lensz = major == 1 ? 2 : 4;
    size_t pre = 8 + lensz, n = strlen(dict);
    size_t hlen = raw ? n : ((pre + n + 1 + 63) / 64 * 64 - pre);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = (unsigned char)minor;
    for (size_t i = 0; i < lensz; i++) buf[8 + i] = (unsigned char)(hlen >> (8 * i));
    memcpy(buf + pre, dict, n);
    if (!raw) {
        memset(buf + pre + n, ' ', hlen - n - 1);
        buf[pre + hlen - 1] = '\n';
    }
    memset(buf + pre + hlen, 0x11, data_bytes);
    return pre + hlen + data_bytes;
}

static unsigned char img[1 << 16];

static void accepts(int major, const char *dict, size_t data_bytes, npy_dtype t, int ndim, int64_t count) {
    size_t len = make(img, major, 0, dict, data_bytes, 0);
    npy_array a;
    int rc = npy_parse(img, len, &a, err, sizeof err);
    CHECK_MSG(rc == 0, "%s: %s", dict, err);
    if (rc == 0) {
        CHECK_EQ_INT(a.dtype, t);
        CHECK_EQ_INT(a.ndim, ndim);
        CHECK_EQ_INT(a.count, count);
        CHECK(count == 0 || ((unsigned char *)a.data)[0] == 0x11);
    }
    npy_free(&a);
}

static void rejects_img(size_t len, const char *what, const char *needle) {
    npy_array a;
    err[0] = '\0';
    int rc = npy_parse(img, len, &a, err, sizeof err);
    CHECK_MSG(rc != 0, "accepted: %s", what);
    CHECK_MSG(err[0] != '\0', "no message: %s", what);
    if (needle) CHECK_MSG(strstr(err, needle) != NULL, "%s: '%s' lacks '%s'", what, err, needle);
    CHECK(a.data == NULL);
    npy_free(&a);
}

static void rejects(int major, int minor, const char *dict, size_t data_bytes, const char *needle) {
    rejects_img(make(img, major, minor, dict, data_bytes, 0), dict, needle);
}

static void headers(void) {
    /* numpy's own header text (np.save, numpy 1.x/2.x) */
    accepts(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 24, NPY_F32, 2, 6);
    accepts(1, "{'descr': '<f2', 'fortran_order': False, 'shape': (5,), }", 10, NPY_F16, 1, 5);
    accepts(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 4), }", 64, NPY_I64, 2, 8);
    accepts(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", 12, NPY_I32, 1, 3);
    accepts(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3, 4), }", 96, NPY_F32, 4, 24);
    accepts(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 4, NPY_F32, 0, 1);
    accepts(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", 0, NPY_F32, 2, 0);
    accepts(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 24, NPY_F32, 2, 6);
    accepts(3, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 24, NPY_F32, 2, 6);
    /* key order, double quotes, no trailing comma, Python 2 long suffix */
    accepts(1, "{\"shape\": (3L,), \"fortran_order\": False, \"descr\": \"<f4\"}", 12, NPY_F32, 1, 3);

    rejects(1, 0, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8, "big-endian");
    rejects(1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 16, "not supported");
    rejects(1, 0, "{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", 2, "not supported");
    rejects(1, 0, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 8, "structured");
    rejects(1, 0, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24, "Fortran");
    rejects(1, 0, "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", 8, "fortran_order");
    rejects(1, 0, "{'descr': '<f4', 'shape': (2,), }", 8, "needs");
    rejects(1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 8, "unexpected key");
    rejects(1, 0, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 8, "duplicate");
    rejects(1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1), }", 4, "dimensions");
    rejects(1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", 4, "integers");
    rejects(1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,), }", 8, "shape");
    rejects(1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': [2], }", 8, "tuple");
    rejects(1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", 0, "overflows");
    rejects(1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 0, "too large");
    rejects(1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 23, "truncated");
    rejects(1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 25, "after the data");
    rejects(1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } extra", 24, "after the dict");
    rejects(1, 0, "{'descr': '<f4' 'fortran_order': False, 'shape': (2, 3), }", 24, "expected");
    rejects(1, 0, "{'descr: '<f4', 'fortran_order': False, 'shape': (2, 3), }", 24, "header");
    rejects(1, 0, "'descr'", 0, "not a dict");
    rejects(1, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8, "version");
    rejects(4, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8, "version");
    rejects(1, 0, "{'descr': '<f\xe9', 'fortran_order': False, 'shape': (2,), }", 8, "non-ASCII");

    /* raw header without the final newline; header length beyond the file */
    size_t len = make(img, 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 4, 1);
    rejects_img(len, "no newline", "newline");
    len = make(img, 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8, 0);
    img[8] = 0xff, img[9] = 0x7f;
    rejects_img(len, "header length past the end", "truncated");
    img[8] = 0, img[9] = 0;
    rejects_img(len, "zero header length", "header length");
    memcpy(img, "\x93NUMPZ", 6);
    rejects_img(len, "bad magic", "magic");
    rejects_img(3, "three bytes", NULL);
    rejects_img(0, "empty", NULL);
}

static void round_trips(void) {
    /* in the build directory (ctest sets ROPE_BIN), so parallel builds do not share it */
    static char path[1024];
    const char *dir = getenv("ROPE_BIN");
    snprintf(path, sizeof path, "%s/test_npy_tmp.npy", dir && *dir ? dir : ".");
    float f[24];
    for (int i = 0; i < 24; i++) f[i] = (float)i * 0.5f - 3.0f;
    int64_t shapes[][4] = {{24, 0, 0, 0}, {4, 6, 0, 0}, {2, 3, 4, 0}, {1, 2, 3, 4}};
    for (int nd = 1; nd <= 4; nd++) {
        CHECK(npy_write(path, NPY_F32, nd, shapes[nd - 1], f, err, sizeof err) == 0);
        npy_array a;
        int rc = npy_read(path, &a, err, sizeof err);
        CHECK_MSG(rc == 0, "%s", err);
        if (rc == 0) {
            CHECK_EQ_INT(a.ndim, nd);
            CHECK_EQ_INT(a.count, 24);
            for (int k = 0; k < nd; k++) CHECK_EQ_INT(a.shape[k], shapes[nd - 1][k]);
            CHECK(memcmp(a.data, f, sizeof f) == 0);
        }
        npy_free(&a);
    }
    /* header padded to 64 bytes, as numpy writes it */
    FILE *fp = fopen(path, "rb");
    unsigned char head[128];
    size_t got = fp ? fread(head, 1, sizeof head, fp) : 0;
    if (fp) fclose(fp);
    CHECK(got > 10 && (10 + (head[8] | head[9] << 8)) % 64 == 0 && head[9 + (head[8] | head[9] << 8)] == '\n');

    int64_t ids[5] = {0, 1, 4096, -7, (int64_t)1 << 40};
    int64_t s1 = 5;
    CHECK(npy_write(path, NPY_I64, 1, &s1, ids, err, sizeof err) == 0);
    npy_array a;
    CHECK(npy_read(path, &a, err, sizeof err) == 0);
    CHECK(a.dtype == NPY_I64 && a.count == 5 && memcmp(a.data, ids, sizeof ids) == 0);
    npy_free(&a);

    uint16_t h[6] = {0x3c00, 0xbc00, 0x7c00, 0x0001, 0x7e00, 0};
    int64_t s2[2] = {2, 3};
    CHECK(npy_write(path, NPY_F16, 2, s2, h, err, sizeof err) == 0);
    CHECK(npy_read(path, &a, err, sizeof err) == 0);
    CHECK(a.dtype == NPY_F16 && a.count == 6 && memcmp(a.data, h, sizeof h) == 0);
    npy_free(&a);

    /* a scalar and an empty array */
    CHECK(npy_write(path, NPY_F32, 0, NULL, f, err, sizeof err) == 0);
    CHECK(npy_read(path, &a, err, sizeof err) == 0 && a.ndim == 0 && a.count == 1);
    npy_free(&a);
    int64_t s0[2] = {0, 3};
    CHECK(npy_write(path, NPY_F32, 2, s0, NULL, err, sizeof err) == 0);
    CHECK(npy_read(path, &a, err, sizeof err) == 0 && a.count == 0);
    npy_free(&a);

    /* truncated and oversized files through the file reader */
    int64_t s3[1] = {24};
    CHECK(npy_write(path, NPY_F32, 1, s3, f, err, sizeof err) == 0);
    fp = fopen(path, "rb");
    static unsigned char whole[4096];
    size_t n = fp ? fread(whole, 1, sizeof whole, fp) : 0;
    if (fp) fclose(fp);
    CHECK(n > 96 && (n - 96) % 64 == 0);
    size_t cuts[] = {0, 5, 9, 40, 63, 64, 100, n - 1};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        fp = fopen(path, "wb");
        if (fp) {
            fwrite(whole, 1, cuts[c], fp);
            fclose(fp);
        }
        err[0] = '\0';
        CHECK_MSG(npy_read(path, &a, err, sizeof err) != 0, "cut at %zu accepted", cuts[c]);
        CHECK(err[0] != '\0' && a.data == NULL);
        npy_free(&a);
    }
    fp = fopen(path, "wb");
    if (fp) {
        fwrite(whole, 1, n, fp);
        fputc(0, fp);
        fclose(fp);
    }
    CHECK(npy_read(path, &a, err, sizeof err) != 0 && strstr(err, "after the data") != NULL);
    /* a header that claims far more data than the file has: an error before allocating it */
    size_t len = make(img, 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,), }", 16, 0);
    fp = fopen(path, "wb");
    if (fp) {
        fwrite(img, 1, len, fp);
        fclose(fp);
    }
    CHECK(npy_read(path, &a, err, sizeof err) != 0 && strstr(err, "truncated") != NULL);
    CHECK(npy_read("no/such/file.npy", &a, err, sizeof err) != 0 && strstr(err, "no/such/file.npy") != NULL);
    CHECK(npy_write("no/such/dir/x.npy", NPY_F32, 1, s3, f, err, sizeof err) != 0);
    CHECK(npy_write(path, (npy_dtype)99, 1, s3, f, err, sizeof err) != 0);
    remove(path);
}

int main(void) {
    headers();
    round_trips();
    return check_report("test_npy");
}
