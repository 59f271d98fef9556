/*
 * libFuzzer harness: .npy reader (tools/lib/npy.c). Accepted arrays are read
 * end to end (every byte touched) so a wrong size shows up under ASan.
 */
#include <stddef.h>
#include <stdint.h>

#include "npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    npy_array a;
    char err[256];
    if (npy_parse(data, size, &a, err, sizeof err) == 0) {
        const volatile unsigned char *p = a.data;
        unsigned sum = 0;
        size_t bytes = (size_t)a.count * a.elem_size;
        for (size_t i = 0; i < bytes; i++) sum += p[i];
        (void)sum;
        if (a.ndim < 0 || a.ndim > NPY_MAX_DIMS || a.elem_size != npy_dtype_size(a.dtype)) __builtin_trap();
    }
    npy_free(&a);
    return 0;
}
