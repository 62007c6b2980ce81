"""One nanoBragg command line run two ways, and how the two float images differ.

The library behind ``nb-compare`` (:mod:`nanobragg.cli.compare`):

- runners: :func:`parse_runner_spec` reads ``c``, ``torch[:DEVICE][:DTYPE]`` (either with
  ``+parity``) or ``exe:PATH``; :func:`make_runner` reads the nanoBragg arguments for it
  and :meth:`Runner.run` renders, in this process or by running the external program;
- metrics: :func:`compare_images` (correlation, RMSE, largest absolute and relative
  differences, sum ratio, matched peaks);
- the report (:class:`Report`: its text and ``summary.json``) and the output folder
  (:func:`write_outputs`: raw float images, PNG previews, the summary).
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nanobragg.cli.flags import FLAGS, PROGRAM_FLAGS, UsageError, parse_command_line
from nanobragg.config import Config, StructureFactorConfig
from nanobragg.trace import Divergence, Trace, describe, first_divergence, trace_pixel

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
    "parse_runner_spec",
    "previews_available",
    "read_float_image",
    "trace_runners",
    "write_outputs",
]

REL_FLOOR = 1e-6
"""Relative differences are taken where max(|a|, |b|) exceeds this fraction of its maximum."""
PEAK_FLOOR = 1e-3
"""Peaks are local maxima above this fraction of their image's maximum."""

_DTYPES = ("float32", "float64")
_PARITY = "+parity"
_DEVICE = re.compile(r"cpu|cuda(:\d+)?")
_SPEC_FORMS = "c, torch[:DEVICE][:DTYPE] (either with +parity) or exe:PATH"
_LOG_TAIL_LINES = 10

_OWN_FLAGS = {name: len(flag.metavars) for flag in PROGRAM_FLAGS
              for name in (flag.name, *flag.synonyms)}
"""This package's own flags (-backend, -c_parity...) and how many values each takes."""
_OUTPUT_FILE_FLAGS = frozenset(name for flag in FLAGS if flag.kind == "path"
                               and flag.group == "Output" for name in flag.names)
_INPUT_FILE_FLAGS = frozenset(name for flag in FLAGS if flag.kind == "path"
                              for name in flag.names) - _OUTPUT_FILE_FLAGS


class RunnerFailure(RuntimeError):
    """A runner could not make its image (an engine error, an external program failing)."""


class ShapeMismatch(ValueError):
    """The two images (or an external program's float file and the detector) differ in size."""


# --- runners ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunnerSpec:
    """A runner as written on the command line, read."""

    text: str
    kind: str
    """c, torch or exe."""
    device: str | None = None
    dtype: str | None = None
    parity: bool = False
    executable: str | None = None
    """exe: the program's absolute path."""


def parse_runner_spec(text: str) -> RunnerSpec:
    """Read ``c``, ``torch[:DEVICE][:DTYPE]`` (either with ``+parity``) or ``exe:PATH``.

    DEVICE is a torch device (``cpu``, ``cuda``, ``cuda:1``), DTYPE ``float32`` or
    ``float64``; PATH is taken as it is written (a name without ``/`` is looked up on PATH).
    Raises :class:`UsageError` naming the spec.
    """
    if text.startswith("exe:"):
        return _exe_spec(text)
    body, parity = text, text.endswith(_PARITY)
    if parity:
        body = text[:-len(_PARITY)]
    kind, colon, options = body.partition(":")
    if kind == "c" and not colon:
        return RunnerSpec(text, "c", parity=parity)
    if kind == "torch":
        device, dtype = _torch_options(text, options) if colon else (None, None)
        return RunnerSpec(text, "torch", device=device, dtype=dtype, parity=parity)
    raise UsageError(f"runner {text!r}: expected {_SPEC_FORMS}")


def _torch_options(text: str, options: str) -> tuple[str | None, str | None]:
    parts = options.split(":")
    dtype = parts.pop() if parts[-1] in _DTYPES else None
    if not parts:
        return None, dtype
    device = ":".join(parts)
    if not _DEVICE.fullmatch(device):
        raise UsageError(f"runner {text!r}: {device!r} is not a device of the torch engine "
                         f"(cpu, cuda, cuda:N) nor a dtype ({', '.join(_DTYPES)})")
    return device, dtype


def _exe_spec(text: str) -> RunnerSpec:
    path = text[len("exe:"):]
    found = shutil.which(path) if path else None
    if found is None:
        raise UsageError(f"runner {text!r}: {path!r} is not an executable file")
    return RunnerSpec(text, "exe", executable=os.path.abspath(found))


@dataclass(frozen=True)
class Runner:
    """A runner with the nanoBragg arguments read as it reads them.

    In-process runners render with ``simulate(config, **engine_options())``; the same
    options suit :func:`nanobragg.trace_pixel`.  An external program's ``config`` only
    gives the shape its image must have (``backend`` is None).
    """

    spec: str
    argv: tuple[str, ...]
    config: Config
    backend: str | None
    c_parity: bool
    device: str | None = None
    dtype: str | None = None
    executable: str | None = None
    notes: tuple[str, ...] = ()
    """Warnings from reading the arguments."""

    def engine_options(self) -> dict[str, Any]:
        """backend, c_parity, device and dtype, as keyword arguments of ``simulate``."""
        return {"backend": self.backend, "c_parity": self.c_parity, "device": self.device,
                "dtype": self.dtype}

    def describe(self) -> str:
        """The engine and mode in words, e.g. ``torch (cuda, float32), c_parity``."""
        if self.executable is not None:
            return self.executable
        placement = ", ".join(value for value in (self.device, self.dtype) if value)
        engine = f"{self.backend} ({placement})" if placement else str(self.backend)
        return f"{engine}, {'c_parity' if self.c_parity else 'corrected'}"

    def run(self) -> Run:
        """Render the image; :class:`RunnerFailure` or :class:`ShapeMismatch` if it fails."""
        if self.executable is not None:
            return _run_executable(self)
        return _run_in_process(self)


def make_runner(spec: RunnerSpec, argv: Sequence[str]) -> Runner:
    """Read the nanoBragg arguments for this runner (a ``+parity`` runner as with ``-c_parity``).

    The spec chooses the engine; its device and dtype win over ``-device``/``-dtype`` in
    the arguments, which apply to torch runners that name none.  Arguments that cannot be
    read raise :class:`UsageError`.
    """
    argv = tuple(argv)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            command = parse_command_line(["-c_parity", *argv] if spec.parity else argv)
        except (ValueError, OSError) as error:
            raise UsageError(f"nanoBragg arguments: {error}") from error
    if command.help:
        raise UsageError("nanoBragg arguments: -h asks for nanoBragg's help, not an image")
    torch = spec.kind == "torch"
    return Runner(spec=spec.text, argv=argv, config=command.config,
                  backend=None if spec.kind == "exe" else spec.kind, c_parity=command.c_parity,
                  device=(spec.device or command.device) if torch else None,
                  dtype=(spec.dtype or command.dtype) if torch else None,
                  executable=spec.executable, notes=tuple(str(w.message) for w in caught))


@dataclass(frozen=True)
class Run:
    """What a runner made: its float image (float64, shape (slow, fast)) and wall time."""

    runner: Runner
    image: np.ndarray
    seconds: float
    notes: tuple[str, ...] = ()
    """Warnings from reading the arguments and rendering."""
    log: str = ""
    """An external program's standard output and error."""


def _run_in_process(runner: Runner) -> Run:
    from nanobragg import simulate

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        try:
            result = simulate(runner.config, **runner.engine_options())
        except (ValueError, OSError, NotImplementedError, RuntimeError, MemoryError) as error:
            # RuntimeError: torch's own, a CUDA device out of memory among them
            raise RunnerFailure(f"runner {runner.spec!r}: {error}") from error
        seconds = time.perf_counter() - start
    image = result.image if result.image_float64 is None else result.image_float64
    notes = runner.notes + tuple(str(w.message) for w in caught)
    return Run(runner, np.asarray(image, dtype=np.float64), seconds, notes)


def external_argv(argv: Sequence[str], floatfile: str) -> list[str]:
    """The arguments an external program gets, to run in another folder.

    Values of file flags (``-hkl``, ``-mat``, ``-img``...) are made absolute; this package's
    own flags (``-backend``, ``-c_parity``, ``-device``, ``-dtype``...) and the output file
    flags are removed, and ``-floatfile FLOATFILE`` is added.
    """
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in _OWN_FLAGS:
            i += 1 + _OWN_FLAGS[arg]
        elif arg in _OUTPUT_FILE_FLAGS:
            i += 2
        elif arg in _INPUT_FILE_FLAGS and i + 1 < len(argv):
            out += [arg, os.path.abspath(argv[i + 1])]
            i += 2
        else:
            out.append(arg)
            i += 1
    return [*out, "-floatfile", floatfile]


def _stage_fdump(config: Config, folder: str) -> None:
    """Without ``-hkl`` the original reads ``./Fdump.bin`` when there is one, and so do our
    engines: give the external program the same file in its own folder."""
    dump = StructureFactorConfig().dump_path
    if config.structure_factors.hkl_path is None and os.path.isfile(dump):
        shutil.copyfile(dump, os.path.join(folder, dump))


def _detector_shape(runner: Runner) -> tuple[int, int]:
    from nanobragg.engines.c import detector_geometry

    try:
        geometry = detector_geometry(runner.config, c_parity=runner.c_parity)
    except ValueError as error:
        raise RunnerFailure(f"runner {runner.spec!r}: detector size: {error}") from error
    return int(geometry["spixels"]), int(geometry["fpixels"])


def _tail(text: str) -> str:
    lines = text.rstrip().splitlines()[-_LOG_TAIL_LINES:]
    if not lines:
        return "its standard error was empty"
    return "its standard error ends with:\n" + "\n".join(f"  {line}" for line in lines)


def _run_executable(runner: Runner) -> Run:
    shape = _detector_shape(runner)
    with tempfile.TemporaryDirectory(prefix="nb-compare-") as folder:
        floatfile = os.path.join(folder, "float.bin")
        command = [str(runner.executable), *external_argv(runner.argv, floatfile)]
        _stage_fdump(runner.config, folder)
        start = time.perf_counter()
        try:
            done = subprocess.run(command, cwd=folder, stdin=subprocess.DEVNULL,
                                  capture_output=True, check=False)
        except OSError as error:
            raise RunnerFailure(f"runner {runner.spec!r}: cannot run it: {error}") from error
        seconds = time.perf_counter() - start
        stdout = done.stdout.decode(errors="replace")
        stderr = done.stderr.decode(errors="replace")
        if done.returncode != 0:
            raise RunnerFailure(f"runner {runner.spec!r}: exit status {done.returncode}; "
                                f"{_tail(stderr)}")
        if not os.path.isfile(floatfile):
            raise RunnerFailure(f"runner {runner.spec!r}: wrote no float image; {_tail(stderr)}")
        image = read_float_image(floatfile, shape, label=f"runner {runner.spec!r}")
    return Run(runner, image, seconds, runner.notes, log=stdout + stderr)


def read_float_image(path: str | os.PathLike, shape: tuple[int, int], *,
                     label: str = "") -> np.ndarray:
    """A raw little-endian float32 image (the original's ``-floatfile``) as float64.

    A file of another size raises :class:`ShapeMismatch`, non-finite values
    :class:`RunnerFailure`.
    """
    label = label or os.fspath(path)
    expected = shape[0] * shape[1]
    size = os.path.getsize(path)
    if size != 4 * expected:
        raise ShapeMismatch(f"{label}: float image of {size} bytes, expected {shape[0]} x "
                            f"{shape[1]} pixels ({4 * expected} bytes) from the arguments")
    image = np.fromfile(path, dtype="<f4").astype(np.float64).reshape(shape)
    bad = int(np.count_nonzero(~np.isfinite(image)))
    if bad:
        raise RunnerFailure(f"{label}: {bad} non-finite pixel values in its float image")
    return image


# --- metrics ---------------------------------------------------------------------------------


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation over all pixels.

    1 when both images are constant and equal; 0 when only one of them is constant, or
    both are constant with different values (no linear relation can be measured).
    """
    a_constant, b_constant = bool(np.ptp(a) == 0), bool(np.ptp(b) == 0)
    if a_constant or b_constant:
        return 1.0 if a_constant and b_constant and a.flat[0] == b.flat[0] else 0.0
    da, db = _unit_peak(a - a.mean()), _unit_peak(b - b.mean())
    return max(-1.0, min(1.0, float(da @ db) / math.sqrt(float(da @ da) * float(db @ db))))


def _unit_peak(deviations: np.ndarray) -> np.ndarray:
    """Deviations scaled to a largest magnitude of 1, so that no sum of squares under- or
    overflows (and identical images correlate to exactly 1)."""
    return (deviations / np.abs(deviations).max()).ravel()


def _pixel(index: np.intp, shape: tuple[int, ...]) -> tuple[int, int]:
    slow, fast = np.unravel_index(int(index), shape)
    return int(slow), int(fast)


def max_rel_diff(a: np.ndarray, b: np.ndarray,
                 floor: float = REL_FLOOR) -> tuple[float, tuple[int, int] | None, float]:
    """Largest |b - a| / max(|a|, |b|) over pixels where max(|a|, |b|) exceeds ``floor``
    times its maximum: (value, its (slow, fast) pixel, the absolute floor).  0 and no
    pixel when no pixel exceeds the floor."""
    magnitude = np.maximum(np.abs(a), np.abs(b))
    absolute_floor = floor * float(magnitude.max())
    considered = magnitude > absolute_floor
    if not considered.any():
        return 0.0, None, absolute_floor
    relative = np.zeros_like(magnitude)
    np.divide(np.abs(b - a), magnitude, out=relative, where=considered)
    index = np.argmax(relative)
    return float(relative.flat[index]), _pixel(index, a.shape), absolute_floor


_BEFORE = ((-1, -1), (-1, 0), (-1, 1), (0, -1))
_AFTER = ((0, 1), (1, -1), (1, 0), (1, 1))


def find_peaks(image: np.ndarray, floor: float = PEAK_FLOOR) -> np.ndarray:
    """Local maxima over the 3x3 neighbourhood above ``floor`` times the image's maximum,
    highest first: an (n, 2) array of (slow, fast).

    A pixel must exceed the neighbours before it in raster order and equal or exceed those
    after it, so a flat top counts once.
    """
    image = np.asarray(image, dtype=np.float64)
    top = float(image.max()) if image.size else 0.0
    if top <= 0.0:
        return np.empty((0, 2), dtype=np.intp)
    slow, fast = image.shape
    padded = np.pad(image, 1, constant_values=-np.inf)

    def neighbour(ds: int, df: int) -> np.ndarray:
        return padded[1 + ds:1 + ds + slow, 1 + df:1 + df + fast]

    peak = image > floor * top
    for ds, df in _BEFORE:
        peak &= image > neighbour(ds, df)
    for ds, df in _AFTER:
        peak &= image >= neighbour(ds, df)
    rows, cols = np.nonzero(peak)
    order = np.argsort(-image[rows, cols], kind="stable")
    return np.stack([rows[order], cols[order]], axis=1)


@dataclass(frozen=True)
class PeakMatch:
    """A peak of image a and the nearest peak of image b (None when b has none)."""

    a: tuple[int, int]
    a_height: float
    b: tuple[int, int] | None
    b_height: float | None
    distance: float | None
    """In pixels."""


def match_peaks(a: np.ndarray, b: np.ndarray, count: int) -> tuple[PeakMatch, ...]:
    """The ``count`` highest peaks of a, each with the nearest of all peaks of b."""
    ours, theirs = find_peaks(a)[:count], find_peaks(b)
    matches = []
    for slow, fast in ours:
        here = (int(slow), int(fast))
        if len(theirs) == 0:
            matches.append(PeakMatch(here, float(a[here]), None, None, None))
            continue
        distances = np.hypot(theirs[:, 0] - slow, theirs[:, 1] - fast)
        nearest = int(np.argmin(distances))
        there = (int(theirs[nearest, 0]), int(theirs[nearest, 1]))
        matches.append(PeakMatch(here, float(a[here]), there, float(b[there]),
                                 float(distances[nearest])))
    return tuple(matches)


@dataclass(frozen=True)
class Comparison:
    """How image b differs from image a."""

    correlation: float
    rmse: float
    max_abs_diff: float
    max_abs_diff_pixel: tuple[int, int]
    max_rel_diff: float
    max_rel_diff_pixel: tuple[int, int] | None
    rel_floor: float
    """The absolute floor of the relative difference (REL_FLOOR x max(|a|, |b|))."""
    sum_ratio: float | None
    """sum(b) / sum(a); 1 when both sums are 0, None when only sum(a) is."""
    peaks: tuple[PeakMatch, ...]

    @property
    def peak_distances(self) -> list[float]:
        return [match.distance for match in self.peaks if match.distance is not None]

    @property
    def mean_peak_distance(self) -> float | None:
        distances = self.peak_distances
        return sum(distances) / len(distances) if distances else None

    @property
    def max_peak_distance(self) -> float | None:
        return max(self.peak_distances, default=None)


def compare_images(a: np.ndarray, b: np.ndarray, *, peaks: int = 10) -> Comparison:
    """Every metric of b against a (same shape, else :class:`ShapeMismatch`)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ShapeMismatch(f"image a is {_shape_text(a.shape)} pixels, image b "
                            f"{_shape_text(b.shape)}")
    difference = b - a
    index = np.argmax(np.abs(difference))
    rel, rel_pixel, rel_floor = max_rel_diff(a, b)
    sum_a, sum_b = float(a.sum()), float(b.sum())
    if sum_a != 0.0:
        sum_ratio: float | None = sum_b / sum_a
    else:
        sum_ratio = 1.0 if sum_b == 0.0 else None
    return Comparison(
        correlation=correlation(a, b),
        rmse=math.sqrt(float(np.mean(difference * difference))),
        max_abs_diff=float(abs(difference.flat[index])),
        max_abs_diff_pixel=_pixel(index, a.shape),
        max_rel_diff=rel, max_rel_diff_pixel=rel_pixel, rel_floor=rel_floor,
        sum_ratio=sum_ratio, peaks=match_peaks(a, b, peaks))


def _shape_text(shape: tuple[int, ...]) -> str:
    return " x ".join(str(n) for n in shape)


# --- the report ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    """Optional limits on the comparison."""

    min_correlation: float | None = None
    max_rel_diff: float | None = None

    def failures(self, comparison: Comparison) -> list[str]:
        """One line per limit not met."""
        failed = []
        if self.min_correlation is not None and not comparison.correlation >= self.min_correlation:
            failed.append(f"correlation {comparison.correlation:.12f} < {self.min_correlation:g}")
        if self.max_rel_diff is not None and not comparison.max_rel_diff <= self.max_rel_diff:
            failed.append(f"max relative difference {comparison.max_rel_diff:.6g} > "
                          f"{self.max_rel_diff:g}")
        return failed


def _pair(pixel: tuple[int, int] | None) -> str:
    return "-" if pixel is None else f"({pixel[0]}, {pixel[1]})"


def _number(value: float | None, form: str = "%.6g") -> str:
    return "-" if value is None else form % value


@dataclass(frozen=True)
class PixelTraces:
    """One pixel traced by both runners, and the first quantity where they differ."""

    a: Trace
    b: Trace
    rtol: float
    divergence: Divergence | None


def trace_runners(a: Runner, b: Runner, pixel: tuple[int, int], rtol: float) -> PixelTraces:
    """Trace pixel (slow, fast) with both in-process runners; :class:`UsageError` for an
    external runner or a pixel the detector does not render."""
    for runner in (a, b):
        if runner.backend is None:
            raise UsageError(f"--trace: runner {runner.spec!r} is an external program; "
                             "pixel traces need in-process runners (c, torch)")
    try:
        traces = [trace_pixel(runner.config, *pixel, **runner.engine_options())
                  for runner in (a, b)]
    except ValueError as error:
        raise UsageError(f"--trace: {error}") from error
    return PixelTraces(traces[0], traces[1], rtol, first_divergence(*traces, rtol=rtol))


@dataclass(frozen=True)
class Report:
    """The two runs, their comparison and the thresholds: the printed text and the summary."""

    a: Run
    b: Run
    comparison: Comparison
    thresholds: Thresholds = Thresholds()
    traces: PixelTraces | None = None

    @property
    def failures(self) -> list[str]:
        return self.thresholds.failures(self.comparison)

    @property
    def runs(self) -> tuple[tuple[str, Run], ...]:
        """("a", run a) and ("b", run b)."""
        return (("a", self.a), ("b", self.b))

    def text(self) -> str:
        """The report as plain text (one fixed layout; only the times vary between runs)."""
        c = self.comparison
        lines = [f"nanoBragg arguments: {shlex.join(self.a.runner.argv)}", "",
                 f"{'':3}{'seconds':>10}  {'shape':<13}{'sum':>16}{'max':>16}  spec"]
        for name, run in self.runs:
            lines.append(f"{name:<3}{run.seconds:>10.3f}  {_shape_text(run.image.shape):<13}"
                         f"{float(run.image.sum()):>16.8g}{float(run.image.max()):>16.8g}  "
                         f"{run.runner.spec}")
        for name, run in self.runs:
            lines.append(f"{name}: {run.runner.describe()}")
            lines.extend(f"{name}: note: {note}" for note in run.notes)
        lines += [
            "",
            f"correlation        {c.correlation:.12f}",
            f"rmse               {c.rmse:.6g}",
            f"max |b - a|        {c.max_abs_diff:.6g} at {_pair(c.max_abs_diff_pixel)}",
            f"max relative diff  {c.max_rel_diff:.6g} at {_pair(c.max_rel_diff_pixel)}",
            f"{'':19}(|b - a| / max(|a|, |b|) where max(|a|, |b|) > {c.rel_floor:.6g}, "
            f"{REL_FLOOR:g} x its maximum)",
            f"sum ratio b/a      {_number(c.sum_ratio, '%.12f')}",
            *self._peak_lines(),
        ]
        if self.thresholds.min_correlation is not None or self.thresholds.max_rel_diff is not None:
            failures = self.failures
            lines.append("thresholds         " + ("; ".join(failures) if failures else "met"))
        if self.traces is not None:
            t = self.traces
            lines += ["", f"trace of pixel {_pair(t.a.pixel)} ({len(t.a)} and {len(t.b)} terms, "
                          f"rtol {t.rtol:g}): {describe(t.divergence)}"]
        return "\n".join(lines) + "\n"

    def _peak_lines(self) -> list[str]:
        c = self.comparison
        if not c.peaks:
            return ["peaks              none in image a"]
        lines = [f"peaks              {len(c.peaks)} highest in a, each matched to the nearest "
                 f"in b: distance mean {_number(c.mean_peak_distance, '%.3f')} px, "
                 f"max {_number(c.max_peak_distance, '%.3f')} px",
                 f"{'':19}(a peak: the highest pixel of its 3x3 neighbourhood, above "
                 f"{PEAK_FLOOR:g} x its image's maximum)",
                 f"{'#':>5}  {'a (slow, fast)':<16}{'height':>14}  {'b (slow, fast)':<16}"
                 f"{'height':>14}{'distance':>10}"]
        for rank, match in enumerate(c.peaks, 1):
            lines.append(f"{rank:>5}  {_pair(match.a):<16}{match.a_height:>14.6g}  "
                         f"{_pair(match.b):<16}{_number(match.b_height):>14}"
                         f"{_number(match.distance, '%.3f'):>10}")
        return lines

    def summary(self, files: Sequence[str] = ()) -> dict[str, Any]:
        """Everything in the report as JSON-ready values (pixels as [slow, fast])."""
        c = self.comparison
        return {
            "nanobragg_args": list(self.a.runner.argv),
            "runners": {name: _run_summary(run) for name, run in self.runs},
            "metrics": {
                "correlation": c.correlation,
                "rmse": c.rmse,
                "max_abs_diff": c.max_abs_diff,
                "max_abs_diff_pixel": list(c.max_abs_diff_pixel),
                "max_rel_diff": c.max_rel_diff,
                "max_rel_diff_pixel": None if c.max_rel_diff_pixel is None
                else list(c.max_rel_diff_pixel),
                "rel_floor": REL_FLOOR,
                "rel_floor_value": c.rel_floor,
                "sum_ratio": c.sum_ratio,
            },
            "peaks": {
                "floor": PEAK_FLOOR,
                "mean_distance": c.mean_peak_distance,
                "max_distance": c.max_peak_distance,
                "matches": [_match_summary(match) for match in c.peaks],
            },
            "thresholds": {
                "min_correlation": self.thresholds.min_correlation,
                "max_rel_diff": self.thresholds.max_rel_diff,
                "failures": self.failures,
            },
            "trace": None if self.traces is None else _trace_summary(self.traces),
            "files": list(files),
        }


def _trace_summary(traces: PixelTraces) -> dict[str, Any]:
    d = traces.divergence
    return {"pixel": list(traces.a.pixel), "rtol": traces.rtol,
            "terms": [len(traces.a), len(traces.b)],
            "first_divergence": None if d is None else {
                "quantity": d.quantity, "where": d.where,
                "a": np.asarray(d.a, dtype=float).tolist(),
                "b": np.asarray(d.b, dtype=float).tolist()}}


def _run_summary(run: Run) -> dict[str, Any]:
    runner = run.runner
    return {
        "spec": runner.spec, "backend": runner.backend, "c_parity": runner.c_parity,
        "device": runner.device, "dtype": runner.dtype, "executable": runner.executable,
        "seconds": run.seconds, "shape": list(run.image.shape), "sum": float(run.image.sum()),
        "max": float(run.image.max()), "notes": list(run.notes),
    }


def _match_summary(match: PeakMatch) -> dict[str, Any]:
    return {"a": list(match.a), "a_height": match.a_height,
            "b": None if match.b is None else list(match.b), "b_height": match.b_height,
            "distance": match.distance}


# --- the output folder -----------------------------------------------------------------------

_OUTPUT_NAMES = ("a.bin", "b.bin", "a.log", "b.log", "a.trace.txt", "b.trace.txt", "a.png",
                 "b.png", "diff.png", "summary.json")


def previews_available() -> bool:
    """Whether matplotlib can be imported (the PNG previews need it)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def write_outputs(folder: str | os.PathLike, report: Report, *, previews: bool = True,
                  log_scale: bool = False) -> list[str]:
    """Write ``a.bin``/``b.bin`` (raw float32, as the original's ``-floatfile``), the external
    programs' logs (``a.log``/``b.log``), the pixel traces (``a.trace.txt``/``b.trace.txt``),
    with ``previews`` the PNGs ``a.png``, ``b.png``
    and ``diff.png``, and ``summary.json``; return the names written.  Files of these names
    that this comparison does not write are removed."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for name, run in report.runs:
        run.image.astype("<f4").tofile(folder / f"{name}.bin")
        files.append(f"{name}.bin")
        if run.log:
            (folder / f"{name}.log").write_text(run.log)
            files.append(f"{name}.log")
    if report.traces is not None:
        for name in ("a", "b"):
            (folder / f"{name}.trace.txt").write_text(getattr(report.traces, name).to_text())
            files.append(f"{name}.trace.txt")
    if previews:
        files += _write_previews(folder, report, log_scale=log_scale)
    files.append("summary.json")
    with open(folder / "summary.json", "w") as stream:
        json.dump(report.summary(files), stream, indent=2)
        stream.write("\n")
    for stale in set(_OUTPUT_NAMES) - set(files):
        # left by an earlier comparison in this folder: it would describe other images
        (folder / stale).unlink(missing_ok=True)
    return files


def _write_previews(folder: Path, report: Report, *, log_scale: bool) -> list[str]:
    """a.png and b.png on one colour scale, diff.png (b - a) symmetric about zero."""
    from matplotlib.colors import LogNorm, Normalize

    a, b = report.a.image, report.b.image
    low, high = min(float(a.min()), float(b.min())), max(float(a.max()), float(b.max()))
    positive = np.concatenate([a[a > 0], b[b > 0]])
    if log_scale and positive.size:
        floor = max(float(positive.min()), high * 1e-6)
        norm: Normalize = LogNorm(vmin=floor, vmax=high)
        a, b = np.maximum(a, floor), np.maximum(b, floor)
    else:
        norm = Normalize(vmin=low, vmax=high)
    _save_image(folder / "a.png", a, norm, "viridis", f"a: {report.a.runner.spec}")
    _save_image(folder / "b.png", b, norm, "viridis", f"b: {report.b.runner.spec}")
    spread = report.comparison.max_abs_diff or 1.0
    _save_image(folder / "diff.png", report.b.image - report.a.image,
                Normalize(vmin=-spread, vmax=spread), "RdBu_r", "b - a")
    return ["a.png", "b.png", "diff.png"]


def _save_image(path: Path, image: np.ndarray, norm: Any, cmap: str, title: str) -> None:
    # a bare Figure renders with Agg and leaves pyplot's global state alone
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.0, 5.0), layout="constrained")
    axes = figure.add_subplot()
    shown = axes.imshow(image, norm=norm, cmap=cmap)
    axes.set_title(title)
    axes.set_xlabel("fast pixel")
    axes.set_ylabel("slow pixel")
    figure.colorbar(shown, ax=axes)
    figure.savefig(path, dpi=100)
