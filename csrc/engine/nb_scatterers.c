/* point_scatterers: the waves scattered by a list of point scatterers (atoms), summed
 * at every detector pixel from every source point, the stage of nearBragg.
 *
 * Each term is one atom seen from one source point at one sub-pixel: a wave of
 * amplitude occupancy x Debye-Waller factor / (source-to-atom path x atom-to-pixel
 * path) and phase 2 pi (path length) / lambda + the atom's own phase.  Sources of one
 * group (the depth points of one divergence angle and wavelength) add their amplitudes;
 * groups add intensities, unless the sum is coherent, when everything adds amplitudes.
 * The order of every operation in the c_parity branch is the original's: its images are
 * reproduced bit for bit.  Corrected, the atoms of a sum are taken eight at a time in
 * straight-line arithmetic the compiler vectorises (nb_fastmath.h), with the phase
 * split into parts that are each exact to double precision (see add_atoms_corrected). */
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nanobragg.h"
#include "nb_fastmath.h"
#include "nb_vector.h"

#ifdef NANOBRAGG_HAVE_OPENMP
#include <omp.h>
#endif

#define NB_R_E_SQR_M2 7.94079248018965e-30
#define NB_NEAR_LEGACY_TWO_PI 6.28318530717959 /* nearBragg's 2 pi, cut after 15 digits */

#define NB_LANES 8       /* atoms summed side by side in the corrected sums */
#define NB_WAVE_FIELDS 11 /* the per source and atom columns of a corrected wave table */

typedef struct {
    const nb_scatterer_params *p;
    const nb_scatterer_arrays *a;
    double two_pi;
    long steps;
    double *in_path; /* legacy: nsources x atoms: source to atom */
    double *S0;      /* legacy: nsources x atoms x 3: incident direction at the atom */
    int padded;      /* corrected: atoms rounded up to whole lanes */
    double *wave;    /* corrected: nsources x NB_WAVE_FIELDS x padded (wave_tables) */
    double *wavenumber; /* corrected: nsources: 2 pi / wavelength */
} nb_scatter_job;

/* The position of one sub-pixel (Xdet along fast, Ydet along slow, from the first
 * pixel's corner), placed on the detector. */
static void subpixel_position(const nb_scatterer_params *p, double Xdet, double Ydet,
                              double pos[3])
{
    int i;
    for (i = 0; i < 3; ++i) pos[i] = Xdet * p->fdet[i] + Ydet * p->sdet[i] + p->pix0_m[i];
    if (p->curved_detector) {
        /* quirk near_curved_detector_mirrored: the original turns the point (distance,
         * 0, 0) about lab y by +z/distance, which puts a pixel at +z on the -z side;
         * corrected, the turn keeps the pixel's side */
        double ay = p->c_parity ? pos[2] / p->distance_m : -pos[2] / p->distance_m;
        double az = pos[1] / p->distance_m;
        double x = p->distance_m * cos(ay);
        double z = p->distance_m * -sin(ay);
        pos[0] = x * cos(az);
        pos[1] = x * sin(az);
        pos[2] = z;
    }
}

/* The solid angle of a pixel times R^2, the factor its |F|^2 (which holds 1/R^2) is
 * multiplied by. */
static double solid_angle_R2(const nb_scatterer_params *p, const double pos[3],
                             double airpath)
{
    double pixel = p->pixel_size_m;
    if (p->point_pixel) return 1.0;
    /* quirk near_solid_angle_ignores_tilt: the original takes the obliquity as
     * distance / R, also where a given pix0 or normal puts the plane elsewhere;
     * corrected, the cosine between the ray and the detector normal (1 on a curved
     * detector) */
    if (p->c_parity) return pixel * pixel * p->distance_m / airpath;
    if (p->curved_detector) return pixel * pixel;
    return pixel * pixel * fabs(nb_dot(pos, p->odet)) / airpath;
}

/* The path from source s to atom i and the incident direction there. */
static void source_to_atom(const nb_scatterer_params *p, const nb_scatterer_arrays *a, int s,
                           int i, double *in_path, double S0[3])
{
    const double *src = a->source_position_m + 3 * s;
    const double *k = a->source_direction + 3 * s;
    const double *at = a->atom_position_m + 3 * i;
    int j;
    /* quirk near_far_source_ignores_divergence: a far source's path is the atom's x in
     * the original, whatever the divergence, and its direction +x; corrected, each
     * source's own direction */
    if (p->far_source && p->c_parity) {
        *in_path = at[0];
        S0[0] = 1.0;
        S0[1] = S0[2] = 0.0;
    } else if (p->far_source) {
        *in_path = nb_dot(k, at);
        memcpy(S0, k, 3 * sizeof(double));
    } else {
        *in_path = sqrt((src[0] - at[0]) * (src[0] - at[0]) + (src[1] - at[1]) * (src[1] - at[1]) +
                        (src[2] - at[2]) * (src[2] - at[2]));
        for (j = 0; j < 3; ++j) S0[j] = (at[j] - src[j]) / *in_path;
    }
}

/* What depends on a source and an atom only, computed once per run (legacy). */
static void source_atom_tables(const nb_scatter_job *job, double *in_path, double *S0)
{
    int s, i;
    for (s = 0; s < job->a->nsources; ++s)
        for (i = 0; i < job->a->atoms; ++i) {
            long n = (long)s * job->a->atoms + i;
            source_to_atom(job->p, job->a, s, i, in_path + n, S0 + 3 * n);
        }
}

/* The path from source s to atom i less the source's distance from the origin (a far
 * source's path itself), without cancellation: (|a|^2 - 2 src.a) / (in + |src|). */
static double excess_in_path(const nb_scatterer_params *p, const nb_scatterer_arrays *a, int s,
                             int i, double in_path)
{
    const double *src = a->source_position_m + 3 * s;
    const double *at = a->atom_position_m + 3 * i;
    if (p->far_source) return in_path;
    return (nb_dot(at, at) - 2.0 * nb_dot(src, at)) / (in_path + nb_norm(src));
}

/* The corrected sums' columns, per source and atom (padding atoms have no weight):
 * m = -2 x position and a2 = |position|^2, from which the path to a pixel at pos of
 * length R is out = sqrt(R^2 + a2 + pos.m) and out - R = (a2 + pos.m) / (out + R)
 * without cancellation; Q the phase of the path from the source (its distance's reduced
 * below 2 pi, then the atom's excess over it) plus the atom's own; S0 and a.S0, from which (pos - a).S0 = pos.S0 - a.S0; Bc2 =
 * B / (2 lambda^2) (Angstrom), as exp(-B stol^2) = exp(Bc2 ((pos - a).S0 / out - 1))
 * for unit S0; w the amplitude but for the Debye-Waller factor and 1/out. */
static void wave_tables(nb_scatter_job *job)
{
    const nb_scatterer_params *p = job->p;
    const nb_scatterer_arrays *a = job->a;
    const int n = job->padded;
    int s, i;
    for (s = 0; s < a->nsources; ++s) {
        double *t = job->wave + (size_t)s * NB_WAVE_FIELDS * n;
        double lambda_A = a->source_wavelength_m[s] * 1e10;
        double source_norm = nb_norm(a->source_position_m + 3 * s);
        double source_phase;
        job->wavenumber[s] = job->two_pi / a->source_wavelength_m[s];
        /* a near source's path holds the atom's offset only to its last bit, some
         * 1e-4 radians at 10 m: its phase is that of the source's distance plus that
         * of the difference, each exact */
        source_phase = p->far_source ? 0.0 : fmod(job->wavenumber[s] * source_norm, 2.0 * M_PI);
        memset(t, 0, sizeof(double) * NB_WAVE_FIELDS * n);
        for (i = 0; i < a->atoms; ++i) {
            const double *at = a->atom_position_m + 3 * i;
            double in_path, S0[3];
            source_to_atom(p, a, s, i, &in_path, S0);
            t[0 * n + i] = -2.0 * at[0];
            t[1 * n + i] = -2.0 * at[1];
            t[2 * n + i] = -2.0 * at[2];
            t[3 * n + i] = nb_dot(at, at);
            t[4 * n + i] = source_phase + job->wavenumber[s] * excess_in_path(p, a, s, i, in_path) +
                           a->phase_rad[i];
            t[5 * n + i] = S0[0];
            t[6 * n + i] = S0[1];
            t[7 * n + i] = S0[2];
            t[8 * n + i] = nb_dot(at, S0);
            t[9 * n + i] = a->B_A2[i] / (2.0 * lambda_A * lambda_A);
            /* quirk near_source_inverse_square: the original divides each wave by its
             * path from the source, so a near source dims the image by 1/distance^2
             * although the fluence is given at the sample; corrected, the wave is 1 at
             * the origin */
            t[10 * n + i] = p->far_source ? a->occupancy[i] : a->occupancy[i] * source_norm / in_path;
        }
    }
}

/* The amplitude of every atom's wave from source s at pixel position pos, added to
 * (Fa, Fb), in the original's arithmetic. */
static void add_atoms_legacy(const nb_scatter_job *job, int s, const double pos[3], double *Fa,
                             double *Fb)
{
    const nb_scatterer_params *p = job->p;
    const nb_scatterer_arrays *a = job->a;
    const double *in_paths = job->in_path + (long)s * a->atoms;
    const double *S0s = job->S0 + 3L * s * a->atoms;
    const double lambda = a->source_wavelength_m[s], two_pi = job->two_pi;
    const int far = p->far_source, atoms = a->atoms;
    double re = *Fa, im = *Fb;
    int i;
    for (i = 0; i < atoms; ++i) {
        const double *at = a->atom_position_m + 3 * i;
        double in_path = in_paths[i], out_path, phase, DWF, c, sn;
        out_path = sqrt((pos[0] - at[0]) * (pos[0] - at[0]) + (pos[1] - at[1]) * (pos[1] - at[1]) +
                        (pos[2] - at[2]) * (pos[2] - at[2]));
        phase = two_pi * (in_path + out_path) / lambda + a->phase_rad[i];
        DWF = a->occupancy[i];
        if (a->B_A2[i] != 0.0) {
            const double *S0 = S0s + 3 * i;
            double S[3], q[3], stol;
            int j;
            for (j = 0; j < 3; ++j) S[j] = (pos[j] - at[j]) / out_path;
            for (j = 0; j < 3; ++j) q[j] = (S[j] - S0[j]) / (lambda * 1e10);
            stol = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2]) / 2.0;
            DWF *= exp(-a->B_A2[i] * stol * stol);
        }
        c = cos(phase);
        sn = sin(phase);
        /* quirk near_source_inverse_square (see wave_tables): a far source's wave is 1 */
        if (far) {
            re += DWF * c / out_path;
            im += DWF * sn / out_path;
        } else {
            re += DWF * c / in_path / out_path;
            im += DWF * sn / in_path / out_path;
        }
    }
    *Fa = re;
    *Fb = im;
}

/* The same sum, corrected, eight atoms side by side (the lanes add in a fixed order, so
 * the result does not depend on the instruction set).  The phase 2 pi (in + out) /
 * lambda of the original, some 6e9 radians, holds only 1e-6 radians in a double; here
 * it is P + Q + k (out - R), the pixel's distance R and the source path each reduced
 * below 2 pi by an exact fmod, out - R (at most the atom's distance from the origin)
 * without cancellation. */
NB_VECTOR_CLONES static void add_atoms_corrected(const nb_scatter_job *job, int s,
                                                 const double pos[3], double *Fa, double *Fb)
{
    const int n = job->padded;
    const double *t = job->wave + (size_t)s * NB_WAVE_FIELDS * n;
    const double *mx = t, *my = t + n, *mz = t + 2 * n, *a2 = t + 3 * n, *Q = t + 4 * n;
    const double *S0x = t + 5 * n, *S0y = t + 6 * n, *S0z = t + 7 * n, *aS0 = t + 8 * n;
    const double *Bc2 = t + 9 * n, *w = t + 10 * n;
    const double k = job->wavenumber[s], x = pos[0], y = pos[1], z = pos[2];
    const double R2 = x * x + y * y + z * z, R = sqrt(R2);
    const double P = fmod(k * R, 2.0 * M_PI);
    double re[NB_LANES] = {0.0}, im[NB_LANES] = {0.0};
    int i, j;
    for (i = 0; i < n; i += NB_LANES) {
        for (j = 0; j < NB_LANES; ++j) {
            int m = i + j;
            double num = a2[m] + (x * mx[m] + y * my[m] + z * mz[m]);
            double out = sqrt(R2 + num), inv = 1.0 / out;
            double phase = (P + Q[m]) + k * (num / (out + R));
            double g = (x * S0x[m] + y * S0y[m] + z * S0z[m]) - aS0[m];
            double amplitude = w[m] * nb_exp(Bc2[m] * (g * inv - 1.0)) * inv;
            double sn, c;
            nb_sincos(phase, &sn, &c);
            re[j] += amplitude * c;
            im[j] += amplitude * sn;
        }
    }
    for (j = 0; j < NB_LANES; ++j) {
        *Fa += re[j];
        *Fb += im[j];
    }
}

static void scatter_pixel(const nb_scatter_job *job, int fpixel, int spixel, double *image,
                          double *real, double *imag, double *omega)
{
    const nb_scatterer_params *p = job->p;
    const nb_scatterer_arrays *a = job->a;
    int n = p->oversample, suby, subz, s;
    long j = (long)spixel * p->fpixels + fpixel;
    double subpixel = p->pixel_size_m / n;
    double I = 0.0, Fa = 0.0, Fb = 0.0, omega_R2 = 0.0, omega_sum = 0.0, value;
    for (suby = 0; suby < n; ++suby) {
        for (subz = 0; subz < n; ++subz) {
            double Xdet = subpixel * ((long)fpixel * n + subz) + subpixel / 2.0;
            double Ydet = subpixel * ((long)spixel * n + suby) + subpixel / 2.0;
            double pos[3], airpath, I_sub = 0.0;
            subpixel_position(p, Xdet, Ydet, pos);
            airpath = nb_norm(pos);
            omega_R2 = solid_angle_R2(p, pos, airpath);
            omega_sum += omega_R2;
            for (s = 0; s < a->nsources; ++s) {
                if (p->c_parity)
                    add_atoms_legacy(job, s, pos, &Fa, &Fb);
                else
                    add_atoms_corrected(job, s, pos, &Fa, &Fb);
                if (!p->coherent &&
                    (s == a->nsources - 1 || a->source_group[s + 1] != a->source_group[s])) {
                    I_sub += Fa * Fa + Fb * Fb;
                    Fa = Fb = 0.0;
                }
            }
            /* quirk near_solid_angle_last_subpixel: the original multiplies the whole
             * pixel by the last sub-pixel's solid angle; corrected, each sub-pixel by
             * its own */
            if (p->c_parity)
                I += I_sub;
            else
                I += I_sub * omega_R2;
        }
    }
    if (p->coherent) {
        double re_in = a->real_in ? a->real_in[j] : 0.0;
        double im_in = a->imag_in ? a->imag_in[j] : 0.0;
        if (p->c_parity) {
            /* the original's float image times the int count is a float product */
            Fa += (double)((float)re_in * (float)job->steps);
            Fb += (double)((float)im_in * (float)job->steps);
        } else {
            Fa += re_in * (double)job->steps;
            Fb += im_in * (double)job->steps;
        }
        real[j] = Fa / job->steps;
        imag[j] = Fb / job->steps;
        Fa /= sqrt((double)job->steps);
        Fb /= sqrt((double)job->steps);
        I += Fa * Fa + Fb * Fb;
        if (!p->c_parity) I *= omega_sum / ((double)n * n);
    }
    if (p->c_parity)
        value = I / job->steps * omega_R2 * p->fluence_per_m2 * NB_R_E_SQR_M2;
    else
        value = I / job->steps * p->fluence_per_m2 * NB_R_E_SQR_M2;
    image[j] = (a->image_in ? a->image_in[j] : 0.0) + value;
    omega[j] = omega_sum;
}

/* The legacy source-atom tables or the corrected wave tables; 0 when out of memory. */
static int allocate_tables(nb_scatter_job *job)
{
    size_t pairs = (size_t)job->a->nsources * (size_t)job->a->atoms;
    job->in_path = job->S0 = job->wave = job->wavenumber = NULL;
    job->padded = (job->a->atoms + NB_LANES - 1) / NB_LANES * NB_LANES;
    if (job->p->c_parity) {
        if (pairs > SIZE_MAX / (4 * sizeof(double)) - 1) return 0;
        job->in_path = malloc(sizeof(double) * (pairs + 1));
        job->S0 = malloc(3 * sizeof(double) * (pairs + 1));
        return job->in_path && job->S0;
    }
    if ((size_t)job->padded > SIZE_MAX / (NB_WAVE_FIELDS * sizeof(double)) / (size_t)job->a->nsources)
        return 0;
    job->wave = malloc(sizeof(double) * NB_WAVE_FIELDS * (size_t)job->padded * job->a->nsources + 1);
    job->wavenumber = malloc(sizeof(double) * (size_t)job->a->nsources);
    return job->wave && job->wavenumber;
}

static void release_tables(nb_scatter_job *job)
{
    free(job->in_path);
    free(job->S0);
    free(job->wave);
    free(job->wavenumber);
}

nb_status nb_point_scatterers(const nb_scatterer_params *p, const nb_scatterer_arrays *a,
                              const nb_render_control *control, double *image, double *real,
                              double *imag, double *omega)
{
    nb_scatter_job job;
    atomic_int cancelled, rows_done;
    int ymin = p->roi_ymin < 0 ? 0 : p->roi_ymin;
    int ymax = p->roi_ymax >= p->spixels ? p->spixels - 1 : p->roi_ymax;
    int xmin = p->roi_xmin < 0 ? 0 : p->roi_xmin;
    int xmax = p->roi_xmax >= p->fpixels ? p->fpixels - 1 : p->roi_xmax;
    int rows = ymax >= ymin ? ymax - ymin + 1 : 0;
    int threads = 1;
    if (p->oversample < 1 || a->nsources < 1 || a->atoms < 0) return NB_BAD_ARGUMENT;
    job.p = p;
    job.a = a;
    /* quirk near_truncated_pi: the original's phases use its 15-digit 2 pi */
    job.two_pi = p->c_parity ? NB_NEAR_LEGACY_TWO_PI : 2.0 * M_PI;
    job.steps = (long)a->nsources * p->oversample * p->oversample;
    if (!allocate_tables(&job)) {
        release_tables(&job);
        return NB_OUT_OF_MEMORY;
    }
    if (p->c_parity)
        source_atom_tables(&job, job.in_path, job.S0);
    else
        wave_tables(&job);
    atomic_init(&cancelled, 0);
    atomic_init(&rows_done, 0);
#ifdef NANOBRAGG_HAVE_OPENMP
    threads = control && control->threads > 0 ? control->threads : omp_get_max_threads();
#endif
    (void)threads;
#ifdef NANOBRAGG_HAVE_OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
#endif
    for (int row = 0; row < rows; ++row) {
        int x, done;
        if (atomic_load(&cancelled)) continue;
        for (x = xmin; x <= xmax; ++x)
            scatter_pixel(&job, x, ymin + row, image, real, imag, omega);
        done = atomic_fetch_add(&rows_done, 1) + 1;
#ifdef NANOBRAGG_HAVE_OPENMP
        if (omp_get_thread_num() != 0) continue;
#endif
        if (control && control->progress &&
            control->progress(control->progress_user, done, rows))
            atomic_store(&cancelled, 1);
    }
    /* the last row may have finished on another thread: report the whole */
    if (!atomic_load(&cancelled) && control && control->progress &&
        control->progress(control->progress_user, rows, rows))
        atomic_store(&cancelled, 1);
    release_tables(&job);
    return atomic_load(&cancelled) ? NB_CANCELLED : NB_OK;
}
