/* add_noise: Poisson photon counting with the legacy generator, pixel by pixel
 * in image order (the generator is sequential, so this stage is too). */
#include "nanobragg.h"

static int outside_roi(const nb_noise_spec *spec, int f, int s)
{
    return f < spec->roi_xmin || f > spec->roi_xmax || s < spec->roi_ymin || s > spec->roi_ymax;
}

void nb_add_noise(const nb_noise_spec *spec, const float *image, int fpixels, int spixels,
                  nb_random_state *rng, uint16_t *out, double *photons, long *overloads)
{
    long seed = spec->seed, over = 0;
    double sum = 0.0;
    int s, f;
    for (s = 0; s < spixels; ++s) {
        for (f = 0; f < fpixels; ++f) {
            long idx = (long)s * fpixels + f;
            double counts;
            if (outside_roi(spec, f, s)) continue;
            counts = nb_poisson(rng, &seed, image[idx]);
            sum += counts;
            counts += spec->adc_offset;
            if (!(counts >= 0.0)) counts = 0.0; /* NaN too: no undefined cast */
            if (counts > 65535.0) {
                counts = 65535.0;
                ++over;
            }
            out[idx] = (uint16_t)counts;
        }
    }
    *photons = sum;
    *overloads = over;
}
