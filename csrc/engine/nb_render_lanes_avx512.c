/* The lane kernel for CPUs with AVX-512 (F, DQ, VL), chosen at run time
 * (nb_render_corrected.c): eight doubles a register. */
#include <math.h>
#include <string.h>

#include "nb_render_lanes.h"

#ifdef NB_LANES_X86
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))), \
                             apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512vl,avx2,fma,prefer-vector-width=512")
#endif
#define NB_LANES_KERNEL nb_lanes_avx512
#include "nb_render_lanes_body.h"
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif
