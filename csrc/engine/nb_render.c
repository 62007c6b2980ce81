/* render: the passes over the image.  Each pixel sums, over sensor layers,
 * sub-pixels, sources, phi steps and mosaic domains, |F_cell|^2 |F_latt|^2, then
 * scales it to photons with the solid angle, polarization and capture fraction
 * (nb_render_corrected.c, nb_render_legacy.c).
 *
 * c_parity reproduces the original's loop, quirks included; the two quirks
 * that carry state from pixel to pixel (phi_carryover, interpolation_switch_off)
 * are reproduced with extra passes so the result does not depend on threads. */
#include <stdlib.h>
#include <string.h>

#include "nb_render_internal.h"

#ifdef NANOBRAGG_HAVE_OPENMP
#include <omp.h>
#endif

/* Which variant of the pixel loop a pass runs. */
typedef enum { PASS_CORRECTED, PASS_LEGACY_CARRIED, PASS_LEGACY_NO_INTERPOLATION } pass_kind;

/* What a pass writes besides the image: per pixel whether it rotated the crystal
 * and whether its interpolation stencil left the grid, per row the solid angles. */
typedef struct {
    unsigned char *executed;
    unsigned char *left_grid;
    double *row_omega;        /* NULL: not summed by this pass */
} pass_record;

static int in_roi(const nb_render_params *p, int f, int s)
{
    return !(f < p->roi_xmin || f > p->roi_xmax || s < p->roi_ymin || s > p->roi_ymax);
}

static int rendered(const nb_scene *c, int f, int s)
{
    const nb_render_params *p = c->p;
    return in_roi(p, f, s) && !(c->a->mask && c->a->mask[(long)s * p->fpixels + f] == 0);
}

/* Render one row of a pass. */
static void render_row(const nb_scene *c, pass_kind kind, long s, long first_pixel,
                       double *image, const pass_record *record)
{
    const nb_render_params *p = c->p;
    double omega_sum = 0.0;
    int f;
    for (f = 0; f < p->fpixels; ++f) {
        long idx = s * p->fpixels + f;
        pixel_report report = {0, 0, 0.0};
        if (idx < first_pixel || !rendered(c, f, (int)s)) continue;
        if (kind == PASS_CORRECTED)
            image[idx] = render_pixel_corrected(c, f, (int)s, &report, NULL);
        else
            image[idx] = render_pixel_legacy(c, f, (int)s, &c->carried,
                                             kind == PASS_LEGACY_CARRIED && c->interpolate,
                                             &report, NULL);
        record->executed[idx] = (unsigned char)report.executed_phi_loop;
        record->left_grid[idx] = (unsigned char)report.interpolation_left_grid;
        omega_sum += report.omega_sum_sr;
    }
    if (record->row_omega) record->row_omega[s] = omega_sum;
}

/* Render the pixels from first_pixel on, in blocks of rows: each block in
 * parallel, and between blocks the calling thread reports progress (and so
 * can be cancelled).  Returns 0 when cancelled. */
static int run_pass(const nb_scene *c, const nb_render_control *control, pass_kind kind,
                    long first_pixel, double *image, const pass_record *record)
{
    const nb_render_params *p = c->p;
    long first_row = first_pixel / p->fpixels, rows = p->spixels, block, start;
    int threads = 1;

#ifdef NANOBRAGG_HAVE_OPENMP
    threads = control->threads > 0 ? control->threads : omp_get_max_threads();
#endif
    block = (rows - first_row + 63) / 64;
    if (block < threads) block = threads;
    for (start = first_row; start < rows; start += block) {
        long stop = start + block < rows ? start + block : rows, s;
#ifdef NANOBRAGG_HAVE_OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
#endif
        for (s = start; s < stop; ++s) render_row(c, kind, s, first_pixel, image, record);
        if (control->progress &&
            control->progress(control->progress_user, stop - first_row, rows - first_row))
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

/* The legacy passes: every pixel from the carried crystal state, then the quirks
 * that carry state between pixels, in pixel order. */
static nb_status legacy_passes(const nb_scene *c, const nb_render_control *control,
                               double *image, const pass_record *record, nb_render_info *info)
{
    const nb_render_params *p = c->p;
    long n = (long)p->fpixels * p->spixels, first_executed, switch_pixel = -1;
    pass_record no_omega = *record;

    if (!run_pass(c, control, PASS_LEGACY_CARRIED, 0, image, record)) return NB_CANCELLED;
    /* quirk phi_carryover: only the first pixel that rotates the crystal starts
     * from the unrotated crystal; every later one inherits a rotation. */
    first_executed = first_flagged(record->executed, 0, n);
    if (c->interpolate) switch_pixel = first_flagged(record->left_grid, 0, n);
    if (first_executed >= 0) {
        int f = (int)(first_executed % p->fpixels), s = (int)(first_executed / p->fpixels);
        int interpolating = c->interpolate && (switch_pixel < 0 || switch_pixel >= first_executed);
        pixel_report report = {0, 0, 0.0};
        image[first_executed] = render_pixel_legacy(c, f, s, &c->unrotated_entry, interpolating,
                                                    &report, NULL);
        if (c->interpolate && switch_pixel == first_executed && !report.interpolation_left_grid)
            switch_pixel = first_flagged(record->left_grid, first_executed + 1, n);
        if (interpolating && report.interpolation_left_grid) switch_pixel = first_executed;
    }
    info->first_executed = first_executed;
    info->switch_pixel = switch_pixel;
    /* quirk interpolation_switch_off: every pixel after the first one whose
     * stencil left the grid is rendered without interpolation. */
    if (switch_pixel >= 0) {
        info->interpolation_switched_off = 1;
        no_omega.row_omega = NULL;
        if (!run_pass(c, control, PASS_LEGACY_NO_INTERPOLATION, switch_pixel + 1, image,
                      &no_omega))
            return NB_CANCELLED;
    }
    return NB_OK;
}

nb_status nb_render(const nb_render_params *p, const nb_render_arrays *a,
                    const nb_render_control *control, double *image, nb_render_info *info)
{
    const nb_render_control defaults = {0, NULL, NULL};
    nb_scene c;
    pass_record record;
    long n = (long)p->fpixels * p->spixels, s;
    nb_status status;

    if (!control) control = &defaults;
    memset(info, 0, sizeof *info);
    info->steps = (long)a->nsources * a->mosaic_domains * p->phi_steps * p->oversample *
                  p->oversample;
    info->first_executed = info->switch_pixel = -1;
    if (n == 0) return NB_OK;

    status = nb_scene_open(&c, p, a);
    record.executed = calloc((size_t)n, 1);
    record.left_grid = calloc((size_t)n, 1);
    record.row_omega = calloc((size_t)p->spixels, sizeof(double));
    if (status != NB_OK || !record.executed || !record.left_grid || !record.row_omega) {
        status = NB_OUT_OF_MEMORY;
    } else if (!p->c_parity) {
        if (!run_pass(&c, control, PASS_CORRECTED, 0, image, &record)) status = NB_CANCELLED;
    } else {
        status = legacy_passes(&c, control, image, &record, info);
    }
    if (status == NB_OK)
        for (s = 0; s < p->spixels; ++s) info->omega_sum_sr += record.row_omega[s];
    nb_scene_close(&c);
    free(record.executed);
    free(record.left_grid);
    free(record.row_omega);
    return status;
}
