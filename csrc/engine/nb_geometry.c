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

void nb_detector_geometry_compute(const nb_detector_input *in, nb_detector_geometry *g)
{
    double pixel = in->pixel_size;
    double Fclose = NAN, Sclose = NAN, Fbeam, Sbeam;
    double Xbeam = in->Xbeam, Ybeam = in->Ybeam, Xclose = in->Xclose, Yclose = in->Yclose;
    double distance = in->distance, close_distance = in->close_distance;
    double twotheta_axis[3], rotated_odet[3], impact[3], ratio;
    int pivot;

    memset(g, 0, sizeof(*g));
    g->pixel_size = pixel;
    g->detsize_f = in->detsize_f;
    g->detsize_s = in->detsize_s;
    if (in->fpixels) g->detsize_f = pixel * in->fpixels;
    if (in->spixels) g->detsize_s = pixel * in->spixels;
    g->fpixels = (int)ceil(g->detsize_f / pixel - 0.5);
    g->spixels = (int)ceil(g->detsize_s / pixel - 0.5);

    if (!isnan(in->ORGX)) Fclose = (in->ORGX - 0.5) * pixel;
    if (!isnan(in->ORGY)) Sclose = (in->ORGY - 0.5) * pixel;
    if (isnan(Fclose)) Fclose = (g->detsize_f - 0 * pixel) / 2.0;
    if (isnan(Sclose)) Sclose = (g->detsize_s + 0 * pixel) / 2.0;
    if (isnan(Xclose)) Xclose = Fclose;
    if (isnan(Yclose)) Yclose = Sclose;
    Fbeam = Fclose;
    Sbeam = Sclose;

    memcpy(g->fdet, in->fdet, sizeof g->fdet);
    memcpy(g->sdet, in->sdet, sizeof g->sdet);
    memcpy(g->odet, in->odet, sizeof g->odet);
    memcpy(g->beam, in->beam, sizeof g->beam);
    memcpy(g->polar, in->polar, sizeof g->polar);
    memcpy(g->spindle, in->spindle, sizeof g->spindle);
    memcpy(twotheta_axis, in->twotheta_axis, sizeof twotheta_axis);
    convention_axes(in->convention, g, twotheta_axis);

    switch (in->convention) {
    case NB_CONVENTION_ADXV:
        if (isnan(Xbeam)) Xbeam = (g->detsize_f + pixel) / 2.0;
        if (isnan(Ybeam)) Ybeam = (g->detsize_s - pixel) / 2.0;
        Fbeam = Xbeam;
        Sbeam = g->detsize_s - Ybeam;
        break;
    case NB_CONVENTION_MOSFLM:
        if (isnan(Xbeam)) Xbeam = (g->detsize_s + pixel) / 2.0;
        if (isnan(Ybeam)) Ybeam = (g->detsize_f + pixel) / 2.0;
        Fbeam = Ybeam + 0.5 * pixel;
        Sbeam = Xbeam + 0.5 * pixel;
        break;
    case NB_CONVENTION_DENZO:
        if (isnan(Xbeam)) Xbeam = (g->detsize_s + pixel) / 2.0;
        if (isnan(Ybeam)) Ybeam = (g->detsize_f + pixel) / 2.0;
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

    /* detector_pivot_forced_by_convention: the original ignores the requested
     * pivot for every named convention. */
    if (in->convention != NB_CONVENTION_CUSTOM && (in->c_parity || in->pivot == NB_PIVOT_AUTO))
        pivot = convention_pivot(in->convention);
    else
        pivot = in->pivot == NB_PIVOT_AUTO ? NB_PIVOT_BEAM : in->pivot;
    g->pivot = pivot;

    nb_unitize(g->beam, g->beam);
    nb_unitize(g->fdet, g->fdet);
    nb_unitize(g->sdet, g->sdet);
    /* odet_replaced_when_not_unit: the original replaces a given odet whose
     * length is not exactly 1 by fdet x sdet; corrected, only a zero odet is. */
    if (in->c_parity ? nb_unitize(g->odet, g->odet) != 1.0 : nb_unitize(g->odet, g->odet) == 0.0) {
        nb_cross(g->fdet, g->sdet, g->odet);
        nb_unitize(g->odet, g->odet);
    }
    if (!in->c_parity) {
        /* polar_vector_not_orthogonalised: the E vector must lie across the beam */
        double along = nb_dot(g->polar, g->beam);
        int i;
        for (i = 0; i < 3; ++i) g->polar[i] -= along * g->beam[i];
    }
    nb_unitize(g->polar, g->polar);
    nb_unitize(g->spindle, g->spindle);
    nb_cross(g->beam, g->polar, g->vert);
    nb_unitize(g->vert, g->vert);

    nb_rotate_xyz(g->odet, rotated_odet, in->rotx, in->roty, in->rotz);
    ratio = nb_dot(g->beam, rotated_odet);
    if (ratio == 0.0) ratio = DBL_MIN;
    if (isnan(close_distance)) close_distance = fabs(ratio * distance);
    distance = close_distance / ratio;

    if (!in->c_parity && in->has_pix0) {
        memcpy(g->pix0, in->pix0, sizeof g->pix0);
    } else if (pivot == NB_PIVOT_SAMPLE) {
        int i;
        for (i = 0; i < 3; ++i)
            g->pix0[i] = -Fclose * g->fdet[i] - Sclose * g->sdet[i] + close_distance * g->odet[i];
        nb_rotate_xyz(g->pix0, g->pix0, in->rotx, in->roty, in->rotz);
        nb_rotate_axis(g->pix0, g->pix0, twotheta_axis, in->twotheta);
    }
    nb_rotate_xyz(g->fdet, g->fdet, in->rotx, in->roty, in->rotz);
    nb_rotate_xyz(g->sdet, g->sdet, in->rotx, in->roty, in->rotz);
    nb_rotate_xyz(g->odet, g->odet, in->rotx, in->roty, in->rotz);
    nb_rotate_axis(g->fdet, g->fdet, twotheta_axis, in->twotheta);
    nb_rotate_axis(g->sdet, g->sdet, twotheta_axis, in->twotheta);
    nb_rotate_axis(g->odet, g->odet, twotheta_axis, in->twotheta);
    if ((in->c_parity || !in->has_pix0) && pivot == NB_PIVOT_BEAM) {
        int i;
        for (i = 0; i < 3; ++i)
            g->pix0[i] = -Fbeam * g->fdet[i] - Sbeam * g->sdet[i] + distance * g->beam[i];
    }

    Fclose = -nb_dot(g->pix0, g->fdet);
    Sclose = -nb_dot(g->pix0, g->sdet);
    close_distance = nb_dot(g->pix0, g->odet);
    if (!in->c_parity) {
        /* distance_ratio_before_twotheta: the beam meets the detector plane as it
         * finally stands, two-theta included */
        ratio = nb_dot(g->beam, g->odet);
        if (ratio == 0.0) ratio = DBL_MIN;
    }
    {
        int i;
        for (i = 0; i < 3; ++i) impact[i] = close_distance / ratio * g->beam[i] - g->pix0[i];
    }
    Fbeam = nb_dot(g->fdet, impact);
    Sbeam = nb_dot(g->sdet, impact);
    distance = close_distance / ratio;

    g->ORGX = Fclose / pixel + 0.5;
    g->ORGY = Sclose / pixel + 0.5;
    {
        const double lab_z[3] = {0, 0, 1}, lab_y[3] = {0, 1, 0}, minus_x[3] = {-1, 0, 0};
        g->dials_origin_mm[0] = 1000.0 * nb_dot(g->pix0, lab_z);
        g->dials_origin_mm[1] = 1000.0 * nb_dot(g->pix0, lab_y);
        g->dials_origin_mm[2] = 1000.0 * nb_dot(g->pix0, minus_x);
    }
    g->distance = distance;
    g->close_distance = close_distance;
    g->Xbeam = Xbeam;
    g->Ybeam = Ybeam;
    g->Fbeam = Fbeam;
    g->Sbeam = Sbeam;
    g->Xclose = Xclose;
    g->Yclose = Yclose;
    g->Fclose = Fclose;
    g->Sclose = Sclose;
}
