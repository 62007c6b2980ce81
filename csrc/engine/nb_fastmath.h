/* Sine, cosine and exponential as straight-line double arithmetic (no libm call, no
 * table, no branch), so that a loop calling them over arrays is vectorised by the
 * compiler.  Used by the corrected point-scatterer sums, where a libm sin of a
 * 6e9-radian phase is the whole cost of a term.
 *
 * Accuracy (checked against libm by tests/test_scatterers.py through the image and
 * documented in specs/nearbragg.md): sin and cos within 2e-16 of the true values for
 * |x| < 1e8 (n * the 26-bit pieces of pi/2 below are exact products up to n = 2^27);
 * beyond 2e8 the reduction error grows as |x| x 2^-53, the rounding of x itself.  exp
 * within 2 units in the last place of libm's where the result is a normal double.
 *
 * Integers are taken from the low bits of x * c + 1.5 x 2^52, which in IEEE double
 * arithmetic (round to nearest, no fast-math reassociation, as the engine is built) is
 * the nearest whole number of x * c for |x * c| < 2^51. */
#ifndef NB_FASTMATH_H
#define NB_FASTMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#define NB_ROUND_MAGIC 6755399441055744.0 /* 1.5 x 2^52 */

/* A loop of these functions compiled three times, for x86-64-v4 (AVX-512 with its
 * 64-bit integer products), x86-64-v3 (AVX2) and the baseline, the best one chosen at
 * load time (GCC 12 or later on x86-64 glibc; one version elsewhere).  The engine is
 * built without contraction into fused multiply-adds and the lanes of a sum add in a
 * fixed order, so every version gives the same bits. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && defined(__x86_64__) && \
    defined(__GLIBC__)
#define NB_VECTOR_CLONES \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NB_VECTOR_CLONES
#endif

static inline uint64_t nb_bits(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline double nb_from_bits(uint64_t u)
{
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* sin(x) and cos(x): x less the nearest multiple n of pi/2 (in four pieces, the first
 * three of 26 bits), then the Taylor series of sin to r^17 and of cos to r^16 on
 * |r| <= pi/4 (truncation below 5e-20), swapped and signed by n mod 4. */
static inline void nb_sincos(double x, double *sin_x, double *cos_x)
{
    const double pio2_1 = 0x1.921fb5p+0, pio2_2 = 0x1.110b46p-26, pio2_3 = 0x1.1a6263p-54;
    const double pio2_4 = 0x1.8a2e03707344ap-81;
    double t = x * 0.63661977236758134308 + NB_ROUND_MAGIC;
    double n = t - NB_ROUND_MAGIC;
    uint64_t quadrant = nb_bits(t);
    double r = ((x - n * pio2_1) - n * pio2_2) - n * pio2_3 - n * pio2_4;
    double z = r * r;
    double s = r + r * z * (-1.0 / 6 + z * (1.0 / 120 + z * (-1.0 / 5040 +
               z * (1.0 / 362880 + z * (-1.0 / 39916800 + z * (1.0 / 6227020800.0 +
               z * (-1.0 / 1307674368000.0 + z * (1.0 / 355687428096000.0))))))));
    double c = 1.0 + z * (-0.5 + z * (1.0 / 24 + z * (-1.0 / 720 + z * (1.0 / 40320 +
               z * (-1.0 / 3628800 + z * (1.0 / 479001600 + z * (-1.0 / 87178291200.0 +
               z * (1.0 / 20922789888000.0))))))));
    uint64_t swap = 0 - (quadrant & 1); /* all ones in quadrants 1 and 3 */
    uint64_t sb = nb_bits(s), cb = nb_bits(c);
    uint64_t sin_bits = (cb & swap) | (sb & ~swap);
    uint64_t cos_bits = (sb & swap) | (cb & ~swap);
    sin_bits ^= ((quadrant >> 1) & 1) << 63;       /* negative in quadrants 2 and 3 */
    cos_bits ^= (((quadrant + 1) >> 1) & 1) << 63; /* negative in quadrants 1 and 2 */
    *sin_x = nb_from_bits(sin_bits);
    *cos_x = nb_from_bits(cos_bits);
}

/* exp(x): 2^n exp(r) with r = x - n ln 2 (ln 2 in two pieces, the first of 32 bits),
 * exp(r) by its Taylor series to r^13 on |r| <= ln 2 / 2 (truncation below 1e-17), and
 * 2^n applied in two halves, so that a result below the smallest double (x below about
 * -745) becomes 0 and one above the largest +inf with no test of x but its clamp to
 * +-1400 (which keeps n a small integer; NaN stays NaN). */
static inline double nb_exp(double x)
{
    const double ln2_hi = 0x1.62e42feep-1, ln2_lo = 0x1.a39ef35793c76p-33;
    /* (a clamp to a copysign, not to constants, which the compiler would fold into
     * branches it then cannot vectorise) */
    double clamped = fabs(x) > 1400.0 ? copysign(1400.0, x) : x;
    double t = clamped * 1.44269504088896340736 + NB_ROUND_MAGIC;
    double n = t - NB_ROUND_MAGIC;
    double t_half = n * 0.5 + NB_ROUND_MAGIC;
    /* n and a half of it as integers modulo 2^64 (their low 12 bits make exponents) */
    uint64_t k = nb_bits(t) - nb_bits(NB_ROUND_MAGIC);
    uint64_t half = nb_bits(t_half) - nb_bits(NB_ROUND_MAGIC);
    double r = (clamped - n * ln2_hi) - n * ln2_lo;
    double p = 1.0 + r * (1.0 + r * (1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 +
               r * (1.0 / 720 + r * (1.0 / 5040 + r * (1.0 / 40320 + r * (1.0 / 362880 +
               r * (1.0 / 3628800 + r * (1.0 / 39916800 + r * (1.0 / 479001600 +
               r * (1.0 / 6227020800.0)))))))))))));
    return p * nb_from_bits((half + 1023) << 52) * nb_from_bits((k - half + 1023) << 52);
}

/* log(x) for a positive normal x: x = m 2^e with m in [sqrt(1/2), sqrt(2)), log m =
 * 2 atanh(s) with s = (m - 1) / (m + 1), |s| < 0.172, by its series to s^23 (truncation
 * below 1e-18).  The exponent becomes a double through the bits of 2^52 + e. */
static inline double nb_log(double x)
{
    uint64_t bits = nb_bits(x);
    uint64_t mantissa = bits & 0x000FFFFFFFFFFFFFULL;
    uint64_t big = mantissa > 0x6A09E667F3BCDULL; /* m above sqrt(2): halved, e one more */
    double m = nb_from_bits(mantissa | (0x3FF0000000000000ULL - (big << 52)));
    double e = nb_from_bits(0x4330000000000000ULL | ((bits >> 52) + big)) -
               4503599627370496.0 - 1023.0;
    double s = (m - 1.0) / (m + 1.0), z = s * s;
    return e * 0.69314718055994530942 +
           2.0 * s * (1.0 + z * (1.0 / 3 + z * (1.0 / 5 + z * (1.0 / 7 + z * (1.0 / 9 +
           z * (1.0 / 11 + z * (1.0 / 13 + z * (1.0 / 15 + z * (1.0 / 17 + z * (1.0 / 19 +
           z * (1.0 / 21 + z * (1.0 / 23))))))))))));
}

#endif
