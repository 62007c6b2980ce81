/* One sub-pixel: where it lies, and the factors that scale what it collects
 * (solid angle, capture fraction in the sensor, polarization), and the
 * resolution cut of a scattering vector.  Inline functions: they run once per
 * sub-pixel or source, and a call into another file would cost more than some of
 * them (1024^2 pixels of one term each spend most of their time here). */
#ifndef NB_SUBPIXEL_H
#define NB_SUBPIXEL_H

#include <math.h>

#include "nb_polarization.h"
#include "nb_render_internal.h"
#include "nb_vector.h"

/* Kahn polarization factor.  incident, diffracted and axis are re-normalised in
 * place, as the original does (diffracted is reused by later sources). */
static inline double polarization_factor(double kahn, double incident[3], double diffracted[3],
                                         double axis[3])
{
    nb_unitize(incident, incident);
    nb_unitize(diffracted, diffracted);
    nb_unitize(axis, axis);
    return kahn_polarization(kahn, incident, diffracted, axis);
}

/* Position of a sub-pixel in the lab frame (metres); Odet is its layer's depth. */
static inline void subpixel_position(const nb_scene *c, int fpixel, int spixel, int subF,
                                     int subS, double Odet, double pos[3])
{
    const nb_render_params *p = c->p;
    /* the sub-pixel index in double: exact, and no int overflow on huge detectors */
    double Fdet = c->subpixel_size_m * ((double)fpixel * p->oversample + subF) +
                  c->subpixel_size_m / 2.0;
    double Sdet = c->subpixel_size_m * ((double)spixel * p->oversample + subS) +
                  c->subpixel_size_m / 2.0;
    int i;
    for (i = 0; i < 3; ++i)
        pos[i] = Fdet * p->fdet[i] + Sdet * p->sdet[i] + Odet * p->odet[i] + p->pix0_m[i];
    if (p->curved_detector && p->c_parity) {
        /* every pixel at the same distance; quirk curved_detector_lab_axes: the lab y and z
         * coordinates of the flat pixel act as the angles about sdet and fdet */
        double start[3], turned[3];
        nb_scale(p->beam, p->distance_m, start);
        nb_rotate_axis(start, turned, p->sdet, pos[1] / p->distance_m);
        nb_rotate_axis(turned, pos, p->fdet, pos[2] / p->distance_m);
    } else if (p->curved_detector) {
        /* the pixel's fast and slow offsets from the beam centre, over the distance,
         * are the angles that carry the beam point onto it (sensor layers deeper out) */
        double start[3], turned[3];
        nb_scale(p->beam, p->distance_m + Odet, start);
        nb_rotate_axis(start, turned, p->sdet, (Fdet - c->Fbeam_m) / p->distance_m);
        nb_rotate_axis(turned, pos, p->fdet, -(Sdet - c->Sbeam_m) / p->distance_m);
    }
}

/* Solid angle (sr) of a pixel seen at airpath metres. */
static inline double solid_angle(const nb_render_params *p, double airpath)
{
    if (p->point_pixel) return 1.0 / airpath / airpath;
    return p->pixel_size_m * p->pixel_size_m / airpath / airpath * p->close_distance_m / airpath;
}

/* Fraction of the photons along diffracted that the sensor layer absorbs. */
static inline double capture_fraction(const nb_render_params *p, int layer,
                                      const double diffracted[3])
{
    double parallax = nb_dot(diffracted, p->odet);
    return exp(-layer * p->thickness_step_m * p->mu_per_m / parallax) -
           exp(-(layer + 1) * p->thickness_step_m * p->mu_per_m / parallax);
}

/* Whether a scattering vector reaches past the resolution limit: its source then adds
 * nothing.  The square root is only taken when there is a limit (it is most of the
 * per-source cost otherwise). */
static inline int beyond_dmin(const nb_render_params *p, const double scattering[3])
{
    double stol;
    if (p->dmin_m <= 0.0) return 0;
    stol = 0.5 * nb_norm(scattering);
    return stol > 0.0 && p->dmin_m > 0.5 / stol;
}

#endif
