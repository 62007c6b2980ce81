/* The widest instruction set the kernels built for several (the corrected lanes, the
 * legacy sines) may use on this CPU, from what the CPU reports at run time, never from
 * the flags of the machine that built them. */
#ifndef NB_SIMD_H
#define NB_SIMD_H

typedef enum { NB_SIMD_BASELINE, NB_SIMD_AVX2, NB_SIMD_AVX512 } nb_simd;

/* AVX2 needs FMA beside it, AVX-512 its F, DQ and VL parts.  NANOBRAGG_SIMD=baseline or
 * avx2 asks for a narrower set (the kernels' results do not depend on it: the lanes
 * agree to rounding, the sines to the bit). */
nb_simd nb_simd_level(void);

#endif
