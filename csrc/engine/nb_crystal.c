/* crystal_vectors: real and reciprocal cell vectors from a cell or an
 * orientation matrix, the misset rotation, and the crystal size in cells. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "nanobragg.h"
#include "nb_vector.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static double clamp_unit(double v)
{
    if (v > 1.0) return 1.0;
    if (v < -1.0) return -1.0;
    return v;
}

static double clamp_cos(double v)
{
    return v * v > 1.0 ? 1.0 : v;
}

/* Reciprocal vectors in the standard setting (a* along x, b* in the xy plane). */
static void reciprocal_from_cell(int c_parity, double cell[6], double *V_cell, double a_star[3], double b_star[3],
                                 double c_star[3])
{
    double a = cell[0], b = cell[1], c = cell[2];
    double alpha, beta, gamma, half, skew, V_star, as, bs, cs;
    double cos_as, cos_bs, cos_gs, sin_gs;

    /* negated tests: a length or angle not given (NaN) takes its default too */
    if (!(b > 0.0)) b = cell[1] = a;
    if (!(c > 0.0)) c = cell[2] = a;
    if (!(cell[3] > 0.0)) cell[3] = M_PI / 2;
    if (!(cell[4] > 0.0)) cell[4] = M_PI / 2;
    if (!(cell[5] > 0.0)) cell[5] = M_PI / 2;
    alpha = cell[3];
    beta = cell[4];
    gamma = cell[5];

    half = (alpha + beta + gamma) / 2;
    skew = sin(half) * sin(half - alpha) * sin(half - beta) * sin(half - gamma);
    if (skew < 0.0) skew = -skew;
    *V_cell = 2.0 * a * b * c * sqrt(skew);
    if (*V_cell <= 0.0) *V_cell = DBL_MIN;
    V_star = 1.0 / *V_cell;

    as = b * c * sin(alpha) * V_star;
    bs = c * a * sin(beta) * V_star;
    cs = a * b * sin(gamma) * V_star;
    if (as <= 0.0 || bs <= 0.0 || cs <= 0.0) {
        as = fabs(as);
        bs = fabs(bs);
        cs = fabs(cs);
        if (as <= 0.0) as = DBL_MIN;
        if (bs <= 0.0) bs = DBL_MIN;
        if (cs <= 0.0) cs = DBL_MIN;
    }
    sin_gs = clamp_unit(c * V_star / as / bs);
    cos_as = clamp_cos((cos(beta) * cos(gamma) - cos(alpha)) / (sin(beta) * sin(gamma)));
    cos_bs = clamp_cos((cos(gamma) * cos(alpha) - cos(beta)) / (sin(gamma) * sin(alpha)));
    cos_gs = clamp_cos((cos(alpha) * cos(beta) - cos(gamma)) / (sin(alpha) * sin(beta)));

    a_star[0] = as;
    b_star[0] = bs * cos_gs;
    c_star[0] = cs * cos_bs;
    a_star[1] = 0.0;
    b_star[1] = bs * sin_gs;
    c_star[1] = cs * (cos_as - cos_bs * cos_gs) / sin_gs;
    a_star[2] = 0.0;
    b_star[2] = 0.0;
    /* quirk triclinic_cstar_z: the original's z component is off by sin(gamma)/sin(gamma*)
     * relative to 1/c (c is along z here), which bends the cell angles */
    c_star[2] = c_parity ? cs * *V_cell / (a * b * c * sin_gs) : 1.0 / c;
}

/* The angle between u and v from sin = |w| V / (|u| |v|) (w the third axis of the
 * dual cell) and cos = u.v / (|u| |v|), as the original reports its cell angles. */
static double cell_angle(const double u[3], const double v[3], double w_length, double volume)
{
    double sine = clamp_unit(w_length * volume / nb_norm(u) / nb_norm(v));
    double cosine = clamp_cos(nb_dot(u, v) / nb_norm(u) / nb_norm(v));
    return atan2(sine, cosine);
}

void nb_random_misset(int c_parity, long seed, nb_random_state *rng, double misset[3])
{
    /* quirk random_misset_cap_in_radians: the original draws a rotation of up to
     * "90" about a random axis, passing 90 radians where it meant degrees;
     * the corrected mode draws uniformly from all orientations. */
    double umat[9];
    if (c_parity)
        nb_random_rotation(rng, &seed, 90.0f, umat);
    else
        nb_uniform_rotation(rng, &seed, umat);
    nb_umat_to_xyz_angles(umat, misset);
}

void nb_crystal_vectors_compute(const nb_crystal_spec *in, nb_random_state *rng,
                                nb_crystal_vectors *out)
{
    double a_star[3] = {0, 0, 0}, b_star[3] = {0, 0, 0}, c_star[3] = {0, 0, 0};
    double cell[6], V_cell = 0.0, V_star, misset[3] = {0, 0, 0};
    double bxc[3], cxa[3], axb[3], a[3], b[3], c[3];
    int has_cell = !isnan(in->cell_lengths_A[0]), apply_misset = !isnan(in->misset_rad[0]);
    int i;

    memset(out, 0, sizeof(*out));
    memcpy(cell, in->cell_lengths_A, 3 * sizeof(double));
    memcpy(cell + 3, in->cell_angles_rad, 3 * sizeof(double));
    if (has_cell) reciprocal_from_cell(in->c_parity, cell, &V_cell, a_star, b_star, c_star);

    if (!isnan(in->matrix[0])) {
        double scale = 1e-10 / in->wavelength_m;
        for (i = 0; i < 3; ++i) {
            a_star[i] = scale * in->matrix[3 * i + 0];
            b_star[i] = scale * in->matrix[3 * i + 1];
            c_star[i] = scale * in->matrix[3 * i + 2];
        }
    }

    if (apply_misset) memcpy(misset, in->misset_rad, sizeof misset);
    if (in->misset_random) {
        nb_random_misset(in->c_parity, in->misset_seed, rng, misset);
        apply_misset = 1;
    }
    if (apply_misset) {
        nb_rotate_xyz(a_star, a_star, misset[0], misset[1], misset[2]);
        nb_rotate_xyz(b_star, b_star, misset[0], misset[1], misset[2]);
        nb_rotate_xyz(c_star, c_star, misset[0], misset[1], misset[2]);
    }
    memcpy(out->misset_rad, misset, sizeof misset);

    nb_cross(a_star, b_star, axb);
    nb_cross(b_star, c_star, bxc);
    nb_cross(c_star, a_star, cxa);
    V_star = nb_dot(a_star, bxc);
    if (has_cell) {
        /* a user cell fixes the lengths whatever the matrix said */
        nb_rescale(bxc, cell[0] / V_cell, bxc);
        nb_rescale(cxa, cell[1] / V_cell, cxa);
        nb_rescale(axb, cell[2] / V_cell, axb);
        V_star = 1.0 / V_cell;
    }
    V_cell = 1.0 / V_star;
    nb_scale(bxc, V_cell, a);
    nb_scale(cxa, V_cell, b);
    nb_scale(axb, V_cell, c);

    nb_cross(a, b, axb);
    nb_cross(b, c, bxc);
    nb_cross(c, a, cxa);
    nb_scale(bxc, V_star, a_star);
    nb_scale(cxa, V_star, b_star);
    nb_scale(axb, V_star, c_star);

    out->volume_A3 = V_cell;
    out->cell_lengths_A[0] = nb_norm(a);
    out->cell_lengths_A[1] = nb_norm(b);
    out->cell_lengths_A[2] = nb_norm(c);
    out->cell_angles_rad[0] = cell_angle(b, c, nb_norm(a_star), V_cell);
    out->cell_angles_rad[1] = cell_angle(a, c, nb_norm(b_star), V_cell);
    out->cell_angles_rad[2] = cell_angle(a, b, nb_norm(c_star), V_cell);
    out->reciprocal_lengths_per_A[0] = nb_norm(a_star);
    out->reciprocal_lengths_per_A[1] = nb_norm(b_star);
    out->reciprocal_lengths_per_A[2] = nb_norm(c_star);
    out->reciprocal_angles_rad[0] = cell_angle(b_star, c_star, nb_norm(a), V_star);
    out->reciprocal_angles_rad[1] = cell_angle(a_star, c_star, nb_norm(b), V_star);
    out->reciprocal_angles_rad[2] = cell_angle(a_star, b_star, nb_norm(c), V_star);
    memcpy(out->a_star_per_A, a_star, sizeof a_star);
    memcpy(out->b_star_per_A, b_star, sizeof b_star);
    memcpy(out->c_star_per_A, c_star, sizeof c_star);

    nb_scale(a, 1e-10, out->a_m);
    nb_scale(b, 1e-10, out->b_m);
    nb_scale(c, 1e-10, out->c_m);

    {
        const double *axes[3] = {out->a_m, out->b_m, out->c_m};
        for (i = 0; i < 3; ++i) {
            double length = nb_norm(axes[i]);
            double n = in->N_cells[i];
            if (in->sample_size_m[i] > 0) n = ceil(in->sample_size_m[i] / length);
            if (n <= 1.0) n = 1.0;
            out->N_cells[i] = n;
            out->size_m[i] = length * n;
        }
    }
}
