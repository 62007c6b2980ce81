/* What the command computes from the rendered image, in the original's order and
 * precision: the statistics it prints (sums in float64 in pixel order, squares in
 * float32) and the integer SMV image. */
#include <math.h>

#include "nanobragg.h"

void nb_image_sums(const float *image, const unsigned char *rendered,
                   const unsigned char *roi, long n, nb_image_sums_out *out)
{
    /* -0.0 is the sum's identity: a first term keeps its sign */
    double total = -0.0, squares = -0.0, deviations = -0.0, mean;
    float max_value = 0.0f;
    long i, count = 0, roi_count = 0, max_index = -1;
    int unordered = 0;
    for (i = 0; i < n; ++i) {
        float value;
        if (!rendered[i]) continue;
        value = image[i];
        total += (double)value;
        squares += (double)(value * value);
        ++count;
        if (value != value) unordered = 1;
        else if (value > max_value) {
            max_value = value;
            max_index = i;
        }
    }
    if (!count) total = squares = 0.0;
    mean = total / (double)(count > 1 ? count : 1);
    for (i = 0; i < n; ++i) {
        double deviation;
        if (!roi[i]) continue;
        deviation = (double)image[i] - mean;
        deviations += deviation * deviation;
        ++roi_count;
    }
    out->count = count;
    out->total = total;
    out->squares = squares;
    out->mean = mean;
    out->roi_count = roi_count;
    out->deviations = roi_count ? deviations : 0.0;
    /* a NaN among the pixels: no brightest pixel (as numpy's max propagates it) */
    out->max_index = unordered ? -1 : max_index;
    out->max_value = unordered || max_index < 0 ? 0.0 : (double)max_value;
}

void nb_int_image(const float *image, const unsigned char *roi, long n, double scale,
                  double adc_offset, uint16_t *out)
{
    long i;
    for (i = 0; i < n; ++i) {
        double value;
        float rounded;
        if (!roi[i]) {
            out[i] = 0;
            continue;
        }
        value = (double)image[i] * scale;
        value = value + adc_offset;
        if (value < 0.0) value = 0.0;
        if (value > 65535.0) value = 65535.0;
        rounded = floorf((float)(value + 0.5));
        /* NaN has no count: 0, as numpy's cast gives on x86 */
        out[i] = rounded == rounded ? (uint16_t)rounded : 0;
    }
}
