/* detector_geometry: detector size, beam centre conventions, pivots, rotations,
 * and the derived centres every convention reports. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "nanobragg.h"
#include "nb_vector.h"

static void set3(double v[3], double x, double y, double z)
{
    v[0] = x;
    v[1] = y;
    v[2] = z;
}

/* The fixed axes of each named convention (CUSTOM keeps the given ones). */
static void convention_axes(int convention, nb_detector_geometry *g, double twotheta_axis[3])
{
    switch (convention) {
    case NB_CONVENTION_ADXV:
        set3(g->beam, 0, 0, 1);
        set3(g->fdet, 1, 0, 0);
        set3(g->sdet, 0, -1, 0);
        set3(g->odet, 0, 0, 1);
        set3(twotheta_axis, -1, 0, 0);
        set3(g->polar, 1, 0, 0);
        set3(g->spindle, 1, 0, 0);
        break;
    case NB_CONVENTION_MOSFLM:
    case NB_CONVENTION_DENZO:
        set3(g->beam, 1, 0, 0);
        set3(g->odet, 1, 0, 0);
        set3(g->fdet, 0, 0, 1);
        set3(g->sdet, 0, -1, 0);
        set3(twotheta_axis, 0, 0, -1);
        set3(g->polar, 0, 0, 1);
        set3(g->spindle, 0, 0, 1);
        break;
    case NB_CONVENTION_XDS:
        set3(g->beam, 0, 0, 1);
        set3(g->fdet, 1, 0, 0);
        set3(g->sdet, 0, 1, 0);
        set3(g->odet, 0, 0, 1);
        set3(twotheta_axis, 1, 0, 0);
        set3(g->polar, 1, 0, 0);
        set3(g->spindle, 1, 0, 0);
        break;
    case NB_CONVENTION_DIALS:
        set3(g->beam, 0, 0, 1);
        set3(g->fdet, 1, 0, 0);
        set3(g->sdet, 0, 1, 0);
        set3(g->odet, 0, 0, 1);
        set3(twotheta_axis, 0, 1, 0);
        set3(g->polar, 0, 1, 0);
        set3(g->spindle, 0, 1, 0);
        break;
    default:
        break;
    }
}

static int convention_pivot(int convention)
{
    if (convention == NB_CONVENTION_XDS || convention == NB_CONVENTION_DIALS) return NB_PIVOT_SAMPLE;
    return NB_PIVOT_BEAM;
}

/* Where the beam and the close point sit on the detector before it is placed:
 * Fclose/Sclose/Xclose/Yclose from the detector's centre or the XDS origin, and
 * the convention's Xbeam/Ybeam turned into Fbeam/Sbeam.  Until derived_centres
 * these fields of g hold the requested centres. */
static void beam_centre(const nb_detector_spec *in, nb_detector_geometry *g)
{
    double pixel = g->pixel_size_m;
    double Fclose = NAN, Sclose = NAN, Fbeam, Sbeam;
    double Xbeam = in->Xbeam_m, Ybeam = in->Ybeam_m, Xclose = in->Xclose_m, Yclose = in->Yclose_m;

    if (!isnan(in->ORGX_px)) Fclose = (in->ORGX_px - 0.5) * pixel;
    if (!isnan(in->ORGY_px)) Sclose = (in->ORGY_px - 0.5) * pixel;
    if (isnan(Fclose)) Fclose = (g->detsize_f_m - 0 * pixel) / 2.0;
    if (isnan(Sclose)) Sclose = (g->detsize_s_m + 0 * pixel) / 2.0;
    if (isnan(Xclose)) Xclose = Fclose;
    if (isnan(Yclose)) Yclose = Sclose;

    switch (in->convention) {
    case NB_CONVENTION_ADXV:
        if (isnan(Xbeam)) Xbeam = (g->detsize_f_m + pixel) / 2.0;
        if (isnan(Ybeam)) Ybeam = (g->detsize_s_m - pixel) / 2.0;
        Fbeam = Xbeam;
        Sbeam = g->detsize_s_m - Ybeam;
        break;
    case NB_CONVENTION_MOSFLM:
        if (isnan(Xbeam)) Xbeam = (g->detsize_s_m + pixel) / 2.0;
        if (isnan(Ybeam)) Ybeam = (g->detsize_f_m + pixel) / 2.0;
        Fbeam = Ybeam + 0.5 * pixel;
        Sbeam = Xbeam + 0.5 * pixel;
        break;
    case NB_CONVENTION_DENZO:
        if (isnan(Xbeam)) Xbeam = (g->detsize_s_m + pixel) / 2.0;
        if (isnan(Ybeam)) Ybeam = (g->detsize_f_m + pixel) / 2.0;
        Fbeam = Ybeam + 0.0 * pixel;
        Sbeam = Xbeam + 0.0 * pixel;
        break;
    case NB_CONVENTION_XDS:
    case NB_CONVENTION_DIALS:
        if (isnan(Xbeam)) Xbeam = Xclose;
        if (isnan(Ybeam)) Ybeam = Yclose;
        Fbeam = Xbeam;
        Sbeam = Ybeam;
        break;
    default: /* CUSTOM */
        if (isnan(Xbeam)) Xbeam = Xclose;
        if (isnan(Ybeam)) Ybeam = Yclose;
        Fbeam = Xbeam;
        Sbeam = Ybeam;
        Fclose = Xbeam;
        Sclose = Ybeam;
        break;
    }
    g->Xbeam_m = Xbeam;
    g->Ybeam_m = Ybeam;
    g->Xclose_m = Xclose;
    g->Yclose_m = Yclose;
    g->Fbeam_m = Fbeam;
    g->Sbeam_m = Sbeam;
    g->Fclose_m = Fclose;
    g->Sclose_m = Sclose;
}

/* The detector and beam axes before the detector rotations: the convention's
 * (or the given) axes as unit vectors, the pivot, and vert = beam x polar. */
static void orientation_and_pivot(const nb_detector_spec *in, nb_detector_geometry *g,
                                  double twotheta_axis[3])
{
    memcpy(g->fdet, in->fdet, sizeof g->fdet);
    memcpy(g->sdet, in->sdet, sizeof g->sdet);
    memcpy(g->odet, in->odet, sizeof g->odet);
    memcpy(g->beam, in->beam, sizeof g->beam);
    memcpy(g->polar, in->polar, sizeof g->polar);
    memcpy(g->spindle, in->spindle, sizeof g->spindle);
    memcpy(twotheta_axis, in->twotheta_axis, 3 * sizeof(double));
    convention_axes(in->convention, g, twotheta_axis);

    /* quirk pivot_forced_by_convention: the original ignores the requested pivot for
     * every named convention. */
    if (in->convention != NB_CONVENTION_CUSTOM && (in->c_parity || in->pivot == NB_PIVOT_AUTO))
        g->pivot = convention_pivot(in->convention);
    else
        g->pivot = in->pivot == NB_PIVOT_AUTO ? NB_PIVOT_BEAM : in->pivot;

    nb_unitize(g->beam, g->beam);
    nb_unitize(g->fdet, g->fdet);
    nb_unitize(g->sdet, g->sdet);
    /* quirk odet_replaced_when_not_unit: the original replaces a given odet whose
     * length is not exactly 1 by fdet x sdet; corrected, only a zero odet is. */
    if (in->c_parity ? nb_unitize(g->odet, g->odet) != 1.0 : nb_unitize(g->odet, g->odet) == 0.0) {
        nb_cross(g->fdet, g->sdet, g->odet);
        nb_unitize(g->odet, g->odet);
    }
    if (!in->c_parity) {
        /* quirk polar_vector_not_orthogonalised: the E vector must lie across the beam */
        double along = nb_dot(g->polar, g->beam);
        int i;
        for (i = 0; i < 3; ++i) g->polar[i] -= along * g->beam[i];
    }
    nb_unitize(g->polar, g->polar);
    nb_unitize(g->spindle, g->spindle);
    nb_cross(g->beam, g->polar, g->vert);
    nb_unitize(g->vert, g->vert);
}

/* Place the detector: the close distance from the distance (or the other way
 * round), pix0 for the pivot, and the rotations rotx, roty, rotz, then two-theta
 * applied to the axes (and, pivoting about the sample, to pix0).  Returns the
 * ratio of the close distance to the distance, as measured before two-theta. */
static double detector_origin(const nb_detector_spec *in, nb_detector_geometry *g,
                              const double twotheta_axis[3])
{
    double rotated_odet[3], ratio, distance = in->distance_m, close_distance = in->close_distance_m;
    int i;

    nb_rotate_xyz(g->odet, rotated_odet, in->rotx_rad, in->roty_rad, in->rotz_rad);
    ratio = nb_dot(g->beam, rotated_odet);
    if (ratio == 0.0) ratio = DBL_MIN;
    if (isnan(close_distance)) close_distance = fabs(ratio * distance);
    distance = close_distance / ratio;

    /* quirk pix0_vector_ignored: the original recomputes pix0 about the pivot even when
     * one was given; corrected, a given pix0 is the origin */
    if (!in->c_parity && !isnan(in->pix0_m[0])) {
        memcpy(g->pix0_m, in->pix0_m, sizeof g->pix0_m);
    } else if (g->pivot == NB_PIVOT_SAMPLE) {
        for (i = 0; i < 3; ++i)
            g->pix0_m[i] = -g->Fclose_m * g->fdet[i] - g->Sclose_m * g->sdet[i] +
                           close_distance * g->odet[i];
        nb_rotate_xyz(g->pix0_m, g->pix0_m, in->rotx_rad, in->roty_rad, in->rotz_rad);
        nb_rotate_axis(g->pix0_m, g->pix0_m, twotheta_axis, in->twotheta_rad);
    }
    nb_rotate_xyz(g->fdet, g->fdet, in->rotx_rad, in->roty_rad, in->rotz_rad);
    nb_rotate_xyz(g->sdet, g->sdet, in->rotx_rad, in->roty_rad, in->rotz_rad);
    nb_rotate_xyz(g->odet, g->odet, in->rotx_rad, in->roty_rad, in->rotz_rad);
    nb_rotate_axis(g->fdet, g->fdet, twotheta_axis, in->twotheta_rad);
    nb_rotate_axis(g->sdet, g->sdet, twotheta_axis, in->twotheta_rad);
    nb_rotate_axis(g->odet, g->odet, twotheta_axis, in->twotheta_rad);
    if ((in->c_parity || isnan(in->pix0_m[0])) && g->pivot == NB_PIVOT_BEAM) {
        for (i = 0; i < 3; ++i)
            g->pix0_m[i] = -g->Fbeam_m * g->fdet[i] - g->Sbeam_m * g->sdet[i] +
                           distance * g->beam[i];
    }
    g->distance_m = distance;
    g->close_distance_m = close_distance;
    return ratio;
}

/* The centres and distances as the placed detector reports them, from pix0 and
 * the final axes. */
static void derived_centres(const nb_detector_spec *in, nb_detector_geometry *g, double ratio)
{
    const double lab_z[3] = {0, 0, 1}, lab_y[3] = {0, 1, 0}, minus_x[3] = {-1, 0, 0};
    double impact[3], close_distance;
    int i;

    g->Fclose_m = -nb_dot(g->pix0_m, g->fdet);
    g->Sclose_m = -nb_dot(g->pix0_m, g->sdet);
    close_distance = nb_dot(g->pix0_m, g->odet);
    if (!in->c_parity) {
        /* quirk distance_ratio_before_twotheta: the beam meets the detector plane as it
         * finally stands, two-theta included */
        ratio = nb_dot(g->beam, g->odet);
        if (ratio == 0.0) ratio = DBL_MIN;
    }
    for (i = 0; i < 3; ++i) impact[i] = close_distance / ratio * g->beam[i] - g->pix0_m[i];
    g->Fbeam_m = nb_dot(g->fdet, impact);
    g->Sbeam_m = nb_dot(g->sdet, impact);
    g->distance_m = close_distance / ratio;
    g->close_distance_m = close_distance;

    g->ORGX_px = g->Fclose_m / g->pixel_size_m + 0.5;
    g->ORGY_px = g->Sclose_m / g->pixel_size_m + 0.5;
    g->dials_origin_mm[0] = 1000.0 * nb_dot(g->pix0_m, lab_z);
    g->dials_origin_mm[1] = 1000.0 * nb_dot(g->pix0_m, lab_y);
    g->dials_origin_mm[2] = 1000.0 * nb_dot(g->pix0_m, minus_x);
}

void nb_detector_geometry_compute(const nb_detector_spec *in, nb_detector_geometry *g)
{
    double pixel = in->pixel_size_m, twotheta_axis[3], ratio;

    memset(g, 0, sizeof(*g));
    g->pixel_size_m = pixel;
    g->detsize_f_m = in->detsize_f_m;
    g->detsize_s_m = in->detsize_s_m;
    if (in->fpixels) g->detsize_f_m = pixel * in->fpixels;
    if (in->spixels) g->detsize_s_m = pixel * in->spixels;
    g->fpixels = (int)ceil(g->detsize_f_m / pixel - 0.5);
    g->spixels = (int)ceil(g->detsize_s_m / pixel - 0.5);

    beam_centre(in, g);
    orientation_and_pivot(in, g, twotheta_axis);
    ratio = detector_origin(in, g, twotheta_axis);
    derived_centres(in, g, ratio);
}
