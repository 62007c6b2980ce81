/* The body of a lane kernel (see nb_render_lanes.h), included once by each
 * nb_render_lanes_*.c with NB_LANES_KERNEL naming the function it defines.  Its
 * loops run over NB_STRIP lanes with no branch the lanes could disagree on and no call
 * but to the inline helpers below, so the compiler vectorises them for the instruction
 * set of the file that includes this one; only the tricubic interpolation and a grid of
 * F too large for int indices go lane by lane through nb_lattice.h. */
#include <math.h>
#include <string.h>

#include "nb_lattice.h"
#include "nb_render_lanes.h"

#define S NB_STRIP

/* Round to the nearest whole number, halves to even, for |x| < 2^51 (adding and
 * taking away 1.5 * 2^52 leaves no fraction): no libm call, so it vectorises on
 * every instruction set. */
static inline double lanes_rint(double x)
{
    const double magic = 6755399441055744.0;
    return (x + magic) - magic;
}

/* The nearest whole index as nb_nearest_index defines it, ceil(x - 1/2), as a double. */
static inline double lanes_nearest(double x)
{
    double y = x - 0.5, r = lanes_rint(y);
    return r < y ? r + 1.0 : r;
}

/* sin(pi r) for |r| <= 1/2: its Taylor series to x^23 (truncation below 1e-17). */
static inline double lanes_sin_pi_small(double r)
{
    static const double c[12] = {
        1.0, -1.0 / 6, 1.0 / 120, -1.0 / 5040, 1.0 / 362880, -1.0 / 39916800,
        1.0 / 6227020800.0, -1.0 / 1307674368000.0, 1.0 / 355687428096000.0,
        -1.0 / 121645100408832000.0, 1.0 / 51090942171709440000.0,
        -1.0 / 25852016738884976640000.0};
    double x = M_PI * r, x2 = x * x, sum = c[11];
    int i;
    for (i = 10; i >= 0; --i) sum = sum * x2 + c[i];
    return sum * x;
}

/* (-1)^n for a whole n, from its parity. */
static inline double lanes_parity_sign(double n)
{
    double odd = n - 2.0 * lanes_rint(0.5 * n); /* -1, 0 or 1 */
    return 1.0 - 2.0 * odd * odd;
}

/* sin(pi y) and cos(pi y) for any y below 2^50 in size. */
static inline double lanes_sin_pi(double y)
{
    double n = lanes_rint(y);
    return lanes_parity_sign(n) * lanes_sin_pi_small(y - n);
}

static inline double lanes_cos_pi(double y)
{
    double n = lanes_rint(y);
    return lanes_parity_sign(n) * nb_cos_pi_small(y - n);
}

/* exp(x): 2^k exp(r) with |r| <= ln 2 / 2, exp(r) by its Taylor series to r^13, 2^k
 * built in the exponent bits.  Results below 2^-1022 are 0 (the subnormals are left
 * out), above the largest double infinite. */
static inline double lanes_exp(double x)
{
    static const double c[14] = {
        1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040,
        1.0 / 40320, 1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600,
        1.0 / 6227020800.0};
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    double clamped = x < -708.0 ? -708.0 : (x > 709.0 ? 709.0 : x);
    double k = lanes_rint(clamped * 1.4426950408889634);
    double r = (clamped - k * ln2_hi) - k * ln2_lo, sum = c[13], scale, biased;
    unsigned long long bits;
    int i;
    for (i = 12; i >= 0; --i) sum = sum * r + c[i];
    /* 2^52 + k + 1023 holds k + 1023 in its low bits; shifted up, they are the exponent */
    biased = k + 1023.0 + 4503599627370496.0;
    memcpy(&bits, &biased, sizeof bits);
    bits <<= 52;
    memcpy(&scale, &bits, sizeof scale);
    sum *= scale;
    if (x < -708.0) sum = 0.0;
    if (x > 709.0) sum = INFINITY;
    if (x != x) sum = x;
    return sum;
}

/* Rodrigues rotation of v about a unit axis by the angle whose sine and cosine are given. */
static inline void lanes_rotate(const double v[3], const double axis[3], double s, double c,
                                double out[3])
{
    double along = (axis[0] * v[0] + axis[1] * v[1] + axis[2] * v[2]) * (1.0 - c);
    out[0] = axis[0] * along + v[0] * c + (-axis[2] * v[1] + axis[1] * v[2]) * s;
    out[1] = axis[1] * along + v[1] * c + (+axis[2] * v[0] - axis[0] * v[2]) * s;
    out[2] = axis[2] * along + v[2] * c + (-axis[1] * v[0] + axis[0] * v[1]) * s;
}

/* What one strip carries from its geometry to its terms. */
typedef struct {
    double Sx[S], Sy[S], Sz[S];  /* scattering vectors, 1/m */
    double factor[S];
    double alive[S];             /* 1 or 0 */
} strip_state;

/* Position, solid angle, capture fraction, polarization, scattering vector and the
 * resolution cut of one strip's lanes, each stage a loop over the strip. */
static inline void strip_geometry(const nb_scene *c, const nb_lane_setup *setup,
                                  nb_lane_block *b, int first, strip_state *st)
{
    const nb_render_params *p = c->p;
    const nb_source_table *src = &setup->sources;
    const double sub = c->subpixel_size_m;
    const double *fdet = p->fdet, *sdet = p->sdet, *odet = p->odet, *pix0 = p->pix0_m;
    const double *Fsub = b->Fsub + first, *Ssub = b->Ssub + first, *layer = b->layer + first;
    const int s = b->source;
    double x[S], y[S], z[S], omega[S], capture[S], polar[S];
    int j;
    for (j = 0; j < S; ++j) {
        double Fdet = sub * Fsub[j] + sub / 2.0, Sdet = sub * Ssub[j] + sub / 2.0;
        double Odet = layer[j] * p->thickness_step_m;
        x[j] = Fdet * fdet[0] + Sdet * sdet[0] + Odet * odet[0] + pix0[0];
        y[j] = Fdet * fdet[1] + Sdet * sdet[1] + Odet * odet[1] + pix0[1];
        z[j] = Fdet * fdet[2] + Sdet * sdet[2] + Odet * odet[2] + pix0[2];
    }
    if (p->curved_detector) {
        /* the fast and slow offsets from the beam centre over the distance are the
         * angles that carry the beam point onto the pixel (sensor layers deeper out) */
        for (j = 0; j < S; ++j) {
            double Fdet = sub * Fsub[j] + sub / 2.0, Sdet = sub * Ssub[j] + sub / 2.0;
            double start[3], turned[3], pos[3], angle_s, angle_f;
            int i;
            for (i = 0; i < 3; ++i)
                start[i] = p->beam[i] * (p->distance_m + layer[j] * p->thickness_step_m);
            angle_s = (Fdet - c->Fbeam_m) / p->distance_m / M_PI;
            angle_f = -(Sdet - c->Sbeam_m) / p->distance_m / M_PI;
            lanes_rotate(start, sdet, lanes_sin_pi(angle_s), lanes_cos_pi(angle_s), turned);
            lanes_rotate(turned, fdet, lanes_sin_pi(angle_f), lanes_cos_pi(angle_f), pos);
            x[j] = pos[0];
            y[j] = pos[1];
            z[j] = pos[2];
        }
    }
    for (j = 0; j < S; ++j) {
        double airpath = sqrt(x[j] * x[j] + y[j] * y[j] + z[j] * z[j]);
        double inverse = airpath != 0.0 ? 1.0 / airpath : 0.0;
        /* from here on x, y, z are the unit vector along the diffracted ray */
        x[j] *= inverse;
        y[j] *= inverse;
        z[j] *= inverse;
        omega[j] = p->point_pixel ? inverse * inverse
                                  : p->pixel_size_m * p->pixel_size_m * inverse * inverse *
                                        p->close_distance_m * inverse;
    }
    for (j = 0; j < S; ++j) capture[j] = 1.0;
    if (p->thickness_m > 0.0) {
        /* quirk oversample_thick_without_thickness: without a sensor every photon is
         * captured */
        for (j = 0; j < S; ++j) {
            double parallax = x[j] * odet[0] + y[j] * odet[1] + z[j] * odet[2];
            double step = p->thickness_step_m * p->mu_per_m / parallax;
            capture[j] = lanes_exp(-layer[j] * step) - lanes_exp(-(layer[j] + 1.0) * step);
        }
    }
    for (j = 0; j < S; ++j) polar[j] = 1.0;
    /* quirk nopolar_overridden_by_oversample_polar: -nopolar means 1, whatever the
     * oversample flags */
    if (!p->nopolar) {
        const double kahn = p->polarization;
        for (j = 0; j < S; ++j) {
            double cos2theta = src->incident_x[s] * x[j] + src->incident_y[s] * y[j] +
                               src->incident_z[s] * z[j];
            double cos2theta_sqr = cos2theta * cos2theta, sin2theta_sqr = 1.0 - cos2theta_sqr;
            /* cos(2 psi), psi = -atan2(v, u), is (u^2 - v^2) / (u^2 + v^2) */
            double v = src->B_x[s] * x[j] + src->B_y[s] * y[j] + src->B_z[s] * z[j];
            double u = src->E_x[s] * x[j] + src->E_y[s] * y[j] + src->E_z[s] * z[j];
            double r2 = u * u + v * v;
            double cos2psi = r2 > 0.0 ? (u * u - v * v) / r2 : 1.0;
            polar[j] = 0.5 * (1.0 + cos2theta_sqr - kahn * cos2psi * sin2theta_sqr);
        }
    }
    for (j = 0; j < S; ++j) {
        double inverse_lambda = src->inverse_wavelength[s];
        st->Sx[j] = (x[j] + src->direction_x[s]) * inverse_lambda;
        st->Sy[j] = (y[j] + src->direction_y[s]) * inverse_lambda;
        st->Sz[j] = (z[j] + src->direction_z[s]) * inverse_lambda;
        /* quirk source_weight_unused: each source's terms are weighted by w n / sum(w) */
        st->factor[j] = polar[j] * omega[j] * capture[j] * src->factor[s];
        b->omega[first + j] = omega[j];
        b->factor[first + j] = st->factor[j];
        st->alive[j] = 1.0;
    }
    if (p->dmin_m > 0.0) {
        for (j = 0; j < S; ++j) {
            double stol = 0.5 * sqrt(st->Sx[j] * st->Sx[j] + st->Sy[j] * st->Sy[j] +
                                     st->Sz[j] * st->Sz[j]);
            st->alive[j] = (stol > 0.0 && p->dmin_m > 0.5 / stol) ? 0.0 : 1.0;
        }
    }
}

/* The fractional indices of one term for a strip, and their nearest whole ones. */
static inline void strip_indices(const double *ax, const strip_state *st, double h[3][S],
                                 double h0[3][S])
{
    int axis, j;
    for (axis = 0; axis < 3; ++axis) {
        const double *v = ax + 3 * axis;
        for (j = 0; j < S; ++j) {
            h[axis][j] = v[0] * st->Sx[j] + v[1] * st->Sy[j] + v[2] * st->Sz[j];
            h0[axis][j] = lanes_nearest(h[axis][j]);
        }
    }
}

/* The corrected lattice factor of one term for a strip (nb_lattice_factor's corrected
 * branches): N whole up to 64 as U_{N-1}(cos pi d), three recurrences side by side. */
static inline void strip_lattice(const nb_render_params *p, const int whole[3],
                                 double h[3][S], double h0[3][S], double lattice[S])
{
    const double *N = p->N_cells;
    int axis, i, j;
    if (p->shape == NB_SHAPE_SQUARE) {
        double u[3][S], u_prev[3][S], twice_cos[3][S];
        int nmax = 0;
        for (j = 0; j < S; ++j) lattice[j] = 1.0;
        for (axis = 0; axis < 3; ++axis) {
            if (N[axis] <= 1) continue;
            if (whole[axis]) {
                if (whole[axis] > nmax) nmax = whole[axis];
                for (j = 0; j < S; ++j) {
                    twice_cos[axis][j] = 2.0 * nb_cos_pi_small(h[axis][j] - h0[axis][j]);
                    u_prev[axis][j] = 1.0;
                    u[axis][j] = twice_cos[axis][j];
                }
            } else {
                for (j = 0; j < S; ++j) {
                    double d = h[axis][j] - h0[axis][j];
                    double ratio = lanes_sin_pi(N[axis] * d) / lanes_sin_pi_small(d);
                    lattice[j] *= d == 0.0 ? N[axis] : ratio;
                }
            }
        }
        for (i = 2; i < nmax; ++i) {
            for (axis = 0; axis < 3; ++axis) {
                if (N[axis] <= 1 || i >= whole[axis]) continue;
                for (j = 0; j < S; ++j) {
                    double next = twice_cos[axis][j] * u[axis][j] - u_prev[axis][j];
                    u_prev[axis][j] = u[axis][j];
                    u[axis][j] = next;
                }
            }
        }
        for (axis = 0; axis < 3; ++axis)
            if (N[axis] > 1 && whole[axis])
                for (j = 0; j < S; ++j) lattice[j] *= u[axis][j];
        return;
    }
    {
        const double Na = N[0], Nb = N[1], Nc = N[2], volume = Na * Nb * Nc;
        for (j = 0; j < S; ++j) {
            double da = h[0][j] - h0[0][j], db = h[1][j] - h0[1][j], dc = h[2][j] - h0[2][j];
            /* quirk spot_radius_units: the distance to the reciprocal lattice point in
             * units of the spot size along each axis, for every shape */
            double hrad_sqr = da * da * Na * Na + db * db * Nb * Nb + dc * dc * Nc * Nc;
            double value;
            if (p->shape == NB_SHAPE_ROUND) {
                double y = sqrt(hrad_sqr * p->fudge), x = M_PI * y;
                double sinc3 = 3.0 * (lanes_sin_pi(y) / x - lanes_cos_pi(y)) / (x * x);
                value = volume * 0.723601254558268 * (x == 0.0 ? 1.0 : sinc3);
            } else if (p->shape == NB_SHAPE_GAUSS) {
                value = volume * lanes_exp(-(hrad_sqr / 0.63 * p->fudge));
            } else {
                value = volume * (hrad_sqr * p->fudge < 0.3969 ? 1.0 : 0.0);
            }
            lattice[j] = value;
        }
    }
}

/* The nearest structure factor of one term for a strip: a gather from the grid, the
 * default F outside it. */
static inline void strip_nearest_F(const nb_render_params *p, const nb_render_arrays *a,
                                   double h0[3][S], double F[S])
{
    const double kn = a->k_max - a->k_min + 1, ln = a->l_max - a->l_min + 1;
    const double h_min = a->h_min, h_max = a->h_max, k_min = a->k_min, k_max = a->k_max;
    const double l_min = a->l_min, l_max = a->l_max, default_F = p->default_F;
    int index[S], inside[S], j;
    for (j = 0; j < S; ++j) {
        double hi = h0[0][j] - h_min, ki = h0[1][j] - k_min, li = h0[2][j] - l_min;
        /* & rather than &&, and the select before the conversion: no branch, and every
         * lane converts an index that fits, so the loop vectorises */
        inside[j] = (h0[0][j] >= h_min) & (h0[0][j] <= h_max) & (h0[1][j] >= k_min) &
                    (h0[1][j] <= k_max) & (h0[2][j] >= l_min) & (h0[2][j] <= l_max);
        index[j] = (int)(inside[j] ? (hi * kn + ki) * ln + li : 0.0);
    }
    /* a load for every lane (index 0 outside the grid), in its own loop: a gather */
    for (j = 0; j < S; ++j) F[j] = a->Fhkl[index[j]];
    for (j = 0; j < S; ++j) F[j] = inside[j] ? F[j] : default_F;
}

/* The same for a grid too large for int indices, one lane after another. */
static inline void strip_nearest_F_long(const nb_render_params *p, const nb_render_arrays *a,
                                        double h0[3][S], double F[S])
{
    int j;
    for (j = 0; j < S; ++j)
        F[j] = nb_nearest_F(p, a, nb_nearest_index(h0[0][j]), nb_nearest_index(h0[1][j]),
                            nb_nearest_index(h0[2][j]));
}

/* The four Lagrange weights of the points floor(x) - 1 .. floor(x) + 2 at x (the
 * stencil's spacing is 1, so their denominators are -6, 2, -2 and 6). */
static inline void lanes_lagrange_weights(double x, double w[4])
{
    double u = x - (floor(x) - 1.0); /* 1 <= u < 2 */
    double u0 = u, u1 = u - 1.0, u2 = u - 2.0, u3 = u - 3.0;
    w[0] = u1 * u2 * u3 / -6.0;
    w[1] = u0 * u2 * u3 / 2.0;
    w[2] = u0 * u1 * u3 / -2.0;
    w[3] = u0 * u1 * u2 / 6.0;
}

/* The tricubic F of one term for a strip (nb_tricubic_F's sum with the weights
 * written out), on lanes whose stencil lies in the grid; the nearest F elsewhere. */
static inline void strip_tricubic_F(const nb_render_params *p, const nb_render_arrays *a,
                                    double h[3][S], double h0[3][S], double F[S])
{
    const long kn = a->k_max - a->k_min + 1, ln = a->l_max - a->l_min + 1;
    double w[3][4][S], along_h[S], along_k[S], total[S];
    int inside[S], base[S], any = 0, axis, i, jj, m, j;
    for (j = 0; j < S; ++j) {
        inside[j] = !nb_stencil_outside(a, h[0][j], h[1][j], h[2][j]);
        any |= inside[j];
    }
    strip_nearest_F(p, a, h0, F);
    /* a grid thinner than the stencil along an axis has no lane inside; with one inside,
     * every offset from the grid's corner below stays in it */
    if (!any) return;
    for (j = 0; j < S; ++j) {
        double hf = floor(h[0][j]) - 1.0 - a->h_min, kf = floor(h[1][j]) - 1.0 - a->k_min;
        double lf = floor(h[2][j]) - 1.0 - a->l_min;
        base[j] = inside[j] ? (int)((hf * kn + kf) * ln + lf) : 0;
    }
    for (axis = 0; axis < 3; ++axis)
        for (j = 0; j < S; ++j) {
            double weights[4];
            lanes_lagrange_weights(h[axis][j], weights);
            for (i = 0; i < 4; ++i) w[axis][i][j] = weights[i];
        }
    for (j = 0; j < S; ++j) total[j] = 0.0;
    for (i = 0; i < 4; ++i) {
        for (j = 0; j < S; ++j) along_h[j] = 0.0;
        for (jj = 0; jj < 4; ++jj) {
            const double *row = a->Fhkl + ((long)i * kn + jj) * ln;
            for (j = 0; j < S; ++j) along_k[j] = 0.0;
            for (m = 0; m < 4; ++m)
                for (j = 0; j < S; ++j) along_k[j] += w[2][m][j] * row[base[j] + m];
            for (j = 0; j < S; ++j) along_h[j] += w[1][jj][j] * along_k[j];
        }
        for (j = 0; j < S; ++j) total[j] += w[0][i][j] * along_h[j];
    }
    for (j = 0; j < S; ++j) F[j] = inside[j] ? total[j] : F[j];
}

/* Every term of one strip. */
static inline void strip_terms(const nb_scene *c, const nb_lane_setup *setup,
                               const strip_state *st, int first, nb_lane_block *out,
                               pixel_report *report)
{
    const nb_render_params *p = c->p;
    const nb_render_arrays *a = c->a;
    const long nterms = (long)p->phi_steps * a->mosaic_domains;
    const int grid = a->hkls && a->Fhkl, interpolate = c->interpolate;
    double sum[S];
    int whole[3], axis, j;
    long t;
    for (axis = 0; axis < 3; ++axis) {
        double N = p->N_cells[axis];
        whole[axis] = (N == floor(N) && N <= 64) ? (int)N : 0;
    }
    for (j = 0; j < S; ++j) sum[j] = 0.0;
    for (t = 0; t < nterms; ++t) {
        double h[3][S], h0[3][S], lattice[S], F[S];
        if (nb_cancelled(report, S)) return;
        strip_indices(c->rotated.axes + 9 * t, st, h, h0);
        strip_lattice(p, whole, h, h0, lattice);
        if (interpolate && setup->hkl_index_fits) {
            /* quirk interpolation_switch_off: a stencil off the grid takes the nearest F
             * for this term only */
            strip_tricubic_F(p, a, h, h0, F);
        } else if (interpolate) {
            for (j = 0; j < S; ++j)
                F[j] = nb_stencil_outside(a, h[0][j], h[1][j], h[2][j])
                           ? nb_nearest_F(p, a, nb_nearest_index(h0[0][j]),
                                          nb_nearest_index(h0[1][j]), nb_nearest_index(h0[2][j]))
                           : nb_tricubic_F(a, h[0][j], h[1][j], h[2][j]);
        } else if (grid && setup->hkl_index_fits) {
            strip_nearest_F(p, a, h0, F);
        } else if (grid) {
            strip_nearest_F_long(p, a, h0, F);
        } else {
            for (j = 0; j < S; ++j) F[j] = p->default_F;
        }
        for (j = 0; j < S; ++j) sum[j] += F[j] * F[j] * lattice[j] * lattice[j];
    }
    for (j = 0; j < S; ++j) {
        out->bragg[first + j] = st->alive[j] != 0.0 ? sum[j] * st->factor[j] : 0.0;
    }
}

void NB_LANES_KERNEL(const nb_scene *c, const nb_lane_setup *setup, nb_lane_block *b,
                     pixel_report *report)
{
    int first, j;
    for (j = b->count; j < NB_LANES; ++j) {
        /* padding: a copy of the first lane, so every strip computes on valid numbers */
        b->Fsub[j] = b->Fsub[0];
        b->Ssub[j] = b->Ssub[0];
        b->layer[j] = b->layer[0];
    }
    for (first = 0; first < b->count; first += S) {
        strip_state st;
        strip_geometry(c, setup, b, first, &st);
        strip_terms(c, setup, &st, first, b, report);
        if (report->stop) return;
    }
}

#undef S
