/* add_noise: Poisson photon counting with the legacy generator, pixel by pixel
 * in image order (the generator is sequential, so this stage is too). */
#include "nanobragg.h"

void nb_add_noise(const float *image, int fpixels, int spixels, int roi_xmin, int roi_xmax,
                  int roi_ymin, int roi_ymax, double adc_offset, long *seed,
                  nb_random_state *rng, uint16_t *out, double *photons, long *overloads)
{
    int s, f;
    double sum = 0.0;
    long over = 0;
    for (s = 0; s < spixels; ++s) {
        for (f = 0; f < fpixels; ++f) {
            long idx = (long)s * fpixels + f;
            double counts;
            if (f < roi_xmin || f > roi_xmax || s < roi_ymin || s > roi_ymax) continue;
            counts = nb_poisson(rng, seed, image[idx]);
            sum += counts;
            counts += adc_offset;
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
