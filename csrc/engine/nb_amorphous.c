/* amorphous: the scattering of a disordered sample (water, air, a solvent) from a
 * table of F against sin(theta)/lambda, summed over sub-pixels and sources. */
#include <math.h>
#include <stdlib.h>

#ifdef NANOBRAGG_HAVE_OPENMP
#include <omp.h>
#endif

#include "nanobragg.h"
#include "nb_polarization.h"
#include "nb_vector.h"

/* The Lagrange polynomial through the four points (x[i], y[i]) at x0, each basis
 * term's products taken in index order (the original's arithmetic). */
static double lagrange4(const double *x, const double *y, double x0)
{
    double sum = 0.0;
    int i, j;
    for (i = 0; i < 4; ++i) {
        double num = 1.0, den = 1.0;
        for (j = 0; j < 4; ++j) {
            if (j == i) continue;
            num *= x0 - x[j];
            den *= x[i] - x[j];
        }
        sum = (i == 0) ? num * y[i] / den : sum + num * y[i] / den;
    }
    return sum;
}

/* F at sin(theta)/lambda stol; *nearest is the legacy walk's row. */
static double table_F(const nb_amorphous_spec *p, const nb_amorphous_arrays *a, double stol,
                      int *nearest)
{
    /* quirk stol_table_end_points: legacy tables carry the original's two far points
     * at each end and are searched by its walk from the previous term's row, so a
     * table that does not rise gives a pixel order dependent F; corrected tables rise,
     * F is held at the end rows' values outside them and interpolated inside from the
     * four rows around the term. */
    int n = a->stols;
    if (p->c_parity) {
        while (stol > a->stol_per_m[*nearest] && *nearest < n - 1) ++*nearest;
        while (stol < a->stol_per_m[*nearest] && *nearest >= 2) --*nearest;
        {
            /* an infinite or NaN stol walks to an end (or stays at row 0): the four rows
             * read stay inside the table (the original read past its ends) */
            int first = *nearest - 1;
            if (first < 0) first = 0;
            if (first > n - 4) first = n - 4;
            return lagrange4(a->stol_per_m + first, a->F + first, stol);
        }
    }
    if (!(stol > a->stol_per_m[0])) return a->F[0];
    if (!(stol < a->stol_per_m[n - 1])) return a->F[n - 1];
    {
        int low = 0, high = n - 1, first;
        while (high - low > 1) {
            int middle = low + (high - low) / 2;
            if (a->stol_per_m[middle] <= stol) low = middle; else high = middle;
        }
        first = low - 1;
        if (first < 0) first = 0;
        if (first > n - 4) first = n - 4;
        return lagrange4(a->stol_per_m + first, a->F + first, stol);
    }
}

/* Whether the table's sin(theta)/lambda rises strictly: then the legacy walk ends on
 * the same row from wherever it starts, and rows may run in parallel. */
static int increasing(const nb_amorphous_arrays *a)
{
    int i;
    for (i = 1; i < a->stols; ++i)
        if (!(a->stol_per_m[i] > a->stol_per_m[i - 1])) return 0;
    return 1;
}

/* One pixel: its value, its solid angle sum, and the F of its last term (Fmap). */
static double amorphous_pixel(const nb_amorphous_spec *p, const nb_amorphous_arrays *a, int fpixel,
                              int spixel, int *nearest, double *omega_sum)
{
    int os = p->oversample, subS, subF, s;
    double subpixel = p->pixel_size_m / os, I = 0.0, F = 0.0;
    double pixel_sqr = p->pixel_size_m * p->pixel_size_m;
    long steps = (long)a->nsources * os * os;

    for (subS = 0; subS < os; ++subS) {
        for (subF = 0; subF < os; ++subF) {
            double Fdet = subpixel * ((long)fpixel * os + subF) + subpixel / 2.0;
            double Sdet = subpixel * ((long)spixel * os + subS) + subpixel / 2.0;
            double pos[3], diffracted[3], airpath, omega;
            int i;
            for (i = 0; i < 3; ++i)
                pos[i] = Fdet * p->fdet[i] + Sdet * p->sdet[i] + p->pix0_m[i];
            if (p->curved_detector) {
                /* quirk curved_detector_lab_axes: legacy turns the beam point by the lab
                 * y and z coordinates over the distance; corrected by the offsets from
                 * the beam centre along fast and slow */
                double centre[3], turned[3];
                double about_s = p->c_parity ? pos[1] / p->distance_m
                                             : (Fdet - p->Fbeam_m) / p->distance_m;
                double about_f = p->c_parity ? pos[2] / p->distance_m
                                             : -(Sdet - p->Sbeam_m) / p->distance_m;
                nb_scale(p->beam, p->distance_m, centre);
                nb_rotate_axis(centre, turned, p->sdet, about_s);
                nb_rotate_axis(turned, pos, p->fdet, about_f);
            }
            airpath = nb_unitize(pos, diffracted);
            omega = pixel_sqr / airpath / airpath * p->close_distance_m / airpath;
            if (p->point_pixel) omega = 1.0 / airpath / airpath;
            *omega_sum += omega;
            for (s = 0; s < a->nsources; ++s) {
                double incident[3], scattering[3], stol, polar = 1.0, sign = 1.0;
                double lambda = a->source_wavelength_m[s];
                for (i = 0; i < 3; ++i) incident[i] = -a->source_direction[3 * s + i];
                for (i = 0; i < 3; ++i) scattering[i] = (diffracted[i] - incident[i]) / lambda;
                stol = 0.5 * nb_norm(scattering);
                F = table_F(p, a, stol, nearest);
                if (F < 0.0) sign = -1.0;
                if (!p->nopolar)
                    polar = kahn_polarization(p->polarization, incident, diffracted, p->polar);
                I += sign * F * F * polar * omega * a->source_weight[s];
            }
        }
    }
    if (p->Fmap) return F;
    return I * p->r_e_sqr_m2 * p->fluence_per_m2 * p->molecules / steps;
}

static int inside_roi(const nb_amorphous_spec *p, int fpixel, int spixel)
{
    return !(fpixel < p->roi_xmin || fpixel > p->roi_xmax || spixel < p->roi_ymin ||
             spixel > p->roi_ymax);
}

static void render_row(const nb_amorphous_spec *p, const nb_amorphous_arrays *a, int spixel,
                       int *nearest, double *image, double *omega_sum)
{
    int fpixel;
    for (fpixel = 0; fpixel < p->fpixels; ++fpixel) {
        if (!inside_roi(p, fpixel, spixel)) continue;
        image[(long)spixel * p->fpixels + fpixel] =
            amorphous_pixel(p, a, fpixel, spixel, nearest, omega_sum);
    }
}

static int report(const nb_render_control *control, long done, long total)
{
    return control && control->progress && control->progress(control->progress_user, done, total);
}

nb_status nb_amorphous(const nb_amorphous_spec *p, const nb_amorphous_arrays *a,
                       const nb_render_control *control, double *image, nb_amorphous_info *info)
{
    int threads = control ? control->threads : 0, cancelled = 0, spixel;
    double *row_omega;
    long rows_done = 0;

    if (p->oversample < 1 || a->nsources < 1 || a->stols < 4) return NB_BAD_ARGUMENT;
    row_omega = (double *)calloc((size_t)(p->spixels > 0 ? p->spixels : 1), sizeof(double));
    if (!row_omega) return NB_OUT_OF_MEMORY;
    info->steps = (long)a->nsources * p->oversample * p->oversample;

    if (p->c_parity && !increasing(a)) {
        /* quirk stol_table_end_points: the walk carries on from the previous pixel */
        int nearest = 0;
        for (spixel = 0; spixel < p->spixels && !cancelled; ++spixel) {
            render_row(p, a, spixel, &nearest, image, &row_omega[spixel]);
            cancelled = report(control, spixel + 1, p->spixels);
        }
    } else {
#ifdef NANOBRAGG_HAVE_OPENMP
        if (threads <= 0) threads = omp_get_max_threads();
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
#endif
        for (spixel = 0; spixel < p->spixels; ++spixel) {
            int nearest = 0, stop;
            long done;
#ifdef NANOBRAGG_HAVE_OPENMP
#pragma omp atomic read
#endif
            stop = cancelled;
            if (stop) continue;
            render_row(p, a, spixel, &nearest, image, &row_omega[spixel]);
#ifdef NANOBRAGG_HAVE_OPENMP
#pragma omp atomic capture
#endif
            done = ++rows_done;
#ifdef NANOBRAGG_HAVE_OPENMP
            if (omp_get_thread_num() != 0) continue;
#endif
            if (report(control, done, p->spixels)) {
#ifdef NANOBRAGG_HAVE_OPENMP
#pragma omp atomic write
#endif
                cancelled = 1;
            }
        }
    }
    (void)threads;
    /* the last report, from the calling thread, says the image is done */
    if (!cancelled) cancelled = report(control, p->spixels, p->spixels);
    info->omega_sum_sr = 0.0;
    for (spixel = 0; spixel < p->spixels; ++spixel) info->omega_sum_sr += row_omega[spixel];
    free(row_omega);
    return cancelled ? NB_CANCELLED : NB_OK;
}
