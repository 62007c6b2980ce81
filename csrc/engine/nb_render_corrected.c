/* The corrected pixel: every factor evaluated where it belongs, per sub-pixel
 * and source, and applied to that source's terms only.  The render evaluates it in
 * lanes (nb_render_lanes.h, the kernel chosen here for the CPU it runs on); a trace
 * term by term, in the functions below. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nb_lattice.h"
#include "nb_render_internal.h"
#include "nb_render_lanes.h"
#include "nb_simd.h"
#include "nb_subpixel.h"
#include "nb_vector.h"

/* The factors of one sub-pixel and source. */
typedef struct {
    double omega, polar, capture;
    double factor;              /* their product times the source's weight factor */
} source_factors;

typedef struct {
    double bragg;               /* sum of |F_cell|^2 |F_latt|^2 times the factors */
    double background;          /* sum of the factors (the water background's weight) */
} pixel_sums;

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
            nb_trace_term *row = trace_row(trace, site, phi_tic, mos);
            F_latt = nb_lattice_factor(p, h, k, l, h0, k0, l0);
            trace_indices(row, ax, h, k, l, h0, k0, l0, F_latt);
            if (F_latt == 0.0) {
                trace_factors(row, f->omega, f->polar, f->capture, bragg + sum * f->factor);
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
            row->F_cell = F_cell;
            trace_factors(row, f->omega, f->polar, f->capture, bragg + sum * f->factor);
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
    sum = corrected_terms(c, &site, &f, sums->bragg, report, trace);
    sums->bragg += sum * f.factor;
}

static void corrected_pixel(const nb_scene *c, int fpixel, int spixel, pixel_report *report,
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
                if (nb_cancelled(report, 1)) return;
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
    trace->I = sums.bragg;
    trace->background = sums.background;
    trace->omega = trace->polar = trace->capture = NAN;
}

void render_traced_corrected(const nb_scene *c, int fpixel, int spixel, pixel_report *report,
                             nb_trace *trace)
{
    /* the rows term by term; the value as the render's lanes give it, to the bit */
    corrected_pixel(c, fpixel, spixel, report, trace);
    render_pixels_corrected(c, spixel, &fpixel, 1, &trace->value, report);
}

/* The widest lane kernel this CPU runs (the others give the same image to rounding;
 * tests compare them). */
static nb_lane_kernel choose_kernel(void)
{
#ifdef NB_LANES_X86
    switch (nb_simd_level()) {
    case NB_SIMD_AVX512: return nb_lanes_avx512;
    case NB_SIMD_AVX2: return nb_lanes_avx2;
    case NB_SIMD_BASELINE: break;
    }
#endif
    return nb_lanes_baseline;
}

int nb_lanes_open(nb_scene *c)
{
    enum { QUANTITIES = 15 };
    const nb_render_arrays *a = c->a;
    const long n = a->nsources;
    nb_lane_setup *setup = calloc(1, sizeof *setup);
    nb_source_table *t;
    double *next;
    long s;
    if (!setup) return 0;
    c->lanes = setup;
    setup->kernel = choose_kernel();
    setup->hkl_index_fits = !a->hkls || (double)(a->h_max - a->h_min + 1) *
                                                (a->k_max - a->k_min + 1) *
                                                (a->l_max - a->l_min + 1) < 2147483647.0;
    setup->source_storage = next = malloc(sizeof(double) * QUANTITIES * (size_t)n);
    if (!next) return 0;
    t = &setup->sources;
    t->direction_x = next, next += n, t->direction_y = next, next += n;
    t->direction_z = next, next += n, t->inverse_wavelength = next, next += n;
    t->factor = next, next += n;
    t->incident_x = next, next += n, t->incident_y = next, next += n;
    t->incident_z = next, next += n;
    t->B_x = next, next += n, t->B_y = next, next += n, t->B_z = next, next += n;
    t->E_x = next, next += n, t->E_y = next, next += n, t->E_z = next;
    for (s = 0; s < n; ++s) {
        /* polarization_factor's frame about the incident beam, once per source */
        const double *direction = a->source_direction + 3 * s;
        double incident[3], axis[3], B_in[3], E_in[3];
        int i;
        for (i = 0; i < 3; ++i) incident[i] = -direction[i];
        nb_unitize(incident, incident);
        nb_unitize(c->polar_axis, axis);
        nb_cross(axis, incident, B_in);
        nb_unitize(B_in, B_in);
        nb_cross(incident, B_in, E_in);
        nb_unitize(E_in, E_in);
        t->direction_x[s] = direction[0];
        t->direction_y[s] = direction[1];
        t->direction_z[s] = direction[2];
        t->inverse_wavelength[s] = 1.0 / a->source_wavelength_m[s];
        t->factor[s] = c->source_factor[s];
        t->incident_x[s] = incident[0], t->incident_y[s] = incident[1];
        t->incident_z[s] = incident[2];
        t->B_x[s] = B_in[0], t->B_y[s] = B_in[1], t->B_z[s] = B_in[2];
        t->E_x[s] = E_in[0], t->E_y[s] = E_in[1], t->E_z[s] = E_in[2];
    }
    return 1;
}

void nb_lanes_close(nb_scene *c)
{
    if (!c->lanes) return;
    free(c->lanes->source_storage);
    free(c->lanes);
    c->lanes = NULL;
}

/* What a row's pixels gather from their lanes. */
typedef struct {
    double bragg[NB_ROW_PIXELS], background[NB_ROW_PIXELS];
    double omega_sum_sr;
} row_sums;

/* The next lane to hand out: pixel q of the list, its layer and sub-pixel. */
typedef struct {
    int q, layer, subS, subF;
} lane_cursor;

/* Fill a block with the next lanes, pixel after pixel, each pixel's layers and
 * sub-pixels in the order of the original's loops; slot[j] is lane j's pixel.  Returns
 * the lanes filled, 0 when every pixel has been handed out. */
static int fill_lanes(const nb_scene *c, int spixel, const int *fpixel, int count,
                      lane_cursor *at, nb_lane_block *b, int *slot)
{
    const int os = c->p->oversample, layers = c->p->thickness_steps;
    const double Sfirst = (double)spixel * os;
    int n = 0;
    while (n < NB_LANES && at->q < count) {
        /* the sub-pixel index in double: exact, and no int overflow */
        b->Fsub[n] = (double)fpixel[at->q] * os + at->subF;
        b->Ssub[n] = Sfirst + at->subS;
        b->layer[n] = at->layer;
        slot[n] = at->q;
        ++n;
        if (++at->subF < os) continue;
        at->subF = 0;
        if (++at->subS < os) continue;
        at->subS = 0;
        if (++at->layer < layers) continue;
        at->layer = 0;
        ++at->q;
    }
    b->count = n;
    return n;
}

/* Add a block's lanes to their pixels, lane after lane (so a pixel's sums do not
 * depend on where the blocks split it); the solid angles once, from the first source. */
static void gather_lanes(const nb_lane_block *b, const int *slot, row_sums *sums)
{
    int j = 0;
    while (j < b->count) {
        const int q = slot[j];
        double bragg = sums->bragg[q], background = sums->background[q];
        for (; j < b->count && slot[j] == q; ++j) {
            bragg += b->bragg[j];
            /* quirk dmin_kills_background: the background counts every source, cut or not */
            background += b->factor[j];
        }
        sums->bragg[q] = bragg;
        sums->background[q] = background;
    }
    if (b->source == 0)
        for (j = 0; j < b->count; ++j) sums->omega_sum_sr += b->omega[j];
}

void render_pixels_corrected(const nb_scene *c, int spixel, const int *fpixel, int count,
                             double *value, pixel_report *report)
{
    const nb_render_params *p = c->p;
    const int os = p->oversample, nsources = c->a->nsources;
    nb_lane_block b;
    row_sums sums;
    int slot[NB_LANES], source, q;

    memset(&sums, 0, sizeof sums);
    for (source = 0; source < nsources; ++source) {
        lane_cursor at = {0, 0, 0, 0};
        b.source = source;
        while (fill_lanes(c, spixel, fpixel, count, &at, &b, slot) > 0) {
            c->lanes->kernel(c, c->lanes, &b, report);
            if (report->stop) return;
            gather_lanes(&b, slot, &sums);
        }
    }
    report->omega_sum_sr += sums.omega_sum_sr;
    for (q = 0; q < count; ++q) {
        /* quirk water_background_scaling: I_bg times the mean of the factors over
         * sub-pixels and sources, scaled once and independent of the sampling */
        value[q] = p->r_e_sqr_m2 * p->fluence_per_m2 * sums.bragg[q] / c->steps +
                   p->water_background_per_sr * sums.background[q] / ((double)os * os * nsources);
    }
}
