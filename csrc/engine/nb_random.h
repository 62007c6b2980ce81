/* The legacy random generator: a Park-Miller minimal-standard generator with a
 * Bays-Durham shuffle table, and the deviates built on it.  The shuffle table
 * is one state shared by every seed of a run (random misset, mosaic domains,
 * noise), which is what makes legacy runs reproducible only in that order. */
#ifndef NB_RANDOM_H
#define NB_RANDOM_H

#define NB_SHUFFLE_TABLE 32

typedef struct {
    long table_head;               /* last output drawn from the table; 0 = not loaded */
    long table[NB_SHUFFLE_TABLE];
    int have_spare_gaussian;
    float spare_gaussian;
} nb_random_state;

void nb_random_init(nb_random_state *state);

/* Uniform deviate in (0, 1).  A seed <= 0 (or an unloaded table) reloads the table. */
float nb_uniform(nb_random_state *state, long *seed);
float nb_gaussian(nb_random_state *state, long *seed);
float nb_poisson(nb_random_state *state, long *seed, float mean);

/* A random unit axis and a random angle up to cap_rad (the angle is rounded to float). */
void nb_random_axis_angle(nb_random_state *state, long *seed, float cap_rad, double axis[3],
                          double *angle);

/* Row-major matrix of the rotation by angle about a unit axis. */
void nb_axis_angle_matrix(const double axis[3], double angle, double umat[9]);

/* Row-major rotation by a random angle up to cap_rad about a random axis. */
void nb_random_rotation(nb_random_state *state, long *seed, float cap_rad, double umat[9]);

/* A rotation drawn uniformly from all orientations (unit quaternion method). */
void nb_uniform_rotation(nb_random_state *state, long *seed, double umat[9]);

/* Rotations about x, y, z (radians) that reproduce a rotation matrix. */
void nb_umat_to_xyz_angles(const double umat[9], double angles[3]);

#endif
