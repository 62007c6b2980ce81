/* render: the pixel loop.  Each pixel sums, over sensor layers, sub-pixels,
 * sources, phi steps and mosaic domains, |F_cell|^2 |F_latt|^2, then scales it
 * to photons with the solid angle, polarization and capture fraction.
 *
 * c_parity reproduces the original's loop, quirks included; the two quirks
 * that carry state from pixel to pixel (phi_carryover, interpolation_switch_off)
 * are reproduced with extra passes so the result does not depend on threads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nanobragg.h"
#include "nb_lattice.h"
#include "nb_vector.h"

#ifdef NANOBRAGG_HAVE_OPENMP
#include <omp.h>
#endif

/* Crystal axes for every (phi step, mosaic domain), for one starting state. */
typedef struct {
    double *axes; /* [phisteps][domains][3 axes][3] */
} axis_table;

typedef struct {
    const nb_render_params *p;
    long steps;
    double subpixel_size;
    double Fbeam, Sbeam;      /* where the beam meets the detector plane, from pix0 */
    double polar_axis[3];     /* the polarization axis as the original ends up using it */
    axis_table rotated;       /* each phi step rotated from the phi = 0 crystal */
    axis_table carried;       /* c_parity: phi = 0 steps keep the previous rotation */
    axis_table unrotated_entry; /* c_parity: the very first phi loop of the run */
    double *source_factor;    /* per source: weight * nsources / total weight */
    int blocked;              /* corrected mode can use blocked_bragg_sum */
} render_context;

typedef struct {
    int executed_phi_loop;    /* a source passed the dmin cut, so the crystal was rotated */
    int interpolation_left_grid;
    double omega_sum;
} pixel_report;

static const double *axes_at(const axis_table *t, const render_context *c, int phi, int mos)
{
    return t->axes + ((long)phi * c->p->mosaic_domains + mos) * 9;
}

/* Fill a table given the crystal axes in force at each phi step. */
static void fill_axes(render_context *c, axis_table *t, const double (*at_phi)[9])
{
    const nb_render_params *p = c->p;
    int k, m, v;
    for (k = 0; k < p->phisteps; ++k) {
        for (m = 0; m < p->mosaic_domains; ++m) {
            double *dst = t->axes + ((long)k * p->mosaic_domains + m) * 9;
            for (v = 0; v < 3; ++v) {
                if (p->mosaic_spread > 0.0)
                    nb_rotate_umat(at_phi[k] + 3 * v, dst + 3 * v, p->mosaic_umats + 9 * m);
                else
                    memcpy(dst + 3 * v, at_phi[k] + 3 * v, 3 * sizeof(double));
            }
        }
    }
}

static void rotate_crystal(const nb_render_params *p, double phi, double out[9])
{
    nb_rotate_axis(p->a0, out, p->spindle, phi);
    nb_rotate_axis(p->b0, out + 3, p->spindle, phi);
    nb_rotate_axis(p->c0, out + 6, p->spindle, phi);
}

static int build_tables(render_context *c)
{
    const nb_render_params *p = c->p;
    long table_size = (long)p->phisteps * p->mosaic_domains * 9;
    double(*at_phi)[9] = malloc(sizeof(double[9]) * (size_t)p->phisteps);
    double unrotated[9], state[9];
    int k, last_nonzero = -1;

    c->rotated.axes = malloc(sizeof(double) * (size_t)table_size);
    c->carried.axes = malloc(sizeof(double) * (size_t)table_size);
    c->unrotated_entry.axes = malloc(sizeof(double) * (size_t)table_size);
    if (!at_phi || !c->rotated.axes || !c->carried.axes || !c->unrotated_entry.axes) {
        free(at_phi);
        return 0;
    }
    memcpy(unrotated, p->a0, sizeof p->a0);
    memcpy(unrotated + 3, p->b0, sizeof p->b0);
    memcpy(unrotated + 6, p->c0, sizeof p->c0);

    for (k = 0; k < p->phisteps; ++k) rotate_crystal(p, p->phi0 + p->phistep * k, at_phi[k]);
    fill_axes(c, &c->rotated, (const double(*)[9])at_phi);

    /* phi_carryover: a step whose angle is exactly 0 keeps whatever rotation
     * the previous step (possibly of the previous loop) left behind. */
    for (k = 0; k < p->phisteps; ++k)
        if (p->phi0 + p->phistep * k != 0.0) last_nonzero = k;
    memcpy(state, last_nonzero >= 0 ? at_phi[last_nonzero] : unrotated, sizeof state);
    {
        double(*carried)[9] = malloc(sizeof(double[9]) * (size_t)p->phisteps);
        double(*entry)[9] = malloc(sizeof(double[9]) * (size_t)p->phisteps);
        double carried_state[9], entry_state[9];
        if (!carried || !entry) {
            free(carried);
            free(entry);
            free(at_phi);
            return 0;
        }
        memcpy(carried_state, state, sizeof state);
        memcpy(entry_state, unrotated, sizeof unrotated);
        for (k = 0; k < p->phisteps; ++k) {
            if (p->phi0 + p->phistep * k != 0.0) {
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
    }
    free(at_phi);
    return 1;
}

static void free_tables(render_context *c)
{
    free(c->rotated.axes);
    free(c->carried.axes);
    free(c->unrotated_entry.axes);
    free(c->source_factor);
}

/* Kahn polarization factor.  incident, diffracted and axis are re-normalised in
 * place, as the original does (diffracted is reused by later sources). */
static double polarization_factor(double kahn, double incident[3], double diffracted[3],
                                  double axis[3])
{
    double cos2theta, cos2theta_sqr, sin2theta_sqr, psi = 0;
    nb_unitize(incident, incident);
    nb_unitize(diffracted, diffracted);
    nb_unitize(axis, axis);
    cos2theta = nb_dot(incident, diffracted);
    cos2theta_sqr = cos2theta * cos2theta;
    sin2theta_sqr = 1 - cos2theta_sqr;
    if (kahn != 0.0) {
        double B_in[3], E_in[3];
        nb_cross(axis, incident, B_in);
        nb_unitize(B_in, B_in);
        nb_cross(incident, B_in, E_in);
        nb_unitize(E_in, E_in);
        psi = -atan2(nb_dot(diffracted, B_in), nb_dot(diffracted, E_in));
    }
    return 0.5 * (1.0 + cos2theta_sqr - kahn * cos(2 * psi) * sin2theta_sqr);
}

/* Position of a sub-pixel in the lab frame (metres). */
static void subpixel_position(const render_context *c, int fpixel, int spixel, int subF, int subS,
                              double Odet, double pos[3])
{
    const nb_render_params *p = c->p;
    /* the sub-pixel index in double: exact, and no int overflow on huge detectors */
    double Fdet = c->subpixel_size * ((double)fpixel * p->oversample + subF) +
                  c->subpixel_size / 2.0;
    double Sdet = c->subpixel_size * ((double)spixel * p->oversample + subS) +
                  c->subpixel_size / 2.0;
    int i;
    for (i = 0; i < 3; ++i)
        pos[i] = Fdet * p->fdet[i] + Sdet * p->sdet[i] + Odet * p->odet[i] + p->pix0[i];
    if (p->curved_detector && p->c_parity) {
        /* every pixel at the same distance; curved_detector_lab_axes: the lab y and z
         * coordinates of the flat pixel act as the angles about sdet and fdet */
        double start[3], turned[3];
        nb_scale(p->beam, p->distance, start);
        nb_rotate_axis(start, turned, p->sdet, pos[1] / p->distance);
        nb_rotate_axis(turned, pos, p->fdet, pos[2] / p->distance);
    } else if (p->curved_detector) {
        /* the pixel's fast and slow offsets from the beam centre, over the distance,
         * are the angles that carry the beam point onto it (sensor layers deeper out) */
        double start[3], turned[3];
        nb_scale(p->beam, p->distance + Odet, start);
        nb_rotate_axis(start, turned, p->sdet, (Fdet - c->Fbeam) / p->distance);
        nb_rotate_axis(turned, pos, p->fdet, -(Sdet - c->Sbeam) / p->distance);
    }
}

static double solid_angle(const nb_render_params *p, double airpath)
{
    if (p->point_pixel) return 1.0 / airpath / airpath;
    return p->pixel_size * p->pixel_size / airpath / airpath * p->close_distance / airpath;
}

static double capture_fraction(const nb_render_params *p, int layer, const double diffracted[3])
{
    double parallax = nb_dot(diffracted, p->odet);
    return exp(-layer * p->thickstep * p->mu / parallax) -
           exp(-(layer + 1) * p->thickstep * p->mu / parallax);
}

/* Whether a scattering vector reaches past the resolution limit: its source then adds
 * nothing.  The square root is only taken when there is a limit (it is most of the
 * per-source cost otherwise). */
static int beyond_dmin(const nb_render_params *p, const double scattering[3])
{
    double stol;
    if (p->dmin <= 0.0) return 0;
    stol = 0.5 * nb_norm(scattering);
    return stol > 0.0 && p->dmin > 0.5 / stol;
}

/* The next row of a trace, its loop indices and vectors set and every other
 * quantity NaN; NULL when not tracing. */
static nb_trace_term *trace_row(nb_trace *t, int layer, int subS, int subF, int source, int phi,
                                int mos, const double pos[3], const double diffracted[3],
                                const double scattering[3])
{
    nb_trace_term *row;
    int i;
    if (!t) return NULL;
    row = &t->terms[t->count++];
    row->layer = layer;
    row->subS = subS;
    row->subF = subF;
    row->source = source;
    row->phi_step = phi;
    row->domain = mos;
    for (i = 0; i < 3; ++i) {
        row->position[i] = pos[i];
        row->diffracted[i] = diffracted[i];
        row->scattering[i] = scattering[i];
        row->hkl[i] = row->hkl0[i] = NAN;
    }
    for (i = 0; i < 9; ++i) row->axes[i] = NAN;
    row->F_latt = row->F_cell = row->omega = row->polar = row->capture = row->I = NAN;
    return row;
}

static void trace_indices(nb_trace_term *row, const double *axes, double h, double k, double l,
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

static void trace_factors(nb_trace_term *row, double omega, double polar, double capture,
                          double I)
{
    row->omega = omega;
    row->polar = polar;
    row->capture = capture;
    row->I = I;
}

/* Rows for every phi step and domain of a source that fails the dmin cut. */
static void trace_cut_source(nb_trace *t, const nb_render_params *p, int layer, int subS,
                             int subF, int source, const double pos[3],
                             const double diffracted[3], const double scattering[3],
                             double omega, double polar, double capture, double I)
{
    int phi, mos;
    if (!t) return;
    for (phi = 0; phi < p->phisteps; ++phi)
        for (mos = 0; mos < p->mosaic_domains; ++mos)
            trace_factors(trace_row(t, layer, subS, subF, source, phi, mos, pos, diffracted,
                                    scattering),
                          omega, polar, capture, I);
}

/* The legacy pixel: every quirk of the original's loop body.  entry selects the
 * crystal state the first phi loop starts from; interpolate is the run-wide
 * interpolation switch as this pixel finds it. */
static double render_pixel_legacy(const render_context *c, int fpixel, int spixel,
                                 const axis_table *entry, int interpolate, pixel_report *report,
                                 nb_trace *trace)
{
    const nb_render_params *p = c->p;
    const axis_table *table = entry;
    double I = p->I_bg, polar = p->nopolar ? 1.0 : 0.0, omega_pixel = 0.0, capture = 0.0;
    double polar_axis[3], test;
    int layer, subS, subF, source, phi_tic, mos;

    memcpy(polar_axis, c->polar_axis, sizeof polar_axis);
    for (layer = 0; layer < p->thicksteps; ++layer) {
        double Odet = layer * p->thickstep;
        capture = (p->thick == 0.0) ? 1.0 : 0.0;
        for (subS = 0; subS < p->oversample; ++subS) {
            for (subF = 0; subF < p->oversample; ++subF) {
                double pos[3], diffracted[3], airpath;
                subpixel_position(c, fpixel, spixel, subF, subS, Odet, pos);
                airpath = nb_unitize(pos, diffracted);
                if (omega_pixel == 0.0 || p->oversample_omega) omega_pixel = solid_angle(p, airpath);
                report->omega_sum += omega_pixel;
                if (capture == 0.0 || p->oversample_thick)
                    capture = capture_fraction(p, layer, diffracted);

                for (source = 0; source < p->nsources; ++source) {
                    double incident[3], scattering[3], lambda = p->source_wavelength[source];
                    int i;
                    for (i = 0; i < 3; ++i) incident[i] = -p->source_direction[3 * source + i];
                    for (i = 0; i < 3; ++i) scattering[i] = (diffracted[i] - incident[i]) / lambda;
                    if (beyond_dmin(p, scattering)) {
                        trace_cut_source(trace, p, layer, subS, subF, source, pos, diffracted,
                                         scattering, omega_pixel, polar, capture, I);
                        continue;
                    }
                    if (polar == 0.0 || p->oversample_polar)
                        polar = polarization_factor(p->polarization, incident, diffracted,
                                                    polar_axis);

                    for (phi_tic = 0; phi_tic < p->phisteps; ++phi_tic) {
                        for (mos = 0; mos < p->mosaic_domains; ++mos) {
                            const double *ax = axes_at(table, c, phi_tic, mos);
                            double h = nb_dot(ax, scattering), k = nb_dot(ax + 3, scattering);
                            double l = nb_dot(ax + 6, scattering), F_latt, F_cell = p->default_F;
                            int h0 = nb_nearest_index(h), k0 = nb_nearest_index(k);
                            int l0 = nb_nearest_index(l);
                            nb_trace_term *row = trace_row(trace, layer, subS, subF, source,
                                                           phi_tic, mos, pos, diffracted,
                                                           scattering);
                            F_latt = nb_lattice_factor(p, h, k, l, h0, k0, l0);
                            if (row) trace_indices(row, ax, h, k, l, h0, k0, l0, F_latt);
                            if (F_latt == 0.0 && p->water_size == 0.0) {
                                if (row) trace_factors(row, omega_pixel, polar, capture, I);
                                continue;
                            }
                            if (interpolate && nb_stencil_outside(p, h, k, l)) {
                                /* interpolation_switch_off */
                                interpolate = 0;
                                report->interpolation_left_grid = 1;
                            }
                            if (interpolate)
                                F_cell = nb_tricubic_F(p, h, k, l);
                            else
                                F_cell = nb_nearest_F(p, h0, k0, l0);
                            I += F_cell * F_cell * F_latt * F_latt;
                            /* running_sum_factors */
                            if (p->oversample_thick) I *= capture;
                            if (p->oversample_polar) I *= polar;
                            if (p->oversample_omega) I *= omega_pixel;
                            if (row) {
                                row->F_cell = F_cell;
                                trace_factors(row, omega_pixel, polar, capture, I);
                            }
                        }
                    }
                    report->executed_phi_loop = 1;
                    table = &c->carried;
                }
            }
        }
    }
    test = p->r_e_sqr * p->fluence * I / c->steps;
    /* factors_from_first_subpixel: one solid angle, polarization and (last-layer)
     * capture fraction for the whole pixel */
    if (!p->oversample_thick) test *= capture;
    if (!p->oversample_polar) test *= polar;
    if (!p->oversample_omega) test *= omega_pixel;
    if (trace) {
        trace->I = I;
        trace->background = NAN;
        trace->capture = p->oversample_thick ? NAN : capture;
        trace->polar = p->oversample_polar ? NAN : polar;
        trace->omega = p->oversample_omega ? NAN : omega_pixel;
    }
    return test;
}

enum { TERM_BLOCK = 32 };

/* Whether the corrected Bragg sum can take the blocked path below: a square
 * crystal of whole N (at most 64 cells) without interpolation. */
static int blocked_sum_applies(const nb_render_params *p)
{
    const double N[3] = {p->Na, p->Nb, p->Nc};
    int i;
    if (p->shape != NB_SHAPE_SQUARE || p->interpolate) return 0;
    for (i = 0; i < 3; ++i)
        if (N[i] != floor(N[i]) || N[i] > 64) return 0;
    return 1;
}

/* Sum of |F_cell|^2 |F_latt|^2 over every phi step and mosaic domain for one
 * scattering vector, TERM_BLOCK terms at a time in loops the compiler can
 * vectorise.  Term for term the same arithmetic as nb_lattice_factor's corrected
 * square branch and nb_nearest_F, so the result is identical. */
static double blocked_bragg_sum(const render_context *c, const double S[3])
{
    const nb_render_params *p = c->p;
    const double N[3] = {p->Na, p->Nb, p->Nc};
    long nterms = (long)p->phisteps * p->mosaic_domains, start;
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
            F_cell = nb_nearest_F(p, index[0][t], index[1][t], index[2][t]);
            sum += F_cell * F_cell * lattice[t] * lattice[t];
        }
    }
    return sum;
}

/* The corrected pixel: every factor evaluated where it belongs, per term. */
static double render_pixel_corrected(const render_context *c, int fpixel, int spixel,
                                    pixel_report *report, nb_trace *trace)
{
    const nb_render_params *p = c->p;
    double bragg = 0.0, background = 0.0;
    int layer, subS, subF, source, phi_tic, mos;

    for (layer = 0; layer < p->thicksteps; ++layer) {
        double Odet = layer * p->thickstep;
        for (subS = 0; subS < p->oversample; ++subS) {
            for (subF = 0; subF < p->oversample; ++subF) {
                double pos[3], diffracted[3], airpath, omega, capture = 1.0;
                subpixel_position(c, fpixel, spixel, subF, subS, Odet, pos);
                airpath = nb_unitize(pos, diffracted);
                omega = solid_angle(p, airpath);
                report->omega_sum += omega;
                if (p->thick > 0.0) capture = capture_fraction(p, layer, diffracted);

                for (source = 0; source < p->nsources; ++source) {
                    double incident[3], scattering[3], axis[3], dir[3], factor, sum = 0.0;
                    double lambda = p->source_wavelength[source], polar = 1.0;
                    int i;
                    for (i = 0; i < 3; ++i) incident[i] = -p->source_direction[3 * source + i];
                    for (i = 0; i < 3; ++i) scattering[i] = (diffracted[i] - incident[i]) / lambda;
                    if (!p->nopolar) {
                        memcpy(axis, c->polar_axis, sizeof axis);
                        memcpy(dir, diffracted, sizeof dir);
                        polar = polarization_factor(p->polarization, incident, dir, axis);
                    }
                    factor = polar * omega * capture * c->source_factor[source];
                    background += factor;
                    if (beyond_dmin(p, scattering)) {
                        trace_cut_source(trace, p, layer, subS, subF, source, pos, diffracted,
                                         scattering, omega, polar, capture, bragg);
                        continue;
                    }
                    report->executed_phi_loop = 1;
                    if (c->blocked) {
                        bragg += blocked_bragg_sum(c, scattering) * factor;
                        continue;
                    }
                    for (phi_tic = 0; phi_tic < p->phisteps; ++phi_tic) {
                        for (mos = 0; mos < p->mosaic_domains; ++mos) {
                            const double *ax = axes_at(&c->rotated, c, phi_tic, mos);
                            double h = nb_dot(ax, scattering), k = nb_dot(ax + 3, scattering);
                            double l = nb_dot(ax + 6, scattering), F_latt, F_cell;
                            int h0 = nb_nearest_index(h), k0 = nb_nearest_index(k);
                            int l0 = nb_nearest_index(l);
                            nb_trace_term *row = trace_row(trace, layer, subS, subF, source,
                                                           phi_tic, mos, pos, diffracted,
                                                           scattering);
                            F_latt = nb_lattice_factor(p, h, k, l, h0, k0, l0);
                            if (row) trace_indices(row, ax, h, k, l, h0, k0, l0, F_latt);
                            if (F_latt == 0.0) {
                                if (row) trace_factors(row, omega, polar, capture,
                                                       bragg + sum * factor);
                                continue;
                            }
                            if (p->interpolate && !nb_stencil_outside(p, h, k, l)) {
                                F_cell = nb_tricubic_F(p, h, k, l);
                            } else {
                                if (p->interpolate) report->interpolation_left_grid = 1;
                                F_cell = nb_nearest_F(p, h0, k0, l0);
                            }
                            sum += F_cell * F_cell * F_latt * F_latt;
                            if (row) {
                                row->F_cell = F_cell;
                                trace_factors(row, omega, polar, capture, bragg + sum * factor);
                            }
                        }
                    }
                    bragg += sum * factor;
                }
            }
        }
    }
    if (trace) {
        trace->I = bragg;
        trace->background = background;
        trace->omega = trace->polar = trace->capture = NAN;
    }
    return (p->r_e_sqr * p->fluence * bragg / c->steps +
                   p->I_bg * background / ((double)p->oversample * p->oversample * p->nsources));
}

static int in_roi(const nb_render_params *p, int f, int s)
{
    return !(f < p->roi_xmin || f > p->roi_xmax || s < p->roi_ymin || s > p->roi_ymax);
}

static int rendered(const nb_render_params *p, int f, int s)
{
    return in_roi(p, f, s) && !(p->mask && p->mask[(long)s * p->fpixels + f] == 0);
}

/* Which variant of the pixel loop a pass runs. */
typedef enum { PASS_CORRECTED, PASS_LEGACY_CARRIED, PASS_LEGACY_NO_INTERPOLATION } pass_kind;

/* Render one row of a pass. */
static void render_row(const render_context *c, pass_kind kind, long s, long first_pixel,
                       double *image, unsigned char *executed, unsigned char *left_grid,
                       double *row_omega)
{
    const nb_render_params *p = c->p;
    double omega_sum = 0.0;
    int f;
    for (f = 0; f < p->fpixels; ++f) {
        long idx = s * p->fpixels + f;
        pixel_report report = {0, 0, 0.0};
        if (idx < first_pixel || !rendered(p, f, (int)s)) continue;
        if (kind == PASS_CORRECTED)
            image[idx] = render_pixel_corrected(c, f, (int)s, &report, NULL);
        else
            image[idx] = render_pixel_legacy(c, f, (int)s, &c->carried,
                                             kind == PASS_LEGACY_CARRIED && p->interpolate,
                                             &report, NULL);
        executed[idx] = (unsigned char)report.executed_phi_loop;
        left_grid[idx] = (unsigned char)report.interpolation_left_grid;
        omega_sum += report.omega_sum;
    }
    if (row_omega) row_omega[s] = omega_sum;
}

/* Render the pixels from first_pixel on, in blocks of rows: each block in
 * parallel, and between blocks the calling thread reports progress (and so
 * can be cancelled).  Returns 0 when cancelled. */
static int run_pass(const render_context *c, pass_kind kind, long first_pixel, double *image,
                    unsigned char *executed, unsigned char *left_grid, double *row_omega)
{
    const nb_render_params *p = c->p;
    long first_row = first_pixel / p->fpixels, rows = p->spixels, block, start;
    int threads = 1;

#ifdef NANOBRAGG_HAVE_OPENMP
    threads = p->threads > 0 ? p->threads : omp_get_max_threads();
#endif
    block = (rows - first_row + 63) / 64;
    if (block < threads) block = threads;
    for (start = first_row; start < rows; start += block) {
        long stop = start + block < rows ? start + block : rows, s;
#ifdef NANOBRAGG_HAVE_OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
#endif
        for (s = start; s < stop; ++s)
            render_row(c, kind, s, first_pixel, image, executed, left_grid, row_omega);
        if (p->progress && p->progress(p->progress_user, stop - first_row, rows - first_row))
            return 0;
    }
    return 1;
}

static long first_flagged(const unsigned char *flags, long start, long n)
{
    long i;
    for (i = start; i < n; ++i)
        if (flags[i]) return i;
    return -1;
}

/* Set up what every pixel shares: the crystal axis tables, the source factors and
 * the beam's point on the detector.  context_close frees it, opened or not. */
static nb_status context_open(render_context *c, const nb_render_params *p)
{
    double total_weight = 0.0, impact[3];
    int i;

    memset(c, 0, sizeof *c);
    c->p = p;
    c->steps = (long)p->nsources * p->mosaic_domains * p->phisteps * p->oversample * p->oversample;
    c->subpixel_size = p->pixel_size / p->oversample;
    c->blocked = !p->c_parity && blocked_sum_applies(p);
    /* The original normalises its copy of the polarization axis at every call;
     * after the first call it no longer changes. */
    nb_unitize(p->polar_vector, c->polar_axis);
    for (i = 0; i < 3; ++i) impact[i] = p->distance * p->beam[i] - p->pix0[i];
    c->Fbeam = nb_dot(impact, p->fdet);
    c->Sbeam = nb_dot(impact, p->sdet);

    c->source_factor = malloc(sizeof(double) * (size_t)p->nsources);
    if (!c->source_factor || !build_tables(c)) return NB_OUT_OF_MEMORY;
    for (i = 0; i < p->nsources; ++i) total_weight += p->source_weight[i];
    for (i = 0; i < p->nsources; ++i)
        c->source_factor[i] = total_weight > 0.0
                                  ? p->source_weight[i] * p->nsources / total_weight
                                  : 1.0;
    return NB_OK;
}

static void context_close(render_context *c)
{
    free_tables(c);
    memset(c, 0, sizeof *c);
}

nb_status nb_render(const nb_render_params *p, double *image, nb_render_info *info)
{
    render_context c;
    long n = (long)p->fpixels * p->spixels, s;
    unsigned char *executed = NULL, *left_grid = NULL;
    double *row_omega = NULL;
    nb_status status;

    memset(info, 0, sizeof *info);
    info->steps = (long)p->nsources * p->mosaic_domains * p->phisteps * p->oversample *
                  p->oversample;
    info->first_executed = info->switch_pixel = -1;
    if (n == 0) return NB_OK;

    status = context_open(&c, p);
    executed = calloc((size_t)n, 1);
    left_grid = calloc((size_t)n, 1);
    row_omega = calloc((size_t)p->spixels, sizeof(double));
    if (status != NB_OK || !executed || !left_grid || !row_omega) {
        status = NB_OUT_OF_MEMORY;
        goto done;
    }

    if (!p->c_parity) {
        if (!run_pass(&c, PASS_CORRECTED, 0, image, executed, left_grid, row_omega))
            status = NB_CANCELLED;
    } else {
        long first_executed, switch_pixel = -1;
        if (!run_pass(&c, PASS_LEGACY_CARRIED, 0, image, executed, left_grid, row_omega)) {
            status = NB_CANCELLED;
            goto done;
        }
        /* phi_carryover: only the first pixel that rotates the crystal starts
         * from the unrotated crystal; every later one inherits a rotation. */
        first_executed = first_flagged(executed, 0, n);
        if (p->interpolate) switch_pixel = first_flagged(left_grid, 0, n);
        if (first_executed >= 0) {
            int f = (int)(first_executed % p->fpixels), sp = (int)(first_executed / p->fpixels);
            int interpolating = p->interpolate && (switch_pixel < 0 || switch_pixel >= first_executed);
            pixel_report report = {0, 0, 0.0};
            image[first_executed] = render_pixel_legacy(&c, f, sp, &c.unrotated_entry,
                                                        interpolating, &report, NULL);
            if (p->interpolate && switch_pixel == first_executed && !report.interpolation_left_grid)
                switch_pixel = first_flagged(left_grid, first_executed + 1, n);
            if (interpolating && report.interpolation_left_grid) switch_pixel = first_executed;
        }
        info->first_executed = first_executed;
        info->switch_pixel = switch_pixel;
        /* interpolation_switch_off: every pixel after the first one whose
         * stencil left the grid is rendered without interpolation. */
        if (switch_pixel >= 0) {
            info->interpolation_switched_off = 1;
            if (!run_pass(&c, PASS_LEGACY_NO_INTERPOLATION, switch_pixel + 1, image, executed,
                          left_grid, NULL)) {
                status = NB_CANCELLED;
                goto done;
            }
        }
    }
    for (s = 0; s < p->spixels; ++s) info->omega_sum += row_omega[s];

done:
    context_close(&c);
    free(executed);
    free(left_grid);
    free(row_omega);
    return status;
}

long nb_trace_terms(const nb_render_params *p)
{
    return (long)p->thicksteps * p->oversample * p->oversample * p->nsources * p->phisteps *
           p->mosaic_domains;
}

nb_status nb_trace_pixel(const nb_render_params *p, int fpixel, int spixel, int entry,
                         int interpolate, nb_trace *trace)
{
    render_context c;
    pixel_report report = {0, 0, 0.0};
    nb_status status;

    if (trace->capacity < nb_trace_terms(p)) return NB_BAD_ARGUMENT;
    status = context_open(&c, p);
    if (status == NB_OK) {
        /* term by term: the blocked sum gives the same numbers but no rows */
        c.blocked = 0;
        trace->count = 0;
        trace->scale = p->r_e_sqr * p->fluence;
        trace->steps = c.steps;
        if (p->c_parity)
            trace->value = render_pixel_legacy(&c, fpixel, spixel,
                                               entry ? &c.unrotated_entry : &c.carried,
                                               interpolate && p->interpolate, &report, trace);
        else
            trace->value = render_pixel_corrected(&c, fpixel, spixel, &report, trace);
    }
    context_close(&c);
    return status;
}
