/* Pragmas from macros.  NB_PRAGMA(text) is #pragma text.  NB_PARALLEL_FOR(threads,
 * clauses) before a for loop makes it an OpenMP parallel loop on that many threads where
 * the engine is built with OpenMP, and leaves it a plain loop otherwise (threads is then
 * only evaluated, so that a parameter used for nothing else draws no warning). */
#ifndef NB_PRAGMA_H
#define NB_PRAGMA_H

#define NB_PRAGMA(...) _Pragma(#__VA_ARGS__)

#ifdef NANOBRAGG_HAVE_OPENMP
#define NB_PARALLEL_FOR(threads, ...) \
    (void)(threads);                  \
    NB_PRAGMA(omp parallel for num_threads(threads) __VA_ARGS__)
#else
#define NB_PARALLEL_FOR(threads, ...) (void)(threads);
#endif

#endif
