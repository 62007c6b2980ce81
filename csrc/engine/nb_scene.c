/* The render's scene: what every pixel shares.  The crystal axes at every
 * (phi step, mosaic domain) are tabulated once per run, in the three states the
 * legacy loop can find them in (phi_carryover), with the source factors, the
 * polarization axis and the beam's point on the detector. */
#include <stdlib.h>
#include <string.h>

#include "nb_render_internal.h"
#include "nb_vector.h"

/* Fill a table given the crystal axes in force at each phi step. */
static void fill_axes(const nb_scene *c, axis_table *t, const double (*at_phi)[9])
{
    const nb_render_params *p = c->p;
    const nb_render_arrays *a = c->a;
    int k, m, v;
    for (k = 0; k < p->phi_steps; ++k) {
        for (m = 0; m < a->mosaic_domains; ++m) {
            double *dst = t->axes + ((long)k * a->mosaic_domains + m) * 9;
            for (v = 0; v < 3; ++v) {
                if (p->mosaic_spread_rad > 0.0)
                    nb_rotate_umat(at_phi[k] + 3 * v, dst + 3 * v, a->mosaic_umats + 9 * m);
                else
                    memcpy(dst + 3 * v, at_phi[k] + 3 * v, 3 * sizeof(double));
            }
        }
    }
}

static void rotate_crystal(const nb_render_params *p, double phi, double out[9])
{
    nb_rotate_axis(p->a_m, out, p->spindle, phi);
    nb_rotate_axis(p->b_m, out + 3, p->spindle, phi);
    nb_rotate_axis(p->c_m, out + 6, p->spindle, phi);
}

/* The carried and unrotated_entry tables from the crystal rotated to each phi step. */
static int build_carryover_tables(nb_scene *c, const double (*at_phi)[9],
                                  const double unrotated[9])
{
    const nb_render_params *p = c->p;
    double(*carried)[9] = malloc(sizeof(double[9]) * (size_t)p->phi_steps);
    double(*entry)[9] = malloc(sizeof(double[9]) * (size_t)p->phi_steps);
    double carried_state[9], entry_state[9];
    int k, last_nonzero = -1;

    if (!carried || !entry) {
        free(carried);
        free(entry);
        return 0;
    }
    /* quirk phi_carryover: a step whose angle is exactly 0 keeps whatever rotation
     * the previous step (possibly of the previous loop) left behind. */
    for (k = 0; k < p->phi_steps; ++k)
        if (p->phi0_rad + p->phi_step_rad * k != 0.0) last_nonzero = k;
    memcpy(carried_state, last_nonzero >= 0 ? at_phi[last_nonzero] : unrotated,
           sizeof carried_state);
    memcpy(entry_state, unrotated, sizeof entry_state);
    for (k = 0; k < p->phi_steps; ++k) {
        if (p->phi0_rad + p->phi_step_rad * k != 0.0) {
            memcpy(carried_state, at_phi[k], sizeof carried_state);
            memcpy(entry_state, at_phi[k], sizeof entry_state);
        }
        memcpy(carried[k], carried_state, sizeof carried_state);
        memcpy(entry[k], entry_state, sizeof entry_state);
    }
    fill_axes(c, &c->carried, (const double(*)[9])carried);
    fill_axes(c, &c->unrotated_entry, (const double(*)[9])entry);
    free(carried);
    free(entry);
    return 1;
}

static int build_tables(nb_scene *c)
{
    const nb_render_params *p = c->p;
    long table_size = (long)p->phi_steps * c->a->mosaic_domains * 9;
    double(*at_phi)[9] = malloc(sizeof(double[9]) * (size_t)p->phi_steps);
    double unrotated[9];
    int k, built;

    c->rotated.axes = malloc(sizeof(double) * (size_t)table_size);
    c->carried.axes = malloc(sizeof(double) * (size_t)table_size);
    c->unrotated_entry.axes = malloc(sizeof(double) * (size_t)table_size);
    if (!at_phi || !c->rotated.axes || !c->carried.axes || !c->unrotated_entry.axes) {
        free(at_phi);
        return 0;
    }
    memcpy(unrotated, p->a_m, sizeof p->a_m);
    memcpy(unrotated + 3, p->b_m, sizeof p->b_m);
    memcpy(unrotated + 6, p->c_m, sizeof p->c_m);

    for (k = 0; k < p->phi_steps; ++k)
        rotate_crystal(p, p->phi0_rad + p->phi_step_rad * k, at_phi[k]);
    fill_axes(c, &c->rotated, (const double(*)[9])at_phi);
    built = build_carryover_tables(c, (const double(*)[9])at_phi, unrotated);
    free(at_phi);
    return built;
}

nb_status nb_scene_open(nb_scene *c, const nb_render_params *p, const nb_render_arrays *a)
{
    double total_weight = 0.0, impact[3];
    int i;

    memset(c, 0, sizeof *c);
    c->p = p;
    c->a = a;
    c->steps = (long)a->nsources * a->mosaic_domains * p->phi_steps * p->oversample *
               p->oversample;
    c->subpixel_size_m = p->pixel_size_m / p->oversample;
    c->interpolate = p->interpolate && a->Fhkl != NULL;
    /* The original normalises its copy of the polarization axis at every call;
     * after the first call it no longer changes. */
    nb_unitize(p->polar, c->polar_axis);
    for (i = 0; i < 3; ++i) impact[i] = p->distance_m * p->beam[i] - p->pix0_m[i];
    c->Fbeam_m = nb_dot(impact, p->fdet);
    c->Sbeam_m = nb_dot(impact, p->sdet);

    c->source_factor = malloc(sizeof(double) * (size_t)a->nsources);
    if (!c->source_factor || !build_tables(c)) return NB_OUT_OF_MEMORY;
    for (i = 0; i < a->nsources; ++i) total_weight += a->source_weight[i];
    for (i = 0; i < a->nsources; ++i)
        c->source_factor[i] = total_weight > 0.0
                                  ? a->source_weight[i] * a->nsources / total_weight
                                  : 1.0;
    if (!p->c_parity && !nb_lanes_open(c)) return NB_OUT_OF_MEMORY;
    if (p->c_parity) c->sines = nb_libm_sines_kernel();
    return NB_OK;
}

void nb_scene_close(nb_scene *c)
{
    free(c->rotated.axes);
    free(c->carried.axes);
    free(c->unrotated_entry.axes);
    free(c->source_factor);
    nb_lanes_close(c);
    memset(c, 0, sizeof *c);
}
