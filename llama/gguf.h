/*
 * GGUF reader (versions 2 and 3), memory-mapped and read-only.
 *
 * File layout (ggml's docs/gguf.md): magic "GGUF", u32 version, u64 tensor
 * count, u64 metadata count, then the key/value pairs (key = u64 length +
 * bytes; value = u32 type + payload; arrays = u32 element type + u64 count +
 * elements, nested arrays allowed), then the tensor infos (name, u32 n_dims,
 * n_dims x u64 dims, u32 ggml type, u64 offset), padding to the alignment
 * (`general.alignment`, default 32), then the tensor data. All little-endian.
 *
 * Every count, length and offset is checked against the file size before it
 * is used: a truncated or malformed file is an error with a message, never a
 * crash and never a read past the end of the mapping. Strings point into the
 * mapping and are NOT NUL-terminated (use .len).
 *
 * Errors are values: functions return GGUF_OK (0) or a gguf_status, and the
 * opening functions also write a one-line reason into err (errlen bytes).
 */
#ifndef ROPE_GGUF_H
#define ROPE_GGUF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gguf_status {
    GGUF_OK = 0,
    GGUF_E_IO,          /* open/stat/mmap failed */
    GGUF_E_FORMAT,      /* malformed or truncated file */
    GGUF_E_NOT_FOUND,   /* no such key or tensor */
    GGUF_E_TYPE,        /* the key exists with another value type */
    GGUF_E_UNSUPPORTED, /* tensor type we do not dequantise (message names it) */
    GGUF_E_NOMEM,
    GGUF_E_ARG          /* bad argument (NULL, row range out of bounds, ...) */
} gguf_status;

const char *gguf_strerror(int status);

/* Metadata value types, numbered as in the file. */
typedef enum gguf_value_type {
    GGUF_TYPE_UINT8 = 0,
    GGUF_TYPE_INT8 = 1,
    GGUF_TYPE_UINT16 = 2,
    GGUF_TYPE_INT16 = 3,
    GGUF_TYPE_UINT32 = 4,
    GGUF_TYPE_INT32 = 5,
    GGUF_TYPE_FLOAT32 = 6,
    GGUF_TYPE_BOOL = 7,
    GGUF_TYPE_STRING = 8,
    GGUF_TYPE_ARRAY = 9,
    GGUF_TYPE_UINT64 = 10,
    GGUF_TYPE_INT64 = 11,
    GGUF_TYPE_FLOAT64 = 12,
    GGUF_TYPE_COUNT_ = 13
} gguf_value_type;

/* ggml tensor types, numbered as in the file. The first two groups are
 * dequantised; the others are named in errors. */
typedef enum gguf_tensor_type {
    GGML_TYPE_F32 = 0,
    GGML_TYPE_F16 = 1,
    GGML_TYPE_Q4_0 = 2,
    GGML_TYPE_Q4_1 = 3,
    GGML_TYPE_Q5_0 = 6,
    GGML_TYPE_Q5_1 = 7,
    GGML_TYPE_Q8_0 = 8,
    GGML_TYPE_BF16 = 30,
    /* K-quants (super-blocks of 256): a block whose f16 scale is Inf/NaN is
     * malformed (GGUF_E_FORMAT, nothing written) */
    GGML_TYPE_Q4_K = 12,
    GGML_TYPE_Q5_K = 13,
    GGML_TYPE_Q6_K = 14,
    /* known but not dequantised */
    GGML_TYPE_Q8_1 = 9,
    GGML_TYPE_Q2_K = 10,
    GGML_TYPE_Q3_K = 11,
    GGML_TYPE_Q8_K = 15
} gguf_tensor_type;

#define GGUF_MAX_DIMS 4
#define GGUF_DEFAULT_ALIGNMENT 32

/* A string inside the file (not NUL-terminated). */
typedef struct gguf_str {
    const char *data;
    uint64_t len;
} gguf_str;

/* One metadata value. Scalars are decoded; strings point into the file;
 * arrays of scalars keep a pointer to the raw little-endian elements (read
 * them with gguf_array_get_*), arrays of strings or of arrays have one
 * decoded gguf_value per element in `items`. */
typedef struct gguf_value gguf_value;
struct gguf_value {
    gguf_value_type type;
    union {
        uint64_t u64;   /* UINT8/16/32/64 and BOOL (0/1) */
        int64_t i64;    /* INT8/16/32/64 */
        double f64;     /* FLOAT32/64 */
        gguf_str str;   /* STRING */
        struct {
            gguf_value_type type;   /* element type */
            uint64_t n;             /* element count */
            const uint8_t *raw;     /* scalar elements: n * size bytes in the file */
            gguf_value *items;      /* STRING/ARRAY elements: n decoded values */
        } arr;
    } v;
};

typedef struct gguf_kv {
    gguf_str key;
    gguf_value value;
} gguf_kv;

typedef struct gguf_tensor {
    gguf_str name;
    uint32_t n_dims;
    uint64_t ne[GGUF_MAX_DIMS];   /* ne[0] is the fastest-varying (row length); unused = 1 */
    uint32_t type;                /* gguf_tensor_type (may be one we do not know) */
    uint64_t offset;              /* from the start of the data section */
    uint64_t n_elements;
    uint64_t n_bytes;             /* 0 when the type is unknown */
    const void *data;             /* in the mapping; NULL when the type is unknown */
} gguf_tensor;

typedef struct gguf_file gguf_file;

/* Map `path` read-only and parse it. *out is NULL on failure. */
int gguf_open(const char *path, gguf_file **out, char *err, size_t errlen);
/* Parse a buffer in memory (not copied: it must outlive the gguf_file).
 * Same checks as gguf_open; for the fuzzer and the tests. */
int gguf_open_memory(const void *data, size_t size, gguf_file **out, char *err, size_t errlen);
void gguf_close(gguf_file *f);

uint32_t gguf_version(const gguf_file *f);
uint32_t gguf_alignment(const gguf_file *f);
uint64_t gguf_data_offset(const gguf_file *f);  /* start of the tensor data in the file */
uint64_t gguf_file_size(const gguf_file *f);

/* Metadata. */
int64_t gguf_n_kv(const gguf_file *f);
const gguf_kv *gguf_kv_at(const gguf_file *f, int64_t i);
const gguf_kv *gguf_find_kv(const gguf_file *f, const char *key);  /* NULL if absent */
/* Typed getters: GGUF_OK, GGUF_E_NOT_FOUND or GGUF_E_TYPE (value unchanged on
 * error). Integer getters accept any integer type whose value fits; float
 * getters accept FLOAT32/FLOAT64. */
int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out);
int gguf_get_i64(const gguf_file *f, const char *key, int64_t *out);
int gguf_get_f32(const gguf_file *f, const char *key, float *out);
int gguf_get_bool(const gguf_file *f, const char *key, int *out);
int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out);
int gguf_get_array(const gguf_file *f, const char *key, const gguf_value **out);
/* Copy a string value into buf as a NUL-terminated string (truncated to cap-1). */
int gguf_get_cstr(const gguf_file *f, const char *key, char *buf, size_t cap);
/* 1 when the gguf_str equals the C string s. */
int gguf_str_eq(gguf_str a, const char *s);

/* Array elements (arr must be a GGUF_TYPE_ARRAY value; i < arr->v.arr.n).
 * The numeric getters convert any numeric/bool element type. */
uint64_t gguf_array_len(const gguf_value *arr);
int gguf_array_get_i64(const gguf_value *arr, uint64_t i, int64_t *out);
int gguf_array_get_f64(const gguf_value *arr, uint64_t i, double *out);
int gguf_array_get_str(const gguf_value *arr, uint64_t i, gguf_str *out);

const char *gguf_value_type_name(uint32_t type);

/* Tensors. */
int64_t gguf_n_tensors(const gguf_file *f);
const gguf_tensor *gguf_tensor_at(const gguf_file *f, int64_t i);
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name);  /* NULL if absent */

/* "Q4_1", "F32", ...; "type 99" style text for unknown numbers is not
 * returned: unknown types give NULL. */
const char *gguf_type_name(uint32_t type);
/* Elements per block and bytes per block for a known type (0 if unknown). */
uint64_t gguf_type_block_size(uint32_t type);
uint64_t gguf_type_block_bytes(uint32_t type);
/* 1 if gguf_dequantize handles the type. */
int gguf_type_supported(uint32_t type);

/* Dequantise rows [first_row, first_row + n_rows) of a tensor to float32;
 * a row is ne[0] elements, rows count over ne[1]*ne[2]*ne[3]. out holds
 * n_rows * ne[0] floats. Unsupported types: GGUF_E_UNSUPPORTED with the type
 * named in err; a malformed K-quant block: GGUF_E_FORMAT with the block named
 * (out untouched). */
int gguf_dequantize_rows(const gguf_tensor *t, uint64_t first_row, uint64_t n_rows,
                         float *out, char *err, size_t errlen);
/* The whole tensor (n_elements floats). */
int gguf_dequantize(const gguf_tensor *t, float *out, char *err, size_t errlen);
/* Raw blocks: n elements (a multiple of the type's block size) from src. */
int gguf_dequantize_raw(uint32_t type, const void *src, uint64_t n, float *out,
                        char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
