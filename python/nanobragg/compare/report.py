"""nb-compare's report: thresholds, pixel traces of both runners, the printed text
and ``summary.json``."""

from __future__ import annotations

import math
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nanobragg.compare.metrics import PEAK_FLOOR, REL_FLOOR, Comparison, PeakMatch, shape_text
from nanobragg.compare.runners import ENGINE_ERRORS, Run, Runner, RunnerFailure
from nanobragg.errors import UsageError
from nanobragg.trace import (
    Divergence,
    Trace,
    TracePixelError,
    describe,
    first_divergence,
    trace_pixel,
)


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
    """Trace pixel (slow, fast) with both in-process runners: :class:`UsageError` for an
    external runner or a pixel that cannot be traced, :class:`RunnerFailure` when an
    engine fails."""
    for runner in (a, b):
        if runner.backend is None:
            raise UsageError(f"--trace: runner {runner.spec!r} is an external program; "
                             "pixel traces need in-process runners (c, torch)")
    traces = []
    for runner in (a, b):
        try:
            traces.append(trace_pixel(runner.config, *pixel, **runner.engine_options()))
        except TracePixelError as error:
            raise UsageError(f"--trace: {error}") from error
        except ENGINE_ERRORS as error:
            raise RunnerFailure(f"runner {runner.spec!r}: trace: {error}") from error
    trace_a, trace_b = traces
    return PixelTraces(trace_a, trace_b, rtol, first_divergence(trace_a, trace_b, rtol=rtol))


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
            lines.append(f"{name:<3}{run.seconds:>10.3f}  {shape_text(run.image.shape):<13}"
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
            (f"{'':19}(|b - a| / max(|a|, |b|) where max(|a|, |b|) > {c.rel_floor:.6g}, "
             f"{REL_FLOOR:g} x its maximum)"),
            f"sum ratio b/a      {_number(c.sum_ratio, '%.12f')}",
            *self._peak_lines(),
        ]
        if self.thresholds.min_correlation is not None or self.thresholds.max_rel_diff is not None:
            failures = self.failures
            lines.append("thresholds         " + ("; ".join(failures) if failures else "met"))
        if self.traces is not None:
            t = self.traces
            lines += ["", (f"trace of pixel {_pair(t.a.pixel)} ({len(t.a)} and {len(t.b)} "
                           f"terms, rtol {t.rtol:g}): {describe(t.divergence)}")]
        return "\n".join(lines) + "\n"

    def _peak_lines(self) -> list[str]:
        c = self.comparison
        if not c.peaks:
            return ["peaks              none in image a"]
        lines = [(f"peaks              {len(c.peaks)} highest in a, each matched to the "
                  f"nearest in b: distance mean {_number(c.mean_peak_distance, '%.3f')} px, "
                  f"max {_number(c.max_peak_distance, '%.3f')} px"),
                 (f"{'':19}(a peak: the highest pixel of its 3x3 neighbourhood, above "
                  f"{PEAK_FLOOR:g} x its image's maximum)"),
                 (f"{'#':>5}  {'a (slow, fast)':<16}{'height':>14}  {'b (slow, fast)':<16}"
                  f"{'height':>14}{'distance':>10}")]
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
                "quantity": d.quantity, "where": d.where, "a": _json_numbers(d.a),
                "b": _json_numbers(d.b)}}


def _json_numbers(value: Any) -> Any:
    """Numbers and arrays as JSON values: NaN and infinities (not JSON) become strings,
    flags stay flags."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    array = np.asarray(value, dtype=float)
    if array.ndim:
        return [_json_numbers(item) for item in array]
    number = float(array)
    return number if math.isfinite(number) else str(number)


def _run_summary(run: Run) -> dict[str, Any]:
    runner = run.runner
    return {
        "spec": runner.spec, "backend": runner.backend, "c_parity": runner.c_parity,
        "device": runner.device, "dtype": runner.dtype, "executable": runner.executable,
        "seconds": run.seconds, "shape": list(run.image.shape), "sum": float(run.image.sum()),
        "max": float(run.image.max()), "notes": list(run.notes),
        # in process, the seeds drawn (from the clock when not given): rerun with -seed and
        # -misset_seed to get the same crystal and noise
        "seed": None if runner.backend is None else runner.config.output.seed,
        "misset_seed": None if runner.backend is None else runner.config.crystal.misset_seed,
    }


def _match_summary(match: PeakMatch) -> dict[str, Any]:
    return {"a": list(match.a), "a_height": match.a_height,
            "b": None if match.b is None else list(match.b), "b_height": match.b_height,
            "distance": match.distance}
