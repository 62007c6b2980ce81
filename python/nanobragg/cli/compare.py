"""The ``nb-compare`` command: one nanoBragg command line on two runners, and how the images differ.

``nb-compare [options] -- NANOBRAGG_ARGS...``; the work is done by :mod:`nanobragg.compare`.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from typing import NoReturn

from nanobragg.errors import UsageError

__all__ = [
    "EXIT_OK",
    "EXIT_RUNNER_FAILED",
    "EXIT_SHAPE_MISMATCH",
    "EXIT_THRESHOLD_NOT_MET",
    "EXIT_USAGE",
    "build_parser",
    "main",
]

EXIT_OK = 0
EXIT_USAGE = 2
"""Bad options, no ``--``, a bad runner spec, nanoBragg arguments that cannot be read."""
EXIT_RUNNER_FAILED = 3
"""A runner could not make its image (engine error, external program failing)."""
EXIT_THRESHOLD_NOT_MET = 4
"""``--min-correlation`` or ``--max-rel-diff`` not met (everything is still written)."""
EXIT_SHAPE_MISMATCH = 5
"""The images differ in shape (or an external float file in size)."""
EXIT_INTERRUPTED = 130
"""Ctrl-C."""

_DESCRIPTION = """\
Runs the same nanoBragg arguments on two runners (by default the C engine and the torch
engine, in this process) and reports how their float images differ: correlation, RMSE,
largest absolute and relative differences, sum ratio and the positions of matched peaks.
The report is printed and written to OUT/summary.json, with the images as raw float32
(a.bin, b.bin) and PNG previews (a.png, b.png, diff.png; needs matplotlib).  With
--trace SLOW FAST both runners also trace that pixel, term by term, and the report names
the first quantity where the traces differ.  OUT is checked before the runs and its
files are written all together: a failure or Ctrl-C leaves it as it was.

runners (--a, --b):
  c                          the C engine
  torch[:DEVICE][:DTYPE]     the torch engine, e.g. torch:cuda, torch:cuda:1:float32,
                             torch:float32 (DEVICE cpu, cuda, cuda:N; DTYPE float32|float64)
  ...+parity                 c or torch with c_parity on (-c_parity among the nanoBragg
                             arguments turns it on for both)
  exe:PATH                   an external program taking nanoBragg's flags (your build of
                             the original, say), run in a temporary folder with file
                             arguments made absolute, this package's own flags and output
                             files removed, and -floatfile added
"""

_EPILOG = f"""\
example:
  nb-compare --out cmp -- -cell 100 100 100 90 90 90 -default_F 100 -N 5 -lambda 1 \\
             -distance 100 -detpixels 256

exit status:
  {EXIT_OK}  the comparison is written (and meets the thresholds given)
  {EXIT_USAGE}  usage error: bad options, no --, bad runner spec, bad nanoBragg arguments
  {EXIT_RUNNER_FAILED}  a runner failed to make its image
  {EXIT_THRESHOLD_NOT_MET}  a threshold is not met (everything is still written)
  {EXIT_SHAPE_MISMATCH}  the two images differ in shape
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)
"""


class _Parser(argparse.ArgumentParser):
    """Option errors raise :class:`UsageError` (one line) instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    from nanobragg.compare import REL_FLOOR

    parser = _Parser(prog="nb-compare", usage="nb-compare [options] -- NANOBRAGG_ARGS...",
                     description=_DESCRIPTION, epilog=_EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", default="c", metavar="RUNNER", help="first runner (default: c)")
    parser.add_argument("--b", default="torch", metavar="RUNNER",
                        help="second runner (default: torch)")
    parser.add_argument("--out", default="nb-compare-out", metavar="DIR",
                        help="output folder (default: nb-compare-out)")
    parser.add_argument("--peaks", type=int, default=10, metavar="N",
                        help="how many of the highest peaks of a to match in b (default: 10)")
    parser.add_argument("--log", action="store_true",
                        help="log colour scale for a.png and b.png")
    parser.add_argument("--no-png", action="store_true", help="write no PNG previews")
    parser.add_argument("--min-correlation", type=float, metavar="X",
                        help=f"exit {EXIT_THRESHOLD_NOT_MET} when the correlation is below X")
    parser.add_argument("--trace", type=int, nargs=2, metavar=("SLOW", "FAST"),
                        help="trace this pixel on both runners, print the first quantity "
                             "where they differ, write a.trace.txt and b.trace.txt")
    parser.add_argument("--trace-rtol", type=float, default=1e-9, metavar="X",
                        help="relative tolerance of --trace (default: 1e-9)")
    parser.add_argument("--max-rel-diff", type=float, metavar="X",
                        help=f"exit {EXIT_THRESHOLD_NOT_MET} when the largest relative "
                             f"difference (where max(|a|, |b|) > {REL_FLOOR:g} of its "
                             "maximum) is above X")
    return parser


def _split(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """Our options, and the nanoBragg arguments after the first ``--``."""
    argv = list(argv)
    cut = argv.index("--") if "--" in argv else len(argv)
    options = build_parser().parse_args(argv[:cut])
    if options.peaks < 0:
        raise UsageError(f"--peaks: expected 0 or more, got {options.peaks}")
    if not 0 <= options.trace_rtol < math.inf:
        raise UsageError(f"--trace-rtol: expected a number >= 0, got {options.trace_rtol}")
    if options.min_correlation is not None and not -1 <= options.min_correlation <= 1:
        raise UsageError(f"--min-correlation: expected a number from -1 to 1, got "
                         f"{options.min_correlation}")
    if options.max_rel_diff is not None and not 0 <= options.max_rel_diff < math.inf:
        raise UsageError(f"--max-rel-diff: expected a number >= 0, got {options.max_rel_diff}")
    if cut == len(argv):
        raise UsageError("no '--': write nb-compare [options] -- NANOBRAGG_ARGS...")
    if cut == len(argv) - 1:
        raise UsageError("no nanoBragg arguments after '--'")
    return options, argv[cut + 1:]


def _fail(status: int, message: str) -> int:
    sys.stderr.write(f"nb-compare: {message}\n")
    return status


def main(argv: Sequence[str] | None = None) -> int:
    # the library is imported inside: a Ctrl-C during the imports is reported too
    try:
        return _compare(sys.argv[1:] if argv is None else argv)
    except KeyboardInterrupt:
        return _fail(EXIT_INTERRUPTED, "interrupted")


def _compare(argv: Sequence[str]) -> int:
    from nanobragg.compare import (
        Report,
        RunnerFailure,
        ShapeMismatch,
        Thresholds,
        compare_images,
        make_runner,
        output_set,
        parse_runner_spec,
        previews_available,
        trace_runners,
        write_outputs,
    )

    try:
        options, nanobragg_args = _split(argv)
        # one clock reading: a random misset is the same crystal on both runners
        clock = int(time.time())
        runners = [make_runner(parse_runner_spec(spec), nanobragg_args, clock=clock)
                   for spec in (options.a, options.b)]
    except UsageError as error:
        return _fail(EXIT_USAGE, f"{error} (nb-compare --help shows the usage)")
    try:
        # the output folder is checked before the runs and written after them, all together
        output_set(options.out).check()
    except OSError as error:
        return _fail(EXIT_USAGE, f"--out {options.out}: {error}")
    try:
        traces = None
        if options.trace is not None:
            runner_a, runner_b = runners
            traces = trace_runners(runner_a, runner_b, tuple(options.trace), options.trace_rtol)
        run_a, run_b = (runner.run() for runner in runners)
        comparison = compare_images(run_a.image, run_b.image, peaks=options.peaks)
    except UsageError as error:
        return _fail(EXIT_USAGE, f"{error} (nb-compare --help shows the usage)")
    except RunnerFailure as error:
        return _fail(EXIT_RUNNER_FAILED, str(error))
    except ShapeMismatch as error:
        return _fail(EXIT_SHAPE_MISMATCH, f"shape mismatch: {error}")
    except KeyboardInterrupt:
        return _fail(EXIT_INTERRUPTED, "interrupted")
    report = Report(run_a, run_b, comparison,
                    Thresholds(options.min_correlation, options.max_rel_diff), traces)
    print(report.text(), end="")
    previews = not options.no_png and previews_available()
    if not options.no_png and not previews:
        print("note: matplotlib is not installed, so no PNG previews "
              "(pip install 'nanobragg[compare]')")
    try:
        files = write_outputs(options.out, report, previews=previews, log_scale=options.log)
    except OSError as error:
        return _fail(EXIT_USAGE, f"--out {options.out}: {error}; nothing written")
    except KeyboardInterrupt:
        return _fail(EXIT_INTERRUPTED, f"interrupted while writing {options.out}; "
                                       "nothing written")
    print(f"wrote {', '.join(files)} in {options.out}")
    if report.failures:
        return _fail(EXIT_THRESHOLD_NOT_MET, "threshold not met: " + "; ".join(report.failures))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
