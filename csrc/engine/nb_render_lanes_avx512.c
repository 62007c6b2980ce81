/* The lane kernel for CPUs with AVX-512 (F, DQ, VL), chosen at run time
 * (nb_render_corrected.c): eight doubles a register. */
#include <math.h>
#include <string.h>

#include "nb_render_lanes.h"
#include "nb_simd.h"

#ifdef NB_LANES_X86
NB_TARGET_AVX512
#define NB_LANES_KERNEL nb_lanes_avx512
#include "nb_render_lanes_body.h"
NB_TARGET_END
#endif
