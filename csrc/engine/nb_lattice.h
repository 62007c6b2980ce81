/* Lattice (shape) factors and structure-factor lookup shared by the render loops. */
#ifndef NB_LATTICE_H
#define NB_LATTICE_H

#include <math.h>

#include "nanobragg.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* The nearest whole index, ceil(x - 1/2) (halves round down), as an int; exact, and
 * without a libm call.  An index beyond +-2^30, or NaN (a degenerate geometry), has no
 * int: it becomes NB_FAR_INDEX, which lies outside every structure-factor grid. */
#define NB_FAR_INDEX (-1073741824)
static inline int nb_nearest_index(double x)
{
    double shifted = x - 0.5;
    if (shifted > -1073741824.0 && shifted < 1073741824.0) {
        int t = (int)shifted; /* truncates toward zero */
        return ((double)t < shifted) ? t + 1 : t;
    }
    return NB_FAR_INDEX;
}

/* Interference function of N slits: sin(N x) / sin(x). */
static inline double nb_sincg(double x, double N)
{
    if (x == 0.0) return N;
    return sin(x * N) / sin(x);
}

/* Fourier transform of a sphere. */
static inline double nb_sinc3(double x)
{
    if (x == 0.0) return 1.0;
    return 3.0 * (sin(x) / x - cos(x)) / (x * x);
}

/* cos(pi d) for |d| <= 1/2 by its Taylor series to x^20 (truncation below 1e-16):
 * a few multiply-adds that the compiler can keep in registers, instead of a libm call. */
static inline double nb_cos_pi_small(double d)
{
    static const double inverse_factorial[11] = {
        1.0, -1.0 / 2, 1.0 / 24, -1.0 / 720, 1.0 / 40320, -1.0 / 3628800, 1.0 / 479001600,
        -1.0 / 87178291200.0, 1.0 / 20922789888000.0, -1.0 / 6402373705728000.0,
        1.0 / 2432902008176640000.0};
    double x = M_PI * d, x2 = x * x, sum = inverse_factorial[10];
    int i;
    for (i = 9; i >= 0; --i) sum = sum * x2 + inverse_factorial[i];
    return sum;
}

/* The corrected interference function: sin(N pi d) / sin(pi d) of the distance
 * d = h - h0 to the nearest lattice point, periodic in h for any real N (the
 * original's sin(N pi h) / sin(pi h) is periodic only for whole N, and loses
 * precision near large h).  For whole N up to 64 it is evaluated as the Chebyshev
 * polynomial U_{N-1}(cos pi d): one cosine and N - 1 multiply-adds instead of two
 * sines; the sign this changes cancels in |F_latt|^2. */
static inline double nb_interference(double h, int h0, double N)
{
    int n, i;
    double c, u_prev, u;
    if (N != floor(N) || N > 64) {
        double x = M_PI * (h - h0);
        if (x == 0.0) return N;
        return sin(x * N) / sin(x);
    }
    n = (int)N;
    if (n == 1) return 1.0;
    c = nb_cos_pi_small(h - h0);
    u_prev = 1.0;
    u = 2.0 * c;
    for (i = 2; i < n; ++i) {
        double next = 2.0 * c * u - u_prev;
        u_prev = u;
        u = next;
    }
    return u;
}

/* Lattice factor at fractional index (h, k, l) with nearest whole index (h0, k0, l0). */
static inline double nb_lattice_factor(const nb_render_params *p, double h, double k, double l,
                                       int h0, int k0, int l0)
{
    double F_latt = 1.0, rad_star_sqr = 0.0;
    double Na = p->N_cells[0], Nb = p->N_cells[1], Nc = p->N_cells[2];
    /* quirk lattice_factor_poles: the original's sin(N pi h) / sin(pi h) repeats at
     * every whole h only for whole N; corrected, the distance to the nearest lattice
     * point is used, periodic for any N */
    if (p->shape == NB_SHAPE_SQUARE && !p->c_parity) {
        if (Na > 1) F_latt *= nb_interference(h, h0, Na);
        if (Nb > 1) F_latt *= nb_interference(k, k0, Nb);
        if (Nc > 1) F_latt *= nb_interference(l, l0, Nc);
        return F_latt;
    }
    if (p->shape == NB_SHAPE_SQUARE) {
        if (Na > 1) F_latt *= nb_sincg(M_PI * h, Na);
        if (Nb > 1) F_latt *= nb_sincg(M_PI * k, Nb);
        if (Nc > 1) F_latt *= nb_sincg(M_PI * l, Nc);
        return F_latt;
    }
    {
        const double *as = p->a_star_per_A, *bs = p->b_star_per_A, *cs = p->c_star_per_A;
        double dx = (h - h0) * as[0] + (k - k0) * bs[0] + (l - l0) * cs[0];
        double dy = (h - h0) * as[1] + (k - k0) * bs[1] + (l - l0) * cs[1];
        double dz = (h - h0) * as[2] + (k - k0) * bs[2] + (l - l0) * cs[2];
        rad_star_sqr = (dx * dx + dy * dy + dz * dz) * Na * Na * Nb * Nb * Nc * Nc;
    }
    if (p->shape == NB_SHAPE_ROUND) {
        double hrad_sqr = (h - h0) * (h - h0) * Na * Na + (k - k0) * (k - k0) * Nb * Nb +
                          (l - l0) * (l - l0) * Nc * Nc;
        return Na * Nb * Nc * 0.723601254558268 * nb_sinc3(M_PI * sqrt(hrad_sqr * p->fudge));
    }
    if (!p->c_parity) {
        /* quirk spot_radius_units: the distance to the reciprocal lattice point in units
         * of the spot size along each axis, the same measure as the round shape */
        rad_star_sqr = (h - h0) * (h - h0) * Na * Na + (k - k0) * (k - k0) * Nb * Nb +
                       (l - l0) * (l - l0) * Nc * Nc;
    }
    if (p->shape == NB_SHAPE_GAUSS) return Na * Nb * Nc * exp(-(rad_star_sqr / 0.63 * p->fudge));
    return Na * Nb * Nc * (rad_star_sqr * p->fudge < 0.3969);
}

static inline double nb_nearest_F(const nb_render_params *p, const nb_render_arrays *a, int h0,
                                  int k0, int l0)
{
    if (a->hkls && h0 <= a->h_max && h0 >= a->h_min && k0 <= a->k_max && k0 >= a->k_min &&
        l0 <= a->l_max && l0 >= a->l_min) {
        long kn = a->k_max - a->k_min + 1, ln = a->l_max - a->l_min + 1;
        return a->Fhkl[((long)(h0 - a->h_min) * kn + (k0 - a->k_min)) * ln + (l0 - a->l_min)];
    }
    return p->default_F;
}

/* Whether the 4x4x4 interpolation stencil around (h, k, l) leaves the grid. */
static inline int nb_stencil_outside(const nb_render_arrays *a, double h, double k, double l)
{
    int h_range = a->h_max - a->h_min + 1, k_range = a->k_max - a->k_min + 1;
    int l_range = a->l_max - a->l_min + 1;
    /* a non-finite index (degenerate geometry) must never reach the stencil */
    if (!isfinite(h) || !isfinite(k) || !isfinite(l)) return 1;
    return (h - a->h_min + 3) > h_range || (h - 2 < a->h_min) || (k - a->k_min + 3) > k_range ||
           (k - 2 < a->k_min) || (l - a->l_min + 3) > l_range || (l - 2 < a->l_min);
}

/* Cubic Lagrange interpolation through four points. */
static inline double nb_lagrange4(const double xa[4], const double ya[4], double x)
{
    double x0 = (x - xa[1]) * (x - xa[2]) * (x - xa[3]) * ya[0] /
                ((xa[0] - xa[1]) * (xa[0] - xa[2]) * (xa[0] - xa[3]));
    double x1 = (x - xa[0]) * (x - xa[2]) * (x - xa[3]) * ya[1] /
                ((xa[1] - xa[0]) * (xa[1] - xa[2]) * (xa[1] - xa[3]));
    double x2 = (x - xa[0]) * (x - xa[1]) * (x - xa[3]) * ya[2] /
                ((xa[2] - xa[0]) * (xa[2] - xa[1]) * (xa[2] - xa[3]));
    double x3 = (x - xa[0]) * (x - xa[1]) * (x - xa[2]) * ya[3] /
                ((xa[3] - xa[0]) * (xa[3] - xa[1]) * (xa[3] - xa[2]));
    return x0 + x1 + x2 + x3;
}

/* Tricubic interpolation of F on the stencil starting one below floor(h, k, l). */
static inline double nb_tricubic_F(const nb_render_arrays *a, double h, double k, double l)
{
    int hf = (int)floor(h), kf = (int)floor(k), lf = (int)floor(l);
    long kn = a->k_max - a->k_min + 1, ln = a->l_max - a->l_min + 1;
    double hx[4], kx[4], lx[4], along_k[4], along_l[4];
    int i, j, m;
    for (i = 0; i < 4; ++i) {
        hx[i] = (double)(hf - 1 + i);
        kx[i] = (double)(kf - 1 + i);
        lx[i] = (double)(lf - 1 + i);
    }
    {
        double along_h[4];
        for (i = 0; i < 4; ++i) {
            for (j = 0; j < 4; ++j) {
                const double *row =
                    a->Fhkl + ((long)(hf - 1 + i - a->h_min) * kn + (kf - 1 + j - a->k_min)) * ln +
                    (lf - 1 - a->l_min);
                for (m = 0; m < 4; ++m) along_l[m] = row[m];
                along_k[j] = nb_lagrange4(lx, along_l, l);
            }
            along_h[i] = nb_lagrange4(kx, along_k, k);
        }
        return nb_lagrange4(hx, along_h, h);
    }
}

#endif
