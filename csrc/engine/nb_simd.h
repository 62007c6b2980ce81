/* The widest instruction set the kernels built for several (the corrected lanes, the
 * legacy sines) may use on this CPU, from what the CPU reports at run time, never from
 * the flags of the machine that built them. */
#ifndef NB_SIMD_H
#define NB_SIMD_H

#include "nb_pragma.h"

typedef enum { NB_SIMD_BASELINE, NB_SIMD_AVX2, NB_SIMD_AVX512 } nb_simd;

/* AVX2 needs FMA beside it, AVX-512 its F, DQ and VL parts.  NANOBRAGG_SIMD=baseline or
 * avx2 asks for a narrower set (the kernels' results do not depend on it: the lanes
 * agree to rounding, the sines to the bit). */
nb_simd nb_simd_level(void);

/* The functions between NB_TARGET_AVX2 (or NB_TARGET_AVX512) and NB_TARGET_END are
 * compiled for that instruction set, whatever the flags of the build: the files that
 * build a kernel once per set wrap their body in them. */
#if defined(__clang__)
#define NB_TARGET_AVX2 \
    NB_PRAGMA(clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function))
#define NB_TARGET_AVX512                                                                  \
    NB_PRAGMA(clang attribute push(                                                       \
        __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))), apply_to = function))
#define NB_TARGET_END NB_PRAGMA(clang attribute pop)
#else
#define NB_TARGET_AVX2 NB_PRAGMA(GCC push_options) NB_PRAGMA(GCC target("avx2,fma"))
#define NB_TARGET_AVX512 \
    NB_PRAGMA(GCC push_options) \
    NB_PRAGMA(GCC target("avx512f,avx512dq,avx512vl,avx2,fma,prefer-vector-width=512"))
#define NB_TARGET_END NB_PRAGMA(GCC pop_options)
#endif

#endif
