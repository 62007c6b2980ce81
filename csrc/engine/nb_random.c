#include "nb_random.h"

#include <math.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

enum { MULT = 16807, MODULUS = 2147483647, QUOT = 127773, REM = 2836 };
#define TABLE_DIV (1 + (MODULUS - 1) / NB_SHUFFLE_TABLE)
#define UNIFORM_MAX (1.0 - 1.2e-7)

void nb_random_init(nb_random_state *state)
{
    int j;
    state->table_head = 0;
    for (j = 0; j < NB_SHUFFLE_TABLE; ++j) state->table[j] = 0;
    state->have_spare_gaussian = 0;
    state->spare_gaussian = 0.0f;
}

static long park_miller_step(long x)
{
    long hi = x / QUOT;
    x = MULT * (x - hi * QUOT) - REM * hi;
    if (x < 0) x += MODULUS;
    return x;
}

float nb_uniform(nb_random_state *state, long *seed)
{
    int j;
    float value;

    if (*seed <= 0 || !state->table_head) {
        *seed = (-(*seed) < 1) ? 1 : -(*seed);
        for (j = NB_SHUFFLE_TABLE + 7; j >= 0; j--) {
            *seed = park_miller_step(*seed);
            if (j < NB_SHUFFLE_TABLE) state->table[j] = *seed;
        }
        state->table_head = state->table[0];
    }
    *seed = park_miller_step(*seed);
    j = (int)(state->table_head / TABLE_DIV);
    state->table_head = state->table[j];
    state->table[j] = *seed;
    value = (float)((1.0 / MODULUS) * state->table_head);
    if (value > UNIFORM_MAX) return (float)UNIFORM_MAX;
    return value;
}

float nb_gaussian(nb_random_state *state, long *seed)
{
    float v1, v2, rsq, fac;

    if (state->have_spare_gaussian) {
        state->have_spare_gaussian = 0;
        return state->spare_gaussian;
    }
    do {
        v1 = 2.0 * nb_uniform(state, seed) - 1.0;
        v2 = 2.0 * nb_uniform(state, seed) - 1.0;
        rsq = v1 * v1 + v2 * v2;
    } while (rsq >= 1.0 || rsq == 0);
    fac = sqrt(-2.0 * log(rsq) / rsq);
    state->spare_gaussian = v1 * fac;
    state->have_spare_gaussian = 1;
    return v2 * fac;
}

/* Lanczos approximation of ln(Gamma(x)). */
static float log_gamma(float xx)
{
    static const double coefficients[6] = {76.18009172947146,     -86.50532032941677,
                                           24.01409824083091,     -1.231739572450155,
                                           0.1208650973866179e-2, -0.5395239384953e-5};
    double x, y, tmp, series;
    int j;

    y = x = xx;
    tmp = x + 5.5;
    tmp -= (x + 0.5) * log(tmp);
    series = 1.000000000190015;
    for (j = 0; j <= 5; ++j) series += coefficients[j] / ++y;
    return -tmp + log(2.5066282746310005 * series / x);
}

float nb_poisson(nb_random_state *state, long *seed, float mean)
{
    float count, t, y, g, sq, log_mean;

    if (mean > 1.0e6) return mean + sqrt(mean) * nb_gaussian(state, seed);

    if (mean < 12.0) {
        /* multiply uniform deviates until the product drops below exp(-mean) */
        g = exp(-mean);
        count = -1;
        t = 1.0;
        do {
            ++count;
            t *= nb_uniform(state, seed);
        } while (t > g);
        return count;
    }
    /* rejection from a Lorentzian comparison function */
    sq = sqrt(2.0 * mean);
    log_mean = log(mean);
    g = mean * log_mean - log_gamma(mean + 1.0);
    do {
        do {
            y = tan(M_PI * nb_uniform(state, seed));
            count = sq * y + mean;
        } while (count < 0.0);
        count = floor(count);
        t = 0.9 * (1.0 + y * y) * exp(count * log_mean - log_gamma(count + 1.0) - g);
    } while (nb_uniform(state, seed) > t);
    return count;
}

void nb_random_axis_angle(nb_random_state *state, long *seed, float cap_rad, double axis[3],
                          double *angle)
{
    double r1, r2, r3, xyrad;

    r1 = (double)2.0 * nb_uniform(state, seed) - 1.0;
    r2 = (double)2.0 * nb_uniform(state, seed) - 1.0;
    r3 = (double)2.0 * nb_uniform(state, seed) - 1.0;

    xyrad = sqrt(1.0 - r2 * r2);
    *angle = cap_rad * powf((1.0 - r3 * r3), (1.0 / 3.0));

    axis[0] = xyrad * sin(M_PI * r1);
    axis[1] = xyrad * cos(M_PI * r1);
    axis[2] = r2;
}

void nb_axis_angle_matrix(const double axis[3], double angle, double umat[9])
{
    double v1 = axis[0], v2 = axis[1], v3 = axis[2];
    double c = cos(angle), omc = 1.0 - c, s = sin(angle);
    umat[0] = c + omc * (v1 * v1);
    umat[1] = (omc * v1) * v2 - s * v3;
    umat[2] = (omc * v1) * v3 + s * v2;
    umat[3] = (omc * v1) * v2 + s * v3;
    umat[4] = c + omc * (v2 * v2);
    umat[5] = omc * v2 * v3 - s * v1;
    umat[6] = (omc * v1) * v3 - s * v2;
    umat[7] = omc * v2 * v3 + s * v1;
    umat[8] = c + omc * (v3 * v3);
}

void nb_random_rotation(nb_random_state *state, long *seed, float cap_rad, double umat[9])
{
    double axis[3], angle;
    nb_random_axis_angle(state, seed, cap_rad, axis, &angle);
    nb_axis_angle_matrix(axis, angle, umat);
}

void nb_uniform_rotation(nb_random_state *state, long *seed, double umat[9])
{
    double u1 = nb_uniform(state, seed), u2 = nb_uniform(state, seed);
    double u3 = nb_uniform(state, seed);
    double w = sqrt(1.0 - u1) * sin(2.0 * M_PI * u2), x = sqrt(1.0 - u1) * cos(2.0 * M_PI * u2);
    double y = sqrt(u1) * sin(2.0 * M_PI * u3), z = sqrt(u1) * cos(2.0 * M_PI * u3);
    umat[0] = 1.0 - 2.0 * (y * y + z * z);
    umat[1] = 2.0 * (x * y - z * w);
    umat[2] = 2.0 * (x * z + y * w);
    umat[3] = 2.0 * (x * y + z * w);
    umat[4] = 1.0 - 2.0 * (x * x + z * z);
    umat[5] = 2.0 * (y * z - x * w);
    umat[6] = 2.0 * (x * z - y * w);
    umat[7] = 2.0 * (y * z + x * w);
    umat[8] = 1.0 - 2.0 * (x * x + y * y);
}

static void normalize_row(double *x, double *y, double *z)
{
    double m = sqrt(*x * *x + *y * *y + *z * *z);
    if (m > 0) {
        *x /= m;
        *y /= m;
        *z /= m;
    }
}

void nb_umat_to_xyz_angles(const double umat[9], double angles[3])
{
    double xx = umat[0], xy = umat[1], xz = umat[2];
    double yx = umat[3], yy = umat[4], yz = umat[5];
    double zx = umat[6], zy = umat[7], zz = umat[8];
    double mx, my, mz;
    double cx_x, cx_y, cx_z, cy_x, cy_y, cy_z, cz_x, cz_y, cz_z;
    int pass;

    mx = sqrt(xx * xx + xy * xy + xz * xz);
    my = sqrt(yx * yx + yy * yy + yz * yz);
    mz = sqrt(zx * zx + zy * zy + zz * zz);
    if (mx > 0) { xx /= mx; xy /= mx; xz /= mx; }
    if (my > 0) { yx /= my; yy /= my; yz /= my; }
    if (mz > 0) { zx /= mz; zy /= mz; zz /= mz; }
    if (mx >= 0 && my <= 0 && mz <= 0) { yx = 0; yy = 1; yz = 0; zx = 0; zy = 0; zz = 1; }
    if (mx <= 0 && my >= 0 && mz <= 0) { xx = 1; xy = 0; xz = 0; zx = 0; zy = 0; zz = 1; }
    if (mx <= 0 && my <= 0 && mz >= 0) { xx = 1; xy = 0; xz = 0; yx = 0; yy = 1; yz = 0; }

    /* rebuild any missing row from the other two, twice so the result is consistent */
    for (pass = 0; pass < 2; ++pass) {
        cz_x = xy * yz - xz * yy; cz_y = xz * yx - xx * yz; cz_z = xx * yy - xy * yx;
        normalize_row(&cz_x, &cz_y, &cz_z);
        cx_x = yy * zz - yz * zy; cx_y = yz * zx - yx * zz; cx_z = yx * zy - yy * zx;
        normalize_row(&cx_x, &cx_y, &cx_z);
        cy_x = zy * xz - zz * xy; cy_y = zz * xx - zx * xz; cy_z = zx * xy - zy * xx;
        normalize_row(&cy_x, &cy_y, &cy_z);
        if (mx <= 0) { xx = cx_x; xy = cx_y; xz = cx_z; }
        if (my <= 0) { yx = cy_x; yy = cy_y; yz = cy_z; }
        if (mz <= 0) { zx = cz_x; zy = cz_y; zz = cz_z; }
    }

    mx = sqrt(xx * xx + xy * xy + xz * xz);
    my = sqrt(yx * yx + yy * yy + yz * yz);
    mz = sqrt(zx * zx + zy * zy + zz * zz);
    if (mx > 0) { xx /= mx; xy /= mx; xz /= mx; }
    if (my > 0) { yx /= my; yy /= my; yz /= my; }
    if (mz > 0) { zx /= mz; zy /= mz; zz /= mz; }

    if (zx * zx < 1.0) {
        angles[0] = atan2(zy, zz);
        angles[1] = atan2(-zx, sqrt(zy * zy + zz * zz));
        angles[2] = atan2(yx, xx);
    } else {
        angles[0] = atan2(1, 1) * 4;
        angles[1] = atan2(1, 1) * 2;
        angles[2] = atan2(xy, -yy);
    }
}
