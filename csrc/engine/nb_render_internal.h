/* What the parts of the render share (private to csrc/engine).  The render is
 * split along the same seams as the torch engine's:
 *   nb_scene.c            what every pixel shares (nb_scene)
 *   nb_subpixel.h         one sub-pixel's position and factors (inline)
 *   nb_render_corrected.c the corrected pixel
 *   nb_render_legacy.c    the legacy pixel, every quirk of the original's loop
 *   nb_trace.c            the trace rows both pixels write, and nb_trace_pixel
 *   nb_render.c           the passes over the image (nb_render) */
#ifndef NB_RENDER_INTERNAL_H
#define NB_RENDER_INTERNAL_H

#include "nanobragg.h"
#include "nb_libm_sines.h"

/* What the corrected render's lane kernels share (nb_render_lanes.h). */
typedef struct nb_lane_setup nb_lane_setup;

/* Crystal axes for every (phi step, mosaic domain), for one starting state. */
typedef struct {
    double *axes; /* [phi_steps][mosaic_domains][3 axes][3], metres */
} axis_table;

typedef struct {
    const nb_render_params *p;
    const nb_render_arrays *a;
    long steps;                 /* terms each pixel's sum is divided by */
    double subpixel_size_m;
    double Fbeam_m, Sbeam_m;    /* where the beam meets the detector plane, from pix0 */
    double polar_axis[3];       /* the polarization axis as the original ends up using it */
    axis_table rotated;         /* each phi step rotated from the phi = 0 crystal */
    axis_table carried;         /* c_parity: phi = 0 steps keep the previous rotation */
    axis_table unrotated_entry; /* c_parity: the very first phi loop of the run */
    double *source_factor;      /* per source: weight * nsources / total weight */
    int interpolate;            /* interpolation asked for, and a grid to interpolate */
    nb_lane_setup *lanes;       /* corrected mode: the kernel and what it reads */
    nb_sines_kernel sines;      /* c_parity: libm's sines, for this CPU */
} nb_scene;

/* The progress and cancellation of a render, shared by its threads (nb_render.c). */
typedef struct nb_watch nb_watch;

/* What a pixel tells the passes over the image, and the watch it looks at. */
typedef struct {
    int executed_phi_loop;      /* a source passed the dmin cut, so the crystal was rotated */
    int interpolation_left_grid;
    double omega_sum_sr;
    nb_watch *watch;            /* NULL: nothing to look at (a trace) */
    long work;                  /* terms evaluated since the last look */
    int stop;                   /* a look found the render cancelled */
} pixel_report;

/* Terms a pixel evaluates between two looks at its watch: a few milliseconds of work,
 * so that a render stops soon after it is cancelled however long one pixel takes. */
enum { NB_WATCH_TERMS = 1 << 16 };

/* nb_render.c: whether the render is cancelled.  On the thread that called nb_render it
 * also reports progress (and so learns of a cancellation) a few times a second. */
int nb_watch_look(pixel_report *report);

/* Whether the render is cancelled, looking at the watch after every NB_WATCH_TERMS
 * terms; the kernels call it with the terms they just evaluated and stop when true. */
static inline int nb_cancelled(pixel_report *report, long terms)
{
    if (!report->watch) return 0;
    if (report->stop) return 1;
    report->work += terms;
    if (report->work < NB_WATCH_TERMS) return 0;
    report->work = 0;
    report->stop = nb_watch_look(report);
    return report->stop;
}

/* Where a term of a pixel's sum sits in its loops, and the vectors it shares
 * with the other terms of its sub-pixel and source. */
typedef struct {
    int layer, subS, subF, source;
    const double *position;     /* m */
    const double *diffracted;   /* unit vector */
    const double *scattering;   /* 1/m */
} term_site;

/* Inline into the marked function every call to its own file's functions: the
 * legacy kernel's loops are too large for the compiler to copy on its own into a
 * trace-free version for the render (the corrected kernel's it copies unaided). */
#if defined(__GNUC__)
#define NB_FLATTEN __attribute__((flatten))
#else
#define NB_FLATTEN
#endif

/* nb_scene.c.  nb_scene_close frees a scene, opened or not. */
nb_status nb_scene_open(nb_scene *c, const nb_render_params *p, const nb_render_arrays *a);
void nb_scene_close(nb_scene *c);

static inline const double *axes_at(const axis_table *t, const nb_scene *c, int phi, int mos)
{
    return t->axes + ((long)phi * c->a->mosaic_domains + mos) * 9;
}

/* nb_render_corrected.c.  nb_lanes_open chooses the lane kernel for this CPU and
 * tabulates what it reads (0: out of memory); nb_lanes_close frees it. */
int nb_lanes_open(nb_scene *c);
void nb_lanes_close(nb_scene *c);
/* A trace of one pixel: its rows term by term, its value as the render gives it. */
void render_traced_corrected(const nb_scene *c, int fpixel, int spixel, pixel_report *report,
                             nb_trace *trace);
/* The listed pixels of one row (fpixel[0 .. count - 1], at most NB_ROW_PIXELS) in lanes:
 * the value of each, in the same order; their solid angles are added to
 * report->omega_sum_sr.  Stops early when report->stop is set. */
enum { NB_ROW_PIXELS = 64 };
void render_pixels_corrected(const nb_scene *c, int spixel, const int *fpixel, int count,
                             double *value, pixel_report *report);

/* nb_render_legacy.c: entry selects the crystal state the first phi loop starts
 * from; interpolate is the run-wide interpolation switch as this pixel finds it. */
double render_pixel_legacy(const nb_scene *c, int fpixel, int spixel, const axis_table *entry,
                           int interpolate, pixel_report *report, nb_trace *trace);

/* nb_trace.c: trace_row takes a trace (never NULL); the others a row from it. */
nb_trace_term *trace_row(nb_trace *t, const term_site *site, int phi, int mos);
void trace_indices(nb_trace_term *row, const double *axes, double h, double k, double l,
                   int h0, int k0, int l0, double F_latt);
void trace_factors(nb_trace_term *row, double omega, double polar, double capture, double I);
void trace_cut_source(nb_trace *t, const nb_scene *c, const term_site *site, double omega,
                      double polar, double capture, double I);

#endif
