/* The Kahn polarization factor of one term, shared by the render and the amorphous
 * stage (the same arithmetic, in the same order, as both originals). */
#ifndef NB_POLARIZATION_H
#define NB_POLARIZATION_H

#include <math.h>

#include "nb_vector.h"

/* kahn: the beam's polarization factor (0 unpolarised); incident, diffracted: unit
 * directions of the term; axis: the unit E vector of the polarization. */
static inline double kahn_polarization(double kahn, const double incident[3],
                                       const double diffracted[3], const double axis[3])
{
    double cos2theta = nb_dot(incident, diffracted), psi = 0.0;
    double cos2theta_sqr = cos2theta * cos2theta, sin2theta_sqr = 1 - cos2theta_sqr;
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

#endif
