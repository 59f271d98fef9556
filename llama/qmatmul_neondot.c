/* The NEON kernels of qm_dot with SDOT (armv8.2-a+dotprod): qmatmul_neon.c
 * compiled with the dot-product extension. */
#define QM_NEON_DOT 1
#include "qmatmul_neon.c"
