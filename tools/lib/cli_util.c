#define _POSIX_C_SOURCE 200809L /* sysconf */
#include "cli_util.h"
#include "npy.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CLI_MAX_POSITION 9007199254740992LL /* 2^53: exact in a double, table-free apply's limit */

int cli_parse_i64(const char *s, int64_t *out) {
    if (!s || !*s) return -1;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') return -1;
    *out = (int64_t)v;
    return 0;
}

int cli_parse_f64(const char *s, double *out) {
    if (!s || !*s) return -1;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

static int util_fail(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int cli_parse_positions(const char *s, int64_t **out, int64_t *n, int64_t max_n, char *err,
                        size_t errlen) {
    *out = NULL;
    *n = 0;
    if (!s || !*s) return util_fail(err, errlen, "empty position list");
    int64_t count = 1;
    for (const char *p = s; *p; p++)
        if (*p == ',') count++;
    if (count > max_n) return util_fail(err, errlen, "more than %lld positions", (long long)max_n);
    int64_t *a = malloc((size_t)count * sizeof *a);
    if (!a) return util_fail(err, errlen, "out of memory");
    const char *p = s;
    for (int64_t k = 0; k < count; k++) {
        const char *q = strchr(p, ',');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        char buf[32];
        while (len && (*p == ' ')) p++, len--;
        while (len && p[len - 1] == ' ') len--;
        if (len == 0 || len >= sizeof buf) {
            free(a);
            return util_fail(err, errlen, "position %lld of the list is empty or too long", (long long)k);
        }
        memcpy(buf, p, len);
        buf[len] = '\0';
        int64_t v;
        if (cli_parse_i64(buf, &v) != 0) {
            free(a);
            return util_fail(err, errlen, "position '%s' is not an integer", buf);
        }
        if (v < 0 || v > CLI_MAX_POSITION) {
            free(a);
            return util_fail(err, errlen, "position %s is out of range [0, 2^53]", buf);
        }
        a[k] = v;
        p = q ? q + 1 : p + len;
    }
    *out = a;
    *n = count;
    return 0;
}

int cli_ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

void cli_json_num(FILE *f, double x) {
    if (!isfinite(x)) {
        fputs("null", f);
        return;
    }
    fprintf(f, "%.17g", x);
}

/* Length of the valid UTF-8 sequence at p (1..4), 0 if p does not start one
 * (overlong forms, surrogates and code points beyond U+10FFFF are invalid). */
static size_t utf8_seq(const unsigned char *p) {
    unsigned c = p[0];
    size_t n = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
                             : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    for (size_t i = 1; i < n; i++) /* stops at the terminating NUL: not a continuation byte */
        if ((p[i] & 0xC0) != 0x80) return 0;
    if (n == 3 && ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F))) return 0;
    if (n == 4 && ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] > 0x8F))) return 0;
    return n;
}

/* Output JSON is always valid UTF-8: a byte that does not start a valid
 * sequence (a path given on the command line may hold any bytes) is written
 * as \ufffd, the replacement character, one per byte. */
void cli_json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; p && *p;) {
        size_t n = utf8_seq(p);
        if (n == 0) fputs("\\ufffd", f), n = 1;
        else if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7F) fprintf(f, "\\u%04x", *p);
        else fwrite(p, 1, n, f);
        p += n;
    }
    fputc('"', f);
}

int cli_load_positions(const char *arg, int64_t **out, int64_t *rows, int64_t *cols, char *err,
                       size_t errlen) {
    *out = NULL;
    *rows = *cols = 0;
    if (!arg) return util_fail(err, errlen, "no positions");
    if (!cli_ends_with(arg, ".npy")) {
        int64_t n;
        if (cli_parse_positions(arg, out, &n, (int64_t)1 << 26, err, errlen) != 0) return -1;
        *rows = 1;
        *cols = n;
        return 0;
    }
    npy_array a;
    char msg[300];
    if (npy_read(arg, &a, msg, sizeof msg) != 0) return util_fail(err, errlen, "%s", msg);
    if (a.dtype != NPY_I64 && a.dtype != NPY_I32) {
        npy_free(&a);
        return util_fail(err, errlen, "%s: positions must be int64 or int32, not %s", arg,
                         npy_dtype_descr(a.dtype));
    }
    if (a.ndim != 1 && a.ndim != 2) {
        npy_free(&a);
        return util_fail(err, errlen, "%s: positions must have shape (seq,) or (batch, seq), got %d dims",
                         arg, a.ndim);
    }
    if (a.count == 0) {
        npy_free(&a);
        return util_fail(err, errlen, "%s: no positions", arg);
    }
    int64_t *p = malloc((size_t)a.count * sizeof *p);
    if (!p) {
        npy_free(&a);
        return util_fail(err, errlen, "out of memory");
    }
    for (int64_t k = 0; k < a.count; k++) {
        int64_t v;
        if (a.dtype == NPY_I64) memcpy(&v, (const char *)a.data + 8 * k, 8);
        else {
            int32_t w;
            memcpy(&w, (const char *)a.data + 4 * k, 4);
            v = w;
        }
        if (v < 0 || v > CLI_MAX_POSITION) {
            free(p);
            npy_free(&a);
            return util_fail(err, errlen, "%s: position %lld (entry %lld) is out of range [0, 2^53]", arg,
                             (long long)v, (long long)k);
        }
        p[k] = v;
    }
    *rows = a.ndim == 2 ? a.shape[0] : 1;
    *cols = a.ndim == 2 ? a.shape[1] : a.shape[0];
    npy_free(&a);
    *out = p;
    return 0;
}

int cli_opt(int argc, char **argv, int *i, const char *name, const char **val) {
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (a[n] != '\0') return 0;
    if (*i + 1 >= argc) return -1;
    *val = argv[++*i];
    return 1;
}

int cli_default_threads(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) return 1;
    return n > 16 ? 16 : (int)n;
}
