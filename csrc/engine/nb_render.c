/* render: the passes over the image.  Each pixel sums, over sensor layers,
 * sub-pixels, sources, phi steps and mosaic domains, |F_cell|^2 |F_latt|^2, then
 * scales it to photons with the solid angle, polarization and capture fraction
 * (nb_render_corrected.c, nb_render_legacy.c).
 *
 * c_parity reproduces the original's loop, quirks included; the two quirks
 * that carry state from pixel to pixel (phi_carryover, interpolation_switch_off)
 * are reproduced with extra passes so the result does not depend on threads. */
#define _POSIX_C_SOURCE 200809L /* nanosleep */

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nb_render_internal.h"

#ifdef NANOBRAGG_HAVE_OPENMP
#include <omp.h>
#endif

/* How often the calling thread reports progress from inside the work (and so learns of
 * a cancellation): a Ctrl-C is seen within about this time plus one look's work. */
#define NB_WATCH_SECONDS 0.1

/* The progress and cancellation of a render.  The rows of a pass are handed out one at
 * a time; only the thread that called nb_render (the master, thread 0) calls the
 * progress function: after each row it finishes, every NB_WATCH_SECONDS from inside
 * its pixels, and, once no row is left to take, while the other threads finish theirs.
 * A cancellation reaches every thread through the flag, which the pixels look at every
 * NB_WATCH_TERMS terms. */
struct nb_watch {
    const nb_render_control *control;
    long rows_total;           /* rows the current pass reports on */
    long rows_reported;        /* master only: rows done at the last report */
    double next_look_s;        /* master only: wall time of the next report from a pixel */
    atomic_long rows_done;
    atomic_int cancelled;
};

static int is_master(void)
{
#ifdef NANOBRAGG_HAVE_OPENMP
    return omp_get_thread_num() == 0;
#else
    return 1;
#endif
}

static double wall_seconds(void)
{
    struct timespec now;
    timespec_get(&now, TIME_UTC);
    return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
}

/* Report the rows done so far (master only); a nonzero answer cancels. */
static void report_progress(nb_watch *w)
{
    long done = atomic_load(&w->rows_done);
    w->rows_reported = done;
    w->next_look_s = wall_seconds() + NB_WATCH_SECONDS;
    if (w->control->progress &&
        w->control->progress(w->control->progress_user, done, w->rows_total))
        atomic_store(&w->cancelled, 1);
}

int nb_watch_look(pixel_report *report)
{
    nb_watch *w = report->watch;
    if (is_master() && wall_seconds() >= w->next_look_s) report_progress(w);
    return atomic_load(&w->cancelled);
}

/* The master, out of rows, reports while the other threads finish theirs. */
static void watch_others(nb_watch *w)
{
    const struct timespec pause = {0, 5000000}; /* 5 ms */
    while (!atomic_load(&w->cancelled) && atomic_load(&w->rows_done) < w->rows_total) {
        if (wall_seconds() >= w->next_look_s) report_progress(w);
        nanosleep(&pause, NULL);
    }
}

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

/* Render one row of the corrected pass in lanes, NB_ROW_PIXELS pixels at a time. */
static void render_row_corrected(const nb_scene *c, long s, double *image,
                                 const pass_record *record, nb_watch *watch)
{
    const nb_render_params *p = c->p;
    pixel_report report = {0, 0, 0.0, watch, 0, 0};
    double value[NB_ROW_PIXELS];
    int listed[NB_ROW_PIXELS], count = 0, f, q;
    long row = s * p->fpixels;
    for (f = 0; f < p->fpixels; ++f) {
        if (rendered(c, f, (int)s)) listed[count++] = f;
        if (count == NB_ROW_PIXELS || (f == p->fpixels - 1 && count > 0)) {
            render_pixels_corrected(c, (int)s, listed, count, value, &report);
            if (report.stop) return;
            for (q = 0; q < count; ++q) image[row + listed[q]] = value[q];
            count = 0;
        }
    }
    record->row_omega[s] = report.omega_sum_sr;
}

/* Render one row of a legacy pass; stops early when the render is cancelled. */
static void render_row(const nb_scene *c, pass_kind kind, long s, long first_pixel,
                       double *image, const pass_record *record, nb_watch *watch)
{
    const nb_render_params *p = c->p;
    double omega_sum = 0.0;
    int f;
    if (kind == PASS_CORRECTED) {
        render_row_corrected(c, s, image, record, watch);
        return;
    }
    for (f = 0; f < p->fpixels; ++f) {
        long idx = s * p->fpixels + f;
        pixel_report report = {0, 0, 0.0, watch, 0, 0};
        if (idx < first_pixel || !rendered(c, f, (int)s)) continue;
        image[idx] = render_pixel_legacy(c, f, (int)s, &c->carried,
                                         kind == PASS_LEGACY_CARRIED && c->interpolate,
                                         &report, NULL);
        if (report.stop) return;
        record->executed[idx] = (unsigned char)report.executed_phi_loop;
        record->left_grid[idx] = (unsigned char)report.interpolation_left_grid;
        omega_sum += report.omega_sum_sr;
    }
    if (record->row_omega) record->row_omega[s] = omega_sum;
}

/* Render the pixels from first_pixel on, the rows handed out one at a time to the
 * threads (each row is rendered by one thread, so the image does not depend on their
 * number).  Returns 0 when cancelled. */
static int run_pass(const nb_scene *c, nb_watch *watch, pass_kind kind, long first_pixel,
                    double *image, const pass_record *record)
{
    const nb_render_params *p = c->p;
    long first_row = first_pixel / p->fpixels, rows = p->spixels;
    atomic_long next_row;
#ifdef NANOBRAGG_HAVE_OPENMP
    int threads = watch->control->threads > 0 ? watch->control->threads : omp_get_max_threads();
#endif
    atomic_init(&next_row, first_row);
    atomic_store(&watch->rows_done, 0);
    watch->rows_total = rows - first_row;
    watch->rows_reported = -1;
#ifdef NANOBRAGG_HAVE_OPENMP
#pragma omp parallel num_threads(threads)
#endif
    {
        int master = is_master();
        long s;
        while (!atomic_load(&watch->cancelled) && (s = atomic_fetch_add(&next_row, 1)) < rows) {
            render_row(c, kind, s, first_pixel, image, record, watch);
            atomic_fetch_add(&watch->rows_done, 1);
            if (master && !atomic_load(&watch->cancelled)) report_progress(watch);
        }
        if (master) watch_others(watch);
    }
    if (!atomic_load(&watch->cancelled) && watch->rows_reported != watch->rows_total)
        report_progress(watch);
    return !atomic_load(&watch->cancelled);
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
static nb_status legacy_passes(const nb_scene *c, nb_watch *watch, double *image,
                               const pass_record *record, nb_render_info *info)
{
    const nb_render_params *p = c->p;
    long n = (long)p->fpixels * p->spixels, first_executed, switch_pixel = -1;
    pass_record no_omega = *record;

    if (!run_pass(c, watch, PASS_LEGACY_CARRIED, 0, image, record)) return NB_CANCELLED;
    /* quirk phi_carryover: only the first pixel that rotates the crystal starts
     * from the unrotated crystal; every later one inherits a rotation. */
    first_executed = first_flagged(record->executed, 0, n);
    if (c->interpolate) switch_pixel = first_flagged(record->left_grid, 0, n);
    if (first_executed >= 0) {
        int f = (int)(first_executed % p->fpixels), s = (int)(first_executed / p->fpixels);
        int interpolating = c->interpolate && (switch_pixel < 0 || switch_pixel >= first_executed);
        pixel_report report = {0, 0, 0.0, watch, 0, 0};
        image[first_executed] = render_pixel_legacy(c, f, s, &c->unrotated_entry, interpolating,
                                                    &report, NULL);
        if (report.stop) return NB_CANCELLED;
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
        if (!run_pass(c, watch, PASS_LEGACY_NO_INTERPOLATION, switch_pixel + 1, image,
                      &no_omega))
            return NB_CANCELLED;
    }
    return NB_OK;
}

nb_status nb_render(const nb_render_params *p, const nb_render_arrays *a,
                    const nb_render_control *control, double *image, nb_render_info *info)
{
    const nb_render_control defaults = {0, NULL, NULL};
    nb_watch watch;
    nb_scene c;
    pass_record record;
    long n = (long)p->fpixels * p->spixels, s;
    nb_status status;

    if (!control) control = &defaults;
    watch.control = control;
    watch.rows_total = watch.rows_reported = 0;
    watch.next_look_s = 0.0;
    atomic_init(&watch.rows_done, 0);
    atomic_init(&watch.cancelled, 0);
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
        if (!run_pass(&c, &watch, PASS_CORRECTED, 0, image, &record)) status = NB_CANCELLED;
    } else {
        status = legacy_passes(&c, &watch, image, &record, info);
    }
    if (status == NB_OK)
        for (s = 0; s < p->spixels; ++s) info->omega_sum_sr += record.row_omega[s];
    nb_scene_close(&c);
    free(record.executed);
    free(record.left_grid);
    free(record.row_omega);
    return status;
}
