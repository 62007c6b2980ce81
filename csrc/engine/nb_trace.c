/* trace_pixel: one pixel's sum term by term.  Both pixel kernels write their
 * rows through the helpers here when they are given a trace. */
#include <math.h>
#include <string.h>

#include "nb_render_internal.h"

/* The next row of a trace, its loop indices and vectors set and every other
 * quantity NaN. */
nb_trace_term *trace_row(nb_trace *t, const term_site *site, int phi, int mos)
{
    nb_trace_term *row = &t->terms[t->count++];
    int i;
    row->layer = site->layer;
    row->subS = site->subS;
    row->subF = site->subF;
    row->source = site->source;
    row->phi_step = phi;
    row->domain = mos;
    for (i = 0; i < 3; ++i) {
        row->position[i] = site->position[i];
        row->diffracted[i] = site->diffracted[i];
        row->scattering[i] = site->scattering[i];
        row->hkl[i] = row->hkl0[i] = NAN;
    }
    for (i = 0; i < 9; ++i) row->axes[i] = NAN;
    row->F_latt = row->F_cell = row->omega = row->polar = row->capture = row->I = NAN;
    return row;
}

void trace_indices(nb_trace_term *row, const double *axes, double h, double k, double l,
                   int h0, int k0, int l0, double F_latt)
{
    memcpy(row->axes, axes, sizeof row->axes);
    row->hkl[0] = h;
    row->hkl[1] = k;
    row->hkl[2] = l;
    row->hkl0[0] = h0;
    row->hkl0[1] = k0;
    row->hkl0[2] = l0;
    row->F_latt = F_latt;
}

void trace_factors(nb_trace_term *row, double omega, double polar, double capture, double I)
{
    row->omega = omega;
    row->polar = polar;
    row->capture = capture;
    row->I = I;
}

/* Rows for every phi step and domain of a source that fails the dmin cut; none
 * when not tracing. */
void trace_cut_source(nb_trace *t, const nb_scene *c, const term_site *site, double omega,
                      double polar, double capture, double I)
{
    int phi, mos;
    if (!t) return;
    for (phi = 0; phi < c->p->phi_steps; ++phi)
        for (mos = 0; mos < c->a->mosaic_domains; ++mos)
            trace_factors(trace_row(t, site, phi, mos), omega, polar, capture, I);
}

long nb_trace_terms(const nb_render_params *p, const nb_render_arrays *a)
{
    return (long)p->thickness_steps * p->oversample * p->oversample * a->nsources *
           p->phi_steps * a->mosaic_domains;
}

nb_status nb_trace_pixel(const nb_render_params *p, const nb_render_arrays *a, int fpixel,
                         int spixel, int entry, int interpolate, nb_trace *trace)
{
    nb_scene c;
    pixel_report report = {0, 0, 0.0, NULL, 0, 0};
    nb_status status;

    if (trace->capacity < nb_trace_terms(p, a)) return NB_BAD_ARGUMENT;
    status = nb_scene_open(&c, p, a);
    if (status == NB_OK) {
        trace->count = 0;
        trace->scale = p->r_e_sqr_m2 * p->fluence_per_m2;
        trace->steps = c.steps;
        /* quirk phi_carryover, quirk interpolation_switch_off: the pixel starts from the
         * state the render's passes leave it in (entry table, interpolation on or off) */
        if (p->c_parity)
            trace->value = render_pixel_legacy(&c, fpixel, spixel,
                                               entry ? &c.unrotated_entry : &c.carried,
                                               interpolate && c.interpolate, &report, trace);
        else
            render_traced_corrected(&c, fpixel, spixel, &report, trace);
    }
    nb_scene_close(&c);
    return status;
}
