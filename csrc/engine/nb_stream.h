/* Random streams of the corrected modes: one independent stream per pixel (and per
 * purpose), keyed by a seed, so that draws can run in parallel and an image is the same
 * for any thread count.  A stream is SplitMix64 started from a hash of (key, index). */
#ifndef NB_STREAM_H
#define NB_STREAM_H

#include <math.h>
#include <stdint.h>

#include "nb_fastmath.h"

typedef struct {
    uint64_t state;
} nb_stream;

static inline uint64_t nb_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* The stream of item index under key. */
static inline nb_stream nb_stream_at(uint64_t key, uint64_t index)
{
    nb_stream s;
    s.state = nb_mix64(key ^ nb_mix64(index + 0x9E3779B97F4A7C15ULL));
    return s;
}

static inline uint64_t nb_stream_bits(nb_stream *s)
{
    s->state += 0x9E3779B97F4A7C15ULL;
    return nb_mix64(s->state);
}

/* Uniform in (0, 1): 52 random bits as the mantissa of a number in [1, 2), less 1, plus
 * 2^-53 (all exact, and vectorisable: no integer to double conversion). */
static inline double nb_stream_uniform(nb_stream *s)
{
    return (nb_from_bits(0x3FF0000000000000ULL | (nb_stream_bits(s) >> 12)) - 1.0) + 0x1p-53;
}

/* A unit Gaussian deviate (Box-Muller, one of the pair), in straight-line arithmetic
 * (nb_fastmath.h) so that a loop of them over pixels vectorises. */
static inline double nb_stream_gaussian(nb_stream *s)
{
    double u = nb_stream_uniform(s), v = nb_stream_uniform(s), sin_v, cos_v;
    nb_sincos(6.283185307179586 * v, &sin_v, &cos_v);
    return sqrt(-2.0 * nb_log(u)) * cos_v;
}

/* The step of a stream after draws draws: the stream of an item taken up again. */
static inline nb_stream nb_stream_after(nb_stream s, uint64_t draws)
{
    s.state += draws * 0x9E3779B97F4A7C15ULL;
    return s;
}

/* A Poisson deviate of mean 10 or more by the transformed rejection of Hoermann (1993)
 * (smaller means are counted by inversion, nb_response.c: count_block). */
static inline double nb_stream_poisson_large(nb_stream *s, double mean)
{
    {
        double root = sqrt(mean), log_mean = log(mean);
        double b = 0.931 + 2.53 * root, a = -0.059 + 0.02483 * b;
        double inverse_alpha = 1.1239 + 1.1328 / (b - 3.4), accept = 0.9277 - 3.6224 / (b - 2);
        for (;;) {
            double u = nb_stream_uniform(s) - 0.5, v = nb_stream_uniform(s);
            double us = 0.5 - fabs(u);
            double k = floor((2 * a / us + b) * u + mean + 0.43);
            if (us >= 0.07 && v <= accept) return k;
            if (k < 0 || (us < 0.013 && v > us)) continue;
            if (log(v) + log(inverse_alpha) - log(a / (us * us) + b) <=
                -mean + k * log_mean - lgamma(k + 1))
                return k;
        }
    }
}

#endif
