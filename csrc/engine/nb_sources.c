/* sources: incident directions and wavelengths from beam divergence and
 * spectral dispersion, or from a table of source positions. */
#include <math.h>

#include "nanobragg.h"
#include "nb_vector.h"

/* Whether divergence grid point (h, v) lies inside the divergence ellipse. */
static int inside_divergence(const nb_source_grid *g, int h, int v, double *hdiv, double *vdiv)
{
    double test;
    *hdiv = g->hdivstep * h - g->hdivrange / 2.0;
    *vdiv = g->vdivstep * v - g->vdivrange / 2.0;
    test = (*hdiv * *hdiv - g->hdivstep * g->hdivstep / 4.0 * (1 - g->hdivsteps % 2)) / g->hdivrange /
           g->hdivrange;
    test += (*vdiv * *vdiv - g->vdivstep * g->vdivstep / 4.0 * (1 - g->vdivsteps % 2)) /
            g->vdivrange / g->vdivrange;
    return !(g->round_div && test * 4.0 > 1.1);
}

int nb_source_count(const nb_source_grid *g, int *divergence_steps)
{
    int h, v, n = 0;
    double hdiv, vdiv;
    for (h = 0; h < g->hdivsteps; ++h)
        for (v = 0; v < g->vdivsteps; ++v)
            if (inside_divergence(g, h, v, &hdiv, &vdiv)) ++n;
    if (divergence_steps) *divergence_steps = n;
    return n * g->dispsteps;
}

void nb_sources_from_grid(const nb_source_grid *g, double *direction, double *wavelength,
                          double *weight)
{
    int h, v, d, n = 0, total = nb_source_count(g, NULL);
    double hdiv, vdiv, w = 1.0 / total;

    for (h = 0; h < g->hdivsteps; ++h) {
        for (v = 0; v < g->vdivsteps; ++v) {
            double position[3], tilted[3];
            if (!inside_divergence(g, h, v, &hdiv, &vdiv)) continue;
            position[0] = -g->source_distance * g->beam[0];
            position[1] = -g->source_distance * g->beam[1];
            position[2] = -g->source_distance * g->beam[2];
            /* vertical divergence about the E vector, then horizontal about the normal */
            nb_rotate_axis(position, tilted, g->polar, vdiv);
            nb_rotate_axis(tilted, position, g->vert, hdiv);
            for (d = 0; d < g->dispsteps; ++d) {
                wavelength[n] = g->lambda0 * (1.0 + g->dispstep * d - g->dispersion / 2.0);
                nb_unitize(position, direction + 3 * n);
                weight[n] = w;
                ++n;
            }
        }
    }
}

void nb_sources_from_table(const nb_source_grid *g, const double *table, int n, double *direction,
                           double *wavelength, double *weight)
{
    int i, k;
    for (i = 0; i < n; ++i) {
        const double *row = table + 5 * i;
        double position[3];
        for (k = 0; k < 3; ++k)
            position[k] = isnan(row[k]) ? -g->source_distance * g->beam[k] : row[k];
        weight[i] = isnan(row[3]) ? 1.0 : row[3];
        wavelength[i] = isnan(row[4]) ? g->lambda0 : row[4];
        nb_unitize(position, direction + 3 * i);
    }
}

void nb_mosaic_axes(double spread, int n, long *seed, nb_random_state *rng, double *axes,
                    double *angles)
{
    int i;
    for (i = 0; i < n; ++i) {
        nb_random_axis_angle(rng, seed, (float)spread, axes + 3 * i, angles + i);
        /* the first domain is always the unrotated crystal */
        if (i == 0) angles[0] = 0.0;
    }
}

void nb_mosaic_rotations(double spread, int n, long *seed, nb_random_state *rng, double *umats)
{
    int i;
    for (i = 0; i < n; ++i) {
        double axis[3], angle;
        nb_random_axis_angle(rng, seed, (float)spread, axis, &angle);
        if (i == 0) {
            int k;
            for (k = 0; k < 9; ++k) umats[k] = (k % 4 == 0) ? 1.0 : 0.0;
            continue;
        }
        nb_axis_angle_matrix(axis, angle, umats + 9 * i);
    }
}
