/* The legacy pixel: the original's loop body, every quirk included.  What the
 * original keeps from one sub-pixel, source or pixel to the next lives in
 * legacy_state, in the order the original updates it. */
#include <math.h>
#include <string.h>

#include "nb_lattice.h"
#include "nb_render_internal.h"
#include "nb_vector.h"

typedef struct {
    const axis_table *table;  /* the entry state until a phi loop has run, then carried */
    int interpolate;          /* interpolation_switch_off clears it for the rest of the run */
    double I;                 /* the running sum */
    double polar, omega, capture; /* factors_from_first_subpixel: kept once evaluated */
    double polar_axis[3];
} legacy_state;

/* The phi step x mosaic domain terms of one source. */
static void legacy_terms(const nb_scene *c, legacy_state *st, const term_site *site,
                         pixel_report *report, nb_trace *trace)
{
    const nb_render_params *p = c->p;
    const double *S = site->scattering;
    int phi_tic, mos;
    for (phi_tic = 0; phi_tic < p->phi_steps; ++phi_tic) {
        for (mos = 0; mos < c->a->mosaic_domains; ++mos) {
            const double *ax = axes_at(st->table, c, phi_tic, mos);
            double h = nb_dot(ax, S), k = nb_dot(ax + 3, S), l = nb_dot(ax + 6, S);
            double F_latt, F_cell;
            int h0 = nb_nearest_index(h), k0 = nb_nearest_index(k), l0 = nb_nearest_index(l);
            nb_trace_term *row = trace ? trace_row(trace, site, phi_tic, mos) : NULL;
            F_latt = nb_lattice_factor(p, h, k, l, h0, k0, l0);
            if (row) trace_indices(row, ax, h, k, l, h0, k0, l0, F_latt);
            if (F_latt == 0.0 && p->water_size_m == 0.0) {
                if (row) trace_factors(row, st->omega, st->polar, st->capture, st->I);
                continue;
            }
            if (st->interpolate && nb_stencil_outside(c->a, h, k, l)) {
                /* quirk interpolation_switch_off: the first stencil off the grid turns
                 * interpolation off for the rest of the run, not just for this term */
                st->interpolate = 0;
                report->interpolation_left_grid = 1;
            }
            if (st->interpolate)
                F_cell = nb_tricubic_F(c->a, h, k, l);
            else
                F_cell = nb_nearest_F(p, c->a, h0, k0, l0);
            /* quirk source_weight_unused: every source counts alike, whatever its weight */
            st->I += F_cell * F_cell * F_latt * F_latt;
            /* quirk running_sum_factors: the flags' factors scale the whole running sum,
             * every earlier term again */
            if (p->oversample_thick) st->I *= st->capture;
            if (p->oversample_polar) st->I *= st->polar;
            if (p->oversample_omega) st->I *= st->omega;
            if (row) {
                row->F_cell = F_cell;
                trace_factors(row, st->omega, st->polar, st->capture, st->I);
            }
        }
    }
}

/* One source of a sub-pixel.  diffracted is the sub-pixel's (site's) direction,
 * which the polarization factor re-normalises in place for later sources. */
static void legacy_source(const nb_scene *c, legacy_state *st, const term_site *subpixel,
                          double diffracted[3], pixel_report *report, nb_trace *trace)
{
    const nb_render_params *p = c->p;
    const nb_render_arrays *a = c->a;
    term_site site = *subpixel;
    double incident[3], scattering[3], lambda = a->source_wavelength_m[site.source];
    int i;
    for (i = 0; i < 3; ++i) incident[i] = -a->source_direction[3 * site.source + i];
    for (i = 0; i < 3; ++i) scattering[i] = (diffracted[i] - incident[i]) / lambda;
    site.scattering = scattering;
    /* quirk dmin_kills_background: a source past the cut leaves before the polarization
     * is computed; where every source is cut it stays 0 and zeroes the background too */
    if (beyond_dmin(p, scattering)) {
        trace_cut_source(trace, c, &site, st->omega, st->polar, st->capture, st->I);
        return;
    }
    /* quirk factors_from_first_subpixel: the first source past the cut sets the
     * polarization for the whole pixel; quirk nopolar_overridden_by_oversample_polar:
     * -oversample_polar recomputes it at every source even with -nopolar */
    if (st->polar == 0.0 || p->oversample_polar)
        st->polar = polarization_factor(p->polarization, incident, diffracted, st->polar_axis);
    legacy_terms(c, st, &site, report, trace);
    report->executed_phi_loop = 1;
    /* quirk phi_carryover: every later phi loop starts from the rotation this one left */
    st->table = &c->carried;
}

static double legacy_pixel(const nb_scene *c, int fpixel, int spixel, const axis_table *entry,
                           int interpolate, pixel_report *report, nb_trace *trace)
{
    const nb_render_params *p = c->p;
    legacy_state st;
    double test;
    int layer, subS, subF, source;

    st.table = entry;
    st.interpolate = interpolate;
    /* quirk water_background_scaling: the background starts the sum, so r_e^2 fluence /
     * steps (and the running-sum factors) scale it again with the Bragg terms */
    st.I = p->water_background_per_sr;
    st.polar = p->nopolar ? 1.0 : 0.0;
    st.omega = st.capture = 0.0;
    memcpy(st.polar_axis, c->polar_axis, sizeof st.polar_axis);
    for (layer = 0; layer < p->thickness_steps; ++layer) {
        double Odet = layer * p->thickness_step_m;
        st.capture = (p->thickness_m == 0.0) ? 1.0 : 0.0;
        for (subS = 0; subS < p->oversample; ++subS) {
            for (subF = 0; subF < p->oversample; ++subF) {
                double pos[3], diffracted[3], airpath;
                term_site site = {layer, subS, subF, 0, pos, diffracted, NULL};
                subpixel_position(c, fpixel, spixel, subF, subS, Odet, pos);
                airpath = nb_unitize(pos, diffracted);
                if (st.omega == 0.0 || p->oversample_omega) st.omega = solid_angle(p, airpath);
                report->omega_sum_sr += st.omega;
                /* quirk oversample_thick_without_thickness: -oversample_thick evaluates the
                 * capture fraction without a sensor too, exp(0) - exp(0) = 0 */
                if (st.capture == 0.0 || p->oversample_thick)
                    st.capture = capture_fraction(p, layer, diffracted);
                for (source = 0; source < c->a->nsources; ++source) {
                    site.source = source;
                    legacy_source(c, &st, &site, diffracted, report, trace);
                }
            }
        }
    }
    test = p->r_e_sqr_m2 * p->fluence_per_m2 * st.I / c->steps;
    /* quirk factors_from_first_subpixel: one solid angle, polarization and (last-layer)
     * capture fraction for the whole pixel */
    if (!p->oversample_thick) test *= st.capture;
    if (!p->oversample_polar) test *= st.polar;
    if (!p->oversample_omega) test *= st.omega;
    if (trace) {
        trace->I = st.I;
        trace->background = NAN;
        trace->capture = p->oversample_thick ? NAN : st.capture;
        trace->polar = p->oversample_polar ? NAN : st.polar;
        trace->omega = p->oversample_omega ? NAN : st.omega;
    }
    return test;
}

NB_FLATTEN double render_pixel_legacy(const nb_scene *c, int fpixel, int spixel, const axis_table *entry,
                           int interpolate, pixel_report *report, nb_trace *trace)
{
    /* The render passes no trace: a call with a constant NULL lets the compiler
     * build a copy of the loops without the trace code. */
    if (!trace) return legacy_pixel(c, fpixel, spixel, entry, interpolate, report, NULL);
    return legacy_pixel(c, fpixel, spixel, entry, interpolate, report, trace);
}
