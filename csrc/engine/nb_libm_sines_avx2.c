/* The sines kernel for CPUs with AVX2 and FMA: four doubles a register; chosen at run time (nb_libm_sines.c). */
#include "nb_libm_sines.h"

#ifdef NB_SINES_X86
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
#define NB_SINES_KERNEL nb_libm_sines_avx2
#include "nb_libm_sines_body.h"
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif
