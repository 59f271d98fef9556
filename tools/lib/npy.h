/*
 * NumPy .npy files (format versions 1.0, 2.0 and 3.0), little-endian, C order,
 * up to 4 dimensions. dtypes: '<f4' and '<f2' (tensors), '<i8' and '<i4'
 * (positions), '<c8' (complex freqs_cis, rope verify). Anything else, a Fortran-order array, a malformed header, a
 * shape whose size overflows, or data that does not match the file size is a
 * clear error, never a crash.
 */
#ifndef ROPE_NPY_H
#define ROPE_NPY_H

#include <stddef.h>
#include <stdint.h>

#define NPY_MAX_DIMS 4

typedef enum npy_dtype {
    NPY_F32 = 1, /* '<f4' */
    NPY_F16 = 2, /* '<f2' */
    NPY_I64 = 3, /* '<i8' */
    NPY_I32 = 4, /* '<i4' */
    NPY_C64 = 5  /* '<c8': complex64 (real, imaginary float32), for rope verify's freqs_cis */
} npy_dtype;

typedef struct npy_array {
    npy_dtype dtype;
    int ndim;                      /* 0 (a scalar) .. NPY_MAX_DIMS */
    int64_t shape[NPY_MAX_DIMS];
    int64_t count;                 /* product of shape (1 for a scalar) */
    size_t elem_size;
    void *data;                    /* count * elem_size bytes, malloc'ed, C order */
} npy_array;

/* Bytes per element, 0 for an invalid dtype; the descr string ('<f4', ...). */
size_t npy_dtype_size(npy_dtype t);
const char *npy_dtype_descr(npy_dtype t);

/* Parse a whole .npy image held in memory. Returns 0, or non-zero with a
 * reason in err. On success out->data is a fresh copy (npy_free). */
int npy_parse(const void *buf, size_t len, npy_array *out, char *err, size_t errlen);

/* Read a .npy file. */
int npy_read(const char *path, npy_array *out, char *err, size_t errlen);

/* Write data (C order) as a version 1.0 .npy file (2.0 if the header needs it). */
int npy_write(const char *path, npy_dtype dtype, int ndim, const int64_t *shape, const void *data,
              char *err, size_t errlen);

void npy_free(npy_array *a);

#endif
