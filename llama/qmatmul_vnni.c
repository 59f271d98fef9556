/* The AVX-512 VNNI kernels of qm_dot: qmatmul_avx2.c with vpdpbusd (256-bit,
 * AVX512-VL encoding), compiled with -mavx512vnni -mavx512vl -mavx512bw. */
#define QM_VNNI 1
#include "qmatmul_avx2.c"
