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

#include "nanobragg.h"

#define PHOTON_LOSS_FACTOR 10.0 /* the kernel keeps what exceeds sqrt(I) / 10 photons */
#define FIBER_G_PER_FWHM 0.652383013252053

typedef struct {
    int fpixels, spixels;
    long pixels;
    nb_psf type;
    double fwhm;    /* pixels */
    double g;       /* the fiber PSF's distance parameter, pixels */
    int radius;     /* the kernel's radius, pixels */
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

/* The kernel of radius k->radius, 0 beyond it. */
static nb_status fill_kernel(psf_kernel *k)
{
    int dx, dy;
    k->size = 2 * k->radius + 1;
    k->kernel = calloc((size_t)k->size * (size_t)k->size, sizeof(double));
    if (!k->kernel) return NB_OUT_OF_MEMORY;
    for (dy = -k->radius; dy <= k->radius; ++dy) {
        for (dx = -k->radius; dx <= k->radius; ++dx) {
            if (dx * dx + dy * dy > k->radius * k->radius) continue;
            k->kernel[(long)k->size * (k->radius + dy) + k->radius + dx] =
                k->type == NB_PSF_GAUSS ? gauss_over_pixel(dx, dy, k->fwhm)
                                        : fiber_over_pixel(dx, dy, k->g);
        }
    }
    return NB_OK;
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

/* Each pixel above 0 is spread in
 * image order over the kernel cut at the radius its own brightness gives (or the
 * given one), the part beyond it summed and later spread evenly; a neighbour one
 * column past the right edge lands on the next row's first pixel.  Under a Gaussian
 * with the automatic radius, a pixel below 0.01 photons has a NaN radius: the
 * original's loop then reaches no pixel and loses nothing, so the pixel vanishes. */
static void scatter_legacy(const nb_response_spec *spec, const psf_kernel *k,
                           const float *in, float *out, double *lost_total)
{
    /* quirk psf_radius_per_pixel, quirk psf_edge_wraps */
    long i;
    double lost = 0.0;
    for (i = 0; i < k->pixels; ++i) {
        int x0 = (int)(i % k->fpixels), y0 = (int)(i / k->fpixels), radius, dx, dy;
        if (in[i] <= 0.0) continue;
        if (spec->psf_radius_px != 0) {
            radius = spec->psf_radius_px;
        } else {
            double r = radius_for(k, in[i], 0);
            if (isnan(r)) continue;
            radius = r > INT32_MAX ? INT32_MAX : (int)r;
        }
        radius = clip_radius(k, radius);
        lost += lost_beyond(k, in[i], radius);
        for (dx = -radius; dx <= radius; ++dx) {
            for (dy = -radius; dy <= radius; ++dy) {
                double weight = kernel_at(k, dx, dy);
                int x = x0 + dx, y = y0 + dy;
                long j;
                if (weight == 0.0 || dx * dx + dy * dy > radius * radius) continue;
                if (x < 0 || x > k->fpixels || y < 0 || y > k->spixels) continue;
                j = (long)y * k->fpixels + x;
                if (j < 0 || j >= k->pixels) continue;
                out[j] += in[i] * weight;
            }
        }
    }
    *lost_total = lost;
}

/* The one kernel gathered onto every pixel, zero beyond the edges; the part beyond the
 * radius summed row by row (the same sum for any thread count). */
static void gather_corrected(const psf_kernel *k, const float *in, float *out,
                             double *lost_total)
{
    int y;
    double lost = 0.0;
    double tail = lost_beyond(k, 1.0, k->radius);
#ifdef NANOBRAGG_HAVE_OPENMP
#pragma omp parallel for schedule(static) reduction(+ : lost)
#endif
    for (y = 0; y < k->spixels; ++y) {
        int x;
        double row = 0.0;
        for (x = 0; x < k->fpixels; ++x) {
            double sum = 0.0;
            int dx, dy;
            for (dy = -k->radius; dy <= k->radius; ++dy) {
                int sy = y - dy;
                if (sy < 0 || sy >= k->spixels) continue;
                for (dx = -k->radius; dx <= k->radius; ++dx) {
                    int sx = x - dx;
                    if (sx < 0 || sx >= k->fpixels) continue;
                    sum += in[(long)sy * k->fpixels + sx] * kernel_at(k, dx, dy);
                }
            }
            out[(long)y * k->fpixels + x] = (float)sum;
            row += in[(long)y * k->fpixels + x];
        }
        lost += row;
    }
    *lost_total = lost * tail;
}

/* The PSF of spec over in, into out; the photons beyond the kernel are spread evenly. */
static nb_status apply_psf(const nb_response_spec *spec, int fpixels, int spixels,
                           const float *in, float *out, nb_response_info *info)
{
    psf_kernel k;
    nb_status status;
    double lost = 0.0, each;
    long i;
    memset(&k, 0, sizeof k);
    k.fpixels = fpixels;
    k.spixels = spixels;
    k.pixels = (long)fpixels * spixels;
    k.type = (nb_psf)spec->psf;
    k.fwhm = spec->psf_fwhm_px;
    k.g = spec->psf_fwhm_px * FIBER_G_PER_FWHM;
    info->psf_applied = 1;
    memset(out, 0, sizeof(float) * (size_t)k.pixels);
    choose_radius(spec, &k, in, info);
    if (k.radius == 0) {
        /* nothing above 0 to blur: the original gives an empty image */
        if (!spec->c_parity) memcpy(out, in, sizeof(float) * (size_t)k.pixels);
        return NB_OK;
    }
    if (k.radius == INT32_MIN) return NB_OK; /* every pixel vanishes (scatter_legacy) */
    status = fill_kernel(&k);
    if (status != NB_OK) return status;
    if (spec->c_parity)
        scatter_legacy(spec, &k, in, out, &lost);
    else
        gather_corrected(&k, in, out, &lost);
    free(k.kernel);
    info->lost_photons = lost;
    each = lost / k.pixels;
    for (i = 0; i < k.pixels; ++i) out[i] += each;
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

static uint32_t corrected_pixel(double adu, int bits)
{
    double top = bits == 16 ? 65535.0 : 2147483647.0;
    if (!(adu > 0.0)) return 0;
    return (uint32_t)(adu > top ? top : adu);
}

/* The original clips the noiseless image at 65535 before
 * it makes either pixel size of it, so its 32-bit noiseless image saturates at 65535. */
static void expected_image(const nb_response_spec *spec, const float *photons, long pixels,
                           uint32_t *out)
{
    /* quirk int32_expected_clipped */
    long i;
    for (i = 0; i < pixels; ++i) {
        double adu = photons[i] * spec->gain_adu_per_photon + spec->adc_offset_adu;
        if (spec->c_parity) {
            if (adu > 2147483647.0) adu = 2147483647.0;
            if (adu > 65535.0) adu = 65535.0;
            out[i] = legacy_pixel(adu, spec->bits);
        } else {
            out[i] = corrected_pixel(adu, spec->bits);
        }
    }
}

/* The calibration error draws from the generator
 * state the shot noise uses (its shuffle table and its spare Gaussian), so it changes
 * with the shot-noise seed; corrected, it has a state of its own. */
double nb_response_shot_noise(const nb_response_spec *spec, nb_random_state *rng, long *seed,
                              float *photons, long pixels)
{
    /* quirk calibration_follows_shot_seed */
    nb_random_state own;
    nb_random_state *calibration_rng = rng;
    long calibration_seed = spec->calibration_seed, i;
    double sum = 0.0;
    if (!spec->c_parity) {
        nb_random_init(&own);
        calibration_rng = &own;
    }
    for (i = 0; i < pixels; ++i) {
        double expected = photons[i];
        if (spec->flicker > 0.0) expected *= (1.0 + spec->flicker * nb_gaussian(rng, seed));
        if (spec->calibration > 0.0)
            expected *= (1.0 + spec->calibration *
                                   nb_gaussian(calibration_rng, &calibration_seed));
        photons[i] = nb_poisson(rng, seed, (float)expected);
        sum += photons[i];
    }
    return sum;
}

void nb_response_readout_deviates(nb_random_state *rng, long *seed, long pixels,
                                  float *deviates)
{
    long i;
    for (i = 0; i < pixels; ++i) deviates[i] = nb_gaussian(rng, seed);
}

/* The read-out noise (the shot noise's stream going on), gain and offset, and the pixel
 * clipping, counting overloads. */
static void noisy_image(const nb_response_spec *spec, nb_random_state *rng, long *seed,
                        const float *photons, long pixels, uint32_t *out,
                        nb_response_info *info)
{
    long i, overloads = 0;
    double sum = 0.0;
    for (i = 0; i < pixels; ++i) {
        double adu;
        sum += photons[i];
        adu = photons[i] * spec->gain_adu_per_photon + spec->adc_offset_adu;
        if (spec->readout_adu > 0.0) adu += spec->readout_adu * nb_gaussian(rng, seed);
        if (adu > 2147483647.0) {
            adu = 2147483647.0;
            if (spec->bits == 32) ++overloads;
        }
        if (spec->bits == 16 && adu > 65535.0) {
            adu = 65535.0;
            ++overloads;
        }
        out[i] = spec->c_parity ? legacy_pixel(adu, spec->bits) : corrected_pixel(adu, spec->bits);
    }
    info->photons = sum;
    info->overloads = overloads;
}

nb_status nb_detector_response(const nb_response_spec *spec, const float *image, int fpixels,
                               int spixels, nb_random_state *rng, float *work,
                               uint32_t *expected, uint32_t *noisy, nb_response_info *info)
{
    long pixels = (long)fpixels * spixels, i;
    float *photons = work, *blurred = work + pixels;
    const float *signal = photons;
    int blur = spec->psf != NB_PSF_NONE && spec->psf_fwhm_px > 0.0;
    nb_status status;
    long seed;
    memset(info, 0, sizeof *info);
    for (i = 0; i < pixels; ++i) {
        if (info->max_value < image[i]) info->max_value = image[i];
        photons[i] = (float)(spec->photons_per_value * image[i]);
    }
    if (!spec->noise && blur) {
        status = apply_psf(spec, fpixels, spixels, photons, blurred, info);
        if (status != NB_OK) return status;
        signal = blurred;
    }
    expected_image(spec, signal, pixels, expected);
    if (!spec->noise) return NB_OK;

    seed = spec->seed;
    info->photons_before_psf = nb_response_shot_noise(spec, rng, &seed, photons, pixels);
    if (blur) {
        status = apply_psf(spec, fpixels, spixels, photons, blurred, info);
        if (status != NB_OK) return status;
        signal = blurred;
    } else {
        signal = photons;
    }
    noisy_image(spec, rng, &seed, signal, pixels, noisy, info);
    return NB_OK;
}
