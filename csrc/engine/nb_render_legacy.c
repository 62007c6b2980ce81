/* The legacy pixel: the original's loop body, every quirk included. */
#include <math.h>
#include <string.h>

#include "nb_lattice.h"
#include "nb_render_internal.h"
#include "nb_subpixel.h"
#include "nb_vector.h"

/* Sub-pixels of a layer whose geometry is computed ahead of their terms: the
 * square roots and divisions of one sub-pixel's scattering vector then overlap those
 * of the others instead of waiting behind the lattice factor's sines of the previous
 * one.  The values are the same; a larger oversample computes them in the loop. */
#define NB_AHEAD_SUBPIXELS 64

/* The lattice factors of a run of terms, evaluated ahead of the loop that sums them
 * (a square crystal, the sub-pixels' geometry computed ahead): the original's sin(N pi h)
 * / sin(pi h) along each axis, with the sines of the whole run in one call to the SIMD
 * sines (nb_libm_sines.h), which give libm's bits.  The loop takes them in order and
 * fills the next run where one ends.  A pixel of fewer than NB_BATCH_LEAST_TERMS terms
 * a layer calls libm for each: a run of a few sines costs the SIMD kernel as much as a
 * run of eight. */
enum { NB_BATCH_TERMS = 64, NB_BATCH_LEAST_TERMS = 4 };

typedef struct {
    int count, next;
    int with_F_cell;                  /* bragg holds each term's |F_cell|^2 |F_latt|^2 */
    double F_latt[NB_BATCH_TERMS], bragg[NB_BATCH_TERMS];
} lattice_batch;

/* F_latt of the terms at fractional indices hkl[0 .. count - 1], as nb_lattice_factor
 * gives it for a square crystal with c_parity. */
static void batch_lattice_factors(const nb_scene *c, const double (*hkl)[3], lattice_batch *b)
{
    const double *N = c->p->N_cells;
    double x[6 * NB_BATCH_TERMS], sine[6 * NB_BATCH_TERMS];
    int axis_of[3], axes = 0, n = b->count, axis, j, i;
    for (axis = 0; axis < 3; ++axis)
        if (N[axis] > 1) axis_of[axes++] = axis;
    for (j = 0; j < axes; ++j)
        for (i = 0; i < n; ++i) {
            double pi_h = M_PI * hkl[i][axis_of[j]];
            x[2 * j * n + i] = pi_h * N[axis_of[j]];
            x[(2 * j + 1) * n + i] = pi_h;
        }
    c->sines(x, sine, 2 * axes * n);
    for (i = 0; i < n; ++i) {
        double F_latt = 1.0;
        for (j = 0; j < axes; ++j) {
            double pi_h = x[(2 * j + 1) * n + i];
            double ratio = sine[2 * j * n + i] / sine[(2 * j + 1) * n + i];
            F_latt *= pi_h == 0.0 ? N[axis_of[j]] : ratio;
        }
        b->F_latt[i] = F_latt;
    }
    b->next = 0;
}

/* The next run of a layer's terms, from the term at (sub, source, phi_tic, mos) on,
 * met in the loop's order: the same sources past the dmin cut left out, the same
 * crystal state (table) for each.  Without interpolation each term's nearest F_cell
 * and its contribution to the sum are looked up too. */
static void fill_lattice_batch(const nb_scene *c, const axis_table *table,
                               const double (*scattering)[3], int subpixels, int sub,
                               int source, int phi_tic, int mos, int interpolate,
                               lattice_batch *b)
{
    const nb_render_params *p = c->p;
    const nb_render_arrays *a = c->a;
    double hkl[NB_BATCH_TERMS][3];
    int n = 0, i;
    for (; sub < subpixels; ++sub, source = 0) {
        for (; source < a->nsources; ++source, phi_tic = 0, mos = 0) {
            const double *s = scattering[sub * a->nsources + source];
            if (beyond_dmin(p, s)) continue;
            for (; phi_tic < p->phi_steps; ++phi_tic, mos = 0)
                for (; mos < a->mosaic_domains; ++mos) {
                    const double *ax = axes_at(table, c, phi_tic, mos);
                    if (n == NB_BATCH_TERMS) goto full;
                    hkl[n][0] = nb_dot(ax, s);
                    hkl[n][1] = nb_dot(ax + 3, s);
                    hkl[n][2] = nb_dot(ax + 6, s);
                    ++n;
                }
            table = &c->carried;
        }
    }
full:
    b->count = n;
    batch_lattice_factors(c, (const double (*)[3])hkl, b);
    b->with_F_cell = !interpolate;
    if (interpolate) return;
    for (i = 0; i < n; ++i) {
        double F_cell = nb_nearest_F(p, a, nb_nearest_index(hkl[i][0]),
                                     nb_nearest_index(hkl[i][1]), nb_nearest_index(hkl[i][2]));
        b->bragg[i] = F_cell * F_cell * b->F_latt[i] * b->F_latt[i];
    }
}

/* The scattering vector (diffracted - incident) / lambda of a source. */
static inline void scattering_vector(const nb_render_arrays *a, int source,
                                     const double diffracted[3], double scattering[3])
{
    double lambda = a->source_wavelength_m[source];
    int i;
    for (i = 0; i < 3; ++i)
        scattering[i] = (diffracted[i] + a->source_direction[3 * source + i]) / lambda;
}

/* The original's loop, in one function: what it keeps from one sub-pixel, source or
 * pixel to the next stays in locals, which the compiler keeps in registers (split
 * into functions that share a state struct, the loop ran 5-10% slower). */
static double legacy_pixel(const nb_scene *c, int fpixel, int spixel, const axis_table *entry,
                           int interpolate, pixel_report *report, nb_trace *trace)
{
    const nb_render_params *p = c->p;
    const nb_render_arrays *a = c->a;
    const axis_table *table = entry;
    /* quirk water_background_scaling: the background starts the sum, so r_e^2 fluence /
     * steps (and the running-sum factors) scale it again with the Bragg terms */
    double I = p->water_background_per_sr;
    /* quirk factors_from_first_subpixel: each factor is kept once evaluated */
    double polar = p->nopolar ? 1.0 : 0.0, omega = 0.0, capture = 0.0, test;
    double polar_axis[3];
    int layer, subS, subF, source, phi_tic, mos;

    double ahead_pos[NB_AHEAD_SUBPIXELS][3], ahead_diffracted[NB_AHEAD_SUBPIXELS][3];
    double ahead_airpath[NB_AHEAD_SUBPIXELS], ahead_scattering[NB_AHEAD_SUBPIXELS][3];
    int ahead = p->oversample <= 8 && p->oversample * p->oversample <= NB_AHEAD_SUBPIXELS;
    int ahead_sources = ahead && a->nsources <= NB_AHEAD_SUBPIXELS &&
                        p->oversample * p->oversample * a->nsources <= NB_AHEAD_SUBPIXELS;
    /* a trace takes each term's factor from nb_lattice_factor, the same bits */
    int batched = ahead_sources && !trace && p->c_parity && p->shape == NB_SHAPE_SQUARE &&
                  (long)p->oversample * p->oversample * a->nsources * p->phi_steps *
                          a->mosaic_domains >= NB_BATCH_LEAST_TERMS;
    lattice_batch batch;

    memcpy(polar_axis, c->polar_axis, sizeof polar_axis);
    for (layer = 0; layer < p->thickness_steps; ++layer) {
        double Odet = layer * p->thickness_step_m;
        capture = (p->thickness_m == 0.0) ? 1.0 : 0.0;
        if (ahead) {
            int sub = 0;
            for (subS = 0; subS < p->oversample; ++subS)
                for (subF = 0; subF < p->oversample; ++subF, ++sub) {
                    subpixel_position(c, fpixel, spixel, subF, subS, Odet, ahead_pos[sub]);
                    ahead_airpath[sub] = nb_unitize(ahead_pos[sub], ahead_diffracted[sub]);
                }
        }
        batch.count = batch.next = batch.with_F_cell = 0;
        if (ahead_sources) {
            int sub, n = p->oversample * p->oversample;
            for (sub = 0; sub < n; ++sub)
                for (source = 0; source < a->nsources; ++source)
                    scattering_vector(a, source, ahead_diffracted[sub],
                                      ahead_scattering[sub * a->nsources + source]);
        }
        for (subS = 0; subS < p->oversample; ++subS) {
            for (subF = 0; subF < p->oversample; ++subF) {
                int sub = subS * p->oversample + subF;
                double own_pos[3], own_diffracted[3], airpath;
                double *pos = ahead ? ahead_pos[sub] : own_pos;
                double *diffracted = ahead ? ahead_diffracted[sub] : own_diffracted;
                term_site site = {layer, subS, subF, 0, pos, diffracted, NULL};
                if (nb_cancelled(report, 1)) return 0.0;
                if (ahead) {
                    airpath = ahead_airpath[sub];
                } else {
                    subpixel_position(c, fpixel, spixel, subF, subS, Odet, pos);
                    airpath = nb_unitize(pos, diffracted);
                }
                if (omega == 0.0 || p->oversample_omega) omega = solid_angle(p, airpath);
                report->omega_sum_sr += omega;
                /* quirk oversample_thick_without_thickness: -oversample_thick evaluates the
                 * capture fraction without a sensor too, exp(0) - exp(0) = 0 */
                if (capture == 0.0 || p->oversample_thick)
                    capture = capture_fraction(p, layer, diffracted);
                for (source = 0; source < a->nsources; ++source) {
                    double incident[3], own_scattering[3];
                    double *scattering = ahead_sources
                                             ? ahead_scattering[sub * a->nsources + source]
                                             : own_scattering;
                    int i;
                    for (i = 0; i < 3; ++i) incident[i] = -a->source_direction[3 * source + i];
                    if (!ahead_sources) scattering_vector(a, source, diffracted, scattering);
                    site.source = source;
                    site.scattering = scattering;
                    /* quirk dmin_kills_background: a source past the cut leaves before the
                     * polarization is computed; where every source is cut it stays 0 and
                     * zeroes the background too */
                    if (beyond_dmin(p, scattering)) {
                        trace_cut_source(trace, c, &site, omega, polar, capture, I);
                        continue;
                    }
                    /* quirk nopolar_overridden_by_oversample_polar: -oversample_polar
                     * recomputes the polarization at every source even with -nopolar */
                    if (polar == 0.0 || p->oversample_polar) {
                        double before[3];
                        memcpy(before, diffracted, sizeof before);
                        polar = polarization_factor(p->polarization, incident, diffracted,
                                                    polar_axis);
                        /* it re-normalises diffracted in place, as the original does, and
                         * the later sources of this sub-pixel take their scattering vector
                         * from that: where that changed its bits, those computed ahead are
                         * computed again, and a run of terms filled from them is filled
                         * again */
                        if (ahead_sources && memcmp(before, diffracted, sizeof before) != 0) {
                            int later;
                            for (later = source + 1; later < a->nsources; ++later)
                                scattering_vector(a, later, diffracted,
                                                  ahead_scattering[sub * a->nsources + later]);
                            batch.count = batch.next = 0;
                        }
                    }
                    for (phi_tic = 0; phi_tic < p->phi_steps; ++phi_tic) {
                        if (nb_cancelled(report, a->mosaic_domains)) return 0.0;
                        for (mos = 0; mos < a->mosaic_domains; ++mos) {
                            const double *ax = axes_at(table, c, phi_tic, mos);
                            double F_latt = 0.0, F_cell = 0.0, bragg = 0.0;
                            nb_trace_term *row = NULL;
                            int listed = 0; /* the batch has this term's F_cell */
                            if (batched) {
                                if (batch.next == batch.count)
                                    fill_lattice_batch(c, table,
                                                       (const double (*)[3])ahead_scattering,
                                                       p->oversample * p->oversample, sub,
                                                       source, phi_tic, mos, interpolate,
                                                       &batch);
                                listed = batch.with_F_cell;
                                F_latt = batch.F_latt[batch.next];
                                if (listed) bragg = batch.bragg[batch.next];
                                ++batch.next;
                            }
                            if (!listed) {
                                double h = nb_dot(ax, scattering), k = nb_dot(ax + 3, scattering);
                                double l = nb_dot(ax + 6, scattering);
                                int h0 = nb_nearest_index(h), k0 = nb_nearest_index(k);
                                int l0 = nb_nearest_index(l);
                                row = trace ? trace_row(trace, &site, phi_tic, mos) : NULL;
                                if (!batched) F_latt = nb_lattice_factor(p, h, k, l, h0, k0, l0);
                                if (row) trace_indices(row, ax, h, k, l, h0, k0, l0, F_latt);
                                if (F_latt == 0.0 && p->water_size_m == 0.0) {
                                    if (row) trace_factors(row, omega, polar, capture, I);
                                    continue;
                                }
                                if (interpolate && nb_stencil_outside(a, h, k, l)) {
                                    /* quirk interpolation_switch_off: the first stencil off
                                     * the grid turns interpolation off for the rest of the
                                     * run */
                                    interpolate = 0;
                                    report->interpolation_left_grid = 1;
                                }
                                if (interpolate)
                                    F_cell = nb_tricubic_F(a, h, k, l);
                                else
                                    F_cell = nb_nearest_F(p, a, h0, k0, l0);
                                bragg = F_cell * F_cell * F_latt * F_latt;
                            } else if (F_latt == 0.0 && p->water_size_m == 0.0) {
                                continue;
                            }
                            /* quirk source_weight_unused: every source counts alike */
                            I += bragg;
                            /* quirk running_sum_factors: the flags' factors scale the whole
                             * running sum, every earlier term again */
                            if (p->oversample_thick) I *= capture;
                            if (p->oversample_polar) I *= polar;
                            if (p->oversample_omega) I *= omega;
                            if (row) {
                                row->F_cell = F_cell;
                                trace_factors(row, omega, polar, capture, I);
                            }
                        }
                    }
                    report->executed_phi_loop = 1;
                    /* quirk phi_carryover: every later phi loop starts from the rotation
                     * this one left */
                    table = &c->carried;
                }
            }
        }
    }
    test = p->r_e_sqr_m2 * p->fluence_per_m2 * I / c->steps;
    /* quirk factors_from_first_subpixel: one solid angle, polarization and (last-layer)
     * capture fraction for the whole pixel */
    if (!p->oversample_thick) test *= capture;
    if (!p->oversample_polar) test *= polar;
    if (!p->oversample_omega) test *= omega;
    if (trace) {
        trace->I = I;
        trace->background = NAN;
        trace->capture = p->oversample_thick ? NAN : capture;
        trace->polar = p->oversample_polar ? NAN : polar;
        trace->omega = p->oversample_omega ? NAN : omega;
    }
    return test;
}

double render_pixel_legacy(const nb_scene *c, int fpixel, int spixel, const axis_table *entry,
                           int interpolate, pixel_report *report, nb_trace *trace)
{
    /* The render passes no trace: a call with a constant NULL lets the compiler
     * build a copy of the loops without the trace code. */
    if (!trace) return legacy_pixel(c, fpixel, spixel, entry, interpolate, report, NULL);
    return legacy_pixel(c, fpixel, spixel, entry, interpolate, report, trace);
}
