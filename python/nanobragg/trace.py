"""Pixel traces: every intermediate quantity of one pixel, and the first place
where two traces differ.

``trace_pixel(config, slow, fast, backend=...)`` runs the stages before the render
as ``simulate`` does, then renders the one pixel on the render stage's engine,
which records each term of its sum in loop order: sensor layer, sub-pixel (slow,
fast), source, phi step, mosaic domain.  ``first_divergence(a, b)`` walks two
traces in that order (set-up first, then the terms, then the final scaling) and
names the first quantity that differs.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from nanobragg.config import Config
from nanobragg.simulation import Setup, prepare, render
from nanobragg.stages import to_numpy
from nanobragg.stages.render import DEFAULT_MAX_TERMS
from nanobragg.stages.trace import (
    CORRECTED_STATE,
    FINAL_KEYS,
    INDEX_COLUMNS,
    TERM_COLUMNS,
    UNITS,
    PixelState,
)

MAX_TRACE_TERMS = 1 << 20
"""Most terms one trace records (each row takes about 270 bytes in the engine and as
much again as columns)."""


class TracePixelError(ValueError):
    """A pixel that cannot be traced: off the detector, not rendered, too many terms."""


@dataclass
class Trace:
    """One pixel, quantity by quantity.

    ``setup``: the stage outputs the render used (``geometry``, ``crystal``,
    ``sources``, ``mosaic_rotations``) and its parameters (``render``).
    ``terms``: one entry per column of :data:`TERM_COLUMNS`, each with one row per
    term (vectors are (n, 3); ``axes``, the crystal's a, b, c rows at that phi step
    and domain, (n, 3, 3)); NaN marks what a term did not evaluate: axes, Miller
    indices and F when its source fails the dmin cut, F_cell when the lattice
    factor is zero.  ``omega``, ``polar`` and ``capture`` are the factors as the
    pixel applies them at that term (with c_parity, the values the original holds),
    ``I`` the pixel's running sum after it.  ``final``: the sum, the factors applied
    to the whole pixel (c_parity; NaN otherwise), ``scale`` (r_e^2 x fluence),
    ``steps`` and ``value``, the pixel as the render gives it.
    """

    pixel: tuple[int, int]
    """(slow, fast)."""
    backend: str
    c_parity: bool
    setup: dict[str, dict[str, Any]]
    terms: dict[str, np.ndarray]
    final: dict[str, float]
    state: dict[str, bool]
    """Whether the pixel starts from the unrotated crystal (``entry``) and with
    interpolation still allowed (``interpolate``), as the run leaves it; only c_parity
    runs carry such state from pixel to pixel (corrected: False and True)."""

    def __len__(self) -> int:
        return int(self.terms["I"].shape[0])

    def setup_quantities(self) -> Iterator[tuple[str, Any]]:
        for section, values in self.setup.items():
            for key, value in values.items():
                yield f"{section}.{key}", value

    def to_text(self, digits: int = 12) -> str:
        """Stable, diffable text: one quantity per line, numbers to ``digits``
        significant digits."""
        lines = [(f"# nanobragg trace: pixel slow {self.pixel[0]} fast {self.pixel[1]}, "
                  f"backend {self.backend}, c_parity {'on' if self.c_parity else 'off'}, "
                  f"{len(self)} terms")]
        lines += [f"{name} = {_format(value, digits)}" for name, value in self.setup_quantities()]
        lines += [f"state.{key} = {int(value)}" for key, value in self.state.items()]
        for i in range(len(self)):
            where = " ".join(f"{name} {int(self.terms[name][i])}" for name in INDEX_COLUMNS)
            lines.append(f"term {i}: {where}")
            for name in TERM_COLUMNS[len(INDEX_COLUMNS):]:
                unit = f" [{UNITS[name]}]" if name in UNITS else ""
                lines.append(f"  {name}{unit} = {_format(self.terms[name][i], digits)}")
        lines += [f"final.{key} = {_format(self.final[key], digits)}" for key in FINAL_KEYS]
        return "\n".join(lines) + "\n"


def _format(value: Any, digits: int) -> str:
    if isinstance(value, (str, bool, np.bool_)) or value is None:
        return str(value)
    array = np.asarray(value)
    if array.dtype.kind in "iub":
        return " ".join(str(int(v)) for v in array.reshape(-1))
    return " ".join(f"{float(v):.{digits}g}" for v in array.reshape(-1))


def trace_pixel(config: Config, slow: int, fast: int, backend: str = "c",
                c_parity: bool = False, *, stages: Mapping[str, str] | None = None,
                device: Any = None, dtype: Any = None,
                max_terms: float = DEFAULT_MAX_TERMS) -> Trace:
    """Trace pixel (slow, fast) on the engine of the render stage (``backend``
    unless ``stages`` says otherwise).  With c_parity the run's state at that pixel
    (phi carry-over, interpolation switched off) is found first; when it depends on
    earlier pixels (interpolation, a dmin cut) that renders the rows up to it."""
    setup = prepare(config, backend, c_parity, stages=stages, device=device, dtype=dtype,
                    max_terms=max_terms)
    return PixelTracer(setup, last_row=slow if isinstance(slow, (int, np.integer)) else None
                       ).trace(slow, fast)


class PixelTracer:
    """Traces pixels of one prepared run: the set-up stages run once.  last_row: the
    last row any traced pixel lies in (None: any row), which bounds the render that
    c_parity needs to find the run's state; run_state: that state, (first pixel to
    rotate the crystal, last pixel with interpolation), when a render already found it."""

    def __init__(self, setup: Setup, last_row: int | None = None,
                 run_state: tuple[int, int] | None = None):
        terms = setup.render_inputs.terms_per_pixel
        if terms > MAX_TRACE_TERMS:
            raise TracePixelError(f"trace pixel: {terms} terms per pixel; a trace records at "
                                  f"most {MAX_TRACE_TERMS} (reduce oversampling, sources, phi "
                                  "steps or mosaic domains)")
        self.setup = setup
        self.last_row = last_row
        self.c_parity = bool(setup.render_inputs.params.c_parity)
        self.rendered = _rendered(setup)
        # the mode is the trace's own attribute: the quantities are what may diverge
        render_params = {k: v for k, v in _fields(setup.render_inputs.params).items()
                         if k != "c_parity"}
        # a copy: on the torch engine to_numpy's arrays are views of the render's inputs
        self._sections = copy.deepcopy(to_numpy({
            "geometry": _fields(setup.geometry), "crystal": _fields(setup.crystal),
            "sources": _fields(setup.sources), "mosaic_rotations": _fields(setup.mosaic),
            "render": render_params}))
        self._run_state = run_state

    @classmethod
    def of(cls, result: Any) -> PixelTracer:
        """A tracer of a simulate() Result's pixels: its set-up and run state, nothing
        computed again."""
        output = result.render_output
        return cls(result.setup, run_state=(output.first_executed, output.switch_pixel))

    def trace(self, slow: int, fast: int) -> Trace:
        setup = self.setup
        spixels, fpixels = self.rendered.shape
        for name, value, size in (("slow", slow, spixels), ("fast", fast, fpixels)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                    or not 0 <= value < size:
                raise TracePixelError(f"trace pixel {name}: {value!r} is not a pixel index "
                                      f"0..{size - 1} of the {spixels} x {fpixels} detector")
        slow, fast = int(slow), int(fast)
        if self.last_row is not None and slow > self.last_row:
            raise TracePixelError(f"trace pixel slow: {slow} is after the last row "
                                  f"{self.last_row} this tracer was prepared for")
        if not self.rendered[slow, fast]:
            raise TracePixelError(f"trace pixel (slow {slow}, fast {fast}) is not rendered: it "
                                  "is outside the region of interest or masked")
        state = self._state(slow * fpixels + fast)
        record = setup.route["trace_pixel"].trace_pixel(setup.render_inputs, slow, fast, state)
        final = {key: float(record.final[key]) for key in FINAL_KEYS}
        final["steps"] = int(record.final["steps"])
        return Trace(pixel=(slow, fast), backend=setup.route.names["render"],
                     c_parity=self.c_parity, setup=copy.deepcopy(self._sections),
                     terms={k: np.asarray(record.terms[k]) for k in TERM_COLUMNS},
                     final=final, state=dataclasses.asdict(state))

    def _state(self, pixel: int) -> PixelState:
        """With c_parity (quirk phi_carryover, quirk interpolation_switch_off): whether
        this pixel is the first to rotate the crystal (it then starts from the unrotated
        crystal) and whether interpolation is still on."""
        if not self.c_parity:
            return CORRECTED_STATE
        if self._run_state is None:
            self._run_state = self._find_run_state()
        first_executed, switch_pixel = self._run_state
        return PixelState(entry=pixel == first_executed,
                          interpolate=switch_pixel < 0 or pixel <= switch_pixel)

    def _find_run_state(self) -> tuple[int, int]:
        params = self.setup.render_inputs.params
        if not params.interpolate and float(params.dmin_m) <= 0.0:
            # every rendered pixel rotates the crystal: the first is the entry pixel
            return int(np.flatnonzero(self.rendered.reshape(-1))[0]), -1
        roi_ymax = int(params.roi_ymax)
        if self.last_row is not None:
            roi_ymax = min(roi_ymax, self.last_row)
        inputs = dataclasses.replace(self.setup.render_inputs,
                                     params=dataclasses.replace(params, roi_ymax=roi_ymax))
        output = render(dataclasses.replace(self.setup, render_inputs=inputs))
        return int(output.first_executed), int(output.switch_pixel)


def _fields(data: Any) -> dict[str, Any]:
    """A stage's dataclass as a dict of its fields (the trace's set-up sections)."""
    return {field.name: getattr(data, field.name) for field in dataclasses.fields(data)}


def _rendered(setup: Setup) -> np.ndarray:
    """Boolean (slow, fast): the pixels the render computes (inside the ROI, not masked)."""
    params = setup.render_inputs.params
    shape = (int(params.spixels), int(params.fpixels))
    xmin, xmax, ymin, ymax = setup.roi
    slow, fast = np.indices(shape)
    inside = (fast >= xmin) & (fast <= xmax) & (slow >= ymin) & (slow <= ymax)
    mask = setup.render_inputs.mask
    return inside if mask is None else inside & (mask != 0)


@dataclass(frozen=True)
class Divergence:
    """The first quantity two traces disagree on."""

    quantity: str
    """Its name: ``geometry.pix0``, ``terms[12].hkl``, ``final.value``, ..."""
    a: Any
    b: Any
    where: str = ""
    """For a term: its loop indices."""

    def __str__(self) -> str:
        where = f" ({self.where})" if self.where else ""
        return (f"first divergence: {self.quantity}{where}\n  a = {_format(self.a, 17)}\n"
                f"  b = {_format(self.b, 17)}")


def first_divergence(a: Trace, b: Trace, rtol: float = 1e-9,
                     atol: float = 0.0) -> Divergence | None:
    """The first quantity, in trace order, where a and b differ, or None.

    Numbers agree when ``|a - b| <= atol + rtol * scale``, the scale being the
    largest magnitude the quantity takes in either trace (over all terms for a term
    column); NaN agrees with NaN only; whole numbers and flags must be equal.
    Set-up quantities only one trace has are skipped.  Traces of different c_parity
    modes diverge at ``c_parity``: their running sums and factors are defined apart.
    """
    if not (rtol >= 0.0 and atol >= 0.0):
        raise ValueError(f"rtol {rtol!r} and atol {atol!r} must be >= 0")
    if a.pixel != b.pixel:
        return Divergence("pixel", a.pixel, b.pixel)
    if a.c_parity != b.c_parity:
        # the running sum and the factors mean different things in the two modes
        return Divergence("c_parity", a.c_parity, b.c_parity)
    b_setup = dict(b.setup_quantities())
    for name, value in a.setup_quantities():
        if name in b_setup and not _agree(value, b_setup[name], rtol, atol):
            return Divergence(name, value, b_setup[name])
    for key in a.state:
        if a.state[key] != b.state.get(key):
            return Divergence(f"state.{key}", a.state[key], b.state.get(key))
    divergence = _first_term_divergence(a, b, rtol, atol)
    if divergence is not None:
        return divergence
    for key in FINAL_KEYS:
        if not _agree(a.final[key], b.final[key], rtol, atol):
            return Divergence(f"final.{key}", a.final[key], b.final[key])
    return None


def _first_term_divergence(a: Trace, b: Trace, rtol: float, atol: float) -> Divergence | None:
    n = min(len(a), len(b))
    first_row, first_column = n, None
    for column in TERM_COLUMNS:
        x, y = a.terms[column][:n], b.terms[column][:n]
        bad: npt.NDArray[np.bool_] | np.bool_ = ~_close(x, y, rtol, atol)
        if bad.ndim > 1:
            bad = bad.reshape(bad.shape[0], -1).any(axis=1)
        rows = np.flatnonzero(bad)
        if rows.size and rows[0] < first_row:
            first_row, first_column = int(rows[0]), column
    if first_column is None:
        if len(a) != len(b):
            return Divergence("terms.count", len(a), len(b))
        return None
    where = " ".join(f"{name} {int(a.terms[name][first_row])}" for name in INDEX_COLUMNS)
    return Divergence(f"terms[{first_row}].{first_column}", a.terms[first_column][first_row],
                      b.terms[first_column][first_row], where)


def _agree(x: Any, y: Any, rtol: float, atol: float) -> bool:
    if isinstance(x, (str, bool)) or isinstance(y, (str, bool)) or x is None or y is None:
        return bool(x == y)
    x, y = np.asarray(x), np.asarray(y)
    if x.shape != y.shape:
        return False
    return bool(np.all(_close(x, y, rtol, atol)))


def _close(x: np.ndarray, y: np.ndarray, rtol: float, atol: float) -> npt.NDArray[np.bool_]:
    x, y = np.asarray(x), np.asarray(y)
    if x.dtype.kind in "iub" and y.dtype.kind in "iub":
        equal: npt.NDArray[np.bool_] = x == y
        return equal
    x, y = x.astype(np.float64), y.astype(np.float64)
    finite = np.concatenate((np.abs(x[np.isfinite(x)]), np.abs(y[np.isfinite(y)])))
    scale = float(finite.max()) if finite.size else 0.0
    with np.errstate(invalid="ignore"):
        same = np.abs(x - y) <= atol + rtol * scale
    close: npt.NDArray[np.bool_] = same | (np.isnan(x) & np.isnan(y)) | (x == y)
    return close


def describe(divergence: Divergence | None) -> str:
    """A line for people: the divergence, or that the traces agree."""
    return "traces agree" if divergence is None else str(divergence)


__all__ = ["FINAL_KEYS", "TERM_COLUMNS", "Divergence", "PixelTracer", "Trace", "TracePixelError",
           "describe", "first_divergence", "trace_pixel"]
