"""One nanoBragg command line run two ways, and how the two float images differ.

The library behind ``nb-compare`` (:mod:`nanobragg.cli.compare`):

- :mod:`~nanobragg.compare.runners`: :func:`parse_runner_spec` reads ``c``,
  ``torch[:DEVICE][:DTYPE]`` (either with ``+parity``) or ``exe:PATH``;
  :func:`make_runner` reads the nanoBragg arguments for it and :meth:`Runner.run`
  renders, in this process or by running the external program;
- :mod:`~nanobragg.compare.metrics`: :func:`compare_images` (correlation, RMSE, largest
  absolute and relative differences, sum ratio, matched peaks);
- :mod:`~nanobragg.compare.report`: :class:`Report` (its text and ``summary.json``) and
  :func:`trace_runners` (one pixel traced by both runners);
- :mod:`~nanobragg.compare.outputs`: :func:`write_outputs` (raw float images, PNG
  previews, traces, the summary, all together or not at all) and :func:`output_set`
  (those files, to check before the runs).
"""

from nanobragg.compare.metrics import (
    PEAK_FLOOR,
    REL_FLOOR,
    Comparison,
    PeakMatch,
    compare_images,
    correlation,
    find_peaks,
    match_peaks,
    max_rel_diff,
)
from nanobragg.compare.outputs import output_set, previews_available, write_outputs
from nanobragg.compare.report import PixelTraces, Report, Thresholds, trace_runners
from nanobragg.compare.runners import (
    Run,
    Runner,
    RunnerFailure,
    RunnerSpec,
    ShapeMismatch,
    external_argv,
    make_runner,
    parse_runner_spec,
    read_float_image,
)

__all__ = [
    "PEAK_FLOOR",
    "REL_FLOOR",
    "Comparison",
    "PeakMatch",
    "PixelTraces",
    "Report",
    "Run",
    "Runner",
    "RunnerFailure",
    "RunnerSpec",
    "ShapeMismatch",
    "Thresholds",
    "compare_images",
    "correlation",
    "external_argv",
    "find_peaks",
    "make_runner",
    "match_peaks",
    "max_rel_diff",
    "output_set",
    "parse_runner_spec",
    "previews_available",
    "read_float_image",
    "trace_runners",
    "write_outputs",
]
