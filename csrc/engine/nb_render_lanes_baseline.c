/* The lane kernel for any CPU: the compiler's baseline instruction set (SSE2 on x86-64). */
#define NB_LANES_KERNEL nb_lanes_baseline
#include "nb_render_lanes_body.h"
