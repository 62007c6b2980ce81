"""The record of the original's command-line variables, and the flag actions that fill it.

The parse (either mode) fills a :class:`Record` (the original's own variables, in the
user's units: mm, um, Angstrom, degrees, mrad, percent; None where the original has no
value yet), which :mod:`nanobragg.flags.mapping` turns into a Config at the end.  An
*action* applies one flag's values to the record; the table (:mod:`nanobragg.flags.table`)
gives each flag its action.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from nanobragg.config import DEFAULT_FLUENCE
from nanobragg.errors import ConventionWarning, UsageError
from nanobragg.flags.cnumbers import Conv

__all__ = [
    "C_INITIAL_VECTORS",
    "Action",
    "Record",
    "Vec3",
    "cell_strict",
    "detector_abs",
    "energy",
    "misset_strict",
    "pixel_counts",
    "select_convention",
    "set_attr",
    "set_attrs",
    "set_const",
    "set_ints",
    "set_items",
    "set_pivot",
    "set_vector",
]

Vec3 = tuple[float, float, float]

C_INITIAL_VECTORS: dict[str, Vec3] = {
    "fdet": (0.0, 0.0, 1.0),
    "sdet": (0.0, -1.0, 0.0),
    "odet": (1.0, 0.0, 0.0),
    "beam": (1.0, 0.0, 0.0),
    "polar": (0.0, 0.0, 1.0),
    "spindle": (0.0, 0.0, 1.0),
    "twotheta_axis": (0.0, 1.0, 0.0),
}
"""The original's initial vectors, which the CUSTOM convention keeps when not given.

They equal the Config defaults except the two-theta axis: (0, 1, 0) here, (0, 0, -1)
(the MOSFLM axis) in :class:`~nanobragg.config.DetectorConfig`.
"""


class Record:
    """The original's command-line variables (user units; None = the original's 'unset')."""

    def __init__(self) -> None:
        # crystal
        self.N = [1.0, 1.0, 1.0]
        self.user_cell = False
        self.cell = [0.0] * 6
        self.misset_state = 0  # 0: none, 1: angles, -1: random
        self.misset: list[float] | None = None
        self.sample = [0.0, 0.0, 0.0]
        self.shape = "square"
        self.fudge = 1.0
        self.mosaic_spread: float | None = None
        self.mosaic_domains: int | None = None
        self.mosaic_seed = 12345678
        self.misset_seed: int | None = None
        self.phi0 = 0.0
        self.osc: float | None = None
        self.phistep: float | None = None
        self.phisteps: int | None = None
        self.matfile: str | None = None
        # structure factors
        self.hklfile: str | None = None
        self.default_F = 0.0
        self.dumpfile = "Fdump.bin"
        self.interpolate: bool | None = None
        self.dmin = 0.0
        self.stolfile: str | None = None
        # beam
        self.lambda0 = 1.0
        self.dispersion = 0.0
        self.dispsteps: int | None = None
        self.hdivrange: float | None = None
        self.vdivrange: float | None = None
        self.hdivstep: float | None = None
        self.vdivstep: float | None = None
        self.hdivsteps: int | None = None
        self.vdivsteps: int | None = None
        self.round_div = True
        self.fluence = DEFAULT_FLUENCE
        self.flux = 0.0
        self.exposure = 1.0
        self.beamsize = 0.1
        self.polarization = 0.0
        self.nopolar = False
        self.sourcefile: str | None = None
        self.water = 0.0
        # detector
        self.distance = 100.0
        self.close_distance: float | None = None
        self.pixel = 0.1
        self.detsize = [102.4, 102.4]
        self.pixels: list[int | None] = [None, None]
        self.Xbeam: float | None = None
        self.Ybeam: float | None = None
        self.Xclose: float | None = None
        self.Yclose: float | None = None
        self.ORGX: float | None = None
        self.ORGY: float | None = None
        self.convention = "mosflm"
        self.convention_flag: str | None = None
        """The flag that selected the convention in force (None: the default, or CUSTOM)."""
        self.pivot = "beam"
        self.rot = [0.0, 0.0, 0.0]
        self.twotheta = 0.0
        self.vectors: dict[str, Vec3] = dict(C_INITIAL_VECTORS)
        self.vectors_given: set[str] = set()
        self.pix0: Vec3 | None = None
        self.curved = False
        self.point_pixel = False
        self.thick = 0.0
        self.attenuation: float | None = None
        self.thicksteps: int | None = None
        self.mask: str | None = None
        # sampling
        self.oversample: int | None = None
        self.oversample_thick = False
        self.oversample_polar = False
        self.oversample_omega = False
        self.roi: tuple[int, ...] | None = None
        # output
        self.seed: int | None = None
        self.adc = 40.0
        self.int_scale = 0.0
        self.pgm_scale = 0.0
        self.floatfile = "floatimage.bin"
        self.intfile = "intimage.img"
        self.noisefile = "noiseimage.img"
        self.pgmfile = "image.pgm"
        self.write_pgm = True
        self.write_noise = True
        self.progress = True
        self.printout = False
        self.printout_pixel: tuple[int, ...] | None = None
        # read by the original, then never used
        self.density: float | None = None
        self.molecular_weight: float | None = None
        self.coherent = False
        self.stolout: str | None = None
        self.img: str | None = None
        self.header_twotheta: float | None = None
        # the original's pixel size in metres, for the header arithmetic
        self.pixel_m = 0.1e-3


Action = Callable[[Record, Sequence[str], Conv], None]


def _read(kind: str, text: str, cv: Conv) -> Any:
    if kind == "f":
        return cv.f(text)
    if kind == "i":
        return cv.i(text)
    return text


def set_attr(attr: str, kind: str = "f", *, pivot: str | None = None, **also: Any) -> Action:
    """An action storing the first value in ``attr`` (plus fixed side effects)."""

    def act(rec: Record, vals: Sequence[str], cv: Conv) -> None:
        setattr(rec, attr, _read(kind, vals[0], cv))
        if pivot is not None:
            rec.pivot = pivot
        for key, val in also.items():
            setattr(rec, key, val)

    return act


def set_items(attr: str, indices: Sequence[int], kind: str = "f") -> Action:
    """An action storing the first value in ``attr[i]`` for each index."""

    def act(rec: Record, vals: Sequence[str], cv: Conv) -> None:
        value = _read(kind, vals[0], cv)
        if attr == "N":
            value = float(value)  # the original keeps N in a double
        target = getattr(rec, attr)
        for index in indices:
            target[index] = value

    return act


def set_attrs(attrs: Sequence[str], kind: str = "f") -> Action:
    """An action storing the first value in several attributes."""

    def act(rec: Record, vals: Sequence[str], cv: Conv) -> None:
        value = _read(kind, vals[0], cv)
        for attr in attrs:
            setattr(rec, attr, value)

    return act


def set_const(**values: Any) -> Action:
    def act(rec: Record, vals: Sequence[str], cv: Conv) -> None:
        for key, val in values.items():
            setattr(rec, key, val)

    return act


def set_ints(attr: str) -> Action:
    def act(rec: Record, vals: Sequence[str], cv: Conv) -> None:
        setattr(rec, attr, tuple(cv.i(v) for v in vals))

    return act


def set_vector(key: str) -> Action:
    """A vector flag: stores the vector and selects the CUSTOM convention.

    In strict mode, replacing a convention that a flag selected earlier is announced
    with a :class:`ConventionWarning` (the original switches silently).
    """

    def act(rec: Record, vals: Sequence[str], cv: Conv) -> None:
        vec = (cv.f(vals[0]), cv.f(vals[1]), cv.f(vals[2]))
        # quirk vector_flags_select_custom: the switch stays in both modes; strict mode
        # names it when it replaces a convention that a flag selected
        if cv.strict and rec.convention != "custom" and rec.convention_flag is not None:
            name = rec.convention.upper()
            # stacklevel: this action, the parse, config_from_argv, its caller
            warnings.warn(f"{cv.flag} replaces the {name} convention (selected by "
                          f"{rec.convention_flag}) with CUSTOM: {name}'s axes, beam centre "
                          "and pivot no longer apply", ConventionWarning, stacklevel=4)
        rec.convention = "custom"
        rec.convention_flag = None
        if key == "pix0":
            rec.pix0 = vec
        else:
            rec.vectors[key] = vec
            rec.vectors_given.add(key)

    return act


def select_convention(convention: str, pivot: str) -> Action:
    """A convention flag: the convention and the pivot it sets during the parse."""

    def act(rec: Record, vals: Sequence[str], cv: Conv) -> None:
        rec.convention = convention
        rec.convention_flag = cv.flag
        rec.pivot = pivot

    return act


def set_pivot(rec: Record, vals: Sequence[str], cv: Conv) -> None:
    text = vals[0]
    if cv.strict:
        if text not in ("beam", "sample"):
            raise UsageError(f"{cv.flag}: expected 'beam' or 'sample', got {text!r}")
        rec.pivot = text
        return
    # the original looks for both words as substrings, "beam" last
    if "sample" in text:
        rec.pivot = "sample"
    if "beam" in text:
        rec.pivot = "beam"


def detector_abs(rec: Record, vals: Sequence[str], cv: Conv) -> None:
    text = vals[0]
    length = cv.f(text)
    if "inf" in text or length == 0.0:
        # quirk transparent_sensor_captures_nothing: no absorption; the sensor thickness
        # given so far is dropped too, so only a later -detector_thick keeps a sensor
        rec.thick = 0.0
        rec.attenuation = math.inf if "inf" in text else length
    else:
        rec.attenuation = length


def energy(rec: Record, vals: Sequence[str], cv: Conv) -> None:
    ev = cv.f(vals[0])
    rec.lambda0 = math.copysign(math.inf, ev) if ev == 0.0 else 12398.42 / ev


def pixel_counts(indices: Sequence[int]) -> Action:
    def act(rec: Record, vals: Sequence[str], cv: Conv) -> None:
        value = cv.i(vals[0])
        for index in indices:
            rec.pixels[index] = value

    return act


def misset_strict(rec: Record, vals: Sequence[str], cv: Conv) -> None:
    """``-misset`` in strict mode: the word ``random`` or three angles."""
    if len(vals) == 1:
        rec.misset_state = -1
    else:
        rec.misset_state = 1
        rec.misset = [cv.f(v) for v in vals]


def cell_strict(rec: Record, vals: Sequence[str], cv: Conv) -> None:
    """``-cell`` in strict mode: six numbers."""
    rec.user_cell = True
    rec.cell = [cv.f(v) for v in vals]
