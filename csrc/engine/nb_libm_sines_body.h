/* The body of a sines kernel (see nb_libm_sines.h), included once by each
 * nb_libm_sines_*.c with NB_SINES_KERNEL naming the function it defines.  Its first
 * loop has no branch and no call, so the compiler vectorises it for the instruction set
 * of the file that includes this one.  It is compiled without contraction of multiplies
 * and adds: the error-free sums and products below need every rounding where it is
 * written, and the fused multiply-adds they need are written out. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "nb_libm_sines.h"

#if defined(__GNUC__)
#define NB_SINES_INLINE static inline __attribute__((always_inline))
#else
#define NB_SINES_INLINE static inline
#endif

/* Sines evaluated together, the register width (in doubles) a short run is padded to,
 * and the bound on the tiny and the large arguments the
 * kernel reduces itself. */
enum { NB_SINES_STRIP = 64, NB_SINES_PAD = 8 };
#define NB_SINES_SMALLEST 0x1p-30
#define NB_SINES_LARGEST 0x1p19

/* a + b = s + e exactly, for |a| >= |b| (fast) or any a, b. */
NB_SINES_INLINE void sines_fast_two_sum(double a, double b, double *s, double *e)
{
    double t = a + b;
    *s = t;
    *e = b - (t - a);
}

NB_SINES_INLINE void sines_two_sum(double a, double b, double *s, double *e)
{
    double t = a + b, b_part = t - a;
    *s = t;
    *e = (a - (t - b_part)) + (b - b_part);
}

/* One Horner step in double-double: (ch + cl) + (zh + zl)(ah + al), where the constant
 * is larger in size than the product (true of every step below). */
NB_SINES_INLINE void sines_dd_step(double ch, double cl, double zh, double zl, double ah,
                                   double al, double *h, double *l)
{
    double p = zh * ah, e = __builtin_fma(zh, ah, -p), s, s_err;
    e = __builtin_fma(zh, al, __builtin_fma(zl, ah, e));
    sines_fast_two_sum(ch, p, &s, &s_err);
    sines_fast_two_sum(s, s_err + e + cl, h, l);
}

/* sin(x) as hi + lo, within about 0.002 ULP of hi, for 2^-30 <= |x| < 2^19.
 *
 * x = k pi + r, |r| <= pi/2, sin(x) = (-1)^k sin(r).  pi is split into three doubles
 * (pi_1 + pi_2 + pi_3 to 2^-160); x - k pi_1 is exact (a fused multiply-add: from
 * |x| = 2 on the difference is a multiple of 2^-51 below 2 in size, below 2 it is x
 * itself or, for |x| above pi/2, a difference of doubles within a factor of two), the
 * rest is carried as r = rh + rl.  sin(r) = rh + rh z P(z) + rl cos(rh) with z = rh^2 exact as zh + zl and P the
 * Taylor series of (sin(r) / r - 1) / z to z^10 (truncation below 2^-64 at pi/2): its
 * three leading coefficients, which carry the most weight, in double-double, the rest
 * in double. */
NB_SINES_INLINE void sines_candidate(double x, double *out_hi, double *out_lo)
{
    const double inverse_pi = 0x1.45f306dc9c883p-2, whole = 6755399441055744.0;
    const double pi_1 = 0x1.921fb54442d18p+1, pi_2 = 0x1.1a62633145c07p-53;
    const double pi_3 = -0x1.f1976b7ed8fbcp-109;
    double k = __builtin_fma(x, inverse_pi, whole) - whole; /* the nearest whole x / pi */
    double r1 = __builtin_fma(-k, pi_1, x);
    double t = k * pi_2, t_err = __builtin_fma(k, pi_2, -t);
    double s, s_err, rh, rl, zh, zl, q, Ah, Al, Bh, Bl, Ch, Cl, Sh, Sl, uh, ul, a, a_err, c;
    double hi, lo, odd, sign;
    sines_two_sum(r1, -t, &s, &s_err);
    sines_fast_two_sum(s, (s_err - t_err) - k * pi_3, &rh, &rl);
    zh = rh * rh;
    zl = __builtin_fma(rh, rh, -zh);
    q = __builtin_fma(zh, -1.0 / 25852016738884976640000.0, 1.0 / 51090942171709440000.0);
    q = __builtin_fma(zh, q, -1.0 / 121645100408832000.0);
    q = __builtin_fma(zh, q, 1.0 / 355687428096000.0);
    q = __builtin_fma(zh, q, -1.0 / 1307674368000.0);
    q = __builtin_fma(zh, q, 1.0 / 6227020800.0);
    q = __builtin_fma(zh, q, -1.0 / 39916800.0);
    q = __builtin_fma(zh, q, 1.0 / 362880.0);
    /* -1/5040, 1/120 and -1/6 as double-doubles */
    sines_dd_step(-0x1.a01a01a01a01ap-13, -0x1.a01a01a01a01ap-73, zh, zl, q, 0.0, &Ah, &Al);
    sines_dd_step(0x1.1111111111111p-7, 0x1.1111111111111p-63, zh, zl, Ah, Al, &Bh, &Bl);
    sines_dd_step(-0x1.5555555555555p-3, -0x1.5555555555555p-57, zh, zl, Bh, Bl, &Ch, &Cl);
    /* S = z P, u = rh S, sin(r) = rh + u + rl cos(rh) */
    Sh = zh * Ch;
    Sl = __builtin_fma(zh, Cl, __builtin_fma(zl, Ch, __builtin_fma(zh, Ch, -Sh)));
    uh = rh * Sh;
    ul = __builtin_fma(rh, Sl, __builtin_fma(rh, Sh, -uh));
    sines_fast_two_sum(rh, uh, &a, &a_err);
    c = __builtin_fma(zh, __builtin_fma(zh, __builtin_fma(zh, -1.0 / 720, 1.0 / 24), -0.5), 1.0);
    sines_fast_two_sum(a, a_err + ul + rl * c, &hi, &lo);
    odd = k - 2.0 * ((0.5 * k + whole) - whole); /* -1, 0 or 1 */
    sign = 1.0 - 2.0 * odd * odd;
    *out_hi = sign * hi;
    *out_lo = sign * lo;
}

void NB_SINES_KERNEL(const double *restrict x, double *restrict out, int n)
{
    /* the candidate is kept where |lo| <= 0.44 of the spacing of doubles at hi: there
     * hi + lo / 0.88 still rounds to hi */
    const double keep_scale = 0.5 / 0.44;
    double xs[NB_SINES_STRIP], hi[NB_SINES_STRIP];
    int sure[NB_SINES_STRIP], redo[NB_SINES_STRIP];
    int start;
    for (start = 0; start < n; start += NB_SINES_STRIP) {
        int m = n - start < NB_SINES_STRIP ? n - start : NB_SINES_STRIP;
        int whole = (m + NB_SINES_PAD - 1) / NB_SINES_PAD * NB_SINES_PAD, i, count = 0;
        /* a short run is padded to whole registers with an argument nobody reads */
        for (i = 0; i < m; ++i) xs[i] = x[start + i];
        for (; i < whole; ++i) xs[i] = 1.0;
        for (i = 0; i < whole; ++i) {
            double size = fabs(xs[i]), lo;
            sines_candidate(xs[i], &hi[i], &lo);
            uint64_t bits;
            memcpy(&bits, &hi[i], sizeof bits);
            /* at a power of two the doubles below lie half as far apart: a libm off by
             * just over half the spacing above could return the one below, so those go
             * to libm */
            sure[i] = (size >= NB_SINES_SMALLEST) & (size < NB_SINES_LARGEST) &
                      (hi[i] + lo * keep_scale == hi[i]) &
                      ((bits & 0x000FFFFFFFFFFFFFULL) != 0);
        }
        for (i = 0; i < m; ++i) {
            out[start + i] = hi[i];
            redo[count] = i;
            count += !sure[i];
        }
        for (i = 0; i < count; ++i) out[start + redo[i]] = sin(xs[redo[i]]);
    }
}
