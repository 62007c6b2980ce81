/* The corrected render in lanes: many (sub-pixel, layer) lanes of one source evaluated
 * side by side, in structure-of-arrays form, every stage of the pixel loop (position, solid angle,
 * capture fraction, polarization, scattering vector, resolution cut, lattice factor of
 * every crystal shape, structure factor) in loops of NB_STRIP lanes the compiler turns
 * into SIMD instructions.  The same code (nb_render_lanes_body.h) is compiled once per
 * instruction set (nb_render_lanes_*.c); nb_render_corrected.c picks one at run time
 * from what the CPU reports, never from the flags of the machine that built it. */
#ifndef NB_RENDER_LANES_H
#define NB_RENDER_LANES_H

#include "nb_render_internal.h"

/* Lanes a block holds, and lanes evaluated together (four AVX-512 registers of
 * doubles, eight of AVX2, sixteen of SSE2: enough independent chains to keep the
 * multiply-add units busy).  Every loop runs over whole strips, so a lane gets the
 * same arithmetic wherever it sits in a block. */
enum { NB_LANES = 64, NB_STRIP = 32 };

/* One block of lanes, all of one source: what the caller fills in, and what the
 * kernel gives back. */
typedef struct {
    int count;                        /* lanes in use; the rest are padding */
    /* in */
    int source;
    double Fsub[NB_LANES], Ssub[NB_LANES]; /* sub-pixel index along fast and slow */
    double layer[NB_LANES];           /* sensor layer, as a number */
    /* out */
    double omega[NB_LANES];           /* solid angle of the lane's sub-pixel, sr */
    double factor[NB_LANES];          /* omega * polar * capture * the source's factor */
    double bragg[NB_LANES];           /* sum of |F_cell|^2 |F_latt|^2 over the terms, times
                                       * factor; 0 where the source is past the cut */
} nb_lane_block;

/* What the lanes need of each source, the same for every pixel. */
typedef struct {
    double *direction_x, *direction_y, *direction_z; /* as given (towards the source) */
    double *inverse_wavelength;       /* 1/m */
    double *factor;                   /* the scene's source_factor */
    double *incident_x, *incident_y, *incident_z;    /* unit vector along the beam */
    double *B_x, *B_y, *B_z, *E_x, *E_y, *E_z;       /* the Kahn factor's frame about it */
} nb_source_table;

typedef void (*nb_lane_kernel)(const nb_scene *c, const nb_lane_setup *setup,
                               nb_lane_block *b, pixel_report *report);

/* What a block kernel reads besides the scene, and the kernel for this CPU. */
struct nb_lane_setup {
    nb_lane_kernel kernel;
    nb_source_table sources;
    double *source_storage;           /* what the table's arrays point into */
    int hkl_index_fits;               /* the F grid is indexed in int (fewer than 2^31) */
};

void nb_lanes_baseline(const nb_scene *c, const nb_lane_setup *setup, nb_lane_block *b,
                       pixel_report *report);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define NB_LANES_X86 1
void nb_lanes_avx2(const nb_scene *c, const nb_lane_setup *setup, nb_lane_block *b,
                   pixel_report *report);
void nb_lanes_avx512(const nb_scene *c, const nb_lane_setup *setup, nb_lane_block *b,
                     pixel_report *report);
#endif

#endif
