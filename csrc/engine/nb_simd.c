#include <stdlib.h>
#include <string.h>

#include "nb_simd.h"

nb_simd nb_simd_level(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    const char *asked = getenv("NANOBRAGG_SIMD");
    int avx2, avx512;
    __builtin_cpu_init();
    avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512vl");
    if (asked && strcmp(asked, "baseline") == 0) return NB_SIMD_BASELINE;
    if (avx512 && !(asked && strcmp(asked, "avx2") == 0)) return NB_SIMD_AVX512;
    if (avx2) return NB_SIMD_AVX2;
#endif
    return NB_SIMD_BASELINE;
}
