/* The sines kernel for this CPU (nb_libm_sines.h), and one libm call a sine for the
 * rest. */
#include <math.h>
#include "nb_libm_sines.h"
#include "nb_simd.h"

void nb_libm_sines_loop(const double *x, double *out, int n)
{
    int i;
    for (i = 0; i < n; ++i) out[i] = sin(x[i]);
}

nb_sines_kernel nb_libm_sines_kernel(void)
{
#ifdef NB_SINES_X86
    switch (nb_simd_level()) {
    case NB_SIMD_AVX512: return nb_libm_sines_avx512;
    case NB_SIMD_AVX2: return nb_libm_sines_avx2;
    case NB_SIMD_BASELINE: break;
    }
#endif
    return nb_libm_sines_loop;
}
