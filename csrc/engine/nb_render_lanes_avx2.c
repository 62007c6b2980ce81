/* The lane kernel for CPUs with AVX2 and FMA, chosen at run time (nb_render_corrected.c). */
#include <math.h>
#include <string.h>

#include "nb_render_lanes.h"
#include "nb_simd.h"

#ifdef NB_LANES_X86
NB_TARGET_AVX2
#define NB_LANES_KERNEL nb_lanes_avx2
#include "nb_render_lanes_body.h"
NB_TARGET_END
#endif
