/* sources: incident directions and wavelengths from beam divergence and
 * spectral dispersion, or from a table of source positions. */
#include <math.h>

#include "nanobragg.h"
#include "nb_vector.h"

/* Whether divergence grid point (h, v) lies inside the divergence ellipse. */
static int inside_divergence(const nb_source_spec *spec, int h, int v, double *hdiv, double *vdiv)
{
    double hstep = spec->hdiv_step_rad, hrange = spec->hdiv_range_rad;
    double vstep = spec->vdiv_step_rad, vrange = spec->vdiv_range_rad;
    double test;
    *hdiv = hstep * h - hrange / 2.0;
    *vdiv = vstep * v - vrange / 2.0;
    test = (*hdiv * *hdiv - hstep * hstep / 4.0 * (1 - spec->hdiv_steps % 2)) / hrange / hrange;
    test += (*vdiv * *vdiv - vstep * vstep / 4.0 * (1 - spec->vdiv_steps % 2)) / vrange / vrange;
    return !(spec->round_div && test * 4.0 > 1.1);
}

int nb_source_count(const nb_source_spec *spec, int *divergence_steps)
{
    int h, v, n = 0;
    double hdiv, vdiv;
    for (h = 0; h < spec->hdiv_steps; ++h)
        for (v = 0; v < spec->vdiv_steps; ++v)
            if (inside_divergence(spec, h, v, &hdiv, &vdiv)) ++n;
    if (divergence_steps) *divergence_steps = n;
    return n * spec->dispersion_steps;
}

void nb_sources_from_grid(const nb_source_spec *spec, double *direction, double *wavelength_m,
                          double *weight)
{
    int h, v, d, n = 0, total = nb_source_count(spec, NULL);
    double hdiv, vdiv, w = 1.0 / total;

    for (h = 0; h < spec->hdiv_steps; ++h) {
        for (v = 0; v < spec->vdiv_steps; ++v) {
            double position[3], tilted[3];
            if (!inside_divergence(spec, h, v, &hdiv, &vdiv)) continue;
            position[0] = -spec->source_distance_m * spec->beam[0];
            position[1] = -spec->source_distance_m * spec->beam[1];
            position[2] = -spec->source_distance_m * spec->beam[2];
            /* vertical divergence about the E vector, then horizontal about the normal */
            nb_rotate_axis(position, tilted, spec->polar, vdiv);
            nb_rotate_axis(tilted, position, spec->vert, hdiv);
            for (d = 0; d < spec->dispersion_steps; ++d) {
                wavelength_m[n] = spec->wavelength_m *
                                  (1.0 + spec->dispersion_step * d - spec->dispersion_range / 2.0);
                nb_unitize(position, direction + 3 * n);
                weight[n] = w;
                ++n;
            }
        }
    }
}

void nb_sources_from_table(const nb_source_spec *spec, const double *table, int n,
                           double *direction, double *wavelength_m, double *weight)
{
    int i, k;
    for (i = 0; i < n; ++i) {
        const double *row = table + 5 * i;
        double position[3];
        for (k = 0; k < 3; ++k)
            position[k] = isnan(row[k]) ? -spec->source_distance_m * spec->beam[k] : row[k];
        weight[i] = isnan(row[3]) ? 1.0 : row[3];
        wavelength_m[i] = isnan(row[4]) ? spec->wavelength_m : row[4];
        nb_unitize(position, direction + 3 * i);
    }
}

void nb_mosaic_axes(const nb_mosaic_spec *spec, nb_random_state *rng, double *axes,
                    double *angles_rad)
{
    long seed = spec->seed;
    int i;
    for (i = 0; i < spec->domains; ++i) {
        nb_random_axis_angle(rng, &seed, (float)spec->spread_rad, axes + 3 * i, angles_rad + i);
        /* the first domain is always the unrotated crystal */
        if (i == 0) angles_rad[0] = 0.0;
    }
}

void nb_mosaic_rotations(const nb_mosaic_spec *spec, nb_random_state *rng, double *umats)
{
    long seed = spec->seed;
    int i;
    for (i = 0; i < spec->domains; ++i) {
        double axis[3], angle;
        nb_random_axis_angle(rng, &seed, (float)spec->spread_rad, axis, &angle);
        if (i == 0) {
            int k;
            for (k = 0; k < 9; ++k) umats[k] = (k % 4 == 0) ? 1.0 : 0.0;
            continue;
        }
        nb_axis_angle_matrix(axis, angle, umats + 9 * i);
    }
}
