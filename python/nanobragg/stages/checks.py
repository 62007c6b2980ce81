"""What a stage checks of the data it is handed, before it computes.

Stage data built from a valid Config always passes.  A caller who builds it by hand, or
hands an object of their own, gets a TypeError (a missing attribute, a value of the
wrong type) or a ValueError (a wrong shape, a count out of range) naming the field,
never an IndexError, a shape mismatch or a pybind11 signature dump from deep inside an
engine.  Both engines apply the same checks (:func:`checked` on each stage method, one
function here per stage, with the stage's signature); the C bindings check again what
they convert, so that a C struct never holds a value the engine cannot count.

The fields of each stage class are checked by their annotations: ``bool`` a flag,
``int`` and the codes a whole number within the C ``int`` range (the seeds within the
C ``long`` range), ``float`` and ``Real`` a number (or a 0-d tensor), ``Array`` three
numbers (the orientation matrix nine); ``| None`` also accepts None.
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
from collections.abc import Callable, Sequence
from typing import Any, Concatenate, NoReturn, ParamSpec, TypeVar

import numpy as np

from nanobragg.codes import Convention, CrystalShape, Pivot, Psf
from nanobragg.config import is_tensor
from nanobragg.field_classes import shown
from nanobragg.legacy_random import LegacyRandom
from nanobragg.validation import MAX_STEPS

INT_RANGE = (-(1 << 31), (1 << 31) - 1)
LONG_RANGE = (-(1 << 63), (1 << 63) - 1)
CODES = {"Convention": Convention, "Pivot": Pivot, "CrystalShape": CrystalShape, "Psf": Psf}
WHOLE_TYPES = ("int", *CODES)
REAL_TYPES = ("float", "Real")
MATRIX_FIELDS = ("matrix",)
"""Array fields of nine numbers, (3, 3) or flat."""
LONG_FIELDS = ("misset_seed", "seed", "calibration_seed")
"""Whole-number fields the C engine holds in a long."""


def attribute(obj: Any, owner: str, name: str) -> Any:
    """``obj.name``; a missing attribute is a TypeError naming the field."""
    try:
        return getattr(obj, name)
    except AttributeError:
        raise TypeError(f"{owner}.{name}: missing ({type(obj).__qualname__} has no "
                        f"attribute {name!r})") from None


def _wrong(where: str, expected: str, value: Any,
           error: type[Exception] = TypeError) -> NoReturn:
    raise error(f"{where}: expected {expected}, got {shown(value)}")


def whole(where: str, value: Any, lowest: int, highest: int) -> int:
    """A whole number (an int, numpy integer or code; not a float) within the range."""
    if not isinstance(value, numbers.Integral):
        _wrong(where, "an integer", value)
    if not lowest <= int(value) <= highest:
        _wrong(where, f"an integer from {lowest} to {highest}", value, ValueError)
    return int(value)


def _real(where: str, value: Any) -> None:
    if is_tensor(value):
        if value.ndim != 0 or value.is_complex():
            _wrong(where, "a number or a 0-d tensor", value)
    elif not isinstance(value, numbers.Real):
        _wrong(where, "a number", value)


def real_array(where: str, value: Any, shapes: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
    """A real array, tensor or sequence of numbers of one of ``shapes`` (-1: any
    length); returns its shape."""
    if is_tensor(value):
        if value.is_complex():
            _wrong(where, "a real tensor", value)
        shape = tuple(value.shape)
    elif isinstance(value, Sequence) and any(is_tensor(item) for item in value):
        # numbers that may carry a graph, as the torch engine stacks them
        for item in value:
            _real(where, item)
        shape = (len(value),)
    elif isinstance(value, np.ndarray | Sequence) and not isinstance(value, str | bytes):
        try:
            array = np.asarray(value)
        except (ValueError, TypeError):
            _wrong(where, "an array of numbers", value)
        if array.dtype.kind not in "biuf":
            _wrong(where, "an array of numbers", value)
        shape = array.shape
    else:
        _wrong(where, "an array of numbers", value)
    if not any(len(want) == len(shape) and all(w in (-1, s) for w, s in zip(want, shape,
                                                                            strict=True))
               for want in shapes):
        expected = " or ".join(str(want).replace("-1", "n") for want in shapes)
        raise ValueError(f"{where}: expected shape {expected}, got shape {shape}")
    return shape


def fields(data: Any, cls: type, owner: str) -> None:
    """Every field of the stage class ``cls`` on ``data``, by its annotation."""
    for field in dataclasses.fields(cls):
        value = attribute(data, owner, field.name)
        where = f"{owner}.{field.name}"
        kind, _, optional = str(field.type).partition(" | ")
        if value is None and optional == "None":
            continue
        if kind == "bool":
            if not isinstance(value, np.bool_ | numbers.Integral):
                _wrong(where, "a bool", value)
        elif kind in WHOLE_TYPES:
            number = whole(where, value, *(LONG_RANGE if field.name in LONG_FIELDS
                                           else INT_RANGE))
            codes = CODES.get(kind)
            if codes is not None and number not in set(codes):
                _wrong(where, "one of " + ", ".join(f"{int(c)} ({c.name.lower()})"
                                                     for c in codes), value, ValueError)
        elif kind in REAL_TYPES:
            _real(where, value)
        elif kind == "Array":
            real_array(where, value, ((3, 3), (9,)) if field.name in MATRIX_FIELDS
                       else ((3,),))
        else:
            raise AssertionError(f"{where}: no check for a field of type {field.type}")


def detector(spec: Any) -> None:
    """A detector spec whose size is a whole number of pixels each way (as the C engine
    rounds it into an int)."""
    from nanobragg.stages.geometry import DetectorSpec

    fields(spec, DetectorSpec, "detector_spec")
    pixel = float(spec.pixel_size_m)
    for axis in ("f", "s"):
        count = int(getattr(spec, f"{axis}pixels"))
        size = pixel * count if count else float(getattr(spec, f"detsize_{axis}_m"))
        with np.errstate(all="ignore"):
            pixels = np.ceil(np.float64(size) / pixel - 0.5)
        if not INT_RANGE[0] <= pixels <= INT_RANGE[1]:
            raise ValueError(f"detector_spec: {size!r} m in pixels of {pixel!r} m is "
                             f"{pixels} pixels along {axis}; expected a whole number within "
                             "the C int range")


def at_least(where: str, value: int, least: int) -> None:
    if value < least:
        raise ValueError(f"{where}: {value} is below {least}")


def source_grid(spec: Any) -> None:
    """A source spec whose grid the engines can count (the C engine counts in an int)."""
    from nanobragg.stages.sources import SourceSpec

    fields(spec, SourceSpec, "source_spec")
    counts = (spec.hdiv_steps, spec.vdiv_steps, spec.dispersion_steps)
    for name, count in zip(("hdiv_steps", "vdiv_steps", "dispersion_steps"), counts,
                           strict=True):
        at_least(f"source_spec.{name}", int(count), 0)
    if int(counts[0]) * int(counts[1]) * int(counts[2]) > INT_RANGE[1]:
        raise ValueError(f"source_spec: {' x '.join(str(int(c)) for c in counts)} sources "
                         "(hdiv_steps x vdiv_steps x dispersion_steps) is more than the "
                         f"{INT_RANGE[1]} the engines count")


def render_inputs(inputs: Any) -> None:
    """Everything a render or a pixel trace reads: the parameters, the sources, the
    mosaic rotations, the structure-factor grid and the mask, consistent with one
    another, and at most MAX_STEPS terms per pixel (as a valid Config gives)."""
    from nanobragg.stages.render import RenderParams

    params = attribute(inputs, "render_inputs", "params")
    fields(params, RenderParams, "render_params")
    for name, least in (("fpixels", 0), ("spixels", 0), ("oversample", 1), ("phi_steps", 1),
                        ("thickness_steps", 1)):
        at_least(f"render_params.{name}", int(getattr(params, name)), least)
    sources = attribute(inputs, "render_inputs", "sources")
    n = real_array("sources.direction", attribute(sources, "sources", "direction"),
                   ((-1, 3),))[0]
    at_least("sources: rows of sources.direction", n, 1)
    for name in ("wavelength_m", "weight"):
        real_array(f"sources.{name}", attribute(sources, "sources", name), ((n,),))
    mosaic = attribute(inputs, "render_inputs", "mosaic")
    domains = real_array("mosaic.umats", attribute(mosaic, "mosaic", "umats"),
                         ((-1, 3, 3),))[0]
    at_least("mosaic: rotations in mosaic.umats", domains, 1)
    terms = (n * domains * int(params.phi_steps) * int(params.oversample) ** 2
             * int(params.thickness_steps))
    if terms > MAX_STEPS:
        raise ValueError(
            f"render: {n} sources x {domains} mosaic domains x {int(params.phi_steps)} phi "
            f"steps x {int(params.oversample)}^2 sub-pixels x {int(params.thickness_steps)} "
            f"sensor layers is more than the limit of {MAX_STEPS} terms per pixel")
    grid = attribute(inputs, "render_inputs", "structure_factors")
    if grid is not None:
        shape = real_array("structure_factors.values",
                           attribute(grid, "structure_factors", "values"), ((-1, -1, -1),))
        at_least("structure_factors: the smallest dimension of values", min(shape), 1)
        hkl_min = attribute(grid, "structure_factors", "hkl_min")
        if not isinstance(hkl_min, Sequence | np.ndarray) or len(hkl_min) != 3:
            _wrong("structure_factors.hkl_min", "3 integers", hkl_min)
        for index, size in zip(hkl_min, shape, strict=True):
            whole("structure_factors.hkl_min", index, INT_RANGE[0],
                  INT_RANGE[1] - max(size - 1, 0))
        whole("structure_factors.count", attribute(grid, "structure_factors", "count"), 0,
              LONG_RANGE[1])
    mask = attribute(inputs, "render_inputs", "mask")
    if mask is not None:
        real_array("mask", mask, ((int(params.spixels), int(params.fpixels)),))


def pixel(slow: Any, fast: Any, inputs: Any, state: Any) -> None:
    """A pixel of the detector, and the state a trace of it starts from."""
    params = inputs.params
    slow = whole("trace_pixel: slow", slow, *INT_RANGE)
    fast = whole("trace_pixel: fast", fast, *INT_RANGE)
    if not (0 <= fast < int(params.fpixels) and 0 <= slow < int(params.spixels)):
        raise ValueError(f"trace_pixel: pixel (slow {slow}, fast {fast}) is outside the "
                         f"{int(params.spixels)} x {int(params.fpixels)} (slow x fast) "
                         "detector")
    from nanobragg.stages.trace import PixelState

    fields(state, PixelState, "pixel_state")


def positive_sources(sources: Any) -> None:
    """Wavelengths above 0 and directions of some length: a dispersion of 100 % or more,
    or a source file's zero vector, gives neither."""
    wavelength = np.asarray(to_plain(sources.wavelength_m), dtype=np.float64)
    if not (np.isfinite(wavelength) & (wavelength > 0)).all():
        raise ValueError(f"sources.wavelength_m: {shown(float(np.min(wavelength)))} m is not "
                         "valid; expected wavelengths > 0 (a dispersion of 100 % or more, or "
                         "a source file's wavelength at or below 0, gives one)")
    direction = np.asarray(to_plain(sources.direction), dtype=np.float64).reshape(-1, 3)
    if not (np.linalg.norm(direction, axis=1) > 0).all():
        raise ValueError("sources.direction: a source at the sample (a zero vector) has no "
                         "direction; expected vectors of some length")


def to_plain(value: Any) -> Any:
    return value.detach().cpu().numpy() if is_tensor(value) else value


def generator(rng: Any) -> None:
    if not isinstance(rng, LegacyRandom):
        _wrong("rng", "a nanobragg.legacy_random.LegacyRandom", rng)


# ---- one check per stage, with the stage's signature -----------------------------------

def detector_geometry(spec: Any) -> None:
    detector(spec)


def crystal_vectors(spec: Any, rng: Any) -> None:
    from nanobragg.stages.crystal import CrystalSpec

    fields(spec, CrystalSpec, "crystal_spec")
    generator(rng)


def sources(spec: Any, table: Any = None) -> None:
    source_grid(spec)
    if table is not None:
        real_array("table", table, ((-1, 5),))


def mosaic_rotations(spec: Any, rng: Any) -> None:
    from nanobragg.stages.mosaic import MosaicSpec

    fields(spec, MosaicSpec, "mosaic_spec")
    at_least("mosaic_spec.domains", int(spec.domains), 0)
    generator(rng)


def render(inputs: Any, progress: Any = None) -> None:
    render_inputs(inputs)
    if progress is not None and not callable(progress):
        _wrong("progress", "a callable or None", progress)


def add_noise(image: Any, spec: Any, rng: Any) -> None:
    from nanobragg.stages.noise import NoiseSpec

    real_array("image", image, ((-1, -1),))
    fields(spec, NoiseSpec, "noise_spec")
    generator(rng)


def trace_pixel(inputs: Any, slow: Any, fast: Any, state: Any) -> None:
    render_inputs(inputs)
    pixel(slow, fast, inputs, state)


def detector_response(image: Any, spec: Any, rng: Any) -> None:
    from nanobragg.stages.response import ResponseSpec

    real_array("image", image, ((-1, -1),))
    fields(spec, ResponseSpec, "response_spec")
    if int(spec.bits) not in (16, 32):
        _wrong("response_spec.bits", "16 or 32", spec.bits, ValueError)
    generator(rng)


def point_scatterers(inputs: Any, progress: Any = None) -> None:
    from nanobragg.stages.scatterers import ScattererParams

    params = attribute(inputs, "scatterer_inputs", "params")
    fields(params, ScattererParams, "scatterer_params")
    for name, least in (("fpixels", 0), ("spixels", 0), ("oversample", 1)):
        at_least(f"scatterer_params.{name}", int(getattr(params, name)), least)
    atoms = attribute(inputs, "scatterer_inputs", "atoms")
    n = real_array("atoms.position_m", attribute(atoms, "atoms", "position_m"), ((-1, 3),))[0]
    for name in ("occupancy", "B_A2", "phase_rad"):
        real_array(f"atoms.{name}", attribute(atoms, "atoms", name), ((n,),))
    sources = attribute(inputs, "scatterer_inputs", "sources")
    m = real_array("sources.position_m", attribute(sources, "sources", "position_m"),
                   ((-1, 3),))[0]
    at_least("sources: rows of sources.position_m", m, 1)
    real_array("sources.direction", attribute(sources, "sources", "direction"), ((m, 3),))
    for name in ("wavelength_m", "group"):
        real_array(f"sources.{name}", attribute(sources, "sources", name), ((m,),))
    positive_sources(sources)
    if m * int(params.oversample) ** 2 > MAX_STEPS:
        raise ValueError(f"point_scatterers: {m} sources x {int(params.oversample)}^2 "
                         f"sub-pixels is more than the limit of {MAX_STEPS} terms per pixel")
    for name in ("image", "real", "imag"):
        image = attribute(inputs, "scatterer_inputs", name)
        if image is not None:
            real_array(name, image, ((int(params.spixels), int(params.fpixels)),))
    if progress is not None and not callable(progress):
        _wrong("progress", "a callable or None", progress)


def amorphous(spec: Any, sources: Any, table: Any, progress: Any = None) -> None:
    """An amorphous spec, sources and a table of at least four rows, with at most
    MAX_STEPS terms per pixel."""
    from nanobragg.stages.amorphous import AmorphousSpec

    fields(spec, AmorphousSpec, "amorphous_spec")
    for name, least in (("fpixels", 0), ("spixels", 0), ("oversample", 1)):
        at_least(f"amorphous_spec.{name}", int(getattr(spec, name)), least)
    n = real_array("sources.direction", attribute(sources, "sources", "direction"),
                   ((-1, 3),))[0]
    at_least("sources: rows of sources.direction", n, 1)
    for name in ("wavelength_m", "weight"):
        real_array(f"sources.{name}", attribute(sources, "sources", name), ((n,),))
    positive_sources(sources)
    rows = real_array("stol_table.stol_per_m", attribute(table, "stol_table", "stol_per_m"),
                      ((-1,),))[0]
    at_least("stol_table: rows of stol_table.stol_per_m", rows, 4)
    real_array("stol_table.F", attribute(table, "stol_table", "F"), ((rows,),))
    terms = n * int(spec.oversample) ** 2
    if terms > MAX_STEPS:
        raise ValueError(f"amorphous: {n} sources x {int(spec.oversample)}^2 sub-pixels is "
                         f"more than the limit of {MAX_STEPS} terms per pixel")
    if progress is not None and not callable(progress):
        _wrong("progress", "a callable or None", progress)


STAGES: dict[str, Callable[..., None]] = {
    check.__name__: check for check in (detector_geometry, crystal_vectors, sources,
                                         mosaic_rotations, render, add_noise, trace_pixel,
                                         detector_response, point_scatterers, amorphous)}
"""The check of each stage method, by the method's name."""

P = ParamSpec("P")
R = TypeVar("R")
E = TypeVar("E")


def checked(method: Callable[Concatenate[E, P], R]) -> Callable[Concatenate[E, P], R]:
    """An engine's stage method that first checks its arguments (``STAGES``)."""
    check = STAGES[method.__name__]

    @functools.wraps(method)
    def stage(self: E, /, *args: P.args, **kwargs: P.kwargs) -> R:
        check(*args, **kwargs)
        return method(self, *args, **kwargs)

    return stage
