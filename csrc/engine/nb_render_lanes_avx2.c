/* The lane kernel for CPUs with AVX2 and FMA, chosen at run time (nb_render_corrected.c). */
#include <math.h>
#include <string.h>

#include "nb_render_lanes.h"

#ifdef NB_LANES_X86
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
#define NB_LANES_KERNEL nb_lanes_avx2
#include "nb_render_lanes_body.h"
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif
