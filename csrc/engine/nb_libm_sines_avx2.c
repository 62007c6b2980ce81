/* The sines kernel for CPUs with AVX2 and FMA: four doubles a register; chosen at run
 * time (nb_libm_sines.c). */
#include "nb_libm_sines.h"
#include "nb_simd.h"

#ifdef NB_SINES_X86
NB_TARGET_AVX2
#define NB_SINES_KERNEL nb_libm_sines_avx2
#include "nb_libm_sines_body.h"
NB_TARGET_END
#endif
