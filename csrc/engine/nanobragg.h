/* nanobragg C engine: the stages of a nanoBragg simulation as a library.
 *
 * Every function is a pure function of its inputs plus, where stated, the
 * legacy random state.  No globals, no printing, no file access, no exit():
 * errors come back as nb_status codes.  Lengths are in metres and angles in
 * radians unless a field name says otherwise. */
#ifndef NANOBRAGG_H
#define NANOBRAGG_H

#include <stddef.h>
#include <stdint.h>

#include "nb_random.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    NB_OK = 0,
    NB_CANCELLED = 1,
    NB_OUT_OF_MEMORY = 2,
    NB_BAD_ARGUMENT = 3
} nb_status;

typedef enum {
    NB_CONVENTION_CUSTOM = 0,
    NB_CONVENTION_ADXV,
    NB_CONVENTION_MOSFLM,
    NB_CONVENTION_XDS,
    NB_CONVENTION_DIALS,
    NB_CONVENTION_DENZO
} nb_convention;

typedef enum { NB_PIVOT_AUTO = -1, NB_PIVOT_SAMPLE = 0, NB_PIVOT_BEAM = 1 } nb_pivot;

typedef enum { NB_SHAPE_SQUARE = 0, NB_SHAPE_ROUND, NB_SHAPE_GAUSS, NB_SHAPE_TOPHAT } nb_shape;

/* ---- detector_geometry ------------------------------------------------- */

typedef struct {
    int c_parity;
    int convention;           /* nb_convention */
    int pivot;                /* nb_pivot; AUTO = the convention's own */
    double pixel_size;
    int fpixels, spixels;     /* 0 = derive from the detector size */
    double detsize_f, detsize_s;
    double distance;
    double close_distance;    /* NaN = not given */
    double Xbeam, Ybeam;      /* NaN = not given (all four below too) */
    double Xclose, Yclose;
    double ORGX, ORGY;        /* pixels */
    double rotx, roty, rotz, twotheta;
    double fdet[3], sdet[3], odet[3], beam[3], polar[3], spindle[3], twotheta_axis[3];
    int has_pix0;
    double pix0[3];
} nb_detector_input;

typedef struct {
    int fpixels, spixels;
    double pixel_size, detsize_f, detsize_s;
    int pivot;
    double fdet[3], sdet[3], odet[3], pix0[3];
    double beam[3], polar[3], vert[3], spindle[3];
    double distance, close_distance;
    double Xbeam, Ybeam, Fbeam, Sbeam;
    double Xclose, Yclose, Fclose, Sclose;
    double ORGX, ORGY;
    double dials_origin_mm[3];
} nb_detector_geometry;

void nb_detector_geometry_compute(const nb_detector_input *in, nb_detector_geometry *out);

/* ---- crystal_vectors --------------------------------------------------- */

typedef struct {
    int c_parity;
    int has_cell;
    double cell[6];           /* a, b, c (Angstrom), alpha, beta, gamma (rad); 0 = default */
    int has_matrix;
    double matrix[9];         /* MOSFLM A matrix as read: row i = component i of a*, b*, c* */
    double lambda0;           /* metres: divides the matrix */
    int has_misset;
    double misset[3];
    int misset_random;
    long misset_seed;         /* the original's internal (negated) seed */
    double sample_size[3];    /* metres; 0 = use N */
    double N[3];
} nb_crystal_input;

typedef struct {
    double a[3], b[3], c[3];                /* metres, at phi = 0 and no mosaic rotation */
    double a_star[3], b_star[3], c_star[3]; /* 1/Angstrom */
    double cell[6];                         /* Angstrom and radians */
    double reciprocal_cell[6];              /* 1/Angstrom and radians */
    double volume_A3;
    double misset[3];                       /* the misset applied (radians) */
    double N[3];
    double size[3];                         /* crystal size along a, b, c in metres */
} nb_crystal;

void nb_crystal_vectors(const nb_crystal_input *in, nb_random_state *rng, nb_crystal *out);

/* The misset angles (x, y, z rotations, radians) of a random orientation. */
void nb_random_misset(int c_parity, long seed, nb_random_state *rng, double misset[3]);

/* ---- sources ----------------------------------------------------------- */

typedef struct {
    double lambda0;
    double beam[3], polar[3], vert[3];
    int hdivsteps, vdivsteps, dispsteps;
    double hdivrange, hdivstep, vdivrange, vdivstep, dispersion, dispstep;
    int round_div;
    double source_distance;
} nb_source_grid;

/* Number of sources the grid makes (directions inside the divergence ellipse times wavelengths). */
int nb_source_count(const nb_source_grid *grid, int *divergence_steps);

/* Fill direction (n x 3, unit vectors from the sample towards each source),
 * wavelength (n) and weight (n); n must come from nb_source_count. */
void nb_sources_from_grid(const nb_source_grid *grid, double *direction, double *wavelength,
                          double *weight);

/* Sources from a file's rows (n x 5: X Y Z weight wavelength, NaN = default):
 * missing values take the grid's defaults, positions become unit directions. */
void nb_sources_from_table(const nb_source_grid *grid, const double *table, int n,
                           double *direction, double *wavelength, double *weight);

/* ---- mosaic_rotations -------------------------------------------------- */

/* n row-major 3x3 rotations; the first is always the identity. */
void nb_mosaic_rotations(double spread, int n, long *seed, nb_random_state *rng, double *umats);

/* The same draws as nb_mosaic_rotations, as unit axes (n x 3) and angles (n, radians,
 * rounded to float as the original does; the first is 0). */
void nb_mosaic_axes(double spread, int n, long *seed, nb_random_state *rng, double *axes,
                    double *angles);

/* ---- render ------------------------------------------------------------ */

typedef int (*nb_progress_fn)(void *user, long rows_done, long rows_total);

typedef struct {
    int c_parity;
    /* detector */
    int fpixels, spixels;
    double pixel_size;
    int oversample;
    int oversample_thick, oversample_polar, oversample_omega;
    double fdet[3], sdet[3], odet[3], pix0[3];
    double beam[3], polar_vector[3], spindle[3];
    double distance, close_distance;
    int curved_detector, point_pixel;
    int nopolar;
    double polarization;
    int thicksteps;
    double thickstep, thick, mu;
    int roi_xmin, roi_xmax, roi_ymin, roi_ymax;
    const uint8_t *mask;      /* NULL or spixels*fpixels; 0 = skip pixel */
    /* sources */
    int nsources;
    const double *source_direction;
    const double *source_wavelength;
    const double *source_weight;
    /* crystal orientation */
    int phisteps;
    double phi0, phistep;
    int mosaic_domains;
    double mosaic_spread;
    const double *mosaic_umats;
    double a0[3], b0[3], c0[3];
    double a_star[3], b_star[3], c_star[3];
    double Na, Nb, Nc;
    int shape;
    double fudge;
    /* structure factors */
    const double *Fhkl;       /* dense (h_max-h_min+1, k..., l...) grid, or NULL */
    int h_min, h_max, k_min, k_max, l_min, l_max;
    long hkls;
    double default_F;
    int interpolate;
    double dmin;
    /* scale */
    double r_e_sqr, fluence;
    double I_bg;
    double water_size;
    int threads;              /* OpenMP threads; 0 = the OpenMP default */
    /* cancellation and progress: called between rows from one thread; a nonzero return cancels */
    nb_progress_fn progress;
    void *progress_user;
} nb_render_params;

typedef struct {
    double omega_sum;
    long steps;
    int interpolation_switched_off;   /* c_parity: the run turned interpolation off */
    long first_executed;  /* c_parity: the pixel that started from the unrotated crystal, or -1 */
    long switch_pixel;    /* c_parity: the last pixel rendered with interpolation on, or -1 */
} nb_render_info;

/* Render into image (spixels*fpixels doubles, zero-initialised by the caller); the
 * original stores each pixel as a float, which is a rounding the caller applies. */
nb_status nb_render(const nb_render_params *p, double *image, nb_render_info *info);

/* ---- trace_pixel ------------------------------------------------------ */

/* One term of a pixel's sum, in loop order (layer, sub-pixel slow, fast, source,
 * phi step, mosaic domain).  Quantities a term did not evaluate are NaN: Miller
 * indices and both F when its source fails the dmin cut, F_cell when the lattice
 * factor was zero. */
typedef struct {
    int layer, subS, subF, source, phi_step, domain;
    double position[3];          /* sub-pixel position in the lab frame (metres) */
    double diffracted[3];        /* unit vector from the sample to the sub-pixel */
    double scattering[3];        /* (diffracted - incident) / wavelength (1/metre) */
    double axes[9];              /* the crystal's a, b, c at this phi step and domain (metres) */
    double hkl[3], hkl0[3];      /* fractional and nearest whole Miller indices */
    double F_latt, F_cell;
    double omega, polar, capture; /* the factors as the pixel applies them at this term */
    double I;                    /* the pixel's running sum after this term */
} nb_trace_term;

typedef struct {
    nb_trace_term *terms;        /* room for capacity rows */
    long capacity;               /* at least nb_trace_terms(p), else NB_BAD_ARGUMENT */
    long count;
    double I;                    /* the final sum */
    double background;           /* corrected: sum of the factors (water background); else NaN */
    double omega, polar, capture; /* c_parity: the factors applied to the whole pixel; else NaN */
    double scale;                /* r_e^2 * fluence */
    long steps;
    double value;                /* the pixel as the render gives it */
} nb_trace;

/* The number of terms a trace of one pixel holds. */
long nb_trace_terms(const nb_render_params *p);

/* Every intermediate quantity of one pixel.  With c_parity, entry says whether the
 * pixel is the run's first to rotate the crystal and interpolate whether
 * interpolation is still on when the pixel starts (nb_render_info tells both). */
nb_status nb_trace_pixel(const nb_render_params *p, int fpixel, int spixel, int entry,
                         int interpolate, nb_trace *trace);

/* ---- add_noise --------------------------------------------------------- */

/* Poisson photon counts plus adc offset, clipped to 0..65535, for the pixels
 * inside the ROI (bounds included); others are left untouched in out. */
void nb_add_noise(const float *image, int fpixels, int spixels, int roi_xmin, int roi_xmax,
                  int roi_ymin, int roi_ymax, double adc_offset, long *seed,
                  nb_random_state *rng, uint16_t *out, double *photons, long *overloads);

#ifdef __cplusplus
}
#endif

#endif
