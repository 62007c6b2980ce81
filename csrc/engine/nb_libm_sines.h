/* sin(x) for a block of arguments, each to the bit as the C library's sin gives it.
 *
 * The legacy render evaluates the original's sin(N x) / sin(x) with libm's sin, six
 * calls a term, and libm's result is what the legacy image must reproduce.  A SIMD
 * kernel evaluates each sine to about 0.002 ULP (a double-double polynomial after an
 * exact reduction by pi) and keeps the candidate, the double nearest that value,
 * wherever the value lies within 0.44 ULP of it and the candidate is not a power of
 * two: a sin whose error is under 0.55 ULP has no other double to return there (glibc's
 * sin, measured here against an 80-bit reference, errs by at most 0.515 ULP).  The
 * other arguments, about one in eight (the sines that lie near a midpoint between two
 * doubles, and every argument that is not finite, tiny or beyond 2^19 in size), go to
 * libm's sin.  The kernel is built for AVX2 and AVX-512 on x86-64 with the GNU C
 * library; elsewhere, or with NANOBRAGG_SIMD=baseline, every sine is a libm call.
 * csrc/tests/test_engine.c compares the kernels with libm on millions of arguments. */
#ifndef NB_LIBM_SINES_H
#define NB_LIBM_SINES_H

#include <math.h> /* and with it __GLIBC__ where the C library is glibc */

/* out[i] = sin(x[i]) for i < n; x and out must not overlap. */
typedef void (*nb_sines_kernel)(const double *x, double *out, int n);

/* The kernel for this CPU and C library. */
nb_sines_kernel nb_libm_sines_kernel(void);

/* One libm call for each sine. */
void nb_libm_sines_loop(const double *x, double *out, int n);

#if defined(__x86_64__) && defined(__GLIBC__) && !defined(__UCLIBC__) && \
    (defined(__GNUC__) || defined(__clang__))
#define NB_SINES_X86 1
void nb_libm_sines_avx2(const double *x, double *out, int n);
void nb_libm_sines_avx512(const double *x, double *out, int n);
#endif

#endif
