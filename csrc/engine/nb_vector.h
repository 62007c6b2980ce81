/* Small 3-vector helpers.  The order of every floating-point operation matters:
 * legacy-exact images depend on reproducing the original program's arithmetic
 * bit for bit, so these helpers evaluate their expressions in the same order. */
#ifndef NB_VECTOR_H
#define NB_VECTOR_H

#include <math.h>

static inline double nb_dot(const double x[3], const double y[3])
{
    return x[0] * y[0] + x[1] * y[1] + x[2] * y[2];
}

static inline double nb_norm(const double v[3])
{
    return sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
}

static inline void nb_cross(const double x[3], const double y[3], double out[3])
{
    double z0 = x[1] * y[2] - x[2] * y[1];
    double z1 = x[2] * y[0] - x[0] * y[2];
    double z2 = x[0] * y[1] - x[1] * y[0];
    out[0] = z0;
    out[1] = z1;
    out[2] = z2;
}

/* Scale v to unit length in place or into out; returns the old length.
 * A zero vector stays zero. */
static inline double nb_unitize(const double v[3], double out[3])
{
    double mag = nb_norm(v);
    if (mag != 0.0) {
        out[0] = v[0] / mag;
        out[1] = v[1] / mag;
        out[2] = v[2] / mag;
    } else {
        out[0] = out[1] = out[2] = 0.0;
    }
    return mag;
}

static inline void nb_scale(const double v[3], double s, double out[3])
{
    out[0] = s * v[0];
    out[1] = s * v[1];
    out[2] = s * v[2];
}

/* Set the length of v to new_length (a zero vector is treated as length 1). */
static inline void nb_rescale(const double v[3], double new_length, double out[3])
{
    double old = nb_norm(v);
    if (old <= 0.0) old = 1.0;
    out[0] = new_length / old * v[0];
    out[1] = new_length / old * v[1];
    out[2] = new_length / old * v[2];
}

/* Rotate about the lab x, then y, then z axes (angles in radians); an angle of
 * exactly zero is skipped, as in the original. */
static inline void nb_rotate_xyz(const double v[3], double out[3], double rx, double ry, double rz)
{
    double x = v[0], y = v[1], z = v[2];
    if (rx != 0) {
        double c = cos(rx), s = sin(rx);
        double ny = y * c + z * (-s);
        double nz = y * s + z * c;
        y = ny;
        z = nz;
    }
    if (ry != 0) {
        double c = cos(ry), s = sin(ry);
        double nx = x * c + y * 0 + z * s;
        double nz = x * (-s) + y * 0 + z * c;
        x = nx;
        z = nz;
    }
    if (rz != 0) {
        double c = cos(rz), s = sin(rz);
        double nx = x * c + y * (-s);
        double ny = x * s + y * c;
        x = nx;
        y = ny;
    }
    out[0] = x;
    out[1] = y;
    out[2] = z;
}

/* Rodrigues rotation of v by angle phi (radians) about the unit vector axis. */
static inline void nb_rotate_axis(const double v[3], double out[3], const double axis[3], double phi)
{
    double s = sin(phi), c = cos(phi);
    double along = (axis[0] * v[0] + axis[1] * v[1] + axis[2] * v[2]) * (1.0 - c);
    double r0 = axis[0] * along + v[0] * c + (-axis[2] * v[1] + axis[1] * v[2]) * s;
    double r1 = axis[1] * along + v[1] * c + (+axis[2] * v[0] - axis[0] * v[2]) * s;
    double r2 = axis[2] * along + v[2] * c + (-axis[1] * v[0] + axis[0] * v[1]) * s;
    out[0] = r0;
    out[1] = r1;
    out[2] = r2;
}

/* out = U v for a row-major 3x3 matrix U. */
static inline void nb_rotate_umat(const double v[3], double out[3], const double u[9])
{
    double r0 = u[0] * v[0] + u[1] * v[1] + u[2] * v[2];
    double r1 = u[3] * v[0] + u[4] * v[1] + u[5] * v[2];
    double r2 = u[6] * v[0] + u[7] * v[1] + u[8] * v[2];
    out[0] = r0;
    out[1] = r1;
    out[2] = r2;
}

#endif
