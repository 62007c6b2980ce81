/* The corrected pixel: every factor evaluated where it belongs, per sub-pixel
 * and source, and applied to that source's terms only. */
#include <math.h>
#include <string.h>

#include "nb_lattice.h"
#include "nb_render_internal.h"
#include "nb_subpixel.h"
#include "nb_vector.h"

enum { TERM_BLOCK = 32 };

/* The factors of one sub-pixel and source. */
typedef struct {
    double omega, polar, capture;
    double factor;              /* their product times the source's weight factor */
} source_factors;

typedef struct {
    double bragg;               /* sum of |F_cell|^2 |F_latt|^2 times the factors */
    double background;          /* sum of the factors (the water background's weight) */
} pixel_sums;

/* Whether the corrected Bragg sum can take the blocked path below: a square
 * crystal of whole N (at most 64 cells) without interpolation. */
int blocked_sum_applies(const nb_scene *c)
{
    const double *N = c->p->N_cells;
    int i;
    if (c->p->shape != NB_SHAPE_SQUARE || c->interpolate) return 0;
    for (i = 0; i < 3; ++i)
        if (N[i] != floor(N[i]) || N[i] > 64) return 0;
    return 1;
}

/* Sum of |F_cell|^2 |F_latt|^2 over every phi step and mosaic domain for one
 * scattering vector, TERM_BLOCK terms at a time in loops the compiler can
 * vectorise.  Term for term the same arithmetic as nb_lattice_factor's corrected
 * square branch and nb_nearest_F, so the result is identical. */
static double blocked_bragg_sum(const nb_scene *c, const double S[3])
{
    const nb_render_params *p = c->p;
    const double *N = p->N_cells;
    long nterms = (long)p->phi_steps * c->a->mosaic_domains, start;
    double sum = 0.0;

    for (start = 0; start < nterms; start += TERM_BLOCK) {
        int m = nterms - start < TERM_BLOCK ? (int)(nterms - start) : TERM_BLOCK;
        double lattice[TERM_BLOCK];
        int index[3][TERM_BLOCK];
        int t, axis;
        for (t = 0; t < m; ++t) lattice[t] = 1.0;
        for (axis = 0; axis < 3; ++axis) {
            double cosine[TERM_BLOCK], u[TERM_BLOCK], u_prev[TERM_BLOCK];
            int n = (int)N[axis], i;
            for (t = 0; t < m; ++t) {
                double x = nb_dot(c->rotated.axes + (start + t) * 9 + 3 * axis, S);
                int nearest = nb_nearest_index(x);
                index[axis][t] = nearest;
                cosine[t] = nb_cos_pi_small(x - nearest);
            }
            if (n <= 1) continue;
            for (t = 0; t < m; ++t) {
                u_prev[t] = 1.0;
                u[t] = 2.0 * cosine[t];
            }
            for (i = 2; i < n; ++i) {
                for (t = 0; t < m; ++t) {
                    double next = 2.0 * cosine[t] * u[t] - u_prev[t];
                    u_prev[t] = u[t];
                    u[t] = next;
                }
            }
            for (t = 0; t < m; ++t) lattice[t] *= u[t];
        }
        for (t = 0; t < m; ++t) {
            double F_cell;
            if (lattice[t] == 0.0) continue;
            F_cell = nb_nearest_F(p, c->a, index[0][t], index[1][t], index[2][t]);
            sum += F_cell * F_cell * lattice[t] * lattice[t];
        }
    }
    return sum;
}

/* The phi step x mosaic domain terms of one source, term by term; bragg is the
 * pixel's sum before this source (for the trace). */
static double corrected_terms(const nb_scene *c, const term_site *site, const source_factors *f,
                              double bragg, pixel_report *report, nb_trace *trace)
{
    const nb_render_params *p = c->p;
    const double *S = site->scattering;
    double sum = 0.0;
    int phi_tic, mos;
    for (phi_tic = 0; phi_tic < p->phi_steps; ++phi_tic) {
        if (nb_cancelled(report, c->a->mosaic_domains)) return sum;
        for (mos = 0; mos < c->a->mosaic_domains; ++mos) {
            const double *ax = axes_at(&c->rotated, c, phi_tic, mos);
            double h = nb_dot(ax, S), k = nb_dot(ax + 3, S), l = nb_dot(ax + 6, S);
            double F_latt, F_cell;
            int h0 = nb_nearest_index(h), k0 = nb_nearest_index(k), l0 = nb_nearest_index(l);
            nb_trace_term *row = trace ? trace_row(trace, site, phi_tic, mos) : NULL;
            F_latt = nb_lattice_factor(p, h, k, l, h0, k0, l0);
            if (row) trace_indices(row, ax, h, k, l, h0, k0, l0, F_latt);
            if (F_latt == 0.0) {
                if (row) trace_factors(row, f->omega, f->polar, f->capture, bragg + sum * f->factor);
                continue;
            }
            if (c->interpolate && !nb_stencil_outside(c->a, h, k, l)) {
                F_cell = nb_tricubic_F(c->a, h, k, l);
            } else {
                /* quirk interpolation_switch_off: a stencil off the grid takes the nearest
                 * F for this term only */
                if (c->interpolate) report->interpolation_left_grid = 1;
                F_cell = nb_nearest_F(p, c->a, h0, k0, l0);
            }
            sum += F_cell * F_cell * F_latt * F_latt;
            if (row) {
                row->F_cell = F_cell;
                trace_factors(row, f->omega, f->polar, f->capture, bragg + sum * f->factor);
            }
        }
    }
    return sum;
}

/* One source of a sub-pixel (site without its scattering vector yet). */
static void corrected_source(const nb_scene *c, const term_site *subpixel, double omega,
                             double capture, pixel_sums *sums, pixel_report *report,
                             nb_trace *trace)
{
    const nb_render_params *p = c->p;
    const nb_render_arrays *a = c->a;
    term_site site = *subpixel;
    source_factors f;
    double incident[3], scattering[3], axis[3], dir[3], sum;
    double lambda = a->source_wavelength_m[site.source];
    int i;
    for (i = 0; i < 3; ++i) incident[i] = -a->source_direction[3 * site.source + i];
    for (i = 0; i < 3; ++i) scattering[i] = (site.diffracted[i] - incident[i]) / lambda;
    site.scattering = scattering;
    f.omega = omega;
    f.capture = capture;
    f.polar = 1.0;
    /* quirk nopolar_overridden_by_oversample_polar: -nopolar means 1, whatever the
     * oversample flags */
    if (!p->nopolar) {
        memcpy(axis, c->polar_axis, sizeof axis);
        memcpy(dir, site.diffracted, sizeof dir);
        f.polar = polarization_factor(p->polarization, incident, dir, axis);
    }
    /* quirk source_weight_unused: each source's terms are weighted by w n / sum(w) */
    f.factor = f.polar * omega * capture * c->source_factor[site.source];
    /* quirk dmin_kills_background: the background counts every source, cut or not */
    sums->background += f.factor;
    if (beyond_dmin(p, scattering)) {
        trace_cut_source(trace, c, &site, omega, f.polar, capture, sums->bragg);
        return;
    }
    report->executed_phi_loop = 1;
    if (c->blocked) {
        if (nb_cancelled(report, (long)p->phi_steps * a->mosaic_domains)) return;
        sum = blocked_bragg_sum(c, scattering);
    } else {
        sum = corrected_terms(c, &site, &f, sums->bragg, report, trace);
    }
    sums->bragg += sum * f.factor;
}

static double corrected_pixel(const nb_scene *c, int fpixel, int spixel, pixel_report *report,
                              nb_trace *trace)
{
    const nb_render_params *p = c->p;
    pixel_sums sums = {0.0, 0.0};
    int layer, subS, subF, source;

    for (layer = 0; layer < p->thickness_steps; ++layer) {
        double Odet = layer * p->thickness_step_m;
        for (subS = 0; subS < p->oversample; ++subS) {
            for (subF = 0; subF < p->oversample; ++subF) {
                /* quirk oversample_thick_without_thickness: without a sensor every
                 * photon is captured */
                double pos[3], diffracted[3], airpath, omega, capture = 1.0;
                term_site site = {layer, subS, subF, 0, pos, diffracted, NULL};
                if (nb_cancelled(report, 1)) return 0.0;
                subpixel_position(c, fpixel, spixel, subF, subS, Odet, pos);
                airpath = nb_unitize(pos, diffracted);
                /* quirk factors_from_first_subpixel: this sub-pixel's own solid angle and
                 * capture fraction (and each source's polarization) scale only its terms */
                omega = solid_angle(p, airpath);
                report->omega_sum_sr += omega;
                if (p->thickness_m > 0.0) capture = capture_fraction(p, layer, diffracted);
                for (source = 0; source < c->a->nsources; ++source) {
                    site.source = source;
                    corrected_source(c, &site, omega, capture, &sums, report, trace);
                }
            }
        }
    }
    if (trace) {
        trace->I = sums.bragg;
        trace->background = sums.background;
        trace->omega = trace->polar = trace->capture = NAN;
    }
    /* quirk water_background_scaling: I_bg times the mean of the factors over sub-pixels
     * and sources, scaled once and independent of the sampling */
    return (p->r_e_sqr_m2 * p->fluence_per_m2 * sums.bragg / c->steps +
            p->water_background_per_sr * sums.background /
                ((double)p->oversample * p->oversample * c->a->nsources));
}

double render_pixel_corrected(const nb_scene *c, int fpixel, int spixel, pixel_report *report,
                              nb_trace *trace)
{
    /* The render passes no trace: a call with a constant NULL lets the compiler
     * build a copy of the loops without the trace code. */
    if (!trace) return corrected_pixel(c, fpixel, spixel, report, NULL);
    return corrected_pixel(c, fpixel, spixel, report, trace);
}
