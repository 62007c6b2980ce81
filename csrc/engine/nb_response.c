/* detector_response: the integer images a detector records of a float image in photons
 * per pixel.  Noise (beam flicker, calibration error, Poisson shot noise, read-out
 * noise), a point-spread function (Gaussian or fiber, integrated over each pixel),
 * gain, ADC offset and the clipping of 16- or 32-bit pixels.
 *
 * c_parity keeps the original's order of operations and its random streams: one
 * generator state for the shot noise and the calibration error, a pixel's PSF cut at a
 * radius chosen from its own brightness and scattered onto its neighbours in image
 * order, the right edge spilling into the next row, and the original's casts of
 * negative values to unsigned pixels.  Corrected, the calibration error has a stream
 * of its own, the PSF is one kernel gathered in parallel with nothing wrapping, and a
 * pixel value is clipped to its range. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef NANOBRAGG_HAVE_OPENMP
#include <omp.h>
#endif

#include "nanobragg.h"
#include "nb_pragma.h"
#include "nb_stream.h"

#define PHOTON_LOSS_FACTOR 10.0 /* the kernel keeps what exceeds sqrt(I) / 10 photons */
#define FIBER_G_PER_FWHM 0.652383013252053

typedef struct {
    int fpixels, spixels;
    long pixels;
    nb_psf type;
    double fwhm;    /* pixels */
    double g;       /* the fiber PSF's distance parameter, pixels */
    int radius;     /* the kernel's radius, pixels */
    int threads;    /* OpenMP threads */
    int size;       /* 2 radius + 1 */
    double *kernel; /* size x size, row dy, column dx; 0 beyond the radius */
} psf_kernel;

/* ---- the PSF integrated over a pixel ------------------------------------ */

/* Integral of the unit Gaussian of unit FWHM from the origin to (x, y). */
static double gauss_integral(double x, double y)
{
    return 0.125 * (erf(2 * x * sqrt(log(2))) * erf(y * sqrt(log(16))) *
                    sqrt(log(16) / log(2)));
}

/* The unit Gaussian of FWHM fwhm over the pixel centred at (x, y). */
static double gauss_over_pixel(double x, double y, double fwhm)
{
    double u = x / fwhm, v = y / fwhm, half = 1.0 / fwhm / 2.;
    return gauss_integral(u + half, v + half) - gauss_integral(u + half, v - half) -
           gauss_integral(u - half, v + half) + gauss_integral(u - half, v - half);
}

/* Integral of the fiber PSF g / (2 pi (g^2 + r^2)^(3/2)) from the origin to (x, y). */
static double fiber_integral(double x, double y, double g)
{
    return atan((x * y) / (g * sqrt(g * g + x * x + y * y))) / 2.0 / M_PI;
}

static double fiber_over_pixel(double x, double y, double g)
{
    return fiber_integral(x + 0.5, y + 0.5, g) - fiber_integral(x + 0.5, y - 0.5, g) -
           fiber_integral(x - 0.5, y + 0.5, g) + fiber_integral(x - 0.5, y - 0.5, g);
}

/* Photons of a pixel of value photons that fall beyond radius. */
static double lost_beyond(const psf_kernel *k, double photons, int radius)
{
    if (k->type == NB_PSF_GAUSS) {
        double rsq = radius;
        rsq = rsq / k->fwhm;
        rsq = rsq * rsq;
        return photons * exp(-log(16) * rsq);
    }
    return photons * k->g / sqrt(k->g * k->g + radius * radius);
}

/* The radius beyond which less than sqrt(photons) / 10 photons of a pixel fall; NaN
 * for a Gaussian and less than 0.01 photons.  summary: the form of the kernel's radius
 * from the brightest pixel, a different rounding of the same number. */
static double radius_for(const psf_kernel *k, double photons, int summary)
{
    double lost = sqrt(photons) / PHOTON_LOSS_FACTOR;
    if (k->type == NB_PSF_GAUSS) {
        double depth = summary ? -log(lost / photons) / log(4) / 2 : -log(lost / photons) / log(16);
        return 1 + ceil(sqrt(depth) * k->fwhm);
    }
    return 1 + ceil(k->g * (photons / lost));
}

static int clip_radius(const psf_kernel *k, int radius)
{
    int widest = k->fpixels > k->spixels ? k->fpixels : k->spixels;
    if (radius == 0) radius = 1;
    return radius > widest ? widest : radius;
}

static double kernel_at(const psf_kernel *k, int dx, int dy)
{
    if (dx < -k->radius || dx > k->radius || dy < -k->radius || dy > k->radius) return 0.0;
    return k->kernel[(long)k->size * (k->radius + dy) + k->radius + dx];
}

/* The kernel of radius k->radius: a disc (0 beyond the radius) as the original's, or
 * the whole square. */
static nb_status fill_kernel(psf_kernel *k, int disc)
{
    int dx, dy;
    k->size = 2 * k->radius + 1;
    k->kernel = calloc((size_t)k->size * (size_t)k->size, sizeof(double));
    if (!k->kernel) return NB_OUT_OF_MEMORY;
    for (dy = -k->radius; dy <= k->radius; ++dy) {
        for (dx = -k->radius; dx <= k->radius; ++dx) {
            if (disc && dx * dx + dy * dy > k->radius * k->radius) continue;
            k->kernel[(long)k->size * (k->radius + dy) + k->radius + dx] =
                k->type == NB_PSF_GAUSS ? gauss_over_pixel(dx, dy, k->fwhm)
                                        : fiber_over_pixel(dx, dy, k->g);
        }
    }
    return NB_OK;
}

/* The sum of count values, in 64 parts summed in parallel, each in order, then the
 * parts in order: the same for any thread count. */
#define SUM_PARTS 64
static double ordered_sum(const float *values, long count, int threads)
{
    double parts[SUM_PARTS], sum = 0.0;
    int part;
    NB_PARALLEL_FOR(threads, schedule(static))
    for (part = 0; part < SUM_PARTS; ++part) {
        long i, first = count / SUM_PARTS * part;
        long last = part == SUM_PARTS - 1 ? count : count / SUM_PARTS * (part + 1);
        double partial = 0.0;
        for (i = first; i < last; ++i) partial += values[i];
        parts[part] = partial;
    }
    for (part = 0; part < SUM_PARTS; ++part) sum += parts[part];
    return sum;
}

/* The kernel's radius: the given one, or chosen from the brightest pixel; 0 when there
 * is nothing to blur (no pixel above 0).  For a Gaussian and a brightest pixel below
 * 0.01 photons the automatic radius is a NaN: the original's cast makes it INT_MIN
 * (c_parity: every pixel is then too faint to spread, see scatter_legacy); corrected,
 * 1. */
static void choose_radius(const nb_response_spec *spec, psf_kernel *k, const float *in,
                          nb_response_info *info)
{
    double brightest = 0.0, radius;
    long i;
    NB_PARALLEL_FOR(k->threads, schedule(static) reduction(max : brightest))
    for (i = 0; i < k->pixels; ++i)
        if (brightest < in[i]) brightest = in[i];
    info->psf_max_photons = brightest;
    if (spec->psf_radius_px > 0) {
        info->psf_radius_px = spec->psf_radius_px;
        k->radius = clip_radius(k, spec->psf_radius_px);
        return;
    }
    if (brightest <= 0.0) {
        k->radius = info->psf_radius_px = 0;
        return;
    }
    radius = radius_for(k, brightest, 1);
    if (isnan(radius)) {
        k->radius = info->psf_radius_px = spec->c_parity ? INT32_MIN : 1;
        return;
    }
    info->psf_radius_px = radius > INT32_MAX ? INT32_MAX : (int)radius;
    if (info->psf_radius_px == 0) info->psf_radius_px = 1;
    k->radius = clip_radius(k, info->psf_radius_px);
}

/* A pixel's radius and the photons it loses beyond it, remembered by value (a noise
 * image holds few distinct counts). */
#define MEMO_BITS 12
typedef struct {
    float value;
    int used;
    int radius; /* INT32_MIN: a NaN radius, the pixel vanishes */
    double lost;
} radius_memo;

static const radius_memo *pixel_radius(const nb_response_spec *spec, const psf_kernel *k,
                                       float value, radius_memo *memo)
{
    uint32_t bits;
    radius_memo *m;
    memcpy(&bits, &value, sizeof bits);
    m = &memo[(bits * 2654435761u) >> (32 - MEMO_BITS)];
    if (m->used && m->value == value) return m;
    m->used = 1;
    m->value = value;
    m->lost = 0.0;
    if (spec->psf_radius_px != 0) {
        m->radius = spec->psf_radius_px;
    } else {
        double r = radius_for(k, value, 0);
        if (isnan(r)) {
            m->radius = INT32_MIN;
            return m;
        }
        m->radius = r > INT32_MAX ? INT32_MAX : (int)r;
    }
    m->radius = clip_radius(k, m->radius);
    m->lost = lost_beyond(k, value, m->radius);
    return m;
}

/* The kernel's offsets within radius r in the original's loop order (dx, then dy),
 * those of weight 0 left out; delta is the offset in the row-major image. */
typedef struct {
    int dx, dy;
    long delta;
    double weight;
} psf_offset;

typedef struct {
    psf_offset *offsets;
    long count;
    int built;
} offset_list;

#define MAX_LISTED_RADIUS 128

static nb_status list_offsets(const psf_kernel *k, int r, offset_list *list)
{
    int dx, dy;
    list->offsets = malloc(sizeof(psf_offset) * (size_t)(2 * r + 1) * (size_t)(2 * r + 1));
    if (!list->offsets) return NB_OUT_OF_MEMORY;
    list->count = 0;
    for (dx = -r; dx <= r; ++dx) {
        for (dy = -r; dy <= r; ++dy) {
            double weight = kernel_at(k, dx, dy);
            if (weight == 0.0 || dx * dx + dy * dy > r * r) continue;
            list->offsets[list->count].dx = dx;
            list->offsets[list->count].dy = dy;
            list->offsets[list->count].delta = (long)dy * k->fpixels + dx;
            list->offsets[list->count].weight = weight;
            ++list->count;
        }
    }
    list->built = 1;
    return NB_OK;
}

/* One pixel scattered over every neighbour within radius, checked against the edges as
 * the original checks them. */
static void scatter_pixel(const psf_kernel *k, long i, int radius, float value, float *out)
{
    int x0 = (int)(i % k->fpixels), y0 = (int)(i / k->fpixels), dx, dy;
    for (dx = -radius; dx <= radius; ++dx) {
        for (dy = -radius; dy <= radius; ++dy) {
            double weight = kernel_at(k, dx, dy);
            int x = x0 + dx, y = y0 + dy;
            long j;
            if (weight == 0.0 || dx * dx + dy * dy > radius * radius) continue;
            if (x < 0 || x > k->fpixels || y < 0 || y > k->spixels) continue;
            j = (long)y * k->fpixels + x;
            if (j < 0 || j >= k->pixels) continue;
            out[j] += value * weight;
        }
    }
}

/* Each pixel above 0 is spread in image order over the kernel cut at the radius its
 * own brightness gives (or the given one), the part beyond it summed and later spread
 * evenly; a neighbour one column past the right edge lands on the next row's first
 * pixel.  Under a Gaussian with the automatic radius, a pixel below 0.01 photons has a
 * NaN radius: the original's loop then reaches no pixel and loses nothing, so the
 * pixel vanishes.  A pixel whose reach stays inside the image takes its radius's list
 * of offsets, in the same order, with no edge to check. */
static nb_status scatter_legacy(const nb_response_spec *spec, const psf_kernel *k,
                                const float *in, float *out, double *lost_total)
{
    /* quirk psf_radius_per_pixel, quirk psf_edge_wraps */
    long i;
    int r;
    double lost = 0.0;
    nb_status status = NB_OK;
    radius_memo *memo = calloc((size_t)1 << MEMO_BITS, sizeof(radius_memo));
    int listed = k->radius < MAX_LISTED_RADIUS ? k->radius : MAX_LISTED_RADIUS;
    offset_list *lists = calloc((size_t)listed + 1, sizeof(offset_list));
    if (!memo || !lists) status = NB_OUT_OF_MEMORY;
    for (i = 0; i < k->pixels && status == NB_OK; ++i) {
        const radius_memo *m;
        int x0, y0, radius;
        if (in[i] <= 0.0) continue;
        m = pixel_radius(spec, k, in[i], memo);
        if (m->radius == INT32_MIN) continue;
        radius = m->radius;
        lost += m->lost;
        if (radius < 0) continue;
        x0 = (int)(i % k->fpixels);
        y0 = (int)(i / k->fpixels);
        if (radius <= listed && x0 >= radius && x0 + radius < k->fpixels && y0 >= radius &&
            y0 + radius < k->spixels) {
            offset_list *list = &lists[radius];
            long n;
            if (!list->built) status = list_offsets(k, radius, list);
            if (status != NB_OK) break;
            for (n = 0; n < list->count; ++n)
                out[i + list->offsets[n].delta] += in[i] * list->offsets[n].weight;
        } else {
            scatter_pixel(k, i, radius, in[i], out);
        }
    }
    if (lists)
        for (r = 0; r <= listed; ++r) free(lists[r].offsets);
    free(lists);
    free(memo);
    *lost_total = lost;
    return status;
}

/* row[x] += weight * source[x - shift] for every x whose source pixel is inside. */
static void add_shifted(float *row, const float *source, int width, int shift, double weight)
{
    int x, first = shift > 0 ? shift : 0, last = shift < 0 ? width + shift : width;
    float w = (float)weight;
    for (x = first; x < last; ++x) row[x] += w * source[x - shift];
}

/* Where the corrected Gaussian PSF leaves its rows: the pixels of the noise image
 * (noise) or of the noiseless one (and its values in ADU when adu_out is not NULL),
 * made row by row as the second pass finishes each, with no blurred image in between. */
typedef struct {
    const nb_response_spec *spec;
    int noise;
    uint64_t readout_key;
    void *out;
    double *adu_out;
    double photons;  /* the noise image's photons, summed row by row in order */
    long overloads;
} pixel_sink;

static long corrected_noisy_pixels(const nb_response_spec *spec, uint64_t readout_key,
                                   const float *signal, long first, long n, void *out);
static inline void expected_pixel(const nb_response_spec *spec, float photons, long i,
                                  void *out, double *adu_out);

/* The pixels of row y (values row) into the sink; the row's overloads. */
static long sink_row(const pixel_sink *sink, const float *row, long first, int n)
{
    int x;
    if (sink->noise)
        return corrected_noisy_pixels(sink->spec, sink->readout_key, row, first, n, sink->out);
    for (x = 0; x < n; ++x) expected_pixel(sink->spec, row[x], first + x, sink->out,
                                           sink->adu_out);
    return 0;
}

/* The corrected Gaussian PSF (its pixel integrals are products of one-dimensional
 * ones) in two passes, each row of a thread's own copy: along rows in place in image,
 * then along columns into a row that, with each (the photons beyond the kernel, spread
 * evenly) added, goes to the sink.  The image keeps the first pass. */
static nb_status gauss_into_pixels(const psf_kernel *k, float *image, double each,
                                   pixel_sink *sink)
{
    int R = k->radius, d, threads = k->threads > 0 ? k->threads : 1, failed = 0;
    long overloads = 0;
    double photons = 0.0;
    double *line = malloc(sizeof(double) * (size_t)k->size);
    double *row_photons = malloc(sizeof(double) * (size_t)k->spixels);
    float *rows = malloc(sizeof(float) * (size_t)k->fpixels * (size_t)threads);
    if (!line || !row_photons || !rows) failed = 1;
    if (!failed) {
        /* the centre column of the kernel over its centre is the 1-d pixel integral */
        double centre = sqrt(k->kernel[(long)k->size * R + R]);
        for (d = 0; d < k->size; ++d) line[d] = k->kernel[(long)k->size * R + d] / centre;
#ifdef NANOBRAGG_HAVE_OPENMP
#pragma omp parallel num_threads(threads) reduction(+ : overloads)
#endif
        {
            int y, x, e;
#ifdef NANOBRAGG_HAVE_OPENMP
            float *row = rows + (long)k->fpixels * omp_get_thread_num();
#else
            float *row = rows;
#endif
#ifdef NANOBRAGG_HAVE_OPENMP
#pragma omp for schedule(static)
#endif
            for (y = 0; y < k->spixels; ++y) {
                float *line_y = image + (long)y * k->fpixels;
                memcpy(row, line_y, sizeof(float) * (size_t)k->fpixels);
                memset(line_y, 0, sizeof(float) * (size_t)k->fpixels);
                for (e = -R; e <= R; ++e) add_shifted(line_y, row, k->fpixels, e, line[R + e]);
            }
#ifdef NANOBRAGG_HAVE_OPENMP
#pragma omp for schedule(static)
#endif
            for (y = 0; y < k->spixels; ++y) {
                double sum = 0.0;
                memset(row, 0, sizeof(float) * (size_t)k->fpixels);
                for (e = -R; e <= R; ++e)
                    if (y - e >= 0 && y - e < k->spixels)
                        add_shifted(row, image + (long)(y - e) * k->fpixels, k->fpixels, 0,
                                    line[R + e]);
                for (x = 0; x < k->fpixels; ++x) {
                    row[x] += each;
                    sum += row[x];
                }
                row_photons[y] = sum;
                overloads += sink_row(sink, row, (long)y * k->fpixels, k->fpixels);
            }
        }
        for (d = 0; d < k->spixels; ++d) photons += row_photons[d];
    }
    free(line);
    free(row_photons);
    free(rows);
    if (failed) return NB_OUT_OF_MEMORY;
    sink->photons = photons;
    sink->overloads = overloads;
    return NB_OK;
}

/* The one square kernel on every pixel, zero beyond the edges, from in into out (the
 * corrected fiber PSF).  The photons beyond the kernel are the image's sum times what
 * the kernel does not hold. */
static void gather_corrected(const psf_kernel *k, const float *in, float *out)
{
    int y, R = k->radius;
    NB_PARALLEL_FOR(k->threads, schedule(static))
    for (y = 0; y < k->spixels; ++y) {
        int dy, dx;
        /* (each row zeroed by the thread that fills it: the pages are first touched, and
         * cleared by the system, in parallel) */
        memset(out + (long)y * k->fpixels, 0, sizeof(float) * (size_t)k->fpixels);
        for (dy = -R; dy <= R; ++dy) {
            if (y - dy < 0 || y - dy >= k->spixels) continue;
            for (dx = -R; dx <= R; ++dx)
                add_shifted(out + (long)y * k->fpixels, in + (long)(y - dy) * k->fpixels,
                            k->fpixels, dx, k->kernel[(long)k->size * (R + dy) + R + dx]);
        }
    }
}

/* The PSF of spec over in, into out (*result says where the image is: out, or in when
 * there is nothing to blur); the photons beyond the kernel are spread evenly.  The
 * corrected Gaussian goes on into the sink's pixels instead (*result NULL). */
static nb_status apply_psf(const nb_response_spec *spec, int fpixels, int spixels,
                           int threads, float *in, float *out, float **result,
                           pixel_sink *sink, nb_response_info *info)
{
    psf_kernel k;
    nb_status status = NB_OK;
    double lost = 0.0, each;
    long i;
    memset(&k, 0, sizeof k);
    k.fpixels = fpixels;
    k.spixels = spixels;
    k.pixels = (long)fpixels * spixels;
    k.threads = threads;
    k.type = (nb_psf)spec->psf;
    k.fwhm = spec->psf_fwhm_px;
    k.g = spec->psf_fwhm_px * FIBER_G_PER_FWHM;
    info->psf_applied = 1;
    *result = out;
    /* corrected, the gathering writes every pixel (gather_corrected) */
    if (spec->c_parity) memset(out, 0, sizeof(float) * (size_t)k.pixels);
    choose_radius(spec, &k, in, info);
    if (k.radius == 0) {
        /* nothing above 0 to blur: the original gives an empty image */
        if (!spec->c_parity) *result = in;
        return NB_OK;
    }
    if (k.radius == INT32_MIN) /* every pixel vanishes (scatter_legacy) */
        return NB_OK;
    status = fill_kernel(&k, spec->c_parity);
    if (status != NB_OK) return status;
    if (spec->c_parity) {
        status = scatter_legacy(spec, &k, in, out, &lost);
    } else {
        double held = 0.0;
        for (i = 0; i < (long)k.size * k.size; ++i) held += k.kernel[i];
        lost = ordered_sum(in, k.pixels, threads) * (1.0 - held);
        if (k.type == NB_PSF_GAUSS) {
            *result = NULL;
            status = gauss_into_pixels(&k, in, lost / k.pixels, sink);
        } else {
            gather_corrected(&k, in, out);
        }
    }
    free(k.kernel);
    if (status != NB_OK) return status;
    info->lost_photons = lost;
    if (!*result) return NB_OK;
    each = lost / k.pixels;
    NB_PARALLEL_FOR(threads, schedule(static))
    for (i = 0; i < k.pixels; ++i) (*result)[i] += each;
    return NB_OK;
}

/* ---- pixel values ------------------------------------------------------- */

/* A negative value cast to an unsigned pixel as the
 * original's x86-64 code casts it (truncated to a signed 32- or 64-bit integer, which
 * is the lowest one when out of range or NaN, then its low 16 or 32 bits). */
static uint32_t legacy_pixel(double adu, int bits)
{
    /* quirk negative_adu_wraps */
    if (bits == 16) {
        int32_t t = (adu > -2147483649.0 && adu < 2147483648.0) ? (int32_t)adu : INT32_MIN;
        return (uint16_t)t;
    }
    {
        int64_t t = (adu > -9223372036854775808.0 && adu < 9223372036854775808.0)
                        ? (int64_t)adu
                        : INT64_MIN;
        return (uint32_t)t;
    }
}

/* Pixel i of an image of 16- or 32-bit pixels. */
static void store_pixel(void *image, long i, int bits, uint32_t value)
{
    if (bits == 16)
        ((uint16_t *)image)[i] = (uint16_t)value;
    else
        ((uint32_t *)image)[i] = value;
}

static uint32_t corrected_pixel(double adu, int bits)
{
    double top = bits == 16 ? 65535.0 : 2147483647.0;
    if (!(adu > 0.0)) return 0;
    return (uint32_t)(adu > top ? top : adu);
}

/* The original clips the noiseless image at 65535 before
 * it makes either pixel size of it, so its 32-bit noiseless image saturates at 65535. */
static inline void expected_pixel(const nb_response_spec *spec, float photons, long i,
                                  void *out, double *adu_out)
{
    /* quirk int32_expected_clipped */
    double adu = photons * spec->gain_adu_per_photon + spec->adc_offset_adu;
    if (adu_out) adu_out[i] = adu;
    if (spec->c_parity) {
        if (adu > 2147483647.0) adu = 2147483647.0;
        if (adu > 65535.0) adu = 65535.0;
        store_pixel(out, i, spec->bits, legacy_pixel(adu, spec->bits));
    } else {
        store_pixel(out, i, spec->bits, corrected_pixel(adu, spec->bits));
    }
}

static void expected_image(const nb_response_spec *spec, const float *photons, long pixels,
                           int threads, void *out, double *adu_out)
{
    long i;
    NB_PARALLEL_FOR(threads, schedule(static))
    for (i = 0; i < pixels; ++i) expected_pixel(spec, photons[i], i, out, adu_out);
}

/* The calibration error draws from the generator state the shot noise uses (its
 * shuffle table and its spare Gaussian), so it changes with the shot-noise seed: the
 * original's order, for c_parity (corrected_counts replaces it). */
double nb_response_shot_noise(const nb_response_spec *spec, nb_random_state *rng, long *seed,
                              float *photons, long pixels)
{
    /* quirk calibration_follows_shot_seed */
    long calibration_seed = spec->calibration_seed, i;
    double sum = 0.0;
    for (i = 0; i < pixels; ++i) {
        double expected = photons[i];
        if (spec->flicker > 0.0) expected *= (1.0 + spec->flicker * nb_gaussian(rng, seed));
        if (spec->calibration > 0.0)
            expected *= (1.0 + spec->calibration * nb_gaussian(rng, &calibration_seed));
        photons[i] = nb_poisson(rng, seed, (float)expected);
        sum += photons[i];
    }
    return sum;
}

/* The keys of the corrected streams: the shot noise (with the flicker), the read-out
 * noise, and the calibration error, whose key comes from its own seed alone. */
#define SHOT_STREAM 0x53484F54ULL
#define READOUT_STREAM 0x52454144ULL
#define CALIBRATION_STREAM 0x43414C49ULL

static uint64_t stream_key(long seed, uint64_t purpose)
{
    return nb_mix64((uint64_t)seed * 0x9E3779B97F4A7C15ULL ^ purpose);
}

#define NB_COUNT_BLOCK 512 /* pixels whose draws are made loop by loop, vectorised */

/* mean *= 1 + sigma x a Gaussian deviate of each pixel's stream under key (its first two
 * draws). */
static inline void multiply_deviates(uint64_t key, long first, int n, double sigma,
                                     double *restrict mean)
{
    int j;
    for (j = 0; j < n; ++j) {
        nb_stream stream = nb_stream_at(key, (uint64_t)(first + j));
        mean[j] *= 1.0 + sigma * nb_stream_gaussian(&stream);
    }
}

/* The Poisson counts of means below 10 by inversion of one uniform each: the pixels in
 * step, each adding the next probability until its cumulative distribution reaches its
 * uniform (or its probabilities vanish, for a uniform beyond the sum's rounding); the
 * counts of other means stay 0.  The shot stream's draw skip is the uniform. */
static inline void invert_counts(uint64_t key, long first, int n, uint64_t skip,
                                 const double *restrict mean, double *restrict count)
{
    double u[NB_COUNT_BLOCK], p[NB_COUNT_BLOCK], cdf[NB_COUNT_BLOCK];
    int j, going = 1;
    for (j = 0; j < n; ++j) {
        nb_stream shot = nb_stream_after(nb_stream_at(key, (uint64_t)(first + j)), skip);
        u[j] = nb_stream_uniform(&shot);
        p[j] = cdf[j] = nb_exp(-mean[j]);
        count[j] = 0.0;
    }
    while (going) {
        going = 0;
        for (j = 0; j < n; ++j) {
            double next = count[j] + 1.0, p_next = p[j] * mean[j] / next;
            double cdf_next = cdf[j] + p_next;
            int step = (u[j] > cdf[j]) & (p[j] > 0.0) & (mean[j] < 10.0);
            count[j] = step ? next : count[j];
            p[j] = step ? p_next : p[j];
            cdf[j] = step ? cdf_next : cdf[j];
            going |= step;
        }
    }
}

/* The counts of pixels first to first + n - 1 (n at most NB_COUNT_BLOCK): the flicker
 * (the shot stream's first two draws) and the calibration error, then a Poisson count
 * (the next draw, and on for a mean of 10 or more; 0 for a mean at or below 0, or NaN). */
NB_VECTOR_CLONES static void count_block(const nb_response_spec *spec, uint64_t shot_key,
                                         uint64_t calibration_key, long first, int n,
                                         const float *image, float *photons)
{
    double mean[NB_COUNT_BLOCK], count[NB_COUNT_BLOCK];
    uint64_t skip = spec->flicker > 0.0 ? 2 : 0;
    int j;
    for (j = 0; j < n; ++j) mean[j] = (float)(spec->photons_per_value * image[first + j]);
    if (spec->flicker > 0.0) multiply_deviates(shot_key, first, n, spec->flicker, mean);
    if (spec->calibration > 0.0)
        multiply_deviates(calibration_key, first, n, spec->calibration, mean);
    invert_counts(shot_key, first, n, skip, mean, count);
    for (j = 0; j < n; ++j) {
        if (mean[j] >= 10.0) {
            nb_stream shot = nb_stream_after(nb_stream_at(shot_key, (uint64_t)(first + j)),
                                             skip + 1);
            count[j] = nb_stream_poisson_large(&shot, mean[j]);
        }
        photons[first + j] = (float)count[j];
    }
}

/* Corrected: the counts of the photons of image into photons, each pixel drawing from
 * streams of its own (nb_stream.h), in parallel; the calibration error from the
 * calibration seed's, the same whatever the shot seed. */
static double corrected_counts(const nb_response_spec *spec, const float *image,
                               float *photons, long pixels, int threads)
{
    /* quirk calibration_follows_shot_seed */
    uint64_t shot_key = stream_key(spec->seed, SHOT_STREAM);
    uint64_t calibration_key = stream_key(spec->calibration_seed, CALIBRATION_STREAM);
    double sum = 0.0;
    long block, blocks = (pixels + NB_COUNT_BLOCK - 1) / NB_COUNT_BLOCK;
    NB_PARALLEL_FOR(threads, schedule(static) reduction(+ : sum))
    for (block = 0; block < blocks; ++block) {
        long first = block * NB_COUNT_BLOCK, i;
        int n = pixels - first < NB_COUNT_BLOCK ? (int)(pixels - first) : NB_COUNT_BLOCK;
        count_block(spec, shot_key, calibration_key, first, n, image, photons);
        for (i = first; i < first + n; ++i) sum += photons[i]; /* whole numbers: any order */
    }
    return sum;
}

void nb_response_readout_deviates(nb_random_state *rng, long *seed, long pixels,
                                  float *deviates)
{
    long i;
    for (i = 0; i < pixels; ++i) deviates[i] = nb_gaussian(rng, seed);
}

/* The corrected read-out deviates of pixels first to first + n - 1. */
NB_VECTOR_CLONES static void readout_block(uint64_t readout_key, long first, int n,
                                           double *deviates)
{
    int j;
    for (j = 0; j < n; ++j) {
        nb_stream readout = nb_stream_at(readout_key, (uint64_t)(first + j));
        deviates[j] = nb_stream_gaussian(&readout);
    }
}

/* A noise-image pixel of adu (read-out noise included), clipped to its size; 1 when it
 * overloads. */
static inline int noisy_pixel(const nb_response_spec *spec, double adu, long i, void *out)
{
    int overload = 0;
    if (adu > 2147483647.0) {
        adu = 2147483647.0;
        if (spec->bits == 32) overload = 1;
    }
    if (spec->bits == 16 && adu > 65535.0) {
        adu = 65535.0;
        overload = 1;
    }
    store_pixel(out, i, spec->bits,
                spec->c_parity ? legacy_pixel(adu, spec->bits) : corrected_pixel(adu, spec->bits));
    return overload;
}

/* Corrected noise-image pixels first to first + n - 1 of the values signal[0..n-1]:
 * read-out noise from each pixel's stream, gain, offset, clipping; the overloads. */
static long corrected_noisy_pixels(const nb_response_spec *spec, uint64_t readout_key,
                                   const float *signal, long first, long n, void *out)
{
    long done, overloads = 0;
    double deviates[NB_COUNT_BLOCK];
    for (done = 0; done < n; done += NB_COUNT_BLOCK) {
        int m = n - done < NB_COUNT_BLOCK ? (int)(n - done) : NB_COUNT_BLOCK, j;
        if (spec->readout_adu > 0.0) readout_block(readout_key, first + done, m, deviates);
        for (j = 0; j < m; ++j) {
            double adu = signal[done + j] * spec->gain_adu_per_photon + spec->adc_offset_adu;
            if (spec->readout_adu > 0.0) adu += spec->readout_adu * deviates[j];
            overloads += noisy_pixel(spec, adu, first + done + j, out);
        }
    }
    return overloads;
}

/* The read-out noise (the shot noise's stream going on), gain and offset, and the pixel
 * clipping, counting overloads. */
static void noisy_image(const nb_response_spec *spec, nb_random_state *rng, long *seed,
                        const float *photons, long pixels, int threads, void *out,
                        nb_response_info *info)
{
    long block, blocks = (pixels + NB_COUNT_BLOCK - 1) / NB_COUNT_BLOCK, overloads = 0;
    double sum = 0.0;
    uint64_t readout_key = stream_key(spec->seed, READOUT_STREAM);
    if (spec->c_parity) { /* in the original's order, as its log prints it */
        for (block = 0; block < pixels; ++block) sum += photons[block];
        for (block = 0; block < pixels; ++block) {
            double adu = photons[block] * spec->gain_adu_per_photon + spec->adc_offset_adu;
            if (spec->readout_adu > 0.0) adu += spec->readout_adu * nb_gaussian(rng, seed);
            overloads += noisy_pixel(spec, adu, block, out);
        }
    } else {
        sum = ordered_sum(photons, pixels, threads);
        NB_PARALLEL_FOR(threads, schedule(static) reduction(+ : overloads))
        for (block = 0; block < blocks; ++block) {
            long first = block * NB_COUNT_BLOCK;
            long n = pixels - first < NB_COUNT_BLOCK ? pixels - first : NB_COUNT_BLOCK;
            overloads += corrected_noisy_pixels(spec, readout_key, photons + first, first, n, out);
        }
    }
    info->photons = sum;
    info->overloads = overloads;
}

nb_status nb_detector_response(const nb_response_spec *spec, const float *image, int fpixels,
                               int spixels, int threads, nb_random_state *rng, float *work,
                               void *expected, double *expected_adu, void *noisy,
                               nb_response_info *info)
{
    long pixels = (long)fpixels * spixels, i;
    float *photons = work, *blurred = work + pixels, *result;
    int blur = spec->psf != NB_PSF_NONE && spec->psf_fwhm_px > 0.0;
    /* without noise and with a PSF, the noiseless image comes after the PSF */
    int expected_now = spec->noise || !blur, corrected_noise = spec->noise && !spec->c_parity;
    pixel_sink sink;
    nb_status status;
    long seed;
    double max_value;
    memset(info, 0, sizeof *info);
    max_value = info->max_value;
#ifdef NANOBRAGG_HAVE_OPENMP
    if (threads <= 0) threads = omp_get_max_threads();
#else
    (void)threads;
#endif
    /* the noiseless pixels as the photons are made, when they come before any PSF (the
     * corrected noise makes its photons again as it counts them) */
    NB_PARALLEL_FOR(threads, schedule(static) reduction(max : max_value))
    for (i = 0; i < pixels; ++i) {
        float value = (float)(spec->photons_per_value * image[i]);
        if (max_value < image[i]) max_value = image[i];
        if (!corrected_noise) photons[i] = value;
        if (expected_now) expected_pixel(spec, value, i, expected, expected_adu);
    }
    info->max_value = max_value;
    memset(&sink, 0, sizeof sink);
    sink.spec = spec;
    if (!expected_now) {
        sink.out = expected;
        sink.adu_out = expected_adu;
        status = apply_psf(spec, fpixels, spixels, threads, photons, blurred, &result, &sink,
                           info);
        if (status != NB_OK) return status;
        if (result) expected_image(spec, result, pixels, threads, expected, expected_adu);
        return NB_OK;
    }
    if (!spec->noise) return NB_OK;

    seed = spec->seed;
    info->photons_before_psf = spec->c_parity
                                   ? nb_response_shot_noise(spec, rng, &seed, photons, pixels)
                                   : corrected_counts(spec, image, photons, pixels, threads);
    result = photons;
    if (blur) {
        sink.noise = 1;
        sink.readout_key = stream_key(spec->seed, READOUT_STREAM);
        sink.out = noisy;
        status = apply_psf(spec, fpixels, spixels, threads, photons, blurred, &result, &sink,
                           info);
        if (status != NB_OK) return status;
    }
    if (result) {
        noisy_image(spec, rng, &seed, result, pixels, threads, noisy, info);
    } else {
        info->photons = sink.photons;
        info->overloads = sink.overloads;
    }
    return NB_OK;
}
