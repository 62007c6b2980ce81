"""The original program's command line, read into a :class:`~nanobragg.config.Config`.

Two ways of reading the same flags:

``c_parity=True``
    The original's own way, quirks included.  Every argument that starts with ``-`` is
    tested against every rule of :data:`FLAGS`, in the table's order, by *substring*
    (``-twotheta_axis`` also contains ``-twotheta``, so it also sets the two-theta angle);
    some rules ask for the whole argument instead (``-phi``, ``-polar``, ``-detsize``...),
    a few stop the later rules from seeing the argument, values are read with C
    ``atof``/``atoi`` (``"abc"`` reads as 0, ``"3.7"`` as the integer 3), and a value
    is taken from the next arguments whether or not it looks like a flag.

``c_parity=False``
    Strict: each flag must be spelt exactly (one of the names or synonyms of the table),
    consumes exactly its values, and numbers must be numbers.  The substring side
    effects are gone; what a flag does by itself stays (vectors still select the CUSTOM
    convention, ``-distance`` still selects the beam pivot...).

Both first read the headers of the ``-mask`` and then the ``-img`` file (so the image's
values win), then apply the flags in command-line order (so flags win over headers).
The parse fills a record of the original's own variables (kept in the user's units:
mm, um, Angstrom, degrees, mrad, percent) which is turned into a Config at the end.

Errors are :class:`UsageError` (a ValueError) with a one-line message; a missing or
malformed ``-img``/``-mask`` file raises FileNotFoundError or
:class:`nanobragg.io.FormatError`.  ``specs/flags.md`` describes every flag and rule.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nanobragg.config import CONVENTIONS, DEFAULT_FLUENCE, Config, as_float, as_floats

__all__ = [
    "FLAGS",
    "FLAG_BY_NAME",
    "PROGRAM_FLAGS",
    "Flag",
    "ParityWarning",
    "ParsedCommand",
    "ProgramFlag",
    "UsageError",
    "c_atof",
    "c_atoi",
    "config_from_argv",
    "config_to_argv",
    "parse_command_line",
]


class UsageError(ValueError):
    """A command line that cannot be read; the one-line message names the flag or value."""


class ParityWarning(UserWarning):
    """In ``c_parity`` mode: the original silently ignores something that was written."""


# ---------------------------------------------------------------------------------------
# C library number parsing (glibc, "C" locale), on Python strings.

_C_SPACE = " \t\n\v\f\r"
_INT_MIN = -(2**31)
_INT_MAX = 2**31 - 1
_LONG_MIN = -(2**63)
_LONG_MAX = 2**63 - 1

_HEX_RE = re.compile(r"0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?")
_DEC_RE = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INF_RE = re.compile(r"[iI][nN][fF]")
_NAN_RE = re.compile(r"[nN][aA][nN]")
_DIGITS_RE = re.compile(r"[0-9]+")


def _unsigned_part(text: str) -> tuple[str, bool]:
    """The text after C whitespace and an optional sign, and whether the sign was '-'."""
    body = text.lstrip(_C_SPACE)
    if body[:1] in ("+", "-"):
        return body[1:], body[0] == "-"
    return body, False


def c_atof(text: str) -> float:
    """C ``atof``: the longest leading number (after C whitespace), 0.0 when there is none.

    Decimal and hexadecimal (``0x1p3``) numbers, ``inf``/``infinity`` and ``nan`` are
    read like glibc's ``strtod`` reads them; what follows is ignored (``"1e5x"`` ->
    100000.0, ``"1e"`` -> 1.0, ``"abc"`` -> 0.0).
    """
    body, negative = _unsigned_part(text)
    sign = -1.0 if negative else 1.0
    m = _HEX_RE.match(body)
    if m is not None:
        try:
            value = float.fromhex(m.group())
        except OverflowError:
            value = math.inf
        return sign * value
    m = _DEC_RE.match(body)
    if m is not None:
        return sign * float(m.group())
    if _INF_RE.match(body) is not None:
        return sign * math.inf
    if _NAN_RE.match(body) is not None:
        return math.copysign(math.nan, sign)
    return 0.0


def c_atoi(text: str) -> int:
    """C ``atoi`` as glibc has it: ``(int) strtol(text, NULL, 10)``.

    Leading C whitespace, an optional sign, then decimal digits; anything else ends the
    number (``"3.7"`` -> 3, ``"12abc"`` -> 12, ``"abc"`` -> 0).  ``strtol`` saturates at
    the 64-bit range and the conversion to ``int`` keeps the low 32 bits.
    """
    body, negative = _unsigned_part(text)
    m = _DIGITS_RE.match(body)
    if m is None:
        return 0
    digits = m.group().lstrip("0")
    value = _LONG_MAX + 1 if len(digits) > 19 else int(digits or "0")
    if negative:
        value = -value
    value = min(max(value, _LONG_MIN), _LONG_MAX)
    return (value - _INT_MIN) % 2**32 + _INT_MIN


_STRICT_FLOAT_RE = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)",
    re.IGNORECASE,
)
_STRICT_INT_RE = re.compile(r"[+-]?[0-9]+")


def _strict_float(text: str, flag: str) -> float:
    if _STRICT_FLOAT_RE.fullmatch(text) is None:
        raise UsageError(f"{flag}: expected a number, got {text!r}")
    return float(text)


def _strict_int(text: str, flag: str) -> int:
    if _STRICT_INT_RE.fullmatch(text) is None:
        raise UsageError(f"{flag}: expected a whole number, got {text!r}")
    value = int(text)
    if not _INT_MIN <= value <= _INT_MAX:
        raise UsageError(f"{flag}: {text} is outside the range of a C int")
    return value


class _Conv:
    """Reads the values of one flag: C ``atof``/``atoi``, or strict numbers."""

    def __init__(self, flag: str, strict: bool) -> None:
        self.flag = flag
        self.strict = strict

    def f(self, text: str) -> float:
        return _strict_float(text, self.flag) if self.strict else c_atof(text)

    def i(self, text: str) -> int:
        return _strict_int(text, self.flag) if self.strict else c_atoi(text)


# ---------------------------------------------------------------------------------------
# The record: the original's variables, in the user's units, as the parse leaves them.

Vec3 = tuple[float, float, float]

_C_INITIAL_VECTORS: dict[str, Vec3] = {
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

# record key of each vector -> Config field
_VECTOR_FIELDS: dict[str, str] = {
    "fdet": "detector.fdet_vector",
    "sdet": "detector.sdet_vector",
    "odet": "detector.odet_vector",
    "beam": "beam.beam_vector",
    "polar": "beam.polar_vector",
    "spindle": "crystal.spindle_axis",
    "twotheta_axis": "detector.twotheta_axis",
}

# the pivot each convention imposes after the parse
_FORCED_PIVOT = {"mosflm": "beam", "denzo": "beam", "adxv": "beam", "xds": "sample",
                 "dials": "sample"}


class _Record:
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
        self.pivot = "beam"
        self.rot = [0.0, 0.0, 0.0]
        self.twotheta = 0.0
        self.vectors: dict[str, Vec3] = dict(_C_INITIAL_VECTORS)
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


Action = Callable[[_Record, Sequence[str], _Conv], None]


def _read(kind: str, text: str, cv: _Conv) -> Any:
    if kind == "f":
        return cv.f(text)
    if kind == "i":
        return cv.i(text)
    return text


def _set(attr: str, kind: str = "f", *, pivot: str | None = None, **also: Any) -> Action:
    """An action storing the first value in ``attr`` (plus fixed side effects)."""

    def act(rec: _Record, vals: Sequence[str], cv: _Conv) -> None:
        setattr(rec, attr, _read(kind, vals[0], cv))
        if pivot is not None:
            rec.pivot = pivot
        for key, val in also.items():
            setattr(rec, key, val)

    return act


def _set_items(attr: str, indices: Sequence[int], kind: str = "f") -> Action:
    """An action storing the first value in ``attr[i]`` for each index."""

    def act(rec: _Record, vals: Sequence[str], cv: _Conv) -> None:
        value = _read(kind, vals[0], cv)
        if attr == "N":
            value = float(value)  # the original keeps N in a double
        target = getattr(rec, attr)
        for index in indices:
            target[index] = value

    return act


def _set_attrs(attrs: Sequence[str], kind: str = "f") -> Action:
    """An action storing the first value in several attributes."""

    def act(rec: _Record, vals: Sequence[str], cv: _Conv) -> None:
        value = _read(kind, vals[0], cv)
        for attr in attrs:
            setattr(rec, attr, value)

    return act


def _set_const(**values: Any) -> Action:
    def act(rec: _Record, vals: Sequence[str], cv: _Conv) -> None:
        for key, val in values.items():
            setattr(rec, key, val)

    return act


def _set_ints(attr: str) -> Action:
    def act(rec: _Record, vals: Sequence[str], cv: _Conv) -> None:
        setattr(rec, attr, tuple(cv.i(v) for v in vals))

    return act


def _set_vector(key: str) -> Action:
    def act(rec: _Record, vals: Sequence[str], cv: _Conv) -> None:
        rec.convention = "custom"
        vec = (cv.f(vals[0]), cv.f(vals[1]), cv.f(vals[2]))
        if key == "pix0":
            rec.pix0 = vec
        else:
            rec.vectors[key] = vec
            rec.vectors_given.add(key)

    return act


def _pivot(rec: _Record, vals: Sequence[str], cv: _Conv) -> None:
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


def _detector_abs(rec: _Record, vals: Sequence[str], cv: _Conv) -> None:
    text = vals[0]
    length = cv.f(text)
    if "inf" in text or length == 0.0:
        # no absorption; the sensor thickness given so far is dropped too
        rec.thick = 0.0
        rec.attenuation = math.inf if "inf" in text else length
    else:
        rec.attenuation = length


def _energy(rec: _Record, vals: Sequence[str], cv: _Conv) -> None:
    ev = cv.f(vals[0])
    rec.lambda0 = math.copysign(math.inf, ev) if ev == 0.0 else 12398.42 / ev


def _pixel_counts(indices: Sequence[int]) -> Action:
    def act(rec: _Record, vals: Sequence[str], cv: _Conv) -> None:
        value = cv.i(vals[0])
        for index in indices:
            rec.pixels[index] = value

    return act


def _misset_strict(rec: _Record, vals: Sequence[str], cv: _Conv) -> None:
    """``-misset`` in strict mode: the word ``random`` or three angles."""
    if len(vals) == 1:
        rec.misset_state = -1
    else:
        rec.misset_state = 1
        rec.misset = [cv.f(v) for v in vals]


def _cell_strict(rec: _Record, vals: Sequence[str], cv: _Conv) -> None:
    """``-cell`` in strict mode: six numbers."""
    rec.user_cell = True
    rec.cell = [cv.f(v) for v in vals]


# ---------------------------------------------------------------------------------------
# The table of flags.


@dataclass(frozen=True)
class Flag:
    """One flag of the original program: one rule of its argument loop.

    ``names`` (``name`` and ``synonyms``) are the exact spellings accepted in strict mode.
    ``needles`` are what the original looks for in an argument (``c_parity`` mode): a
    substring, or, written ``=text``, the whole argument.  ``c_need``: how many arguments
    must follow for the original to apply the rule (None: the number of values).
    ``c_unchecked``: the original reads the next argument without checking there is one.
    ``c_stop``: once applied, the original's later rules do not see the argument.
    ``field``/``when``: the Config field :func:`config_to_argv` writes with this flag (a
    switch is written when the field equals ``when``); ``late`` flags are written after
    all others.  ``prescan_only``: only read before the loop (``-mask``).
    """

    name: str
    synonyms: tuple[str, ...]
    metavars: tuple[str, ...]
    kind: str
    """none, float, int, path, word, absorb, vector, cell or misset."""
    group: str
    sets: str
    help: str
    unit: str = ""
    default: str = ""
    needles: tuple[str, ...] = ()
    action: Action | None = None
    c_need: int | None = None
    c_unchecked: bool = False
    c_stop: bool = False
    field: str | None = None
    when: Any = None
    late: bool = False
    prescan_only: bool = False

    @property
    def nvalues(self) -> int:
        return len(self.metavars)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.synonyms)

    @property
    def need(self) -> int:
        return self.nvalues if self.c_need is None else self.c_need

    def c_matches(self, arg: str) -> bool:
        """Whether the original's rule takes up ``arg`` (substring or whole-word test)."""
        for needle in self.needles:
            if needle.startswith("="):
                if arg == needle[1:]:
                    return True
            elif needle in arg:
                return True
        return False


def _flag(name: str, metavars: str | tuple[str, ...], kind: str, group: str, sets: str,
          help: str, *, synonyms: tuple[str, ...] = (), needles: tuple[str, ...] | None = None,
          **kw: Any) -> Flag:
    if isinstance(metavars, str):
        metavars = (metavars,) if metavars else ()
    return Flag(name=name, synonyms=synonyms, metavars=metavars, kind=kind, group=group,
                sets=sets, help=help, needles=(name,) if needles is None else needles, **kw)


def _switch(name: str, group: str, sets: str, help: str, action: Action, **kw: Any) -> Flag:
    return _flag(name, "", "none", group, sets, help, action=action, **kw)


_XT = "Crystal"
_SF = "Structure factors"
_BM = "Beam"
_DT = "Detector"
_SA = "Sampling"
_OU = "Output"
_NO = "Accepted, without effect"
_V3 = ("X", "Y", "Z")

#: Every flag of the original program, in the order its argument loop tests them.
FLAGS: tuple[Flag, ...] = (
    # --- crystal: size in unit cells, cell, orientation
    _flag("-Na", "N", "int", _XT, "crystal.N_cells[0]", "unit cells along a (0 counts as 1)",
          unit="cells", default="1", action=_set_items("N", (0,), "i"), c_stop=True,
          field="crystal.N_cells[0]"),
    _flag("-Nb", "N", "int", _XT, "crystal.N_cells[1]", "unit cells along b",
          unit="cells", default="1", action=_set_items("N", (1,), "i"), c_stop=True,
          field="crystal.N_cells[1]"),
    _flag("-Nc", "N", "int", _XT, "crystal.N_cells[2]", "unit cells along c",
          unit="cells", default="1", action=_set_items("N", (2,), "i"), c_stop=True,
          field="crystal.N_cells[2]"),
    _flag("-N", "N", "int", _XT, "crystal.N_cells (all three)", "unit cells along a, b and c",
          unit="cells", default="1", needles=("=-N",), action=_set_items("N", (0, 1, 2), "i"),
          c_stop=True),
    _flag("-cell", ("A", "B", "C", "ALPHA", "BETA", "GAMMA"), "cell", _XT, "crystal.cell",
          "unit cell, instead of -mat (c_parity: reading stops at a value starting with '-')",
          unit="A, deg", default="none", action=_cell_strict, c_need=1, field="crystal.cell"),
    _flag("-misset", ("RX", "RY", "RZ"), "misset", _XT,
          "crystal.misset_deg; crystal.misset_random",
          "rotations of the cell about x, y and z, or the one word 'random'", unit="deg",
          default="none", action=_misset_strict, field="crystal.misset_deg"),
    # several rules of the original with the same effect are merged into one entry each
    _flag("-xtalsize", "MM", "float", _XT, "crystal.size_mm (all three)",
          "crystal size along x, y and z; a non-zero size sets N along that axis",
          synonyms=("-xtal_size", "-samplesize", "-sample_size"),
          needles=("-samplesize", "-sample_size", "-xtalsize", "-xtal_size"),
          unit="mm", default="0", action=_set_items("sample", (0, 1, 2))),
    _flag("-xtal_thick", "MM", "float", _XT, "crystal.size_mm[0]", "crystal size along x",
          synonyms=("-xtal_x", "-sample_thick", "-sample_x"),
          needles=("-sample_thick", "-sample_x", "-xtal_thick", "-xtal_x"),
          unit="mm", default="0", action=_set_items("sample", (0,)),
          field="crystal.size_mm[0]"),
    _flag("-xtal_width", "MM", "float", _XT, "crystal.size_mm[1]", "crystal size along y",
          synonyms=("-xtal_y", "-sample_width", "-sample_y", "-width"),
          needles=("-sample_width", "-sample_y", "-width", "-xtal_width", "-xtal_y"),
          unit="mm", default="0", action=_set_items("sample", (1,)),
          field="crystal.size_mm[1]"),
    _flag("-xtal_height", "MM", "float", _XT, "crystal.size_mm[2]", "crystal size along z",
          synonyms=("-xtal_heigh", "-xtal_z", "-sample_height", "-sample_heigh", "-sample_z",
                    "-height", "-heigh"),
          needles=("-sample_heigh", "-sample_z", "-heigh", "-xtal_heigh", "-xtal_z"),
          unit="mm", default="0", action=_set_items("sample", (2,)),
          field="crystal.size_mm[2]"),
    _flag("-density", "G_PER_CM3", "float", _NO, "nothing",
          "sample density (the original overwrites it before use)",
          synonyms=("-sample_density", "-sample_den"), needles=("-density", "-sample_den"),
          action=_set("density")),
    _flag("-MW", "DALTON", "float", _NO, "nothing",
          "molecular weight (the original overwrites it before use)",
          synonyms=("-molecular_weight", "-molec"), needles=("=-MW", "-molec"),
          action=_set("molecular_weight")),
    # --- beam centre and detector origin
    _flag("-Xbeam", "MM", "float", _DT, "detector.beam_x_mm; pivot=beam",
          "direct-beam position along the convention's X axis", unit="mm",
          default="the convention's centre", action=_set("Xbeam", pivot="beam"),
          field="detector.beam_x_mm"),
    _flag("-Ybeam", "MM", "float", _DT, "detector.beam_y_mm; pivot=beam",
          "direct-beam position along the convention's Y axis", unit="mm",
          default="the convention's centre", action=_set("Ybeam", pivot="beam"),
          field="detector.beam_y_mm"),
    _flag("-Xclose", "MM", "float", _DT, "detector.close_x_mm; pivot=sample",
          "fast coordinate of the detector point nearest the sample", unit="mm",
          default="detector centre", action=_set("Xclose", pivot="sample"),
          field="detector.close_x_mm"),
    _flag("-Yclose", "MM", "float", _DT, "detector.close_y_mm; pivot=sample",
          "slow coordinate of the detector point nearest the sample", unit="mm",
          default="detector centre", action=_set("Yclose", pivot="sample"),
          field="detector.close_y_mm"),
    _flag("-ORGX", "PIXELS", "float", _DT, "detector.orgx_px; pivot=sample",
          "XDS origin along the fast axis", unit="pixels", default="detector centre",
          action=_set("ORGX", pivot="sample"), field="detector.orgx_px"),
    _flag("-ORGY", "PIXELS", "float", _DT, "detector.orgy_px; pivot=sample",
          "XDS origin along the slow axis", unit="pixels", default="detector centre",
          action=_set("ORGY", pivot="sample"), field="detector.orgy_px"),
    _flag("-pivot", "beam|sample", "word", _DT, "detector.pivot (kept by CUSTOM only)",
          "what the detector rotates about; the other conventions impose their own",
          default="beam", action=_pivot),
    # --- conventions
    _switch("-mosflm", _DT, "detector.convention=mosflm; pivot=beam",
            "MOSFLM axes and beam centre (the default convention)",
            _set_const(convention="mosflm", pivot="beam")),
    _switch("-xds", _DT, "detector.convention=xds; pivot=sample", "XDS axes and origin",
            _set_const(convention="xds", pivot="sample")),
    _switch("-adxv", _DT, "detector.convention=adxv; pivot=beam", "ADXV axes and beam centre",
            _set_const(convention="adxv", pivot="beam")),
    _switch("-denzo", _DT, "detector.convention=denzo; pivot=beam",
            "DENZO axes and beam centre", _set_const(convention="denzo", pivot="beam")),
    _switch("-dials", _DT, "detector.convention=dials; pivot=beam",
            "DIALS axes and origin (its sample pivot is imposed after the parse)",
            _set_const(convention="dials", pivot="beam")),
    # --- vectors: each selects the CUSTOM convention
    _flag("-fdet_vector", _V3, "vector", _DT, "detector.fdet_vector; convention=custom",
          "direction of the fast pixel axis", default="0 0 1", action=_set_vector("fdet"),
          field="detector.fdet_vector"),
    _flag("-sdet_vector", _V3, "vector", _DT, "detector.sdet_vector; convention=custom",
          "direction of the slow pixel axis", default="0 -1 0", action=_set_vector("sdet"),
          field="detector.sdet_vector"),
    _flag("-odet_vector", _V3, "vector", _DT, "detector.odet_vector; convention=custom",
          "detector normal, away from the sample", default="1 0 0",
          action=_set_vector("odet"), field="detector.odet_vector"),
    _flag("-beam_vector", _V3, "vector", _BM, "beam.beam_vector; convention=custom",
          "direction of the incident beam", default="1 0 0", action=_set_vector("beam"),
          field="beam.beam_vector"),
    _flag("-polar_vector", _V3, "vector", _BM, "beam.polar_vector; convention=custom",
          "direction of the beam's electric field", default="0 0 1",
          action=_set_vector("polar"), field="beam.polar_vector"),
    _flag("-spindle_axis", _V3, "vector", _XT, "crystal.spindle_axis; convention=custom",
          "phi rotation axis (right-handed)", default="0 0 1", action=_set_vector("spindle"),
          field="crystal.spindle_axis"),
    _flag("-twotheta_axis", _V3, "vector", _DT, "detector.twotheta_axis; convention=custom",
          "axis of the two-theta swing (c_parity: also sets -twotheta to X)",
          default="0 1 0 under CUSTOM", action=_set_vector("twotheta_axis"),
          field="detector.twotheta_axis"),
    _flag("-pix0_vector", _V3, "vector", _DT, "detector.pix0_vector_m; convention=custom",
          "position of the first pixel (read, but not used by the original)", unit="m",
          default="none", action=_set_vector("pix0"), field="detector.pix0_vector_m"),
    # --- distance, sensor, detector angles
    _flag("-distance", "MM", "float", _DT, "detector.distance_mm; pivot=beam",
          "sample to detector along the beam", unit="mm", default="100",
          action=_set("distance", pivot="beam"), field="detector.distance_mm"),
    _flag("-close_distance", "MM", "float", _DT, "detector.close_distance_mm; pivot=sample",
          "sample to the nearest point of the detector plane", unit="mm", default="none",
          action=_set("close_distance", pivot="sample"), field="detector.close_distance_mm"),
    _flag("-detector_abs", "UM|inf", "absorb", _DT,
          "detector.attenuation_length_um (inf or 0: also detector.thickness_um=0)",
          "attenuation length of the sensor; 'inf' or 0 means no absorption and no thickness",
          synonyms=("-detector_absorb",), needles=("-detector_abs",), unit="um",
          default="the thickness", action=_detector_abs, c_unchecked=True,
          field="detector.attenuation_length_um"),
    _flag("-detector_thick", "UM", "float", _DT, "detector.thickness_um", "sensor thickness",
          needles=("=-detector_thick",), unit="um", default="0", action=_set("thick"),
          c_unchecked=True, field="detector.thickness_um"),
    _flag("-detector_thicksteps", "N", "int", _DT, "detector.thickness_steps",
          "number of sensor layers", synonyms=("-thicksteps",),
          needles=("-detector_thicksteps", "-thicksteps"), default="auto",
          action=_set("thicksteps", "i"), c_unchecked=True, field="detector.thickness_steps"),
    _flag("-twotheta", "DEG", "float", _DT, "detector.twotheta_deg; pivot=sample",
          "detector swing about the two-theta axis", unit="deg", default="0",
          action=_set("twotheta", pivot="sample"), field="detector.twotheta_deg"),
    _flag("-detector_rotx", "DEG", "float", _DT, "detector.rotx_deg",
          "detector rotation about x", unit="deg", default="0",
          action=_set_items("rot", (0,)), field="detector.rotx_deg"),
    _flag("-detector_roty", "DEG", "float", _DT, "detector.roty_deg",
          "detector rotation about y", unit="deg", default="0",
          action=_set_items("rot", (1,)), field="detector.roty_deg"),
    _flag("-detector_rotz", "DEG", "float", _DT, "detector.rotz_deg",
          "detector rotation about z", unit="deg", default="0",
          action=_set_items("rot", (2,)), field="detector.rotz_deg"),
    # --- detector size
    _flag("-detsize", "MM", "float", _DT, "detector.detsize_f_mm and detsize_s_mm",
          "detector width and height", needles=("=-detsize",), unit="mm", default="102.4",
          action=_set_items("detsize", (0, 1))),
    _flag("-detsize_f", "MM", "float", _DT, "detector.detsize_f_mm",
          "detector size along the fast axis", unit="mm", default="102.4",
          action=_set_items("detsize", (0,)), field="detector.detsize_f_mm"),
    _flag("-detsize_s", "MM", "float", _DT, "detector.detsize_s_mm",
          "detector size along the slow axis", unit="mm", default="102.4",
          action=_set_items("detsize", (1,)), field="detector.detsize_s_mm"),
    _flag("-detpixels", "N", "int", _DT, "detector.fpixels and spixels",
          "pixels along both axes (a pixel count overrides the size)",
          needles=("=-detpixels",), default="size / pixel", action=_pixel_counts((0, 1))),
    _flag("-detpixels_f", "N", "int", _DT, "detector.fpixels", "pixels along the fast axis",
          synonyms=("-detpixels_x",), needles=("-detpixels_f", "-detpixels_x"),
          default="size / pixel", action=_pixel_counts((0,)), field="detector.fpixels"),
    _flag("-detpixels_s", "N", "int", _DT, "detector.spixels", "pixels along the slow axis",
          synonyms=("-detpixels_y",), needles=("-detpixels_s", "-detpixels_y"),
          default="size / pixel", action=_pixel_counts((1,)), field="detector.spixels"),
    _switch("-curved_det", _DT, "detector.curved",
            "every pixel at the same distance from the sample (c_parity: ignored when it is "
            "the last argument)", _set_const(curved=True), c_need=1, field="detector.curved",
            when=True),
    _flag("-pixel", "MM", "float", _DT, "detector.pixel_size_mm", "pixel size", unit="mm",
          default="0.1", action=_set("pixel"), field="detector.pixel_size_mm"),
    _switch("-point_pixel", _DT, "detector.point_pixel",
            "solid angle of a point (1/R^2) instead of the pixel's",
            _set_const(point_pixel=True), field="detector.point_pixel", when=True),
    _flag("-polar", "K", "float", _BM, "beam.polarization; beam.nopolar=False",
          "Kahn polarization factor", needles=("=-polar",), default="0",
          action=_set("polarization", nopolar=False), field="beam.polarization"),
    _switch("-nopolar", _BM, "beam.nopolar", "no polarization factor",
            _set_const(nopolar=True), field="beam.nopolar", when=True),
    # --- sampling
    _switch("-oversample_thick", _SA, "sampling.oversample_thick",
            "sensor absorption recomputed for every sub-pixel",
            _set_const(oversample_thick=True), c_stop=True, field="sampling.oversample_thick",
            when=True),
    _switch("-oversample_polar", _SA, "sampling.oversample_polar",
            "polarization recomputed for every sub-pixel",
            _set_const(oversample_polar=True), c_stop=True, field="sampling.oversample_polar",
            when=True),
    _switch("-oversample_omega", _SA, "sampling.oversample_omega",
            "solid angle recomputed for every sub-pixel",
            _set_const(oversample_omega=True), c_stop=True, field="sampling.oversample_omega",
            when=True),
    _flag("-oversample", "N", "int", _SA, "sampling.oversample",
          "sub-pixels per pixel edge", default="auto", action=_set("oversample", "i"),
          field="sampling.oversample"),
    _flag("-roi", ("XMIN", "XMAX", "YMIN", "YMAX"), "int", _SA, "sampling.roi",
          "render only these pixels (bounds included)", unit="pixels", default="all",
          action=_set_ints("roi"), field="sampling.roi"),
    # --- beam
    _flag("-lambda", "A", "float", _BM, "beam.wavelength_A", "wavelength",
          synonyms=("-wave", "-wavelength"), needles=("-lambda", "-wave"), unit="A",
          default="1", action=_set("lambda0"), field="beam.wavelength_A"),
    _flag("-energy", "EV", "float", _BM, "beam.wavelength_A = 12398.42/EV",
          "photon energy, instead of -lambda", unit="eV", default="12398.42",
          action=_energy),
    _flag("-fluence", "PER_M2", "float", _BM, "beam.fluence", "photons per square metre",
          unit="photons/m^2", default="1.26e29", action=_set("fluence"), field="beam.fluence"),
    _flag("-flux", "PER_S", "float", _BM, "beam.flux",
          "photons per second; with -exposure and -beamsize it replaces -fluence",
          unit="photons/s", default="0", action=_set("flux"), field="beam.flux"),
    _flag("-exposure", "S", "float", _BM, "beam.exposure_s", "exposure time", unit="s",
          default="1", action=_set("exposure"), field="beam.exposure_s"),
    _flag("-beamsize", "MM", "float", _BM, "beam.beamsize_mm",
          "beam width (the crystal is clipped to it)", unit="mm", default="0.1",
          action=_set("beamsize"), field="beam.beamsize_mm"),
    _flag("-mosaic", "DEG", "float", _XT, "crystal.mosaic_spread_deg",
          "isotropic mosaic spread", synonyms=("-mosaicity", "-mosaic_spread"),
          needles=("=-mosaic", "-mosaici", "-mosaic_spr"), unit="deg", default="none",
          action=_set("mosaic_spread"), field="crystal.mosaic_spread_deg"),
    _flag("-mosaic_domains", "N", "int", _XT, "crystal.mosaic_domains",
          "number of mosaic domains", synonyms=("-mosaic_dom",), needles=("-mosaic_dom",),
          default="10 with a spread", action=_set("mosaic_domains", "i"),
          field="crystal.mosaic_domains"),
    _flag("-dispersion", "PERCENT", "float", _BM, "beam.dispersion_pct",
          "spectral width, delta-lambda over lambda", unit="%", default="0",
          action=_set("dispersion"), field="beam.dispersion_pct"),
    _flag("-dispsteps", "N", "int", _BM, "beam.dispersion_steps",
          "number of wavelengths", default="auto", action=_set("dispsteps", "i"),
          field="beam.dispersion_steps"),
    _flag("-divergence", "MRAD", "float", _BM, "beam.hdiv_range_mrad and vdiv_range_mrad",
          "horizontal and vertical divergence range", unit="mrad", default="0",
          action=_set_attrs(("hdivrange", "vdivrange"))),
    _flag("-hdivrange", "MRAD", "float", _BM, "beam.hdiv_range_mrad",
          "horizontal divergence range", unit="mrad", default="0",
          action=_set("hdivrange"), field="beam.hdiv_range_mrad"),
    _flag("-vdivrange", "MRAD", "float", _BM, "beam.vdiv_range_mrad",
          "vertical divergence range", unit="mrad", default="0",
          action=_set("vdivrange"), field="beam.vdiv_range_mrad"),
    _flag("-hdivstep", "MRAD", "float", _BM, "beam.hdiv_step_mrad",
          "horizontal divergence step", needles=("=-hdivstep",), unit="mrad",
          default="auto", action=_set("hdivstep"), field="beam.hdiv_step_mrad"),
    _flag("-hdivsteps", "N", "int", _BM, "beam.hdiv_steps",
          "number of horizontal divergence steps", default="auto",
          action=_set("hdivsteps", "i"), field="beam.hdiv_steps"),
    _flag("-vdivstep", "MRAD", "float", _BM, "beam.vdiv_step_mrad",
          "vertical divergence step", needles=("=-vdivstep",), unit="mrad",
          default="auto", action=_set("vdivstep"), field="beam.vdiv_step_mrad"),
    _flag("-vdivsteps", "N", "int", _BM, "beam.vdiv_steps",
          "number of vertical divergence steps", default="auto",
          action=_set("vdivsteps", "i"), field="beam.vdiv_steps"),
    _flag("-divsteps", "N", "int", _BM, "beam.hdiv_steps and vdiv_steps",
          "number of divergence steps in both directions", default="auto",
          action=_set_attrs(("hdivsteps", "vdivsteps"), "i")),
    _switch("-round_div", _BM, "beam.round_div=True",
            "keep the divergence points inside an ellipse (the default)",
            _set_const(round_div=True), field="beam.round_div", when=True),
    _switch("-square_div", _BM, "beam.round_div=False", "keep the whole divergence grid",
            _set_const(round_div=False), field="beam.round_div", when=False),
    _flag("-adc", "ADU", "float", _OU, "output.adc_offset",
          "offset added to the integer images", default="40", action=_set("adc"),
          field="output.adc_offset"),
    # --- spindle
    _flag("-phi", "DEG", "float", _XT, "crystal.phi_deg", "spindle angle at the start",
          needles=("=-phi",), unit="deg", default="0", action=_set("phi0"),
          field="crystal.phi_deg"),
    _flag("-osc", "DEG", "float", _XT, "crystal.osc_deg", "oscillation range", unit="deg",
          default="auto", action=_set("osc"), field="crystal.osc_deg"),
    _flag("-phistep", "DEG", "float", _XT, "crystal.phi_step_deg", "spindle step",
          needles=("=-phistep",), unit="deg", default="auto", action=_set("phistep"),
          field="crystal.phi_step_deg"),
    _flag("-phisteps", "N", "int", _XT, "crystal.phi_steps", "number of spindle steps",
          default="auto", action=_set("phisteps", "i"), field="crystal.phi_steps"),
    # --- inputs
    _flag("-dmin", "A", "float", _SF, "structure_factors.dmin_A",
          "skip reflections of higher resolution than this", unit="A", default="0 (none)",
          action=_set("dmin"), field="structure_factors.dmin_A"),
    _flag("-mat", "FILE", "path", _XT, "crystal.matrix_path",
          "MOSFLM orientation matrix (reciprocal vectors times the wavelength)",
          default="none", action=_set("matfile", "s"), field="crystal.matrix_path"),
    _flag("-hkl", "FILE", "path", _SF, "structure_factors.hkl_path",
          "text file of h k l F", default="none (read the dump file)",
          action=_set("hklfile", "s"), field="structure_factors.hkl_path"),
    _flag("-default_F", "F", "float", _SF, "structure_factors.default_F",
          "structure factor of every reflection the HKL file lacks", default="0",
          action=_set("default_F"), field="structure_factors.default_F"),
    _flag("-dump", "FILE", "path", _SF, "structure_factors.dump_path",
          "structure-factor cache file", default="Fdump.bin", action=_set("dumpfile", "s"),
          field="structure_factors.dump_path"),
    _flag("-img", "FILE", "path", _DT, "geometry from the SMV header (read before all flags)",
          "take pixel counts, pixel size, distances, wavelength, beam centre, PHI and "
          "OSC_RANGE from this image's header", default="none", action=_set("img", "s")),
    _flag("-stolout", "FILE", "path", _NO, "nothing", "file name the original never writes",
          action=_set("stolout", "s")),
    _flag("-stol", "FILE", "path", _SF, "structure_factors.stol_path",
          "background F against sin(theta)/lambda (1/A); read and checked, then unused",
          needles=("=-stol",), default="none", action=_set("stolfile", "s"),
          field="structure_factors.stol_path"),
    _flag("-4stol", "FILE", "path", _SF, "structure_factors.stol_path",
          "like -stol, first column 4 sin(theta)/lambda", needles=("=-4stol",),
          default="none", action=_set("stolfile", "s")),
    _flag("-Q", "FILE", "path", _SF, "structure_factors.stol_path",
          "like -stol, first column Q = 4 pi sin(theta)/lambda", needles=("=-Q",),
          default="none", action=_set("stolfile", "s")),
    _flag("-sourcefile", "FILE", "path", _BM, "beam.source_path",
          "list of sources (X Y Z weight wavelength_m), replacing divergence and dispersion",
          default="none", action=_set("sourcefile", "s"), field="beam.source_path"),
    # --- outputs
    _flag("-floatfile", "FILE", "path", _OU, "output.floatfile", "raw float32 image",
          synonyms=("-floatimage",), needles=("-floatfile", "-floatimage"),
          default="floatimage.bin", action=_set("floatfile", "s"), field="output.floatfile"),
    _flag("-intfile", "FILE", "path", _OU, "output.intfile", "noiseless SMV image",
          synonyms=("-intimage",), needles=("-intfile", "-intimage"),
          default="intimage.img", action=_set("intfile", "s"), field="output.intfile"),
    _flag("-pgmfile", "FILE", "path", _OU, "output.pgmfile; output.write_pgm=True",
          "8-bit PGM preview", synonyms=("-pgmimage",), needles=("-pgmfile", "-pgmimage"),
          default="image.pgm", action=_set("pgmfile", "s", write_pgm=True),
          field="output.pgmfile"),
    _flag("-noisefile", "FILE", "path", _OU, "output.noisefile; output.write_noise=True",
          "SMV image with Poisson noise", synonyms=("-noiseimage",),
          needles=("-noisefile", "-noiseimage"), default="noiseimage.img",
          action=_set("noisefile", "s", write_noise=True), field="output.noisefile"),
    _switch("-nonoise", _OU, "output.write_noise=False", "do not write the noise image",
            _set_const(write_noise=False), field="output.write_noise", when=False, late=True),
    _switch("-nopgm", _OU, "output.write_pgm=False", "do not write the PGM image",
            _set_const(write_pgm=False), field="output.write_pgm", when=False, late=True),
    _flag("-scale", "FACTOR", "float", _OU, "output.int_scale",
          "scale of the integer image", default="55000 / max", action=_set("int_scale"),
          field="output.int_scale"),
    _flag("-pgmscale", "FACTOR", "float", _OU, "output.pgm_scale; output.write_pgm=True",
          "scale of the PGM image", default="auto",
          action=_set("pgm_scale", write_pgm=True), field="output.pgm_scale"),
    _switch("-coherent", _NO, "nothing", "coherent addition (not implemented by the original)",
            _set_const(coherent=True)),
    _switch("-printout", _OU, "output.printout", "print pixel values",
            _set_const(printout=True), field="output.printout", when=True),
    _switch("-noprogress", _OU, "output.progress=False", "no progress meter",
            _set_const(progress=False), field="output.progress", when=False),
    _switch("-progress", _OU, "output.progress=True", "progress meter (the default)",
            _set_const(progress=True), field="output.progress", when=True),
    _switch("-interpolate", _SF, "structure_factors.interpolate=True",
            "tricubic interpolation of F between reflections (default: when any N <= 2)",
            _set_const(interpolate=True), field="structure_factors.interpolate", when=True),
    _switch("-nointerpolate", _SF, "structure_factors.interpolate=False",
            "no interpolation of F", _set_const(interpolate=False),
            field="structure_factors.interpolate", when=False),
    _switch("-round_xtal", _XT, "crystal.shape=round", "ellipsoidal crystal",
            _set_const(shape="round"), field="crystal.shape", when="round"),
    _switch("-square_xtal", _XT, "crystal.shape=square", "parallelepiped crystal (default)",
            _set_const(shape="square"), field="crystal.shape", when="square"),
    _switch("-gauss_xtal", _XT, "crystal.shape=gauss", "Gaussian spots",
            _set_const(shape="gauss"), field="crystal.shape", when="gauss"),
    _switch("-tophat_spots", _XT, "crystal.shape=tophat", "flat-topped spots",
            _set_const(shape="tophat"), synonyms=("-binary_spots",),
            needles=("-binary_spots", "-tophat_spots"), field="crystal.shape", when="tophat"),
    _flag("-fudge", "FACTOR", "float", _XT, "crystal.fudge",
          "width factor of the spot shapes", default="1", action=_set("fudge"),
          field="crystal.fudge"),
    _flag("-printout_pixel", ("FAST", "SLOW"), "int", _OU, "output.printout_pixel",
          "print only this pixel (c_parity: also turns -printout on)", unit="pixels",
          default="all", action=_set_ints("printout_pixel"), field="output.printout_pixel"),
    _flag("-seed", "N", "int", _OU, "output.seed", "seed of the noise image",
          default="from the clock", action=_set("seed", "i"), field="output.seed"),
    _flag("-mosaic_seed", "N", "int", _XT, "crystal.mosaic_seed", "seed of the mosaic domains",
          default="12345678", action=_set("mosaic_seed", "i"), field="crystal.mosaic_seed"),
    _flag("-misset_seed", "N", "int", _XT, "crystal.misset_seed",
          "seed of -misset random (c_parity: also read as -misset N NEXT NEXT)",
          default="from the clock", action=_set("misset_seed", "i")),
    _flag("-water", "UM", "float", _BM, "beam.water_um",
          "thickness of water around the crystal (background)", unit="um", default="0",
          action=_set("water"), field="beam.water_um"),
    # only read before the argument loop
    _flag("-mask", "FILE", "path", _DT, "detector.mask_path; geometry from its header",
          "SMV mask (0 = skip the pixel); its header is read like -img's, before -img's, "
          "with BEAM_CENTER_Y measured from the other edge", default="none",
          prescan_only=True, field="detector.mask_path"),
)

FLAG_BY_NAME: dict[str, Flag] = {name: flag for flag in FLAGS for name in flag.names}
"""Exact spellings (names and synonyms) -> flag."""


@dataclass(frozen=True)
class ProgramFlag:
    """A flag of this program (not of the original); removed before the original's rules."""

    name: str
    synonyms: tuple[str, ...]
    metavars: tuple[str, ...]
    help: str


PROGRAM_FLAGS: tuple[ProgramFlag, ...] = (
    ProgramFlag("-backend", (), ("c|torch",), "simulation engine (default: c)"),
    ProgramFlag("-c_parity", (), (),
                "read the command line and simulate exactly like the original, quirks "
                "included (default: strict flags)"),
    ProgramFlag("-device", (), ("NAME",), "torch device, e.g. cpu or cuda:0 (torch backend)"),
    ProgramFlag("-dtype", (), ("float32|float64",), "torch floating-point type"),
    ProgramFlag("-trace_pixel", (), ("SLOW", "FAST"), "print the computation of one pixel"),
    ProgramFlag("-h", ("-help", "--help"), (), "print this help and exit"),
)


# ---------------------------------------------------------------------------------------
# Header ingestion (-mask, then -img), before any flag.


def _mm_for_metres(metres: float) -> float:
    """A millimetre value that gives back exactly ``metres`` when divided by 1000.0.

    The engines convert with ``mm / 1000.0``, as the original converts its flags; header
    values the original computes in metres are stored so that they come back bit for bit.
    """
    first = metres * 1000.0
    up = down = first
    for _ in range(8):
        for candidate in (up, down):
            if candidate / 1000.0 == metres:
                return candidate
        up = math.nextafter(up, math.inf)
        down = math.nextafter(down, -math.inf)
    return first


def _ingest_header(rec: _Record, path: str, *, mask: bool) -> None:
    """Apply an SMV header the way the original does before its argument loop."""
    from nanobragg.io.smv import header_value, read_smv

    image = read_smv(path, with_data=False)
    text = image.header_text

    def get(key: str) -> float | None:
        value = header_value(text, key)
        return None if value is None or math.isnan(value) else value

    rec.pixels = [image.width, image.height]
    value = get("PIXEL_SIZE")
    if value is not None:
        rec.pixel = value
        rec.pixel_m = value / 1000.0
    rec.detsize = [_mm_for_metres(rec.pixel_m * image.width),
                   _mm_for_metres(rec.pixel_m * image.height)]
    if (value := get("DISTANCE")) is not None:
        rec.distance = value
    if (value := get("CLOSE_DISTANCE")) is not None:
        rec.close_distance = value
    if (value := get("WAVELENGTH")) is not None:
        rec.lambda0 = value
    if (value := get("BEAM_CENTER_X")) is not None:
        rec.Xbeam = value
    if (value := get("BEAM_CENTER_Y")) is not None:
        if mask:
            # a mask's Y is measured from the other edge of the detector
            rec.Ybeam = _mm_for_metres(rec.pixel_m * image.height - value / 1000.0)
        else:
            rec.Ybeam = value
    if (value := get("ORGX")) is not None:
        rec.ORGX = value
    if (value := get("ORGY")) is not None:
        rec.ORGY = value
    if (value := get("PHI")) is not None:
        rec.phi0 = value
    if (value := get("OSC_RANGE")) is not None:
        rec.osc = value
    if (value := get("TWOTHETA")) is not None:
        # the original stores it in a variable it never reads: no effect
        rec.header_twotheta = value
    if mask:
        rec.mask = path


def _ingest_headers(rec: _Record, mask_path: str | None, img_path: str | None) -> None:
    if mask_path is not None:
        _ingest_header(rec, mask_path, mask=True)
    if img_path is not None:
        _ingest_header(rec, img_path, mask=False)


# ---------------------------------------------------------------------------------------
# c_parity parse: the original's loop.

_FIRED, _STOP, _SHORT = "fired", "stop", "short"


def _parity_arity(flag: Flag, argv: Sequence[str], i: int) -> int:
    """Values the exactly-spelt flag needs before the end (for the missing-value check)."""
    n = len(argv)
    if flag.kind == "misset" and i + 1 < n and "rand" in argv[i + 1]:
        return 1
    if flag.kind == "cell":
        # the original stops at a value starting with '-': only running out counts
        k = 0
        while k < 6 and i + 1 + k < n and not argv[i + 1 + k].startswith("-"):
            k += 1
        return 6 if i + 1 + k >= n else 0
    return flag.nvalues


def _apply_parity(flag: Flag, rec: _Record, argv: Sequence[str], i: int,
                  consumed: set[int]) -> str:
    """Apply one rule of the original to ``argv[i]`` (which it matches)."""
    n = len(argv)
    after = n - i - 1
    arg = argv[i]
    if flag.prescan_only:
        if after < 1:
            return _SHORT
        consumed.add(i + 1)
        return _FIRED
    if flag.kind == "cell":
        if after < 1:
            return _SHORT
        rec.user_cell = True
        for k in range(6):
            j = i + 1 + k
            if j >= n or argv[j].startswith("-"):
                return _STOP
            rec.cell[k] = c_atof(argv[j])
            consumed.add(j)
        return _FIRED
    if flag.kind == "misset":
        # two rules: the word "rand" anywhere in the next argument, then three angles
        if after >= 1 and "rand" in argv[i + 1]:
            rec.misset_state = -1
            consumed.add(i + 1)
            return _STOP
        if after >= 3:
            rec.misset_state = 1
            rec.misset = [c_atof(argv[i + k]) for k in (1, 2, 3)]
            consumed.update((i + 1, i + 2, i + 3))
            return _FIRED
        return _SHORT
    if flag.c_unchecked:
        if after < 1:
            raise UsageError(f"{arg}: missing value at the end of the command line "
                             "(the original would crash)")
    elif after < flag.need:
        return _SHORT
    values = argv[i + 1:i + 1 + flag.nvalues]
    consumed.update(range(i + 1, i + 1 + flag.nvalues))
    assert flag.action is not None
    flag.action(rec, values, _Conv(arg, strict=False))
    return _STOP if flag.c_stop else _FIRED


def _parse_parity(argv: Sequence[str]) -> _Record:
    n = len(argv)
    rec = _Record()
    # the original first scans for -img and -mask (substring rule, last one wins)
    img_path = mask_path = None
    for i, arg in enumerate(argv):
        if arg.startswith("-") and i + 1 < n:
            if "-img" in arg:
                img_path = argv[i + 1]
            if "-mask" in arg:
                mask_path = argv[i + 1]
    _ingest_headers(rec, mask_path, img_path)

    consumed: set[int] = set()
    for i, arg in enumerate(argv):
        free = i not in consumed
        if not arg.startswith("-"):
            if free:
                raise UsageError(f"unexpected argument {arg!r}: no flag takes it as a value")
            continue
        exact = FLAG_BY_NAME.get(arg)
        if free and exact is not None:
            need = _parity_arity(exact, argv, i)
            if n - i - 1 < need:
                raise UsageError(f"{arg}: needs {need} value(s), the command line ends first")
        matched = fired = False
        short: list[Flag] = []
        for flag in FLAGS:
            if not flag.c_matches(arg):
                continue
            matched = True
            outcome = _apply_parity(flag, rec, argv, i, consumed)
            if outcome == _SHORT:
                short.append(flag)
                continue
            fired = True
            if outcome == _STOP:
                break
        if not free:
            continue
        if not matched:
            raise UsageError(f"unknown flag {arg!r}")
        lacking = [flag for flag in short if flag.nvalues > 0]
        if lacking and not fired:
            need = max(flag.need for flag in lacking)
            raise UsageError(f"{arg}: needs {need} value(s), the command line ends first")
        for flag in short:
            if flag.nvalues == 0:
                warnings.warn(f"{arg} as the last argument is ignored by the original "
                              "(c_parity)", ParityWarning, stacklevel=3)
    return rec


# ---------------------------------------------------------------------------------------
# Strict parse.

_RANDOM_WORDS = ("random", "rand")


def _strict_arity(flag: Flag, argv: Sequence[str], i: int) -> int:
    if flag.kind == "misset" and i + 1 < len(argv) and argv[i + 1] in _RANDOM_WORDS:
        return 1
    return flag.nvalues


def _parse_strict(argv: Sequence[str]) -> _Record:
    n = len(argv)
    tokens: list[tuple[str, Flag, Sequence[str]]] = []
    i = 0
    while i < n:
        arg = argv[i]
        flag = FLAG_BY_NAME.get(arg)
        if flag is None:
            if arg.startswith("-"):
                raise UsageError(f"unknown flag {arg!r}")
            raise UsageError(f"unexpected argument {arg!r}: no flag takes it as a value")
        need = _strict_arity(flag, argv, i)
        if n - i - 1 < need:
            raise UsageError(f"{arg}: needs {need} value(s), the command line ends first")
        tokens.append((arg, flag, argv[i + 1:i + 1 + need]))
        i += 1 + need
    rec = _Record()
    img_path = mask_path = None
    for _, flag, values in tokens:
        if flag.name == "-img":
            img_path = values[0]
        elif flag.name == "-mask":
            mask_path = values[0]
    _ingest_headers(rec, mask_path, img_path)
    for arg, flag, values in tokens:
        if flag.action is not None:
            flag.action(rec, values, _Conv(arg, strict=True))
    return rec


# ---------------------------------------------------------------------------------------
# Record -> Config.


def _to_config(rec: _Record) -> Config:
    config = Config()
    xtal = config.crystal
    if rec.user_cell:
        xtal.cell = tuple(rec.cell)
    xtal.matrix_path = rec.matfile
    if rec.misset is not None:
        xtal.misset_deg = tuple(rec.misset)
    xtal.misset_random = rec.misset_state == -1
    xtal.misset_seed = rec.misset_seed
    xtal.N_cells = tuple(rec.N)
    xtal.size_mm = tuple(rec.sample)
    xtal.shape = rec.shape
    xtal.fudge = rec.fudge
    xtal.mosaic_spread_deg = rec.mosaic_spread
    xtal.mosaic_domains = rec.mosaic_domains
    xtal.mosaic_seed = rec.mosaic_seed
    xtal.phi_deg = rec.phi0
    xtal.osc_deg = rec.osc
    xtal.phi_step_deg = rec.phistep
    xtal.phi_steps = rec.phisteps

    sf = config.structure_factors
    sf.hkl_path = rec.hklfile
    sf.default_F = rec.default_F
    sf.dump_path = rec.dumpfile
    sf.interpolate = rec.interpolate
    sf.dmin_A = rec.dmin
    sf.stol_path = rec.stolfile

    beam = config.beam
    beam.wavelength_A = rec.lambda0
    beam.dispersion_pct = rec.dispersion
    beam.dispersion_steps = rec.dispsteps
    beam.hdiv_range_mrad = rec.hdivrange
    beam.vdiv_range_mrad = rec.vdivrange
    beam.hdiv_step_mrad = rec.hdivstep
    beam.vdiv_step_mrad = rec.vdivstep
    beam.hdiv_steps = rec.hdivsteps
    beam.vdiv_steps = rec.vdivsteps
    beam.round_div = rec.round_div
    beam.fluence = rec.fluence
    beam.flux = rec.flux
    beam.exposure_s = rec.exposure
    beam.beamsize_mm = rec.beamsize
    beam.polarization = rec.polarization
    beam.nopolar = rec.nopolar
    beam.source_path = rec.sourcefile
    beam.water_um = rec.water

    det = config.detector
    det.distance_mm = rec.distance
    det.close_distance_mm = rec.close_distance
    det.pixel_size_mm = rec.pixel
    det.detsize_f_mm, det.detsize_s_mm = rec.detsize
    det.fpixels, det.spixels = rec.pixels
    det.beam_x_mm = rec.Xbeam
    det.beam_y_mm = rec.Ybeam
    det.close_x_mm = rec.Xclose
    det.close_y_mm = rec.Yclose
    det.orgx_px = rec.ORGX
    det.orgy_px = rec.ORGY
    det.convention = rec.convention
    # the other conventions impose their own pivot after the parse
    det.pivot = rec.pivot if rec.convention == "custom" else None
    det.rotx_deg, det.roty_deg, det.rotz_deg = rec.rot
    det.twotheta_deg = rec.twotheta
    for key, path in _VECTOR_FIELDS.items():
        if rec.convention == "custom" or key in rec.vectors_given:
            _put(config, path, rec.vectors[key])
    det.pix0_vector_m = rec.pix0
    det.curved = rec.curved
    det.point_pixel = rec.point_pixel
    det.thickness_um = rec.thick
    det.attenuation_length_um = rec.attenuation
    det.thickness_steps = rec.thicksteps
    det.mask_path = rec.mask

    sampling = config.sampling
    sampling.oversample = rec.oversample
    sampling.oversample_thick = rec.oversample_thick
    sampling.oversample_polar = rec.oversample_polar
    sampling.oversample_omega = rec.oversample_omega
    sampling.roi = rec.roi

    out = config.output
    out.seed = rec.seed
    out.adc_offset = rec.adc
    out.int_scale = rec.int_scale
    out.pgm_scale = rec.pgm_scale
    out.floatfile = rec.floatfile
    out.intfile = rec.intfile
    out.noisefile = rec.noisefile
    out.pgmfile = rec.pgmfile
    out.write_pgm = rec.write_pgm
    out.write_noise = rec.write_noise
    out.progress = rec.progress
    out.printout = rec.printout
    out.printout_pixel = rec.printout_pixel
    return config


_FIELD_RE = re.compile(r"(\w+)\.(\w+)(?:\[(\d)\])?")


def _get(config: Config, path: str) -> Any:
    m = _FIELD_RE.fullmatch(path)
    assert m is not None, path
    value = getattr(getattr(config, m.group(1)), m.group(2))
    if m.group(3) is not None:
        return value[int(m.group(3))]
    return value


def _put(config: Config, path: str, value: Any) -> None:
    m = _FIELD_RE.fullmatch(path)
    assert m is not None and m.group(3) is None, path
    setattr(getattr(config, m.group(1)), m.group(2), value)


def config_from_argv(argv: list[str], *, c_parity: bool = True) -> Config:
    """The Config the original's command line describes (program name excluded).

    ``c_parity=True`` reads the arguments exactly as the original does (substring
    matching, C ``atof``/``atoi``, order-dependent side effects); ``c_parity=False``
    wants exact flag names and well-formed numbers.  Raises :class:`UsageError` for an
    unknown flag, missing values at the end, a malformed number (strict mode) and an
    argument no flag takes; FileNotFoundError or :class:`nanobragg.io.FormatError` for an
    unreadable ``-img``/``-mask`` file.
    """
    argv = [os.fsdecode(arg) for arg in argv]
    rec = _parse_parity(argv) if c_parity else _parse_strict(argv)
    return _to_config(rec)


# ---------------------------------------------------------------------------------------
# This program's own flags.


@dataclass
class ParsedCommand:
    """A command line of this program: the Config and the program's own choices."""

    config: Config
    backend: str = "c"
    c_parity: bool = False
    device: str | None = None
    dtype: str | None = None
    trace_pixel: tuple[int, int] | None = None
    """(slow, fast) pixel whose computation is traced."""
    help: bool = False


_HELP_NAMES = ("-h", "-help", "--help")
_BACKENDS = ("c", "torch")
_DTYPES = ("float32", "float64")


def parse_command_line(argv: Sequence[str]) -> ParsedCommand:
    """Split off this program's flags, then read the rest with :func:`config_from_argv`.

    ``-backend``, ``-c_parity``, ``-device``, ``-dtype`` and ``-trace_pixel`` (exact
    spellings) are removed with their values before the original's rules see the rest;
    ``-c_parity`` selects the parity parse.  With ``-h``/``-help``/``--help`` nothing else
    is read and the Config is the default one.
    """
    argv = [os.fsdecode(arg) for arg in argv]
    if any(arg in _HELP_NAMES for arg in argv):
        return ParsedCommand(config=Config(), c_parity="-c_parity" in argv, help=True)
    command = ParsedCommand(config=Config())
    rest: list[str] = []
    i = 0
    n = len(argv)

    def values(flag: str, count: int) -> list[str]:
        if n - i - 1 < count:
            raise UsageError(f"{flag}: needs {count} value(s), the command line ends first")
        return argv[i + 1:i + 1 + count]

    while i < n:
        arg = argv[i]
        if arg == "-c_parity":
            command.c_parity = True
            i += 1
        elif arg == "-backend":
            (value,) = values(arg, 1)
            if value not in _BACKENDS:
                raise UsageError(f"-backend: expected one of {', '.join(_BACKENDS)}, "
                                 f"got {value!r}")
            command.backend = value
            i += 2
        elif arg == "-device":
            (command.device,) = values(arg, 1)
            i += 2
        elif arg == "-dtype":
            (value,) = values(arg, 1)
            if value not in _DTYPES:
                raise UsageError(f"-dtype: expected one of {', '.join(_DTYPES)}, got {value!r}")
            command.dtype = value
            i += 2
        elif arg == "-trace_pixel":
            slow, fast = values(arg, 2)
            command.trace_pixel = (_strict_int(slow, arg), _strict_int(fast, arg))
            i += 3
        else:
            rest.append(arg)
            i += 1
    command.config = config_from_argv(rest, c_parity=command.c_parity)
    return command


# ---------------------------------------------------------------------------------------
# Config -> command line.

_IN_MEMORY = (
    "crystal.mosflm_matrix",
    "structure_factors.structure_factors",
    "beam.sources",
    "detector.mask",
)

# fields a -mask header sets: written even at their defaults when a mask is given
_HEADER_FIELDS = (
    "detector.pixel_size_mm",
    "detector.detsize_f_mm",
    "detector.detsize_s_mm",
    "detector.distance_mm",
    "beam.wavelength_A",
    "crystal.phi_deg",
)

_VECTOR_FLAGS = (
    ("-fdet_vector", "fdet"),
    ("-sdet_vector", "sdet"),
    ("-odet_vector", "odet"),
    ("-beam_vector", "beam"),
    ("-polar_vector", "polar"),
    ("-spindle_axis", "spindle"),
    ("-twotheta_axis", "twotheta_axis"),
)


def _fmt_int(value: Any, what: str) -> str:
    if isinstance(value, bool):
        raise ValueError(f"{what}: expected a whole number, got {value!r}")
    number = as_float(value)
    if not number.is_integer() or not _INT_MIN <= number <= _INT_MAX:
        raise ValueError(f"{what}: {value!r} is not a whole number in the range of a C int")
    return str(int(number))


def _format_values(flag: Flag, value: Any, what: str) -> list[str]:
    kind = flag.kind
    if kind in ("path", "word"):
        return [os.fspath(value)]
    if kind == "int":
        items = [value] if flag.nvalues == 1 else list(value)
        if len(items) != flag.nvalues:
            raise ValueError(f"{what}: expected {flag.nvalues} numbers, got {value!r}")
        return [_fmt_int(item, what) for item in items]
    if kind in ("vector", "misset"):
        return [repr(v) for v in as_floats(value, 3)]
    if kind == "cell":
        cell = as_floats(value, 6)
        # "-0.0" would end the cell in c_parity mode
        return [repr(0.0 if v == 0.0 else v) for v in cell]
    if kind == "absorb":
        length = as_float(value)
        if length == math.inf:
            return ["inf"]
        if length == -math.inf:
            raise ValueError(f"{what}: -inf cannot be written (the original reads it as inf)")
        return [repr(length)]
    return [repr(as_float(value))]


def _differs(value: Any, default: Any) -> bool:
    if value is None or default is None:
        return value is not default
    if isinstance(default, str | bool):
        return value != default
    if isinstance(default, Sequence):
        return tuple(as_floats(value, len(default))) != tuple(float(v) for v in default)
    return as_float(value) != as_float(default)


def config_to_argv(config: Config) -> list[str]:
    """Command-line arguments that rebuild ``config`` (exact flag names, defaults omitted).

    ``config_from_argv(config_to_argv(c), c_parity=False) == c`` for every Config without
    in-memory data (up to tuple/list types).  The order is chosen so that the parity parse
    gives the same Config as well, except where a substring side effect cannot be avoided:
    ``-printout_pixel`` also turns ``-printout`` on, and a negative ``-cell`` value ends
    the cell.  Raises ValueError naming the field for in-memory data and for values the
    command line cannot express.
    """
    for path in _IN_MEMORY:
        if _get(config, path) is not None:
            raise ValueError(f"{path} holds in-memory data, which has no command-line form")
    det = config.detector
    convention = det.convention
    if convention not in CONVENTIONS:
        raise ValueError(f"detector.convention: unknown convention {convention!r}")
    if convention == "custom":
        if det.pivot not in (None, "beam", "sample"):
            raise ValueError(f"detector.pivot: unknown pivot {det.pivot!r}")
    elif det.pivot is not None and det.pivot != _FORCED_PIVOT[convention]:
        raise ValueError(f"detector.pivot: {det.pivot!r} cannot be expressed, the {convention}"
                         f" convention imposes the {_FORCED_PIVOT[convention]} pivot")
    reference = Config()
    out: list[str] = []
    done: set[str] = set()

    def emit(name: str, value: Any = None, what: str | None = None) -> None:
        flag = FLAG_BY_NAME[name]
        out.append(name)
        if flag.nvalues:
            out.extend(_format_values(flag, value, what or name))
        done.add(name)

    # a switch the original ignores as the last argument goes first
    if det.curved:
        emit("-curved_det")

    # vectors, then the convention flag (vectors select CUSTOM), then -twotheta (the
    # parity parse also reads -twotheta_axis as -twotheta)
    vectors_written = False
    for name, key in _VECTOR_FLAGS:
        path = _VECTOR_FIELDS[key]
        value = _get(config, path)
        default = _C_INITIAL_VECTORS[key] if convention == "custom" else _get(reference, path)
        if _differs(value, default):
            emit(name, value, path)
            vectors_written = True
    if det.pix0_vector_m is not None:
        emit("-pix0_vector", det.pix0_vector_m, "detector.pix0_vector_m")
        vectors_written = True
    if convention == "custom" and not vectors_written:
        emit("-fdet_vector", det.fdet_vector, "detector.fdet_vector")
    if "-twotheta_axis" in done:
        emit("-twotheta", det.twotheta_deg, "detector.twotheta_deg")
    if convention != "custom" and (vectors_written or convention != "mosflm"):
        emit("-" + convention)
    done.update("-" + name for name in CONVENTIONS if name != "custom")
    done.update(name for name, _ in _VECTOR_FLAGS)
    done.add("-pix0_vector")

    forced = set(_HEADER_FIELDS) if det.mask_path is not None else set()
    xtal = config.crystal
    for late in (False, True):
        for flag in FLAGS:
            if flag.late != late or flag.name in done or flag.field is None:
                continue
            value = _get(config, flag.field)
            if flag.kind == "none":
                if value == flag.when and _differs(value, _get(reference, flag.field)):
                    emit(flag.name)
            elif flag.kind == "misset":
                if xtal.misset_deg is not None:
                    emit("-misset", xtal.misset_deg, "crystal.misset_deg")
                if xtal.misset_random:
                    out.extend(("-misset", "random"))
            elif value is not None and (flag.field in forced or
                                        _differs(value, _get(reference, flag.field))):
                emit(flag.name, value, flag.field)

    if convention == "custom":
        emit("-pivot", det.pivot or "beam")
    if xtal.misset_seed is not None:
        # last: the parity parse also reads "-misset_seed N A B" as "-misset N A B"
        emit("-misset_seed", xtal.misset_seed, "crystal.misset_seed")
    if out == ["-curved_det"]:
        out.append("-progress")
    return out
