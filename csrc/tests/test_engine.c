/* C-level tests of the engine library, built without Python (NANOBRAGG_TESTS=ON) and
 * run by ctest.  They check what the library promises on its own: the legacy generator's
 * sequence, the detector geometry's invariants, a rendered pixel against the formula,
 * thread-independent output, cancellation through the progress callback, and the legacy
 * render's SIMD sines against libm's sin. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nanobragg.h"
#include "nb_libm_sines.h"
#include "nb_simd.h"

static int failures = 0;

#define CHECK(condition, ...)                                              \
    do {                                                                   \
        if (!(condition)) {                                                \
            ++failures;                                                    \
            fprintf(stderr, "%s:%d: check failed: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                                  \
            fprintf(stderr, "\n");                                         \
        }                                                                  \
    } while (0)

static double dot(const double a[3], const double b[3])
{
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

static void test_legacy_generator(void)
{
    /* the first deviates of seed -1, as the original's ran1 gives them */
    const float expected[3] = {0x1.a9fbbcp-2f, 0x1.78b02ep-4f, 0x1.83483cp-1f};
    nb_random_state state;
    long seed = -1;
    int i;
    nb_random_init(&state);
    for (i = 0; i < 3; ++i) {
        float value = nb_uniform(&state, &seed);
        CHECK(value == expected[i], "uniform %d: %a != %a", i, value, expected[i]);
    }
}

static void default_detector(nb_detector_spec *in, double twotheta)
{
    memset(in, 0, sizeof *in);
    in->convention = NB_CONVENTION_MOSFLM;
    in->pivot = NB_PIVOT_AUTO;
    in->pixel_size_m = 1e-4;
    in->fpixels = in->spixels = 64;
    in->distance_m = 0.1;
    in->close_distance_m = in->Xbeam_m = in->Ybeam_m = in->Xclose_m = in->Yclose_m = NAN;
    in->ORGX_px = in->ORGY_px = NAN;
    in->twotheta_rad = twotheta;
    in->pix0_m[0] = in->pix0_m[1] = in->pix0_m[2] = NAN;
}

static void test_geometry(void)
{
    nb_detector_spec in;
    nb_detector_geometry g;
    double impact[3];
    int i;
    default_detector(&in, 0.3);
    nb_detector_geometry_compute(&in, &g);
    CHECK(g.fpixels == 64 && g.spixels == 64, "size %d x %d", g.fpixels, g.spixels);
    CHECK(fabs(dot(g.fdet, g.sdet)) < 1e-15 && fabs(dot(g.fdet, g.odet)) < 1e-15,
          "detector axes not orthogonal");
    for (i = 0; i < 3; ++i) impact[i] = g.distance_m * g.beam[i] - g.pix0_m[i];
    /* corrected: the reported beam centre is where the beam meets the plane */
    CHECK(fabs(dot(impact, g.odet)) < 1e-15, "impact %g m off the plane", dot(impact, g.odet));
    CHECK(fabs(dot(impact, g.fdet) - g.Fbeam_m) < 1e-15, "Fbeam %g", g.Fbeam_m);
    CHECK(fabs(dot(impact, g.sdet) - g.Sbeam_m) < 1e-15, "Sbeam %g", g.Sbeam_m);
}

typedef struct {
    nb_detector_geometry g;
    nb_render_params p;
    nb_render_arrays a;
    nb_render_control control;
    double direction[3], wavelength, weight, umat[9];
} scene;

static void small_scene(scene *s, int threads)
{
    nb_detector_spec in;
    default_detector(&in, 0.0);
    in.fpixels = in.spixels = 16;
    nb_detector_geometry_compute(&in, &s->g);
    memset(&s->p, 0, sizeof s->p);
    s->p.fpixels = s->p.spixels = 16;
    s->p.pixel_size_m = s->g.pixel_size_m;
    s->p.oversample = 1;
    memcpy(s->p.fdet, s->g.fdet, sizeof s->p.fdet);
    memcpy(s->p.sdet, s->g.sdet, sizeof s->p.sdet);
    memcpy(s->p.odet, s->g.odet, sizeof s->p.odet);
    memcpy(s->p.pix0_m, s->g.pix0_m, sizeof s->p.pix0_m);
    memcpy(s->p.beam, s->g.beam, sizeof s->p.beam);
    memcpy(s->p.polar, s->g.polar, sizeof s->p.polar);
    memcpy(s->p.spindle, s->g.spindle, sizeof s->p.spindle);
    s->p.distance_m = s->g.distance_m;
    s->p.close_distance_m = s->g.close_distance_m;
    s->p.nopolar = 1;
    s->p.thickness_steps = 1;
    s->p.roi_xmax = s->p.roi_ymax = 15;
    s->p.phi_steps = 1;
    s->p.a_m[0] = s->p.b_m[1] = s->p.c_m[2] = 40e-10;
    s->p.a_star_per_A[0] = s->p.b_star_per_A[1] = s->p.c_star_per_A[2] = 1.0 / 40.0;
    s->p.N_cells[0] = s->p.N_cells[1] = s->p.N_cells[2] = 3.0;
    s->p.default_F = 10.0;
    s->p.r_e_sqr_m2 = 7.94079248018965e-30;
    s->p.fluence_per_m2 = 1e24;

    memset(&s->a, 0, sizeof s->a);
    s->direction[0] = -1.0;
    s->direction[1] = s->direction[2] = 0.0;
    s->wavelength = 1e-10;
    s->weight = 1.0;
    s->a.nsources = 1;
    s->a.source_direction = s->direction;
    s->a.source_wavelength_m = &s->wavelength;
    s->a.source_weight = &s->weight;
    memset(s->umat, 0, sizeof s->umat);
    s->umat[0] = s->umat[4] = s->umat[8] = 1.0;
    s->a.mosaic_domains = 1;
    s->a.mosaic_umats = s->umat;

    memset(&s->control, 0, sizeof s->control);
    s->control.threads = threads;
}

static void test_render_pixel_formula(void)
{
    /* pixel (0, 0): r_e^2 fluence F^2 F_latt^2 x solid angle, no polarization */
    scene s;
    double image[256], pos[3], diffracted[3], S[3], airpath, omega, latt = 1.0, expected;
    nb_render_info info;
    int i;
    small_scene(&s, 1);
    memset(image, 0, sizeof image);
    CHECK(nb_render(&s.p, &s.a, &s.control, image, &info) == NB_OK, "render failed");
    for (i = 0; i < 3; ++i)
        pos[i] = 0.5e-4 * s.p.fdet[i] + 0.5e-4 * s.p.sdet[i] + s.p.pix0_m[i];
    airpath = sqrt(dot(pos, pos));
    for (i = 0; i < 3; ++i) diffracted[i] = pos[i] / airpath;
    for (i = 0; i < 3; ++i) S[i] = (diffracted[i] + s.direction[i]) / s.wavelength;
    omega = s.p.pixel_size_m * s.p.pixel_size_m / airpath / airpath * s.p.close_distance_m / airpath;
    {
        const double *axes[3] = {s.p.a_m, s.p.b_m, s.p.c_m};
        for (i = 0; i < 3; ++i) {
            double h = dot(axes[i], S), d = h - ceil(h - 0.5);
            latt *= d == 0.0 ? 3.0 : sin(3.0 * M_PI * d) / sin(M_PI * d);
        }
    }
    expected = s.p.r_e_sqr_m2 * s.p.fluence_per_m2 * 100.0 * latt * latt * omega;
    CHECK(fabs(image[0] - expected) <= 1e-12 * fabs(expected), "pixel %.17g != %.17g",
          image[0], expected);
    CHECK(info.steps == 1, "steps %ld", info.steps);
}

static void test_threads_do_not_change_the_image(void)
{
    scene s;
    static double one[256], three[256];
    nb_render_info info;
    small_scene(&s, 1);
    s.p.oversample = 2;
    CHECK(nb_render(&s.p, &s.a, &s.control, one, &info) == NB_OK, "render failed");
    small_scene(&s, 3);
    s.p.oversample = 2;
    CHECK(nb_render(&s.p, &s.a, &s.control, three, &info) == NB_OK, "render failed");
    CHECK(memcmp(one, three, sizeof one) == 0, "images differ with the thread count");
}

static void test_trace_matches_the_render(void)
{
    /* every pixel's trace, in both modes, ends at the pixel the render gives */
    scene s;
    static double image[256];
    nb_trace_term terms[4];
    nb_trace trace;
    nb_render_info info;
    int parity, pixel;
    for (parity = 0; parity <= 1; ++parity) {
        small_scene(&s, 2);
        s.p.oversample = 2;
        s.p.c_parity = parity;
        CHECK(nb_trace_terms(&s.p, &s.a) == 4, "%ld terms", nb_trace_terms(&s.p, &s.a));
        memset(image, 0, sizeof image);
        CHECK(nb_render(&s.p, &s.a, &s.control, image, &info) == NB_OK, "render failed");
        CHECK(info.first_executed == (parity ? 0 : -1), "first executed %ld",
              info.first_executed);
        trace.terms = terms;
        trace.capacity = 3;
        CHECK(nb_trace_pixel(&s.p, &s.a, 0, 0, 0, 0, &trace) == NB_BAD_ARGUMENT,
              "a trace with room for 3 of 4 rows");
        trace.capacity = 4;
        for (pixel = 0; pixel < 256; ++pixel) {
            CHECK(nb_trace_pixel(&s.p, &s.a, pixel % 16, pixel / 16,
                                 pixel == info.first_executed, 0, &trace) == NB_OK,
                  "trace failed");
            CHECK(trace.count == 4, "%ld rows", trace.count);
            CHECK(trace.value == image[pixel], "pixel %d: trace %.17g, render %.17g", pixel,
                  trace.value, image[pixel]);
            CHECK(terms[3].I == trace.I && terms[3].subS == 1 && terms[3].subF == 1,
                  "last row of pixel %d", pixel);
        }
    }
}

static int stop_at_once(void *user, long done, long total)
{
    (void)done;
    (void)total;
    ++*(int *)user;
    return 1;
}

static void test_progress_cancels(void)
{
    scene s;
    static double image[256];
    nb_render_info info;
    int calls = 0;
    small_scene(&s, 1);
    s.control.progress = stop_at_once;
    s.control.progress_user = &calls;
    CHECK(nb_render(&s.p, &s.a, &s.control, image, &info) == NB_CANCELLED, "not cancelled");
    CHECK(calls == 1, "progress called %d times", calls);
}

/* A flat table: every term is F^2 x polarization x solid angle, so the pixel in the
 * detector's middle, facing the beam, is F^2 r_e^2 fluence molecules pixel^2 / d^2
 * x (1 + cos^2 2theta)/2 at 2theta = 0.  A falling table in legacy mode renders the
 * same on 1 and 3 threads (the walk runs on one). */
static void test_amorphous(void)
{
    static double one[9 * 9], three[9 * 9];
    const double flat_stol[4] = {0.0, 1e10, 2e10, 3e10}, flat_F[4] = {2.0, 2.0, 2.0, 2.0};
    const double falling_stol[5] = {-1e99, -1e98, 0.0, 1e98, 1e99};
    const double falling_F[5] = {3.0, 3.0, 3.0, 3.0, 3.0};
    const double direction[3] = {-1.0, 0.0, 0.0}, wavelength = 1e-10, weight = 1.0;
    nb_amorphous_spec p;
    nb_amorphous_arrays a = {1, direction, &wavelength, &weight, 4, flat_stol, flat_F};
    nb_render_control control = {1, NULL, NULL};
    nb_amorphous_info info;
    double expected;
    memset(&p, 0, sizeof p);
    p.fpixels = p.spixels = 9;
    p.pixel_size_m = 1e-4;
    p.oversample = 1;
    p.fdet[2] = 1.0;
    p.sdet[1] = -1.0;
    p.pix0_m[0] = 0.1;
    p.pix0_m[1] = 4.5e-4;
    p.pix0_m[2] = -4.5e-4;
    p.beam[0] = 1.0;
    p.polar[2] = 1.0;
    p.distance_m = p.close_distance_m = 0.1;
    p.roi_xmax = p.roi_ymax = 8;
    p.r_e_sqr_m2 = 7.94079248018965e-30;
    p.fluence_per_m2 = 1e20;
    p.molecules = 1e15;
    CHECK(nb_amorphous(&p, &a, &control, one, &info) == NB_OK, "amorphous failed");
    expected = 4.0 * p.r_e_sqr_m2 * p.fluence_per_m2 * p.molecules * 1e-8 / 0.01;
    CHECK(fabs(one[4 * 9 + 4] - expected) <= 1e-12 * expected, "centre %.17g != %.17g",
          one[4 * 9 + 4], expected);
    CHECK(info.steps == 1, "steps %ld", info.steps);
    p.c_parity = 1;
    a.stols = 5;
    a.stol_per_m = falling_stol;
    a.F = falling_F;
    CHECK(nb_amorphous(&p, &a, &control, one, &info) == NB_OK, "legacy failed");
    control.threads = 3;
    CHECK(nb_amorphous(&p, &a, &control, three, &info) == NB_OK, "legacy failed");
    CHECK(memcmp(one, three, sizeof one) == 0, "legacy image differs with the thread count");
    a.stols = 3;
    CHECK(nb_amorphous(&p, &a, &control, one, &info) == NB_BAD_ARGUMENT, "short table taken");
}

/* A 64-bit xorshift generator: the arguments of the sines test. */
static unsigned long long next_bits(unsigned long long *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

static double uniform01(unsigned long long *state)
{
    return (double)(next_bits(state) >> 11) * 0x1p-53;
}

static int same_double(double a, double b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

/* Arguments the legacy render meets (pi h and N pi h: uniform to a few thousand),
 * sizes from 2^-40 to 2^22 (past both ends of the kernel's own range), arguments a few
 * ULP from multiples of pi/2 and of pi (the hardest reductions), and the special values. */
static void sine_arguments(double *x, int n, unsigned long long *state)
{
    const double special[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, 0x1p-1074, -0x1p-1030,
                              0x1p-30, 0x1.fffffffffffffp-31, 0x1p19, 0x1.fffffffffffffp18,
                              -0x1p19, 1.0e300, 3.141592653589793, 1.5707963267948966};
    int specials = (int)(sizeof special / sizeof special[0]), i;
    for (i = 0; i < n; ++i) {
        double u = uniform01(state);
        switch (i % 3) {
        case 0: x[i] = (2.0 * u - 1.0) * 4000.0; break;
        case 1:
            x[i] = (uniform01(state) < 0.5 ? -1.0 : 1.0) * exp2(-40.0 + 62.0 * u);
            break;
        default: { /* a few ULP from k pi / 2, or from k pi up to 2^19 */
            int whole_pi = next_bits(state) % 2 == 0;
            double k = floor(u * (whole_pi ? 166886.0 : 300000.0));
            double near = k * (whole_pi ? 3.141592653589793 : 1.5707963267948966);
            long steps = (long)(next_bits(state) % 9) - 4;
            while (steps > 0) near = nextafter(near, INFINITY), --steps;
            while (steps < 0) near = nextafter(near, -INFINITY), ++steps;
            x[i] = near;
        }
        }
    }
    for (i = 0; i < specials && i < n; ++i) x[i] = special[i];
}

static void test_libm_sines(void)
{
    enum { BLOCK = 1000, BLOCKS = 1500 };
    nb_sines_kernel kernels[3] = {nb_libm_sines_loop, NULL, NULL};
    double x[BLOCK], got[BLOCK];
    unsigned long long state = 0x9e3779b97f4a7c15ULL;
    int count = 1, block, i, k;
#ifdef NB_SINES_X86
    nb_simd level = nb_simd_level();
    if (level >= NB_SIMD_AVX2) kernels[count++] = nb_libm_sines_avx2;
    if (level >= NB_SIMD_AVX512) kernels[count++] = nb_libm_sines_avx512;
#endif
    CHECK(nb_libm_sines_kernel() == kernels[count - 1], "not the widest sines kernel");
    for (block = 0; block < BLOCKS; ++block) {
        int n = BLOCK - block % 7; /* blocks that end inside a strip */
        sine_arguments(x, n, &state);
        for (k = 0; k < count; ++k) {
            kernels[k](x, got, n);
            for (i = 0; i < n; ++i)
                if (!same_double(got[i], sin(x[i]))) {
                    CHECK(0, "sines kernel %d: sin(%a) = %a, libm %a", k, x[i], got[i],
                          sin(x[i]));
                    return;
                }
        }
    }
}

int main(void)
{
    test_legacy_generator();
    test_geometry();
    test_render_pixel_formula();
    test_threads_do_not_change_the_image();
    test_trace_matches_the_render();
    test_progress_cancels();
    test_amorphous();
    test_libm_sines();
    if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
    else printf("all engine checks passed\n");
    return failures ? 1 : 0;
}
