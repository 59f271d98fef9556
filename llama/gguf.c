/*
 * GGUF reader: see gguf.h for the layout. The parser walks the bytes once
 * with a bounds-checked cursor; nothing is read before its length has been
 * checked against what is left of the file, and every count is bounded by
 * the bytes that its elements would need at minimum, so a forged count can
 * neither overflow an allocation size nor make us allocate more than a small
 * multiple of the file size.
 */
#define _POSIX_C_SOURCE 200809L

#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rope.h"

#define GGUF_MAX_NESTING 8   /* arrays of arrays deeper than this are refused */

struct gguf_file {
    const uint8_t *base;
    uint64_t size;
    void *map;               /* non-NULL when we own an mmap */
    size_t map_len;
    uint32_t version;
    uint32_t alignment;
    uint64_t data_offset;
    int64_t n_kv;
    gguf_kv *kv;
    int64_t n_tensors;
    gguf_tensor *tensors;
    struct name_ref *kv_index, *tensor_index; /* sorted by name, see build_index */
};

const char *gguf_strerror(int status) {
    switch (status) {
    case GGUF_OK: return "ok";
    case GGUF_E_IO: return "I/O error";
    case GGUF_E_FORMAT: return "malformed GGUF file";
    case GGUF_E_NOT_FOUND: return "not found";
    case GGUF_E_TYPE: return "wrong value type";
    case GGUF_E_UNSUPPORTED: return "unsupported tensor type";
    case GGUF_E_NOMEM: return "out of memory";
    case GGUF_E_ARG: return "invalid argument";
    default: return "unknown status";
    }
}

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------ types */

typedef struct type_info {
    const char *name;
    uint64_t block;   /* elements per block */
    uint64_t bytes;   /* bytes per block */
} type_info;

static const type_info *tensor_type_info(uint32_t type) {
    /* Block sizes from ggml's type traits (docs/gguf.md, ggml.h). */
    static const type_info F32 = {"F32", 1, 4}, F16 = {"F16", 1, 2}, BF16 = {"BF16", 1, 2},
                           Q4_0 = {"Q4_0", 32, 18}, Q4_1 = {"Q4_1", 32, 20},
                           Q5_0 = {"Q5_0", 32, 22}, Q5_1 = {"Q5_1", 32, 24},
                           Q8_0 = {"Q8_0", 32, 34}, Q8_1 = {"Q8_1", 32, 36},
                           Q2_K = {"Q2_K", 256, 84}, Q3_K = {"Q3_K", 256, 110},
                           Q4_K = {"Q4_K", 256, 144}, Q5_K = {"Q5_K", 256, 176},
                           Q6_K = {"Q6_K", 256, 210}, Q8_K = {"Q8_K", 256, 292};
    switch (type) {
    case GGML_TYPE_F32: return &F32;
    case GGML_TYPE_F16: return &F16;
    case GGML_TYPE_BF16: return &BF16;
    case GGML_TYPE_Q4_0: return &Q4_0;
    case GGML_TYPE_Q4_1: return &Q4_1;
    case GGML_TYPE_Q5_0: return &Q5_0;
    case GGML_TYPE_Q5_1: return &Q5_1;
    case GGML_TYPE_Q8_0: return &Q8_0;
    case GGML_TYPE_Q8_1: return &Q8_1;
    case GGML_TYPE_Q2_K: return &Q2_K;
    case GGML_TYPE_Q3_K: return &Q3_K;
    case GGML_TYPE_Q4_K: return &Q4_K;
    case GGML_TYPE_Q5_K: return &Q5_K;
    case GGML_TYPE_Q6_K: return &Q6_K;
    case GGML_TYPE_Q8_K: return &Q8_K;
    default: return NULL;
    }
}

const char *gguf_type_name(uint32_t type) {
    const type_info *ti = tensor_type_info(type);
    return ti ? ti->name : NULL;
}

uint64_t gguf_type_block_size(uint32_t type) {
    const type_info *ti = tensor_type_info(type);
    return ti ? ti->block : 0;
}

uint64_t gguf_type_block_bytes(uint32_t type) {
    const type_info *ti = tensor_type_info(type);
    return ti ? ti->bytes : 0;
}

int gguf_type_supported(uint32_t type) {
    switch (type) {
    case GGML_TYPE_F32: case GGML_TYPE_F16: case GGML_TYPE_BF16: case GGML_TYPE_Q4_0:
    case GGML_TYPE_Q4_1: case GGML_TYPE_Q5_0: case GGML_TYPE_Q5_1: case GGML_TYPE_Q8_0:
    case GGML_TYPE_Q4_K: case GGML_TYPE_Q5_K: case GGML_TYPE_Q6_K:
        return 1;
    default:
        return 0;
    }
}

const char *gguf_value_type_name(uint32_t type) {
    static const char *names[GGUF_TYPE_COUNT_] = {"uint8", "int8", "uint16", "int16", "uint32",
                                                  "int32", "float32", "bool", "string", "array",
                                                  "uint64", "int64", "float64"};
    return type < GGUF_TYPE_COUNT_ ? names[type] : "unknown";
}

/* Size in the file of one scalar value; 0 for STRING/ARRAY/unknown. */
static uint64_t scalar_size(uint32_t type) {
    switch (type) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_INT8: case GGUF_TYPE_BOOL: return 1;
    case GGUF_TYPE_UINT16: case GGUF_TYPE_INT16: return 2;
    case GGUF_TYPE_UINT32: case GGUF_TYPE_INT32: case GGUF_TYPE_FLOAT32: return 4;
    case GGUF_TYPE_UINT64: case GGUF_TYPE_INT64: case GGUF_TYPE_FLOAT64: return 8;
    default: return 0;
    }
}

/* ---------------------------------------------------------- byte reading */

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32); }
static float rdf32(const uint8_t *p) {
    uint32_t u = rd32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static double rdf64(const uint8_t *p) {
    uint64_t u = rd64(p);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

typedef struct cursor {
    const uint8_t *p;
    uint64_t size;
    uint64_t pos;
    char *err;
    size_t errlen;
} cursor;

static uint64_t left(const cursor *c) { return c->size - c->pos; }

static int need(cursor *c, uint64_t n, const char *what) {
    if (n > left(c)) {
        set_err(c->err, c->errlen, "truncated file: %s needs %llu bytes at offset %llu, %llu left",
                what, (unsigned long long)n, (unsigned long long)c->pos,
                (unsigned long long)left(c));
        return GGUF_E_FORMAT;
    }
    return GGUF_OK;
}

static int get_u32(cursor *c, uint32_t *v, const char *what) {
    int st = need(c, 4, what);
    if (st) return st;
    *v = rd32(c->p + c->pos);
    c->pos += 4;
    return GGUF_OK;
}

static int get_u64(cursor *c, uint64_t *v, const char *what) {
    int st = need(c, 8, what);
    if (st) return st;
    *v = rd64(c->p + c->pos);
    c->pos += 8;
    return GGUF_OK;
}

static int get_str(cursor *c, gguf_str *s, const char *what) {
    uint64_t len;
    int st = get_u64(c, &len, what);
    if (st) return st;
    if (len > left(c)) {
        set_err(c->err, c->errlen,
                "%s: string length %llu at offset %llu runs past the end of the file (%llu bytes left)",
                what, (unsigned long long)len, (unsigned long long)(c->pos - 8),
                (unsigned long long)left(c));
        return GGUF_E_FORMAT;
    }
    s->data = (const char *)(c->p + c->pos);
    s->len = len;
    c->pos += len;
    return GGUF_OK;
}

/* ------------------------------------------------------------ metadata */

static void free_value(gguf_value *v) {
    if (v->type == GGUF_TYPE_ARRAY && v->v.arr.items) {
        if (v->v.arr.type == GGUF_TYPE_ARRAY)
            for (uint64_t i = 0; i < v->v.arr.n; i++) free_value(&v->v.arr.items[i]);
        free(v->v.arr.items);
        v->v.arr.items = NULL;
    }
}

/* A scalar of sz bytes (scalar_size(type) > 0); a bool must be 0 or 1. */
static int parse_scalar(cursor *c, uint32_t type, uint64_t sz, gguf_value *out, const char *key) {
    const uint8_t *p = c->p + c->pos;
    int st = need(c, sz, key);
    if (st) return st;
    switch (type) {
    case GGUF_TYPE_UINT8: out->v.u64 = p[0]; break;
    case GGUF_TYPE_INT8: out->v.i64 = (int8_t)p[0]; break;
    case GGUF_TYPE_UINT16: out->v.u64 = rd16(p); break;
    case GGUF_TYPE_INT16: out->v.i64 = (int16_t)rd16(p); break;
    case GGUF_TYPE_UINT32: out->v.u64 = rd32(p); break;
    case GGUF_TYPE_INT32: out->v.i64 = (int32_t)rd32(p); break;
    case GGUF_TYPE_FLOAT32: out->v.f64 = rdf32(p); break;
    case GGUF_TYPE_UINT64: out->v.u64 = rd64(p); break;
    case GGUF_TYPE_INT64: out->v.i64 = (int64_t)rd64(p); break;
    case GGUF_TYPE_FLOAT64: out->v.f64 = rdf64(p); break;
    case GGUF_TYPE_BOOL:
        if (p[0] > 1) {
            set_err(c->err, c->errlen, "key '%s': bool value %u is neither 0 nor 1", key, p[0]);
            return GGUF_E_FORMAT;
        }
        out->v.u64 = p[0];
        break;
    }
    c->pos += sz;
    return GGUF_OK;
}

static int parse_value(cursor *c, uint32_t type, gguf_value *out, int depth, const char *key);

/* The n (> 0) elements of an array of strings or of arrays, each its own
 * gguf_value in out->v.arr.items. */
static int parse_array_items(cursor *c, uint32_t et, uint64_t n, gguf_value *out, int depth,
                             const char *key) {
    out->v.arr.items = calloc((size_t)n, sizeof(gguf_value));
    if (!out->v.arr.items) {
        set_err(c->err, c->errlen, "key '%s': out of memory for %llu array elements", key,
                (unsigned long long)n);
        return GGUF_E_NOMEM;
    }
    for (uint64_t i = 0; i < n; i++) {
        int st;
        if (et == GGUF_TYPE_STRING) {
            out->v.arr.items[i].type = GGUF_TYPE_STRING;
            st = get_str(c, &out->v.arr.items[i].v.str, key);
        } else {
            /* an element of an array of arrays is itself element type + count + data */
            st = parse_value(c, GGUF_TYPE_ARRAY, &out->v.arr.items[i], depth + 1, key);
        }
        if (st) {
            /* items parsed so far are freed by the caller through free_value */
            out->v.arr.n = i + 1;
            return st;
        }
    }
    return GGUF_OK;
}

/* Array: element type, count, elements. Scalar elements stay in the file
 * (arr.raw); the count is checked against the bytes left before anything
 * is allocated. */
static int parse_array(cursor *c, gguf_value *out, int depth, const char *key) {
    if (depth >= GGUF_MAX_NESTING) {
        set_err(c->err, c->errlen, "key '%s': arrays nested deeper than %d", key, GGUF_MAX_NESTING);
        return GGUF_E_FORMAT;
    }
    uint32_t et;
    uint64_t n;
    int st = get_u32(c, &et, key);
    if (!st) st = get_u64(c, &n, key);
    if (st) return st;
    if (et >= GGUF_TYPE_COUNT_) {
        set_err(c->err, c->errlen, "key '%s': unknown array element type %u", key, et);
        return GGUF_E_FORMAT;
    }
    out->v.arr.type = (gguf_value_type)et;
    uint64_t esz = scalar_size(et);
    /* Minimum bytes per element: a string is at least its u64 length, an
     * array at least its u32 type and u64 count. */
    uint64_t min_bytes = esz ? esz : (et == GGUF_TYPE_STRING ? 8 : 12);
    if (n > left(c) / min_bytes) {
        set_err(c->err, c->errlen,
                "key '%s': array of %llu %s elements cannot fit in the %llu bytes left", key,
                (unsigned long long)n, gguf_value_type_name(et), (unsigned long long)left(c));
        return GGUF_E_FORMAT;
    }
    out->v.arr.n = n;
    if (esz) {
        out->v.arr.raw = c->p + c->pos;
        if (et == GGUF_TYPE_BOOL) {
            for (uint64_t i = 0; i < n; i++)
                if (out->v.arr.raw[i] > 1) {
                    set_err(c->err, c->errlen, "key '%s': bool element %llu is neither 0 nor 1",
                            key, (unsigned long long)i);
                    return GGUF_E_FORMAT;
                }
        }
        c->pos += n * esz;
        return GGUF_OK;
    }
    if (n == 0) return GGUF_OK;
    return parse_array_items(c, et, n, out, depth, key);
}

static int parse_value(cursor *c, uint32_t type, gguf_value *out, int depth, const char *key) {
    memset(out, 0, sizeof *out);
    if (type >= GGUF_TYPE_COUNT_) {
        set_err(c->err, c->errlen, "key '%s': unknown value type %u at offset %llu", key, type,
                (unsigned long long)(c->pos - 4));
        return GGUF_E_FORMAT;
    }
    out->type = (gguf_value_type)type;
    uint64_t sz = scalar_size(type);
    if (sz) return parse_scalar(c, type, sz, out, key);
    if (type == GGUF_TYPE_STRING) return get_str(c, &out->v.str, key);
    return parse_array(c, out, depth, key);
}

/* ------------------------------------------------------------- opening */

static int key_eq(gguf_str a, gguf_str b) { return a.len == b.len && memcmp(a.data, b.data, a.len) == 0; }

int gguf_str_eq(gguf_str a, const char *s) {
    size_t n = strlen(s);
    return a.len == n && (n == 0 || memcmp(a.data, s, n) == 0);
}

static void print_name(char *buf, size_t cap, gguf_str s) {
    size_t n = s.len < cap - 1 ? (size_t)s.len : cap - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s.data[i];
        buf[i] = (ch >= 32 && ch < 127) ? (char)ch : '?';
    }
    buf[n] = 0;
}

/*
 * Names sorted by bytes (then length) for the duplicate checks and the
 * lookups: O(n log n) to build and O(log n) per lookup, where comparing each
 * new name with every earlier one was O(n^2) on a file made of many keys
 * (and the runner's ~10 lookups per layer were O(n) each).
 */
typedef struct name_ref {
    uint64_t prefix; /* first 8 bytes, big-endian, zero-padded: most comparisons end here */
    gguf_str name;
    int64_t index;
} name_ref;

static uint64_t name_prefix(const char *s, uint64_t n) {
    uint64_t p = 0;
    for (int i = 0; i < 8; i++) p = p << 8 | (i < (int)(n < 8 ? n : 8) ? (unsigned char)s[i] : 0);
    return p;
}

static int str_cmp(const char *a, uint64_t an, const char *b, uint64_t bn) {
    uint64_t n = an < bn ? an : bn;
    int c = n ? memcmp(a, b, (size_t)n) : 0;
    return c ? c : (an > bn) - (an < bn);
}

static int name_ref_cmp(const void *pa, const void *pb) {
    const name_ref *a = pa, *b = pb;
    if (a->prefix != b->prefix) return a->prefix < b->prefix ? -1 : 1;
    int c = str_cmp(a->name.data, a->name.len, b->name.data, b->name.len);
    return c ? c : (a->index > b->index) - (a->index < b->index);
}

/* Sorted index of n names (stride bytes apart from first); *dup = an index
 * whose name occurs twice, or -1. */
static name_ref *build_index(const void *first, size_t stride, int64_t n, int64_t *dup) {
    *dup = -1;
    name_ref *r = malloc(sizeof *r * (size_t)(n ? n : 1));
    if (!r) return NULL;
    for (int64_t i = 0; i < n; i++) {
        r[i].name = *(const gguf_str *)(const void *)((const char *)first + (size_t)i * stride);
        r[i].index = i;
        r[i].prefix = name_prefix(r[i].name.data, r[i].name.len);
    }
    qsort(r, (size_t)n, sizeof *r, name_ref_cmp);
    for (int64_t i = 1; i < n && *dup < 0; i++)
        if (key_eq(r[i - 1].name, r[i].name)) *dup = r[i].index;
    return r;
}

static int64_t find_index(const name_ref *r, int64_t n, const char *key) {
    size_t kn = strlen(key);
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = str_cmp(r[mid].name.data, r[mid].name.len, key, kn);
        if (c == 0) return r[mid].index;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

/* Magic, version and the two counts, each count checked against the bytes
 * left so that nothing is allocated for entries the file cannot hold. */
static int parse_header(gguf_file *f, cursor *c, uint64_t *n_tensors, uint64_t *n_kv) {
    if (f->size < 4 || memcmp(f->base, "GGUF", 4) != 0) {
        set_err(c->err, c->errlen, "not a GGUF file (bad magic: expected \"GGUF\")");
        return GGUF_E_FORMAT;
    }
    c->pos = 4;
    int st = get_u32(c, &f->version, "version");
    if (st) return st;
    if (f->version == 0x03000000u || f->version == 0x02000000u) {
        set_err(c->err, c->errlen, "big-endian GGUF files are not supported");
        return GGUF_E_FORMAT;
    }
    if (f->version != 2 && f->version != 3) {
        set_err(c->err, c->errlen, "unsupported GGUF version %u (this reader handles 2 and 3)",
                f->version);
        return GGUF_E_FORMAT;
    }
    if ((st = get_u64(c, n_tensors, "tensor count")) || (st = get_u64(c, n_kv, "metadata count")))
        return st;
    /* A key/value pair takes at least 8 (key length) + 4 (type) + 1 bytes;
     * a tensor info at least 8 (name length) + 4 (n_dims) + 4 (type) + 8 (offset). */
    if (*n_kv > left(c) / 13) {
        set_err(c->err, c->errlen, "metadata count %llu cannot fit in a %llu-byte file",
                (unsigned long long)*n_kv, (unsigned long long)f->size);
        return GGUF_E_FORMAT;
    }
    if (*n_tensors > left(c) / 24) {
        set_err(c->err, c->errlen, "tensor count %llu cannot fit in a %llu-byte file",
                (unsigned long long)*n_tensors, (unsigned long long)f->size);
        return GGUF_E_FORMAT;
    }
    return GGUF_OK;
}

/* The n_kv key/value pairs, then their index (duplicate keys refused). */
static int read_metadata(gguf_file *f, cursor *c, uint64_t n_kv) {
    char name[80];
    int st;
    if (n_kv) {
        f->kv = calloc((size_t)n_kv, sizeof *f->kv);
        if (!f->kv) {
            set_err(c->err, c->errlen, "out of memory");
            return GGUF_E_NOMEM;
        }
    }
    for (uint64_t i = 0; i < n_kv; i++) {
        gguf_kv *kv = &f->kv[i];
        if ((st = get_str(c, &kv->key, "metadata key"))) return st;
        print_name(name, sizeof name, kv->key);
        uint32_t type;
        if ((st = get_u32(c, &type, name))) return st;
        f->n_kv = (int64_t)i + 1;  /* so that gguf_close frees this value */
        if ((st = parse_value(c, type, &kv->value, 0, name))) return st;
    }
    f->n_kv = (int64_t)n_kv;
    int64_t dup;
    f->kv_index =
        build_index(f->kv ? (const void *)&f->kv[0].key : NULL, sizeof *f->kv, f->n_kv, &dup);
    if (!f->kv_index) {
        set_err(c->err, c->errlen, "out of memory");
        return GGUF_E_NOMEM;
    }
    if (dup >= 0) {
        print_name(name, sizeof name, f->kv[dup].key);
        set_err(c->err, c->errlen, "duplicate metadata key '%s'", name);
        return GGUF_E_FORMAT;
    }
    return GGUF_OK;
}

/* general.alignment (a uint32 power of two), else the default. */
static int read_alignment(gguf_file *f, const cursor *c) {
    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    const gguf_kv *akv = gguf_find_kv(f, "general.alignment");
    if (akv) {
        if (akv->value.type != GGUF_TYPE_UINT32) {
            set_err(c->err, c->errlen, "general.alignment has type %s, expected uint32",
                    gguf_value_type_name(akv->value.type));
            return GGUF_E_FORMAT;
        }
        uint64_t a = akv->value.v.u64;
        if (a == 0 || (a & (a - 1)) != 0) {
            set_err(c->err, c->errlen, "general.alignment %llu is not a power of two",
                    (unsigned long long)a);
            return GGUF_E_FORMAT;
        }
        f->alignment = (uint32_t)a;
    }
    return GGUF_OK;
}

/* One tensor info: name, dimensions (element count checked for overflow),
 * type and offset (aligned); the byte size when the type is known. */
static int read_tensor_info(const gguf_file *f, cursor *c, gguf_tensor *t) {
    char name[80];
    int st;
    if ((st = get_str(c, &t->name, "tensor name"))) return st;
    print_name(name, sizeof name, t->name);
    if ((st = get_u32(c, &t->n_dims, name))) return st;
    if (t->n_dims > GGUF_MAX_DIMS) {
        set_err(c->err, c->errlen, "tensor '%s': %u dimensions (at most %d)", name, t->n_dims,
                GGUF_MAX_DIMS);
        return GGUF_E_FORMAT;
    }
    uint64_t nel = 1;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        if ((st = get_u64(c, &t->ne[d], name))) return st;
        if (t->ne[d] > (uint64_t)INT64_MAX ||
            (t->ne[d] != 0 && nel > (uint64_t)INT64_MAX / t->ne[d])) {
            set_err(c->err, c->errlen, "tensor '%s': element count overflows (dimension %u = %llu)",
                    name, d, (unsigned long long)t->ne[d]);
            return GGUF_E_FORMAT;
        }
        nel *= t->ne[d];
    }
    t->n_elements = nel;
    if ((st = get_u32(c, &t->type, name)) || (st = get_u64(c, &t->offset, name))) return st;
    if (t->offset % f->alignment != 0) {
        set_err(c->err, c->errlen,
                "tensor '%s': data offset %llu is not a multiple of the alignment %u", name,
                (unsigned long long)t->offset, f->alignment);
        return GGUF_E_FORMAT;
    }
    const type_info *ti = tensor_type_info(t->type);
    if (ti) {
        if (t->ne[0] % ti->block != 0) {
            set_err(c->err, c->errlen,
                    "tensor '%s': row length %llu is not a multiple of the %s block size %llu", name,
                    (unsigned long long)t->ne[0], ti->name, (unsigned long long)ti->block);
            return GGUF_E_FORMAT;
        }
        uint64_t blocks = nel / ti->block;
        if (blocks > UINT64_MAX / ti->bytes) {
            set_err(c->err, c->errlen, "tensor '%s': byte size overflows", name);
            return GGUF_E_FORMAT;
        }
        t->n_bytes = blocks * ti->bytes;
    }
    return GGUF_OK;
}

/* The n_tensors tensor infos, then their index (duplicate names refused). */
static int read_tensor_infos(gguf_file *f, cursor *c, uint64_t n_tensors) {
    char name[80];
    int st;
    if (n_tensors) {
        f->tensors = calloc((size_t)n_tensors, sizeof *f->tensors);
        if (!f->tensors) {
            set_err(c->err, c->errlen, "out of memory");
            return GGUF_E_NOMEM;
        }
    }
    for (uint64_t i = 0; i < n_tensors; i++)
        if ((st = read_tensor_info(f, c, &f->tensors[i]))) return st;
    f->n_tensors = (int64_t)n_tensors;
    int64_t dup;
    f->tensor_index = build_index(f->tensors ? (const void *)&f->tensors[0].name : NULL,
                                  sizeof *f->tensors, f->n_tensors, &dup);
    if (!f->tensor_index) {
        set_err(c->err, c->errlen, "out of memory");
        return GGUF_E_NOMEM;
    }
    if (dup >= 0) {
        print_name(name, sizeof name, f->tensors[dup].name);
        set_err(c->err, c->errlen, "duplicate tensor name '%s'", name);
        return GGUF_E_FORMAT;
    }
    return GGUF_OK;
}

/* The data section starts at the next multiple of the alignment after the
 * tensor infos (c->pos); every tensor of a known type must lie inside it. */
static int place_data(gguf_file *f, const cursor *c) {
    char name[80];
    uint64_t pos = c->pos;
    uint64_t pad = (f->alignment - pos % f->alignment) % f->alignment;
    if (f->n_tensors == 0) {
        f->data_offset = pos + pad <= f->size ? pos + pad : f->size;
        return GGUF_OK;
    }
    if (pad > f->size - pos) {
        set_err(c->err, c->errlen,
                "truncated file: the tensor data section (offset %llu) starts past the end (%llu bytes)",
                (unsigned long long)(pos + pad), (unsigned long long)f->size);
        return GGUF_E_FORMAT;
    }
    f->data_offset = pos + pad;
    uint64_t data_size = f->size - f->data_offset;
    for (int64_t i = 0; i < f->n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        if (!tensor_type_info(t->type)) continue;  /* unknown type: size unknown, no data pointer */
        if (t->offset > data_size || t->n_bytes > data_size - t->offset) {
            print_name(name, sizeof name, t->name);
            set_err(c->err, c->errlen,
                    "tensor '%s': data [%llu, +%llu) runs past the end of the file (data section is %llu bytes)",
                    name, (unsigned long long)t->offset, (unsigned long long)t->n_bytes,
                    (unsigned long long)data_size);
            return GGUF_E_FORMAT;
        }
        t->data = f->base + f->data_offset + t->offset;
    }
    return GGUF_OK;
}

/* Header, metadata, alignment, tensor infos, data section: each step
 * checks what it reads before anything later relies on it. */
static int parse(gguf_file *f, char *err, size_t errlen) {
    cursor c = {f->base, f->size, 0, err, errlen};
    uint64_t n_tensors, n_kv;
    int st;
    if ((st = parse_header(f, &c, &n_tensors, &n_kv)) || (st = read_metadata(f, &c, n_kv)) ||
        (st = read_alignment(f, &c)) || (st = read_tensor_infos(f, &c, n_tensors)))
        return st;
    return place_data(f, &c);
}

static int open_common(gguf_file *f, gguf_file **out, char *err, size_t errlen) {
    int st = parse(f, err, errlen);
    if (st) {
        gguf_close(f);
        return st;
    }
    *out = f;
    return GGUF_OK;
}

int gguf_open_memory(const void *data, size_t size, gguf_file **out, char *err, size_t errlen) {
    if (!out) return GGUF_E_ARG;
    *out = NULL;
    if (!data && size) {
        set_err(err, errlen, "NULL buffer");
        return GGUF_E_ARG;
    }
    gguf_file *f = calloc(1, sizeof *f);
    if (!f) {
        set_err(err, errlen, "out of memory");
        return GGUF_E_NOMEM;
    }
    f->base = data;
    f->size = size;
    return open_common(f, out, err, errlen);
}

int gguf_open(const char *path, gguf_file **out, char *err, size_t errlen) {
    if (!out) return GGUF_E_ARG;
    *out = NULL;
    if (!path) {
        set_err(err, errlen, "NULL path");
        return GGUF_E_ARG;
    }
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        set_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return GGUF_E_IO;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        set_err(err, errlen, "cannot stat %s: %s", path, strerror(errno));
        close(fd);
        return GGUF_E_IO;
    }
    if (!S_ISREG(sb.st_mode)) {
        set_err(err, errlen, "%s is not a regular file", path);
        close(fd);
        return GGUF_E_IO;
    }
    if (sb.st_size < 4) {
        set_err(err, errlen, "%s: not a GGUF file (%lld bytes)", path, (long long)sb.st_size);
        close(fd);
        return GGUF_E_FORMAT;
    }
    size_t len = (size_t)sb.st_size;
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        set_err(err, errlen, "cannot map %s: %s", path, strerror(errno));
        return GGUF_E_IO;
    }
    gguf_file *f = calloc(1, sizeof *f);
    if (!f) {
        munmap(map, len);
        set_err(err, errlen, "out of memory");
        return GGUF_E_NOMEM;
    }
    f->base = map;
    f->size = len;
    f->map = map;
    f->map_len = len;
    int st = open_common(f, out, err, errlen);
    if (st && err && errlen) {
        /* prefix the path so the message stands on its own */
        char tmp[512];
        snprintf(tmp, sizeof tmp, "%s", err);
        set_err(err, errlen, "%s: %s", path, tmp);
    }
    return st;
}

void gguf_close(gguf_file *f) {
    if (!f) return;
    if (f->kv)
        for (int64_t i = 0; i < f->n_kv; i++) free_value(&f->kv[i].value);
    free(f->kv);
    free(f->tensors);
    free(f->kv_index);
    free(f->tensor_index);
    if (f->map) munmap(f->map, f->map_len);
    free(f);
}

uint32_t gguf_version(const gguf_file *f) { return f ? f->version : 0; }
uint32_t gguf_alignment(const gguf_file *f) { return f ? f->alignment : 0; }
uint64_t gguf_data_offset(const gguf_file *f) { return f ? f->data_offset : 0; }
uint64_t gguf_file_size(const gguf_file *f) { return f ? f->size : 0; }

/* ------------------------------------------------------------- lookups */

int64_t gguf_n_kv(const gguf_file *f) { return f ? f->n_kv : 0; }

const gguf_kv *gguf_kv_at(const gguf_file *f, int64_t i) {
    return (f && i >= 0 && i < f->n_kv) ? &f->kv[i] : NULL;
}

const gguf_kv *gguf_find_kv(const gguf_file *f, const char *key) {
    if (!f || !key || !f->kv_index) return NULL;
    int64_t i = find_index(f->kv_index, f->n_kv, key);
    return i >= 0 ? &f->kv[i] : NULL;
}

static int is_int_type(uint32_t t) {
    return t == GGUF_TYPE_UINT8 || t == GGUF_TYPE_UINT16 || t == GGUF_TYPE_UINT32 ||
           t == GGUF_TYPE_UINT64 || t == GGUF_TYPE_INT8 || t == GGUF_TYPE_INT16 ||
           t == GGUF_TYPE_INT32 || t == GGUF_TYPE_INT64;
}
static int is_unsigned_type(uint32_t t) {
    return t == GGUF_TYPE_UINT8 || t == GGUF_TYPE_UINT16 || t == GGUF_TYPE_UINT32 ||
           t == GGUF_TYPE_UINT64 || t == GGUF_TYPE_BOOL;
}

int gguf_get_i64(const gguf_file *f, const char *key, int64_t *out) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return GGUF_E_NOT_FOUND;
    uint32_t t = kv->value.type;
    if (!is_int_type(t)) return GGUF_E_TYPE;
    if (is_unsigned_type(t)) {
        if (kv->value.v.u64 > (uint64_t)INT64_MAX) return GGUF_E_TYPE;
        *out = (int64_t)kv->value.v.u64;
    } else {
        *out = kv->value.v.i64;
    }
    return GGUF_OK;
}

int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out) {
    int64_t v;
    int st = gguf_get_i64(f, key, &v);
    if (st) return st;
    if (v < 0 || v > (int64_t)UINT32_MAX) return GGUF_E_TYPE;
    *out = (uint32_t)v;
    return GGUF_OK;
}

int gguf_get_f32(const gguf_file *f, const char *key, float *out) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return GGUF_E_NOT_FOUND;
    if (kv->value.type != GGUF_TYPE_FLOAT32 && kv->value.type != GGUF_TYPE_FLOAT64) return GGUF_E_TYPE;
    *out = (float)kv->value.v.f64;
    return GGUF_OK;
}

int gguf_get_bool(const gguf_file *f, const char *key, int *out) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return GGUF_E_NOT_FOUND;
    if (kv->value.type != GGUF_TYPE_BOOL) return GGUF_E_TYPE;
    *out = (int)kv->value.v.u64;
    return GGUF_OK;
}

int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return GGUF_E_NOT_FOUND;
    if (kv->value.type != GGUF_TYPE_STRING) return GGUF_E_TYPE;
    *out = kv->value.v.str;
    return GGUF_OK;
}

int gguf_get_cstr(const gguf_file *f, const char *key, char *buf, size_t cap) {
    gguf_str s;
    int st = gguf_get_str(f, key, &s);
    if (st) return st;
    if (!buf || cap == 0) return GGUF_E_ARG;
    size_t n = s.len < cap - 1 ? (size_t)s.len : cap - 1;
    if (n) memcpy(buf, s.data, n);
    buf[n] = 0;
    return GGUF_OK;
}

int gguf_get_array(const gguf_file *f, const char *key, const gguf_value **out) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return GGUF_E_NOT_FOUND;
    if (kv->value.type != GGUF_TYPE_ARRAY) return GGUF_E_TYPE;
    *out = &kv->value;
    return GGUF_OK;
}

uint64_t gguf_array_len(const gguf_value *arr) {
    return (arr && arr->type == GGUF_TYPE_ARRAY) ? arr->v.arr.n : 0;
}

/* Read scalar element i of an array as integer or double. */
static int array_scalar(const gguf_value *arr, uint64_t i, int64_t *iv, double *dv, int *is_float) {
    if (!arr || arr->type != GGUF_TYPE_ARRAY || i >= arr->v.arr.n) return GGUF_E_ARG;
    uint32_t et = arr->v.arr.type;
    uint64_t sz = scalar_size(et);
    if (!sz) return GGUF_E_TYPE;
    const uint8_t *p = arr->v.arr.raw + i * sz;
    *is_float = 0;
    switch (et) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_BOOL: *iv = p[0]; break;
    case GGUF_TYPE_INT8: *iv = (int8_t)p[0]; break;
    case GGUF_TYPE_UINT16: *iv = rd16(p); break;
    case GGUF_TYPE_INT16: *iv = (int16_t)rd16(p); break;
    case GGUF_TYPE_UINT32: *iv = rd32(p); break;
    case GGUF_TYPE_INT32: *iv = (int32_t)rd32(p); break;
    case GGUF_TYPE_UINT64:
        if (rd64(p) > (uint64_t)INT64_MAX) return GGUF_E_TYPE;
        *iv = (int64_t)rd64(p);
        break;
    case GGUF_TYPE_INT64: *iv = (int64_t)rd64(p); break;
    case GGUF_TYPE_FLOAT32: *dv = rdf32(p); *is_float = 1; break;
    case GGUF_TYPE_FLOAT64: *dv = rdf64(p); *is_float = 1; break;
    default: return GGUF_E_TYPE;
    }
    return GGUF_OK;
}

int gguf_array_get_i64(const gguf_value *arr, uint64_t i, int64_t *out) {
    int64_t iv = 0;
    double dv = 0;
    int isf;
    int st = array_scalar(arr, i, &iv, &dv, &isf);
    if (st) return st;
    if (isf) return GGUF_E_TYPE;
    *out = iv;
    return GGUF_OK;
}

int gguf_array_get_f64(const gguf_value *arr, uint64_t i, double *out) {
    int64_t iv = 0;
    double dv = 0;
    int isf;
    int st = array_scalar(arr, i, &iv, &dv, &isf);
    if (st) return st;
    *out = isf ? dv : (double)iv;
    return GGUF_OK;
}

int gguf_array_get_str(const gguf_value *arr, uint64_t i, gguf_str *out) {
    if (!arr || arr->type != GGUF_TYPE_ARRAY || i >= arr->v.arr.n) return GGUF_E_ARG;
    if (arr->v.arr.type != GGUF_TYPE_STRING) return GGUF_E_TYPE;
    *out = arr->v.arr.items[i].v.str;
    return GGUF_OK;
}

int64_t gguf_n_tensors(const gguf_file *f) { return f ? f->n_tensors : 0; }

const gguf_tensor *gguf_tensor_at(const gguf_file *f, int64_t i) {
    return (f && i >= 0 && i < f->n_tensors) ? &f->tensors[i] : NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name) {
    if (!f || !name || !f->tensor_index) return NULL;
    int64_t i = find_index(f->tensor_index, f->n_tensors, name);
    return i >= 0 ? &f->tensors[i] : NULL;
}

/* ------------------------------------------------------- dequantisation */

/*
 * Block layouts (ggml docs/gguf.md and ggml-common.h), 32 weights a block:
 *   Q8_0: f16 d, int8 q[32]                    x = d*q
 *   Q4_0: f16 d, u8 qs[16]                     x = d*(q - 8)
 *   Q4_1: f16 d, f16 m, u8 qs[16]              x = d*q + m
 *   Q5_0: f16 d, u8 qh[4], u8 qs[16]           x = d*(q - 16)
 *   Q5_1: f16 d, f16 m, u8 qh[4], u8 qs[16]    x = d*q + m
 * 4-bit codes: weight j (j < 16) is the low nibble of qs[j], weight j + 16
 * its high nibble. 5-bit codes add bit j of the little-endian u32 qh as bit
 * 4 of weight j (j = 0..31).
 */
static void deq_block(uint32_t type, const uint8_t *b, float *y) {
    switch (type) {
    case GGML_TYPE_Q8_0: {
        float d = rope_f16_to_f32(rd16(b));
        for (int j = 0; j < 32; j++) y[j] = d * (float)(int8_t)b[2 + j];
        break;
    }
    case GGML_TYPE_Q4_0: {
        float d = rope_f16_to_f32(rd16(b));
        const uint8_t *qs = b + 2;
        for (int j = 0; j < 16; j++) {
            y[j] = d * (float)((int)(qs[j] & 0x0F) - 8);
            y[j + 16] = d * (float)((int)(qs[j] >> 4) - 8);
        }
        break;
    }
    case GGML_TYPE_Q4_1: {
        float d = rope_f16_to_f32(rd16(b)), m = rope_f16_to_f32(rd16(b + 2));
        const uint8_t *qs = b + 4;
        for (int j = 0; j < 16; j++) {
            y[j] = d * (float)(qs[j] & 0x0F) + m;
            y[j + 16] = d * (float)(qs[j] >> 4) + m;
        }
        break;
    }
    case GGML_TYPE_Q5_0: {
        float d = rope_f16_to_f32(rd16(b));
        uint32_t qh = rd32(b + 2);
        const uint8_t *qs = b + 6;
        for (int j = 0; j < 16; j++) {
            int lo = (qs[j] & 0x0F) | (int)(((qh >> j) & 1u) << 4);
            int hi = (qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4);
            y[j] = d * (float)(lo - 16);
            y[j + 16] = d * (float)(hi - 16);
        }
        break;
    }
    case GGML_TYPE_Q5_1: {
        float d = rope_f16_to_f32(rd16(b)), m = rope_f16_to_f32(rd16(b + 2));
        uint32_t qh = rd32(b + 4);
        const uint8_t *qs = b + 8;
        for (int j = 0; j < 16; j++) {
            int lo = (qs[j] & 0x0F) | (int)(((qh >> j) & 1u) << 4);
            int hi = (qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4);
            y[j] = d * (float)lo + m;
            y[j + 16] = d * (float)hi + m;
        }
        break;
    }
    default:
        break;
    }
}

/*
 * K-quants: super-blocks of 256 weights (ggml-common.h block_q4_K/q5_K/q6_K,
 * dequantize_row_q*_K in ggml-quants.c):
 *   Q4_K (144 B): f16 d, f16 dmin, u8 scales[12], u8 qs[128]
 *   Q5_K (176 B): f16 d, f16 dmin, u8 scales[12], u8 qh[32], u8 qs[128]
 *   Q6_K (210 B): u8 ql[128], u8 qh[64], int8 scales[16], f16 d
 * Q4_K/Q5_K: 8 sub-blocks of 32, each with a 6-bit scale sc and a 6-bit min m
 * packed in scales[12] (sub-block j < 4: low 6 bits of bytes j and j+4; j >=
 * 4: a nibble of byte j+4 plus the top 2 bits of byte j-4 (scale) or j
 * (min)); x = (d·sc)·q - dmin·m. Sub-blocks go in pairs over 32 bytes of qs:
 * the low nibbles are the first, the high nibbles the second. Q5_K adds bit
 * 2p (first) or 2p+1 (second) of qh[l] as bit 4 for pair p.
 * Q6_K: two halves of 128; in each, l < 32 gives four weights l, l+32, l+64,
 * l+96 from the low/high nibbles of ql[l] and ql[l+32] and the 2-bit fields of
 * qh[l] (bits 0-1, 2-3, 4-5, 6-7), minus 32; scale index l/16 + 0, 2, 4, 6.
 * Products are evaluated as (d·sc)·q, the order of ggml and of the gguf
 * package, so the results are bit-identical.
 */
static void kscale_min(int j, const uint8_t *q, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

static void deq_q45k(const uint8_t *b, int five, float *y) {
    const float d = rope_f16_to_f32(rd16(b)), dmin = rope_f16_to_f32(rd16(b + 2));
    const uint8_t *scales = b + 4, *qh = b + 16, *qs = five ? b + 48 : b + 16;
    for (int p = 0; p < 4; p++) {
        int sc, m;
        kscale_min(2 * p, scales, &sc, &m);
        const float d1 = d * (float)sc, m1 = dmin * (float)m;
        kscale_min(2 * p + 1, scales, &sc, &m);
        const float d2 = d * (float)sc, m2 = dmin * (float)m;
        for (int l = 0; l < 32; l++) {
            int lo = qs[32 * p + l] & 0x0F, hi = qs[32 * p + l] >> 4;
            if (five) {
                lo |= ((qh[l] >> (2 * p)) & 1) << 4;
                hi |= ((qh[l] >> (2 * p + 1)) & 1) << 4;
            }
            y[64 * p + l] = d1 * (float)lo - m1;
            y[64 * p + 32 + l] = d2 * (float)hi - m2;
        }
    }
}

static void deq_q6k(const uint8_t *b, float *y) {
    const float d = rope_f16_to_f32(rd16(b + 208));
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = b + 64 * h, *qh = b + 128 + 32 * h;
        const int8_t *sc = (const int8_t *)(b + 192 + 8 * h);
        float *o = y + 128 * h;
        for (int l = 0; l < 32; l++) {
            const int is = l / 16;
            const int q1 = (int)((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int q2 = (int)((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int q3 = (int)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int q4 = (int)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            o[l] = d * (float)sc[is] * (float)q1;
            o[l + 32] = d * (float)sc[is + 2] * (float)q2;
            o[l + 64] = d * (float)sc[is + 4] * (float)q3;
            o[l + 96] = d * (float)sc[is + 6] * (float)q4;
        }
    }
}

/* A K-quant super-block whose f16 scales are Inf or NaN cannot come from a
 * quantiser (llama.cpp's ggml_validate_row_data refuses it too): it is a
 * malformed block, refused rather than spread through the model as NaNs. */
static int kblock_ok(uint32_t type, const uint8_t *b) {
    const uint16_t h0 = rd16(type == GGML_TYPE_Q6_K ? b + 208 : b);
    const uint16_t h1 = type == GGML_TYPE_Q6_K ? 0 : rd16(b + 2);
    return (h0 & 0x7C00) != 0x7C00 && (h1 & 0x7C00) != 0x7C00;
}

static void deq_kblock(uint32_t type, const uint8_t *b, float *y) {
    if (type == GGML_TYPE_Q6_K) deq_q6k(b, y);
    else deq_q45k(b, type == GGML_TYPE_Q5_K, y);
}

static int is_ktype(uint32_t type) {
    return type == GGML_TYPE_Q4_K || type == GGML_TYPE_Q5_K || type == GGML_TYPE_Q6_K;
}

int gguf_dequantize_raw(uint32_t type, const void *src, uint64_t n, float *out, char *err,
                        size_t errlen) {
    const type_info *ti = tensor_type_info(type);
    if (!ti || !gguf_type_supported(type)) {
        if (ti)
            set_err(err, errlen, "tensor type %s is not supported (supported: F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q5_K Q6_K)", ti->name);
        else
            set_err(err, errlen, "unknown tensor type %u (supported: F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q5_K Q6_K)", type);
        return GGUF_E_UNSUPPORTED;
    }
    if ((!src || !out) && n) {
        set_err(err, errlen, "NULL buffer");
        return GGUF_E_ARG;
    }
    if (n % ti->block != 0) {
        set_err(err, errlen, "%llu elements is not a multiple of the %s block size %llu",
                (unsigned long long)n, ti->name, (unsigned long long)ti->block);
        return GGUF_E_ARG;
    }
    const uint8_t *s = src;
    /* every block checked before anything is written: out untouched on error */
    for (uint64_t blk = 0; is_ktype(type) && blk < n / ti->block; blk++)
        if (!kblock_ok(type, s + blk * ti->bytes)) {
            set_err(err, errlen, "%s block %llu is malformed: its f16 scale is Inf or NaN",
                    ti->name, (unsigned long long)blk);
            return GGUF_E_FORMAT;
        }
    switch (type) {
    case GGML_TYPE_F32:
        for (uint64_t i = 0; i < n; i++) out[i] = rdf32(s + 4 * i);
        break;
    case GGML_TYPE_F16:
        for (uint64_t i = 0; i < n; i++) out[i] = rope_f16_to_f32(rd16(s + 2 * i));
        break;
    case GGML_TYPE_BF16:
        for (uint64_t i = 0; i < n; i++) out[i] = rope_bf16_to_f32(rd16(s + 2 * i));
        break;
    default:
        for (uint64_t blk = 0; blk < n / ti->block; blk++) {
            if (is_ktype(type)) deq_kblock(type, s + blk * ti->bytes, out + blk * ti->block);
            else deq_block(type, s + blk * ti->bytes, out + blk * ti->block);
        }
        break;
    }
    return GGUF_OK;
}

int gguf_dequantize_rows(const gguf_tensor *t, uint64_t first_row, uint64_t n_rows, float *out,
                         char *err, size_t errlen) {
    if (!t) {
        set_err(err, errlen, "NULL tensor");
        return GGUF_E_ARG;
    }
    char name[80];
    print_name(name, sizeof name, t->name);
    const type_info *ti = tensor_type_info(t->type);
    if (!ti || !gguf_type_supported(t->type)) {
        if (ti)
            set_err(err, errlen, "tensor '%s' has type %s, which is not supported (supported: F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q5_K Q6_K)", name, ti->name);
        else
            set_err(err, errlen, "tensor '%s' has unknown type %u (supported: F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q5_K Q6_K)", name, t->type);
        return GGUF_E_UNSUPPORTED;
    }
    uint64_t row = t->ne[0];
    uint64_t rows = row ? t->n_elements / row : 0;
    if (first_row > rows || n_rows > rows - first_row) {
        set_err(err, errlen, "tensor '%s': rows [%llu, +%llu) out of range (%llu rows)", name,
                (unsigned long long)first_row, (unsigned long long)n_rows, (unsigned long long)rows);
        return GGUF_E_ARG;
    }
    if (n_rows == 0 || row == 0) return GGUF_OK;
    if (!t->data || !out) {
        set_err(err, errlen, "tensor '%s': no data", name);
        return GGUF_E_ARG;
    }
    uint64_t row_bytes = row / ti->block * ti->bytes;
    const uint8_t *src = (const uint8_t *)t->data + first_row * row_bytes;
    return gguf_dequantize_raw(t->type, src, n_rows * row, out, err, errlen);
}

int gguf_dequantize(const gguf_tensor *t, float *out, char *err, size_t errlen) {
    if (!t) {
        set_err(err, errlen, "NULL tensor");
        return GGUF_E_ARG;
    }
    uint64_t rows = t->ne[0] ? t->n_elements / t->ne[0] : 0;
    return gguf_dequantize_rows(t, 0, rows, out, err, errlen);
}
