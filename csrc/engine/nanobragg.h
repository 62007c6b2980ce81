/* nanobragg C engine: the stages of a nanoBragg simulation as a library.
 *
 * Every function is a pure function of its inputs plus, where stated, the
 * legacy random state.  No globals, no printing, no file access, no exit():
 * errors come back as nb_status codes.
 *
 * Field lists.  Every struct that crosses into Python is declared from one
 * list, NB_<STRUCT>_FIELDS(X), whose lines read X(KIND, name) with the unit and
 * meaning beside them.  NB_DECLARE_FIELD turns a line into a member; the
 * bindings expand the same lists to convert each struct from and to Python by
 * field name, so a field is named in this header and nowhere else.  KIND:
 *   BOOL  int        a flag (0 or 1)
 *   INT   int
 *   LONG  long
 *   REAL  double     NaN = not given, where a field says so
 *   VEC3  double[3]  NaN in every entry = not given, where a field says so
 *   MAT3  double[9]  row-major 3x3; NaN = not given, where a field says so
 * Units are in the names: _m, _mm, _rad, _A (Angstrom), _A3, _per_A, _per_m,
 * _per_m2, _m2, _per_sr, _sr, _px; names without a suffix are unit vectors,
 * counts, flags or fractions. */
#ifndef NANOBRAGG_H
#define NANOBRAGG_H

#include <stddef.h>
#include <stdint.h>

#include "nb_random.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NB_FIELD_BOOL(name) int name;
#define NB_FIELD_INT(name) int name;
#define NB_FIELD_LONG(name) long name;
#define NB_FIELD_REAL(name) double name;
#define NB_FIELD_VEC3(name) double name[3];
#define NB_FIELD_MAT3(name) double name[9];
#define NB_DECLARE_FIELD(kind, name) NB_FIELD_##kind(name)

/* Enum codes are lists too, X(identifier, python_name, value), so that the
 * bindings can export the names beside the numbers. */
#define NB_DECLARE_CODE(identifier, python_name, value) identifier = value,

typedef enum {
    NB_OK = 0,
    NB_CANCELLED = 1,
    NB_OUT_OF_MEMORY = 2,
    NB_BAD_ARGUMENT = 3
} nb_status;

#define NB_CONVENTION_CODES(X)           \
    X(NB_CONVENTION_CUSTOM, custom, 0)   \
    X(NB_CONVENTION_ADXV, adxv, 1)       \
    X(NB_CONVENTION_MOSFLM, mosflm, 2)   \
    X(NB_CONVENTION_XDS, xds, 3)         \
    X(NB_CONVENTION_DIALS, dials, 4)     \
    X(NB_CONVENTION_DENZO, denzo, 5)
typedef enum { NB_CONVENTION_CODES(NB_DECLARE_CODE) } nb_convention;

#define NB_PIVOT_CODES(X)          \
    X(NB_PIVOT_AUTO, auto, -1)     \
    X(NB_PIVOT_SAMPLE, sample, 0)  \
    X(NB_PIVOT_BEAM, beam, 1)
typedef enum { NB_PIVOT_CODES(NB_DECLARE_CODE) } nb_pivot;

#define NB_SHAPE_CODES(X)            \
    X(NB_SHAPE_SQUARE, square, 0)    \
    X(NB_SHAPE_ROUND, round, 1)      \
    X(NB_SHAPE_GAUSS, gauss, 2)      \
    X(NB_SHAPE_TOPHAT, tophat, 3)
typedef enum { NB_SHAPE_CODES(NB_DECLARE_CODE) } nb_shape;

/* ---- detector_geometry ------------------------------------------------- */

#define NB_DETECTOR_SPEC_FIELDS(X)                                                   \
    X(BOOL, c_parity)          /* reproduce the original's quirks */                 \
    X(INT, convention)         /* nb_convention */                                   \
    X(INT, pivot)              /* nb_pivot; AUTO = the convention's own */           \
    X(REAL, pixel_size_m)      /* pixel edge */                                      \
    X(INT, fpixels)            /* pixels along fast; 0 = from detsize_f_m */         \
    X(INT, spixels)            /* pixels along slow; 0 = from detsize_s_m */         \
    X(REAL, detsize_f_m)       /* detector size along fast */                        \
    X(REAL, detsize_s_m)       /* detector size along slow */                        \
    X(REAL, distance_m)        /* sample to detector along the beam */               \
    X(REAL, close_distance_m)  /* sample to detector plane along odet; NaN = none */ \
    X(REAL, Xbeam_m)           /* beam centre, convention's frame; NaN = not given */\
    X(REAL, Ybeam_m)           /* (as Xbeam_m) */                                    \
    X(REAL, Xclose_m)          /* point nearest the sample; NaN = not given */       \
    X(REAL, Yclose_m)          /* (as Xclose_m) */                                   \
    X(REAL, ORGX_px)           /* XDS origin, pixels; NaN = not given */             \
    X(REAL, ORGY_px)           /* (as ORGX_px) */                                    \
    X(REAL, rotx_rad)          /* detector rotation about lab x, then */             \
    X(REAL, roty_rad)          /* ... about lab y, then */                           \
    X(REAL, rotz_rad)          /* ... about lab z */                                 \
    X(REAL, twotheta_rad)      /* swing about twotheta_axis, after rotx..rotz */     \
    X(VEC3, fdet)              /* fast axis (CUSTOM; named conventions fix it) */    \
    X(VEC3, sdet)              /* slow axis */                                       \
    X(VEC3, odet)              /* detector normal */                                 \
    X(VEC3, beam)              /* beam direction, sample to detector */              \
    X(VEC3, polar)             /* E vector of the beam */                            \
    X(VEC3, spindle)           /* phi rotation axis */                               \
    X(VEC3, twotheta_axis)     /* two-theta rotation axis */                         \
    X(VEC3, pix0_m)            /* first pixel's corner; NaN = not given (c_parity */ \
                               /* ignores it) */

typedef struct {
    NB_DETECTOR_SPEC_FIELDS(NB_DECLARE_FIELD)
} nb_detector_spec;

#define NB_DETECTOR_GEOMETRY_FIELDS(X)                                               \
    X(INT, fpixels)            /* pixels along fast */                               \
    X(INT, spixels)            /* pixels along slow */                               \
    X(REAL, pixel_size_m)      /* pixel edge */                                      \
    X(REAL, detsize_f_m)       /* detector size along fast */                        \
    X(REAL, detsize_s_m)       /* detector size along slow */                        \
    X(INT, pivot)              /* nb_pivot the detector was placed with */           \
    X(VEC3, fdet)              /* fast axis as the detector finally stands */        \
    X(VEC3, sdet)              /* slow axis */                                       \
    X(VEC3, odet)              /* detector normal */                                 \
    X(VEC3, pix0_m)            /* corner of the first pixel, from the sample */      \
    X(VEC3, beam)              /* beam direction */                                  \
    X(VEC3, polar)             /* E vector */                                        \
    X(VEC3, vert)              /* beam x polar: the B vector */                      \
    X(VEC3, spindle)           /* phi rotation axis */                               \
    X(REAL, distance_m)        /* sample to detector plane along the beam */         \
    X(REAL, close_distance_m)  /* sample to detector plane along odet */             \
    X(REAL, Xbeam_m)           /* beam centre in the convention's frame */           \
    X(REAL, Ybeam_m)           /* (as Xbeam_m) */                                    \
    X(REAL, Fbeam_m)           /* where the beam meets the detector, along fdet */   \
    X(REAL, Sbeam_m)           /* ... along sdet */                                  \
    X(REAL, Xclose_m)          /* point nearest the sample, convention frame */      \
    X(REAL, Yclose_m)          /* (as Xclose_m) */                                   \
    X(REAL, Fclose_m)          /* point nearest the sample, along fdet */            \
    X(REAL, Sclose_m)          /* ... along sdet */                                  \
    X(REAL, ORGX_px)           /* XDS origin, pixels */                              \
    X(REAL, ORGY_px)           /* (as ORGX_px) */                                    \
    X(VEC3, dials_origin_mm)   /* pix0 in the DIALS frame */

typedef struct {
    NB_DETECTOR_GEOMETRY_FIELDS(NB_DECLARE_FIELD)
} nb_detector_geometry;

void nb_detector_geometry_compute(const nb_detector_spec *in, nb_detector_geometry *out);

/* ---- crystal_vectors --------------------------------------------------- */

#define NB_CRYSTAL_SPEC_FIELDS(X)                                                    \
    X(BOOL, c_parity)          /* reproduce the original's quirks */                 \
    X(VEC3, cell_lengths_A)    /* a, b, c; NaN = no cell; b, c <= 0 (NaN) = a */     \
    X(VEC3, cell_angles_rad)   /* alpha, beta, gamma; <= 0 (or NaN) = 90 degrees */  \
    X(MAT3, matrix)            /* MOSFLM A matrix as read: row i = component i of */ \
                               /* a*, b*, c* times the wavelength; NaN = none */     \
    X(REAL, wavelength_m)      /* divides the matrix */                              \
    X(VEC3, misset_rad)        /* rotations about x, y, z; NaN = none */             \
    X(BOOL, misset_random)     /* draw a random misset instead */                    \
    X(LONG, misset_seed)       /* the original's internal (negated) seed */          \
    X(VEC3, sample_size_m)     /* crystal size along a, b, c; 0 = use N_cells */     \
    X(VEC3, N_cells)           /* cells along a, b, c */

typedef struct {
    NB_CRYSTAL_SPEC_FIELDS(NB_DECLARE_FIELD)
} nb_crystal_spec;

#define NB_CRYSTAL_VECTORS_FIELDS(X)                                                 \
    X(VEC3, a_m)               /* real axes at phi = 0, no mosaic rotation */        \
    X(VEC3, b_m)               /* (as a_m) */                                        \
    X(VEC3, c_m)               /* (as a_m) */                                        \
    X(VEC3, a_star_per_A)      /* reciprocal axes */                                 \
    X(VEC3, b_star_per_A)      /* (as a_star_per_A) */                               \
    X(VEC3, c_star_per_A)      /* (as a_star_per_A) */                               \
    X(VEC3, cell_lengths_A)    /* |a|, |b|, |c| */                                   \
    X(VEC3, cell_angles_rad)   /* alpha, beta, gamma */                              \
    X(VEC3, reciprocal_lengths_per_A) /* |a*|, |b*|, |c*| */                         \
    X(VEC3, reciprocal_angles_rad)    /* alpha*, beta*, gamma* */                    \
    X(REAL, volume_A3)         /* cell volume */                                     \
    X(VEC3, misset_rad)        /* the misset applied; 0 when none */                 \
    X(VEC3, N_cells)           /* cells along a, b, c (at least 1) */                \
    X(VEC3, size_m)            /* crystal size along a, b, c */

typedef struct {
    NB_CRYSTAL_VECTORS_FIELDS(NB_DECLARE_FIELD)
} nb_crystal_vectors;

/* (The struct takes the stage's name, so the function is the _compute.) */
void nb_crystal_vectors_compute(const nb_crystal_spec *in, nb_random_state *rng,
                                nb_crystal_vectors *out);

/* The misset angles (x, y, z rotations, radians) of a random orientation. */
void nb_random_misset(int c_parity, long seed, nb_random_state *rng, double misset[3]);

/* ---- sources ----------------------------------------------------------- */

#define NB_SOURCE_SPEC_FIELDS(X)                                                     \
    X(REAL, wavelength_m)      /* central wavelength lambda0 */                      \
    X(VEC3, beam)              /* beam direction, sample to detector */              \
    X(VEC3, polar)             /* E vector: vertical divergence turns about it */    \
    X(VEC3, vert)              /* B vector: horizontal divergence turns about it */  \
    X(INT, hdiv_steps)         /* horizontal divergence points */                    \
    X(INT, vdiv_steps)         /* vertical divergence points */                      \
    X(INT, dispersion_steps)   /* wavelengths per direction */                       \
    X(REAL, hdiv_range_rad)    /* full horizontal divergence */                      \
    X(REAL, hdiv_step_rad)     /* between horizontal points */                       \
    X(REAL, vdiv_range_rad)    /* full vertical divergence */                        \
    X(REAL, vdiv_step_rad)     /* between vertical points */                         \
    X(REAL, dispersion_range)  /* full spectral width, fraction of lambda0 */        \
    X(REAL, dispersion_step)   /* fraction of lambda0 */                             \
    X(BOOL, round_div)         /* keep only directions inside the ellipse */         \
    X(REAL, source_distance_m) /* sample to source */

typedef struct {
    NB_SOURCE_SPEC_FIELDS(NB_DECLARE_FIELD)
} nb_source_spec;

/* Number of sources the grid makes (directions inside the divergence ellipse times wavelengths). */
int nb_source_count(const nb_source_spec *spec, int *divergence_steps);

/* Fill direction (n x 3, unit vectors from the sample towards each source),
 * wavelength_m (n) and weight (n); n must come from nb_source_count. */
void nb_sources_from_grid(const nb_source_spec *spec, double *direction, double *wavelength_m,
                          double *weight);

/* Sources from a file's rows (n x 5: X Y Z weight wavelength, NaN = default):
 * missing values take the spec's defaults, positions become unit directions. */
void nb_sources_from_table(const nb_source_spec *spec, const double *table, int n,
                           double *direction, double *wavelength_m, double *weight);

/* ---- mosaic_rotations -------------------------------------------------- */

#define NB_MOSAIC_SPEC_FIELDS(X)                                                     \
    X(REAL, spread_rad)        /* largest rotation of a domain */                    \
    X(INT, domains)            /* number of domains, the unrotated first included */ \
    X(LONG, seed)              /* the original's internal (negated) seed */

typedef struct {
    NB_MOSAIC_SPEC_FIELDS(NB_DECLARE_FIELD)
} nb_mosaic_spec;

/* domains row-major 3x3 rotations; the first is always the identity. */
void nb_mosaic_rotations(const nb_mosaic_spec *spec, nb_random_state *rng, double *umats);

/* The same draws as nb_mosaic_rotations, as unit axes (domains x 3) and angles
 * (domains, radians, rounded to float as the original does; the first is 0). */
void nb_mosaic_axes(const nb_mosaic_spec *spec, nb_random_state *rng, double *axes,
                    double *angles_rad);

/* ---- render ------------------------------------------------------------ */

#define NB_RENDER_PARAMS_FIELDS(X)                                                   \
    X(BOOL, c_parity)          /* the original's loop, quirks included */            \
    X(INT, fpixels)            /* image width */                                     \
    X(INT, spixels)            /* image height */                                    \
    X(REAL, pixel_size_m)      /* pixel edge */                                      \
    X(INT, oversample)         /* sub-pixels per pixel edge */                       \
    X(BOOL, oversample_thick)  /* capture fraction per sub-pixel */                  \
    X(BOOL, oversample_polar)  /* polarization per sub-pixel */                      \
    X(BOOL, oversample_omega)  /* solid angle per sub-pixel */                       \
    X(VEC3, fdet)              /* fast axis */                                       \
    X(VEC3, sdet)              /* slow axis */                                       \
    X(VEC3, odet)              /* detector normal */                                 \
    X(VEC3, pix0_m)            /* corner of the first pixel */                       \
    X(VEC3, beam)              /* beam direction */                                  \
    X(VEC3, polar)             /* E vector */                                        \
    X(VEC3, spindle)           /* phi rotation axis */                               \
    X(REAL, distance_m)        /* sample to detector plane along the beam */         \
    X(REAL, close_distance_m)  /* sample to detector plane along odet */             \
    X(BOOL, curved_detector)   /* every pixel at the same distance */                \
    X(BOOL, point_pixel)       /* solid angle 1 / r^2 */                             \
    X(BOOL, nopolar)           /* polarization factor 1 */                           \
    X(REAL, polarization)      /* Kahn factor */                                     \
    X(INT, thickness_steps)    /* sensor layers */                                   \
    X(REAL, thickness_step_m)  /* layer depth */                                     \
    X(REAL, thickness_m)       /* sensor depth; 0 = capture fraction 1 */            \
    X(REAL, mu_per_m)          /* sensor attenuation */                              \
    X(INT, roi_xmin)           /* first fast pixel rendered (ROI bounds included) */ \
    X(INT, roi_xmax)           /* last fast pixel of the ROI */                      \
    X(INT, roi_ymin)           /* first slow pixel of the ROI */                     \
    X(INT, roi_ymax)           /* last slow pixel of the ROI */                      \
    X(INT, phi_steps)          /* crystal rotation steps */                          \
    X(REAL, phi0_rad)          /* first phi angle */                                 \
    X(REAL, phi_step_rad)      /* phi increment */                                   \
    X(REAL, mosaic_spread_rad) /* 0 = the mosaic rotations are not applied */        \
    X(VEC3, a_m)               /* real axes at phi = 0 */                            \
    X(VEC3, b_m)               /* (as a_m) */                                        \
    X(VEC3, c_m)               /* (as a_m) */                                        \
    X(VEC3, a_star_per_A)      /* reciprocal axes */                                 \
    X(VEC3, b_star_per_A)      /* (as a_star_per_A) */                               \
    X(VEC3, c_star_per_A)      /* (as a_star_per_A) */                               \
    X(VEC3, N_cells)           /* cells along a, b, c */                             \
    X(INT, shape)              /* nb_shape */                                        \
    X(REAL, fudge)             /* spot size factor of the non-square shapes */       \
    X(REAL, default_F)         /* F outside the grid */                              \
    X(BOOL, interpolate)       /* tricubic F (needs a grid) */                       \
    X(REAL, dmin_m)            /* resolution limit; 0 = none */                      \
    X(REAL, r_e_sqr_m2)        /* Thomson cross section */                           \
    X(REAL, fluence_per_m2)    /* incident photons */                                \
    X(REAL, water_background_per_sr) /* photons per steradian from water */          \
    X(REAL, water_size_m)      /* water thickness; nonzero keeps F_latt = 0 terms */

typedef struct {
    NB_RENDER_PARAMS_FIELDS(NB_DECLARE_FIELD)
} nb_render_params;

typedef struct {                       /* the arrays a render reads; borrowed, not owned */
    int nsources;
    const double *source_direction;    /* nsources x 3 unit vectors towards the sources */
    const double *source_wavelength_m; /* nsources */
    const double *source_weight;       /* nsources */
    int mosaic_domains;
    const double *mosaic_umats;        /* mosaic_domains x 9, row-major */
    const double *Fhkl;                /* dense (h_max-h_min+1, k..., l...) grid, or NULL */
    int h_min, h_max, k_min, k_max, l_min, l_max;
    long hkls;                         /* reflections read; 0 = default_F everywhere */
    const uint8_t *mask;               /* NULL or spixels x fpixels; 0 = skip the pixel */
} nb_render_arrays;

/* Called between blocks of rows from one thread; a nonzero return cancels. */
typedef int (*nb_progress_fn)(void *user, long rows_done, long rows_total);

typedef struct {                 /* how a render runs, not what it computes */
    int threads;                 /* 0 = the OpenMP default */
    nb_progress_fn progress;     /* may be NULL */
    void *progress_user;
} nb_render_control;

#define NB_RENDER_INFO_FIELDS(X)                                                     \
    X(REAL, omega_sum_sr)      /* sum of the solid angles evaluated */               \
    X(LONG, steps)             /* terms per pixel the sum is divided by */           \
    X(BOOL, interpolation_switched_off) /* c_parity: the run turned it off */        \
    X(LONG, first_executed)    /* c_parity: the pixel that started from the */       \
                               /* unrotated crystal, or -1 */                        \
    X(LONG, switch_pixel)      /* c_parity: the last pixel rendered with */          \
                               /* interpolation on, or -1 */

typedef struct {
    NB_RENDER_INFO_FIELDS(NB_DECLARE_FIELD)
} nb_render_info;

/* Render into image (spixels*fpixels doubles, zero-initialised by the caller); the
 * original stores each pixel as a float, which is a rounding the caller applies.
 * control may be NULL (default threads, no progress). */
nb_status nb_render(const nb_render_params *p, const nb_render_arrays *a,
                    const nb_render_control *control, double *image, nb_render_info *info);

/* ---- trace_pixel ------------------------------------------------------ */

/* One term of a pixel's sum, in loop order (layer, sub-pixel slow, fast, source,
 * phi step, mosaic domain).  Quantities a term did not evaluate are NaN: Miller
 * indices and both F when its source fails the dmin cut, F_cell when the lattice
 * factor was zero. */
#define NB_TRACE_TERM_FIELDS(X)                                                      \
    X(INT, layer)              /* sensor layer */                                    \
    X(INT, subS)               /* sub-pixel, slow */                                 \
    X(INT, subF)               /* sub-pixel, fast */                                 \
    X(INT, source)             /* source index */                                    \
    X(INT, phi_step)           /* phi step index */                                  \
    X(INT, domain)             /* mosaic domain */                                   \
    X(VEC3, position)          /* sub-pixel in the lab frame, m */                   \
    X(VEC3, diffracted)        /* unit vector from the sample to the sub-pixel */    \
    X(VEC3, scattering)        /* (diffracted - incident) / wavelength, 1/m */       \
    X(MAT3, axes)              /* the crystal's a, b, c (rows, m) at this term */    \
    X(VEC3, hkl)               /* fractional Miller indices */                       \
    X(VEC3, hkl0)              /* nearest whole Miller indices */                    \
    X(REAL, F_latt)            /* lattice factor */                                  \
    X(REAL, F_cell)            /* structure factor */                                \
    X(REAL, omega)             /* solid angle (sr) as applied at this term */        \
    X(REAL, polar)             /* polarization factor as applied */                  \
    X(REAL, capture)           /* capture fraction as applied */                     \
    X(REAL, I)                 /* the pixel's running sum after this term */

typedef struct {
    NB_TRACE_TERM_FIELDS(NB_DECLARE_FIELD)
} nb_trace_term;

/* The factors are those the legacy pixel applies once to its whole sum; NaN when
 * corrected, or when an -oversample_* flag applies that factor per term instead. */
#define NB_TRACE_FINAL_FIELDS(X)                                                     \
    X(REAL, I)                 /* the final sum */                                   \
    X(REAL, background)        /* corrected: sum of the factors; else NaN */         \
    X(REAL, omega)             /* solid angle (sr) of the whole pixel */             \
    X(REAL, polar)             /* polarization factor of the whole pixel */          \
    X(REAL, capture)           /* capture fraction of the whole pixel */             \
    X(REAL, scale)             /* r_e^2 * fluence (unitless) */                      \
    X(LONG, steps)             /* terms the sum is divided by */                     \
    X(REAL, value)             /* the pixel as the render gives it */

typedef struct {
    nb_trace_term *terms;      /* room for capacity rows */
    long capacity;             /* at least nb_trace_terms(), else NB_BAD_ARGUMENT */
    long count;
    NB_TRACE_FINAL_FIELDS(NB_DECLARE_FIELD)
} nb_trace;

/* The number of terms a trace of one pixel holds. */
long nb_trace_terms(const nb_render_params *p, const nb_render_arrays *a);

/* Every intermediate quantity of one pixel.  With c_parity, entry says whether the
 * pixel is the run's first to rotate the crystal and interpolate whether
 * interpolation is still on when the pixel starts (nb_render_info tells both). */
nb_status nb_trace_pixel(const nb_render_params *p, const nb_render_arrays *a, int fpixel,
                         int spixel, int entry, int interpolate, nb_trace *trace);

/* ---- add_noise --------------------------------------------------------- */

#define NB_NOISE_SPEC_FIELDS(X)                                                      \
    X(BOOL, c_parity)          /* both modes draw from the legacy generator here */  \
    X(INT, roi_xmin)           /* first fast pixel with noise (bounds included) */   \
    X(INT, roi_xmax)           /* last fast pixel of the ROI */                      \
    X(INT, roi_ymin)           /* first slow pixel of the ROI */                     \
    X(INT, roi_ymax)           /* last slow pixel of the ROI */                      \
    X(REAL, adc_offset)        /* added to every photon count */                     \
    X(LONG, seed)              /* the original's internal (negated) seed */

typedef struct {
    NB_NOISE_SPEC_FIELDS(NB_DECLARE_FIELD)
} nb_noise_spec;

/* Poisson photon counts plus adc offset, clipped to 0..65535, for the pixels
 * inside the ROI; others are left untouched in out.  photons is the sum of the
 * counts drawn, overloads the number clipped at 65535. */
void nb_add_noise(const nb_noise_spec *spec, const float *image, int fpixels, int spixels,
                  nb_random_state *rng, uint16_t *out, double *photons, long *overloads);

/* ---- detector_response ------------------------------------------------- */

#define NB_PSF_CODES(X)          \
    X(NB_PSF_NONE, none, 0)      \
    X(NB_PSF_GAUSS, gauss, 1)    \
    X(NB_PSF_FIBER, fiber, 2)
typedef enum { NB_PSF_CODES(NB_DECLARE_CODE) } nb_psf;

#define NB_RESPONSE_SPEC_FIELDS(X)                                                   \
    X(BOOL, c_parity)          /* the original's arithmetic, order and streams */    \
    X(BOOL, noise)             /* shot, flicker, calibration and read-out noise */   \
    X(REAL, photons_per_value) /* input value -> photons (fluence r_e^2 scale) */    \
    X(REAL, flicker)           /* fractional beam flicker, per pixel; 0 = none */    \
    X(REAL, calibration)       /* fractional calibration error per pixel */          \
    X(REAL, readout_adu)       /* Gaussian read-out noise, ADU rms */                \
    X(REAL, gain_adu_per_photon)                                                     \
    X(REAL, adc_offset_adu)    /* added to every pixel */                            \
    X(INT, psf)                /* nb_psf */                                          \
    X(REAL, psf_fwhm_px)       /* PSF full width at half maximum, pixels */          \
    X(INT, psf_radius_px)      /* kernel radius in pixels; 0 = automatic */          \
    X(INT, bits)               /* 16 or 32: the integer images' pixel size */        \
    X(LONG, seed)              /* the original's internal (negated) noise seed */    \
    X(LONG, calibration_seed)  /* the calibration error's seed, as the original */ \
    X(BOOL, expected_adu)      /* the noiseless values in ADU are wanted too */

typedef struct {
    NB_RESPONSE_SPEC_FIELDS(NB_DECLARE_FIELD)
} nb_response_spec;

#define NB_RESPONSE_INFO_FIELDS(X)                                                   \
    X(REAL, max_value)         /* the largest input value */                         \
    X(REAL, photons_before_psf) /* photons counted before the PSF (noise image) */   \
    X(REAL, photons)           /* photons on the noise image */                      \
    X(LONG, overloads)         /* noise pixels clipped at the largest value */       \
    X(BOOL, psf_applied)       /* the PSF blurred an image */                        \
    X(REAL, psf_max_photons)   /* the brightest pixel the PSF saw */                 \
    X(INT, psf_radius_px)      /* the radius given or chosen, before the image clips it */ \
    X(REAL, lost_photons)      /* photons beyond the kernel, spread evenly again */

typedef struct {
    NB_RESPONSE_INFO_FIELDS(NB_DECLARE_FIELD)
} nb_response_info;

/* The integer images a detector records of a float image (photons per pixel after
 * photons_per_value): the noiseless one in expected and, with spec->noise, the noisy one
 * in noisy (each fpixels x spixels pixels of uint16_t when spec->bits is 16, of uint32_t
 * when 32); expected_adu (when not NULL) the noiseless values before they become
 * pixels.  work holds 2 * fpixels * spixels floats (only the first half is touched
 * without a PSF).  threads: the OpenMP threads (0: the OpenMP default); the images do not
 * depend on it. */
nb_status nb_detector_response(const nb_response_spec *spec, const float *image, int fpixels,
                               int spixels, int threads, nb_random_state *rng, float *work,
                               void *expected, double *expected_adu, void *noisy,
                               nb_response_info *info);

/* The random parts of the response in the legacy generator's order, for an engine that
 * does the rest itself: photons replaced by their Poisson counts after flicker and
 * calibration error (the sum returned), and the read-out noise's unit deviates, one per
 * pixel.  *seed goes on from one call to the next, as the stream does. */
double nb_response_shot_noise(const nb_response_spec *spec, nb_random_state *rng, long *seed,
                              float *photons, long pixels);
void nb_response_readout_deviates(nb_random_state *rng, long *seed, long pixels,
                                  float *deviates);
/* ---- point_scatterers -------------------------------------------------- */

#define NB_SCATTERER_PARAMS_FIELDS(X)                                                \
    X(BOOL, c_parity)          /* reproduce nearBragg's quirks */                    \
    X(INT, fpixels)            /* pixels along fast */                               \
    X(INT, spixels)            /* pixels along slow */                               \
    X(REAL, pixel_size_m)      /* pixel edge */                                      \
    X(REAL, distance_m)        /* sample to detector; the curved detector's radius */\
    X(VEC3, fdet)              /* fast axis */                                       \
    X(VEC3, sdet)              /* slow axis */                                       \
    X(VEC3, odet)              /* detector normal */                                 \
    X(VEC3, pix0_m)            /* corner of the first pixel */                       \
    X(BOOL, curved_detector)   /* every pixel at distance_m from the sample */       \
    X(BOOL, point_pixel)       /* no solid angle: 1/R^2 only */                      \
    X(INT, oversample)         /* sub-pixels per pixel edge */                       \
    X(INT, roi_xmin)           /* first fast pixel rendered (bounds included) */     \
    X(INT, roi_xmax)           /* last fast pixel rendered */                        \
    X(INT, roi_ymin)           /* first slow pixel rendered */                       \
    X(INT, roi_ymax)           /* last slow pixel rendered */                        \
    X(BOOL, coherent)          /* every term adds to one amplitude */                \
    X(BOOL, far_source)        /* plane waves instead of waves from source points */ \
    X(REAL, fluence_per_m2)    /* incident photons per square metre */

typedef struct {
    NB_SCATTERER_PARAMS_FIELDS(NB_DECLARE_FIELD)
} nb_scatterer_params;

typedef struct {                       /* borrowed arrays, not owned */
    int atoms;
    const double *atom_position_m;     /* atoms x 3 */
    const double *occupancy;           /* atoms */
    const double *B_A2;                /* atoms: Debye-Waller B, square Angstrom */
    const double *phase_rad;           /* atoms: phase added to each wave */
    int nsources;
    const double *source_position_m;   /* nsources x 3 (near sources) */
    const double *source_direction;    /* nsources x 3 unit propagation (far sources) */
    const double *source_wavelength_m; /* nsources */
    const int *source_group;           /* nsources: sources of one group add coherently */
    const double *image_in;            /* spixels x fpixels photons to add to, or NULL */
    const double *real_in;             /* spixels x fpixels mean Re(F) to add to, or NULL */
    const double *imag_in;             /* spixels x fpixels mean Im(F) to add to, or NULL */
} nb_scatterer_arrays;

/* The photons per pixel (image, added to image_in), the mean complex amplitude per
 * term (real, imag; coherent only, added to real_in/imag_in) and the sum of the
 * sub-pixel solid-angle factors evaluated (omega) of every pixel inside the ROI;
 * pixels outside it are left untouched.  Arrays are spixels x fpixels. */
nb_status nb_point_scatterers(const nb_scatterer_params *p, const nb_scatterer_arrays *a,
                              const nb_render_control *control, double *image, double *real,
                              double *imag, double *omega);

/* ---- amorphous (nonBragg) ---------------------------------------------- */

/* Scattering from an amorphous sample (water, air, a solvent): every pixel's sum
 * over sub-pixels and sources of F(sin(theta)/lambda)^2 x polarization x solid
 * angle x source weight, F interpolated from a table by four-point Lagrange
 * polynomials, times r_e^2 fluence molecules / steps. */
#define NB_AMORPHOUS_SPEC_FIELDS(X)                                                  \
    X(BOOL, c_parity)          /* reproduce the original's quirks */                 \
    X(INT, fpixels)            /* pixels along fast */                               \
    X(INT, spixels)            /* pixels along slow */                               \
    X(REAL, pixel_size_m)      /* pixel edge */                                      \
    X(INT, oversample)         /* sub-pixels per pixel edge, >= 1 */                 \
    X(VEC3, fdet)              /* fast axis as the detector stands */                \
    X(VEC3, sdet)              /* slow axis */                                       \
    X(VEC3, pix0_m)            /* corner of the first pixel, from the sample */      \
    X(VEC3, beam)              /* beam direction (the curved detector's centre) */   \
    X(VEC3, polar)             /* E vector of the beam */                            \
    X(REAL, distance_m)        /* sample to detector along the beam */               \
    X(REAL, close_distance_m)  /* sample to detector plane along its normal */       \
    X(REAL, Fbeam_m)           /* where the beam meets the detector, along fdet */   \
    X(REAL, Sbeam_m)           /* ... along sdet */                                  \
    X(BOOL, curved_detector)   /* every pixel distance_m from the sample */          \
    X(BOOL, point_pixel)       /* solid angle 1/R^2, no obliquity */                 \
    X(BOOL, nopolar)           /* polarization factor 1 */                           \
    X(REAL, polarization)      /* Kahn polarization factor */                        \
    X(INT, roi_xmin)           /* first fast pixel rendered (bounds included) */     \
    X(INT, roi_xmax)           /* last fast pixel rendered */                        \
    X(INT, roi_ymin)           /* first slow pixel rendered */                       \
    X(INT, roi_ymax)           /* last slow pixel rendered */                        \
    X(REAL, r_e_sqr_m2)        /* Thomson cross section */                           \
    X(REAL, fluence_per_m2)    /* photons per square metre */                        \
    X(REAL, molecules)         /* molecules in the illuminated sample */             \
    X(BOOL, Fmap)              /* store the last F evaluated instead of photons */

typedef struct {
    NB_AMORPHOUS_SPEC_FIELDS(NB_DECLARE_FIELD)
} nb_amorphous_spec;

typedef struct {                       /* borrowed, not owned */
    int nsources;
    const double *source_direction;    /* nsources x 3 unit vectors towards the sources */
    const double *source_wavelength_m; /* nsources */
    const double *source_weight;       /* nsources: the weight each term is multiplied by */
    int stols;
    const double *stol_per_m;          /* stols: sin(theta)/lambda of each table row */
    const double *F;                   /* stols: F at each row */
} nb_amorphous_arrays;

#define NB_AMORPHOUS_INFO_FIELDS(X)                                                  \
    X(REAL, omega_sum_sr)      /* sum of the solid angles of every sub-pixel */      \
    X(LONG, steps)             /* terms per pixel the sum is divided by */

typedef struct {
    NB_AMORPHOUS_INFO_FIELDS(NB_DECLARE_FIELD)
} nb_amorphous_info;

/* Render into image (spixels*fpixels doubles, zero-initialised by the caller);
 * control may be NULL.  Pixels outside the ROI stay 0. */
nb_status nb_amorphous(const nb_amorphous_spec *spec, const nb_amorphous_arrays *a,
                       const nb_render_control *control, double *image, nb_amorphous_info *info);


/* ---- image statistics and integer image -------------------------------------------------- */

typedef struct {
    long count;        /* rendered pixels */
    double total;      /* their sum in pixel order, float64 */
    double squares;    /* the sum of their float32 squares, float64 */
    double mean;       /* total / max(count, 1) */
    long roi_count;    /* pixels inside the ROI */
    double deviations; /* sum of (pixel - mean)^2 over the ROI, in pixel order */
    long max_index;    /* first rendered pixel with the largest value > 0, or -1 */
    double max_value;  /* its value, or 0 */
} nb_image_sums_out;

/* One sequential pass over the n pixels for the sums, one for the deviations;
 * rendered and roi are 0/1 flags per pixel. */
void nb_image_sums(const float *image, const unsigned char *rendered,
                   const unsigned char *roi, long n, nb_image_sums_out *out);

/* The noiseless SMV image: floor(float(clip(pixel * scale + adc_offset, 0, 65535)
 * + 0.5)) inside the ROI (roi: 0/1 flags), 0 outside and for NaN. */
void nb_int_image(const float *image, const unsigned char *roi, long n, double scale,
                  double adc_offset, uint16_t *out);

#ifdef __cplusplus
}
#endif

#endif
