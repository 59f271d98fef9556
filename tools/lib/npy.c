/*
 * .npy reader/writer. The format (numpy/lib/format.py, "NEP 1"):
 *   "\x93NUMPY" major minor, header length (u16 LE for 1.x, u32 LE for 2.x/3.x),
 *   then an ASCII Python dict literal
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 *   padded with spaces and ending in '\n', then the raw data.
 * The header is parsed by a small strict parser for exactly that literal.
 */
#include "npy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_MAX_HEADER (1u << 20) /* numpy itself refuses headers over 10 KB by default */

static int npy_fail(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

size_t npy_dtype_size(npy_dtype t) {
    switch (t) {
    case NPY_F32: return 4;
    case NPY_F16: return 2;
    case NPY_I64: return 8;
    case NPY_I32: return 4;
    case NPY_C64: return 8;
    }
    return 0;
}

const char *npy_dtype_descr(npy_dtype t) {
    switch (t) {
    case NPY_F32: return "<f4";
    case NPY_F16: return "<f2";
    case NPY_I64: return "<i8";
    case NPY_I32: return "<i4";
    case NPY_C64: return "<c8";
    }
    return "?";
}

void npy_free(npy_array *a) {
    if (!a) return;
    free(a->data);
    a->data = NULL;
}

/* ------------------------------------------------------------ header parser */

typedef struct hp {
    const char *p, *end;
} hp;

static void skip_ws(hp *h) {
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r')) h->p++;
}

static int accept(hp *h, char ch) {
    skip_ws(h);
    if (h->p < h->end && *h->p == ch) {
        h->p++;
        return 1;
    }
    return 0;
}

/* A quoted Python string without escapes ('...' or "..."), copied into buf. */
static int parse_str(hp *h, char *buf, size_t cap) {
    skip_ws(h);
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"')) return -1;
    char q = *h->p++;
    size_t n = 0;
    while (h->p < h->end && *h->p != q) {
        if (*h->p == '\\' || n + 1 >= cap) return -1;
        buf[n++] = *h->p++;
    }
    if (h->p >= h->end) return -1;
    h->p++;
    buf[n] = '\0';
    return 0;
}

static int parse_word(hp *h, const char *w) {
    skip_ws(h);
    size_t n = strlen(w);
    if ((size_t)(h->end - h->p) < n || memcmp(h->p, w, n) != 0) return -1;
    h->p += n;
    return 0;
}

/* (d0, d1, ...) with non-negative decimal integers (Python 2 numpy may add 'L'). */
static int parse_shape(hp *h, int64_t *shape, int *ndim, char *err, size_t errlen) {
    if (!accept(h, '(')) return npy_fail(err, errlen, "malformed .npy header: shape is not a tuple");
    int n = 0;
    for (;;) {
        if (accept(h, ')')) break;
        skip_ws(h);
        if (h->p >= h->end || *h->p < '0' || *h->p > '9')
            return npy_fail(err, errlen, "malformed .npy header: shape entries must be integers >= 0");
        int64_t v = 0;
        while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
            if (v > (INT64_MAX - 9) / 10)
                return npy_fail(err, errlen, "malformed .npy header: a shape entry is too large");
            v = v * 10 + (*h->p++ - '0');
        }
        if (h->p < h->end && *h->p == 'L') h->p++;
        if (n == NPY_MAX_DIMS)
            return npy_fail(err, errlen, ".npy arrays of more than %d dimensions are not supported",
                            NPY_MAX_DIMS);
        shape[n++] = v;
        if (accept(h, ',')) continue;
        if (accept(h, ')')) break;
        return npy_fail(err, errlen, "malformed .npy header: bad shape tuple");
    }
    *ndim = n;
    return 0;
}

typedef struct npy_header {
    npy_dtype dtype;
    int ndim;
    int64_t shape[NPY_MAX_DIMS];
    int64_t count;
    size_t data_bytes;
} npy_header;

static int parse_descr(const char *s, npy_dtype *t, char *err, size_t errlen) {
    static const struct { const char *d; npy_dtype t; } known[] = {
        {"<f4", NPY_F32}, {"<f2", NPY_F16}, {"<i8", NPY_I64}, {"<i4", NPY_I32},
        {"<c8", NPY_C64}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(s, known[i].d) == 0) {
            *t = known[i].t;
            return 0;
        }
    if (s[0] == '>')
        return npy_fail(err, errlen, ".npy dtype '%s' is big-endian; save it little-endian "
                        "(arr.astype('<%s'))", s, s + 1);
    return npy_fail(err, errlen, ".npy dtype '%s' is not supported (tensors: float32 '<f4' or "
                    "float16 '<f2'; positions: int64 '<i8' or int32 '<i4'; freqs_cis: complex64 '<c8')", s);
}

/* Parse the dict text [p, end). */
static int parse_dict(const char *p, const char *end, npy_header *out, char *err, size_t errlen) {
    hp h = {p, end};
    int have_descr = 0, have_fo = 0, have_shape = 0;
    if (!accept(&h, '{')) return npy_fail(err, errlen, "malformed .npy header: not a dict");
    for (;;) {
        if (accept(&h, '}')) break;
        char key[32];
        if (parse_str(&h, key, sizeof key) != 0)
            return npy_fail(err, errlen, "malformed .npy header: expected a quoted key");
        if (!accept(&h, ':')) return npy_fail(err, errlen, "malformed .npy header: expected ':'");
        if (strcmp(key, "descr") == 0) {
            char d[32];
            if (have_descr) return npy_fail(err, errlen, "malformed .npy header: duplicate 'descr'");
            if (parse_str(&h, d, sizeof d) != 0)
                return npy_fail(err, errlen, ".npy dtype is not a simple type string (structured "
                                "dtypes are not supported)");
            if (parse_descr(d, &out->dtype, err, errlen) != 0) return -1;
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (have_fo) return npy_fail(err, errlen, "malformed .npy header: duplicate 'fortran_order'");
            if (parse_word(&h, "True") == 0)
                return npy_fail(err, errlen, ".npy array is in Fortran order; save a C-order array "
                                "(np.ascontiguousarray)");
            if (parse_word(&h, "False") != 0)
                return npy_fail(err, errlen, "malformed .npy header: fortran_order must be True or False");
            have_fo = 1;
        } else if (strcmp(key, "shape") == 0) {
            if (have_shape) return npy_fail(err, errlen, "malformed .npy header: duplicate 'shape'");
            if (parse_shape(&h, out->shape, &out->ndim, err, errlen) != 0) return -1;
            have_shape = 1;
        } else {
            return npy_fail(err, errlen, "malformed .npy header: unexpected key '%s'", key);
        }
        if (accept(&h, ',')) continue;
        if (accept(&h, '}')) break;
        return npy_fail(err, errlen, "malformed .npy header: expected ',' or '}'");
    }
    skip_ws(&h);
    if (h.p != h.end) return npy_fail(err, errlen, "malformed .npy header: text after the dict");
    if (!have_descr || !have_fo || !have_shape)
        return npy_fail(err, errlen, "malformed .npy header: needs 'descr', 'fortran_order' and 'shape'");

    /* Element count and byte size, without overflow. */
    size_t es = npy_dtype_size(out->dtype);
    int64_t count = 1;
    for (int i = 0; i < out->ndim; i++) {
        int64_t d = out->shape[i];
        if (d != 0 && count > INT64_MAX / d)
            return npy_fail(err, errlen, ".npy shape is too large (its size overflows)");
        count *= d;
    }
    if ((uint64_t)count > (uint64_t)(SIZE_MAX / es))
        return npy_fail(err, errlen, ".npy shape is too large (its size overflows)");
    out->count = count;
    out->data_bytes = (size_t)count * es;
    return 0;
}

/* From the first bytes of a file: header and the offset of the data.
 * Returns 0; 1 if more bytes are needed (*need set); -1 on error. */
static int parse_prefix(const unsigned char *b, size_t len, npy_header *out, size_t *data_off,
                        size_t *need, char *err, size_t errlen) {
    if (len < NPY_MAGIC_LEN + 2) {
        *need = NPY_MAGIC_LEN + 4;
        if (len >= NPY_MAGIC_LEN && memcmp(b, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
            return npy_fail(err, errlen, "not a .npy file (bad magic)");
        return 1;
    }
    if (memcmp(b, NPY_MAGIC, NPY_MAGIC_LEN) != 0) return npy_fail(err, errlen, "not a .npy file (bad magic)");
    unsigned major = b[6], minor = b[7];
    size_t lensz;
    if (major == 1) lensz = 2;
    else if (major == 2 || major == 3) lensz = 4;
    else return npy_fail(err, errlen, ".npy format version %u.%u is not supported (1.0, 2.0, 3.0)", major, minor);
    if (minor != 0)
        return npy_fail(err, errlen, ".npy format version %u.%u is not supported (1.0, 2.0, 3.0)", major, minor);
    size_t start = NPY_MAGIC_LEN + 2 + lensz;
    if (len < start) {
        *need = start;
        return 1;
    }
    uint64_t hlen = (uint64_t)b[8] | ((uint64_t)b[9] << 8);
    if (lensz == 4) hlen |= ((uint64_t)b[10] << 16) | ((uint64_t)b[11] << 24);
    if (hlen == 0 || hlen > NPY_MAX_HEADER)
        return npy_fail(err, errlen, "malformed .npy header: header length %llu", (unsigned long long)hlen);
    if (len < start + hlen) {
        *need = start + (size_t)hlen;
        return 1;
    }
    const char *h = (const char *)b + start;
    for (size_t i = 0; i < hlen; i++)
        if ((unsigned char)h[i] >= 0x80 || (h[i] < 0x20 && h[i] != '\n' && h[i] != '\t' && h[i] != '\r'))
            return npy_fail(err, errlen, "malformed .npy header: non-ASCII or control byte");
    if (h[hlen - 1] != '\n') return npy_fail(err, errlen, "malformed .npy header: does not end in a newline");
    if (parse_dict(h, h + hlen, out, err, errlen) != 0) return -1;
    *data_off = start + (size_t)hlen;
    return 0;
}

static int fill_array(const npy_header *hd, npy_array *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    out->dtype = hd->dtype;
    out->ndim = hd->ndim;
    for (int i = 0; i < hd->ndim; i++) out->shape[i] = hd->shape[i];
    out->count = hd->count;
    out->elem_size = npy_dtype_size(hd->dtype);
    out->data = malloc(hd->data_bytes ? hd->data_bytes : 1);
    if (!out->data) return npy_fail(err, errlen, "out of memory for %zu bytes of .npy data", hd->data_bytes);
    return 0;
}

int npy_parse(const void *buf, size_t len, npy_array *out, char *err, size_t errlen) {
    if (err && errlen) err[0] = '\0';
    if (!out) return npy_fail(err, errlen, "no output");
    memset(out, 0, sizeof *out);
    if (!buf) return npy_fail(err, errlen, "no data");
    npy_header hd;
    memset(&hd, 0, sizeof hd);
    size_t off = 0, need = 0;
    int r = parse_prefix(buf, len, &hd, &off, &need, err, errlen);
    if (r < 0) return -1;
    if (r > 0) return npy_fail(err, errlen, "truncated .npy file (%zu bytes, header needs %zu)", len, need);
    size_t avail = len - off;
    if (avail < hd.data_bytes)
        return npy_fail(err, errlen, "truncated .npy file: shape needs %zu bytes of data, file has %zu",
                        hd.data_bytes, avail);
    if (avail > hd.data_bytes)
        return npy_fail(err, errlen, ".npy file has %zu bytes after the data its shape describes",
                        avail - hd.data_bytes);
    if (fill_array(&hd, out, err, errlen) != 0) return -1;
    if (hd.data_bytes) memcpy(out->data, (const unsigned char *)buf + off, hd.data_bytes);
    return 0;
}

/* Read the file's prefix in growing steps until the header parses: *pre holds
 * `*have` bytes (header and maybe some data), the data starting at *off. */
static int read_header(FILE *f, const char *path, unsigned char **pre, size_t *have, npy_header *hd,
                       size_t *off, char *err, size_t errlen) {
    size_t want = 128;
    char msg[300];
    *pre = NULL;
    *have = 0;
    for (;;) {
        unsigned char *np_ = realloc(*pre, want);
        if (!np_) return npy_fail(err, errlen, "out of memory");
        *pre = np_;
        *have += fread(*pre + *have, 1, want - *have, f);
        size_t need = 0;
        int r = parse_prefix(*pre, *have, hd, off, &need, msg, sizeof msg);
        if (r < 0) return npy_fail(err, errlen, "%s: %s", path, msg);
        if (r == 0) return 0;
        if (*have < want) /* end of file before the header was complete */
            return npy_fail(err, errlen, "%s: truncated .npy file (%zu bytes, header needs %zu)", path,
                            *have, need);
        want = need > want ? need : want * 2;
    }
}

/* The file must hold the data the header claims: checked against its size before
 * allocating, then the read position is put back after the prefix. */
static int check_size(FILE *f, const char *path, const npy_header *hd, size_t off, size_t have,
                      char *err, size_t errlen) {
    if (fseek(f, 0, SEEK_END) != 0) return 0; /* not seekable: the read below decides */
    long size = ftell(f);
    if (size >= 0 && (uint64_t)size - off < hd->data_bytes)
        return npy_fail(err, errlen, "%s: truncated .npy file: shape needs %zu bytes of data, file has %llu",
                        path, hd->data_bytes, (unsigned long long)((uint64_t)size - off));
    if (fseek(f, (long)have, SEEK_SET) != 0) return npy_fail(err, errlen, "%s: seek error", path);
    return 0;
}

int npy_read(const char *path, npy_array *out, char *err, size_t errlen) {
    if (err && errlen) err[0] = '\0';
    if (!out) return npy_fail(err, errlen, "no output");
    memset(out, 0, sizeof *out);
    if (!path) return npy_fail(err, errlen, "no path");
    FILE *f = fopen(path, "rb");
    if (!f) return npy_fail(err, errlen, "%s: %s", path, strerror(errno));

    unsigned char *pre = NULL;
    size_t have = 0, off = 0;
    npy_header hd;
    memset(&hd, 0, sizeof hd);
    char msg[300];
    npy_array a;
    if (read_header(f, path, &pre, &have, &hd, &off, err, errlen) != 0 ||
        check_size(f, path, &hd, off, have, err, errlen) != 0) {
        free(pre);
        fclose(f);
        return -1;
    }
    if (fill_array(&hd, &a, msg, sizeof msg) != 0) {
        free(pre);
        fclose(f);
        return npy_fail(err, errlen, "%s: %s", path, msg);
    }
    /* Data already read with the prefix, then the rest from the file. */
    size_t in_pre = have - off;
    if (in_pre > hd.data_bytes) {
        free(pre);
        fclose(f);
        npy_free(&a);
        return npy_fail(err, errlen, "%s: .npy file has bytes after the data its shape describes", path);
    }
    if (in_pre) memcpy(a.data, pre + off, in_pre);
    free(pre);
    size_t rest = hd.data_bytes - in_pre;
    size_t got = rest ? fread((unsigned char *)a.data + in_pre, 1, rest, f) : 0;
    int extra = fgetc(f) != EOF;
    int ioerr = ferror(f);
    fclose(f);
    if (ioerr || got != rest || extra) {
        npy_free(&a);
        if (ioerr) return npy_fail(err, errlen, "%s: read error", path);
        if (got != rest)
            return npy_fail(err, errlen, "%s: truncated .npy file: shape needs %zu bytes of data, file has %zu",
                            path, hd.data_bytes, in_pre + got);
        return npy_fail(err, errlen, "%s: .npy file has bytes after the data its shape describes", path);
    }
    *out = a;
    return 0;
}

int npy_write(const char *path, npy_dtype dtype, int ndim, const int64_t *shape, const void *data,
              char *err, size_t errlen) {
    if (err && errlen) err[0] = '\0';
    size_t es = npy_dtype_size(dtype);
    if (!path || !es || ndim < 0 || ndim > NPY_MAX_DIMS || (ndim && !shape))
        return npy_fail(err, errlen, "npy_write: bad arguments");
    char dict[256];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     npy_dtype_descr(dtype));
    int64_t count = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (shape[i] && count > INT64_MAX / shape[i]))
            return npy_fail(err, errlen, "npy_write: bad shape");
        count *= shape[i];
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%lld%s", (long long)shape[i],
                      (ndim == 1 || i + 1 < ndim) ? ", " : "");
    }
    if ((uint64_t)count > SIZE_MAX / es) return npy_fail(err, errlen, "npy_write: bad shape");
    if (count && !data) return npy_fail(err, errlen, "npy_write: no data");
    if (ndim == 1) n -= 1; /* "(3,)" */
    n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
    /* Pad with spaces so that magic + length + header is a multiple of 64,
     * ending in '\n' (what numpy writes). Version 1.0 (u16 length) fits. */
    size_t pre = NPY_MAGIC_LEN + 2 + 2;
    size_t total = pre + (size_t)n + 1;
    size_t padded = (total + 63) / 64 * 64;
    size_t hlen = padded - pre;
    unsigned char head[320];
    memcpy(head, NPY_MAGIC, NPY_MAGIC_LEN);
    head[6] = 1;
    head[7] = 0;
    head[8] = (unsigned char)(hlen & 0xff);
    head[9] = (unsigned char)(hlen >> 8);
    memcpy(head + pre, dict, (size_t)n);
    memset(head + pre + n, ' ', hlen - (size_t)n - 1);
    head[padded - 1] = '\n';

    FILE *f = fopen(path, "wb");
    if (!f) return npy_fail(err, errlen, "%s: %s", path, strerror(errno));
    size_t bytes = (size_t)count * es;
    int ok = fwrite(head, 1, padded, f) == padded && (bytes == 0 || fwrite(data, 1, bytes, f) == bytes);
    if (fclose(f) != 0) ok = 0;
    if (!ok) return npy_fail(err, errlen, "%s: write error", path);
    return 0;
}
