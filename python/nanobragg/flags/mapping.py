"""The record of a parse -> Config, and Config -> command line.

:func:`config_from_argv` runs one of the two parses (:mod:`nanobragg.flags.legacy`,
:mod:`nanobragg.flags.strict`) and turns the record it leaves into a
:class:`~nanobragg.config.Config`; :func:`config_to_argv` writes a Config back as
exact flag names, in an order that both parses read back the same way where they can.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from typing import Any

from nanobragg.config import CONVENTIONS, Config, as_float, as_floats
from nanobragg.errors import UsageError
from nanobragg.flags.legacy import parse_parity
from nanobragg.flags.record import C_INITIAL_VECTORS, Record
from nanobragg.flags.strict import parse_strict
from nanobragg.flags.table import FLAG_BY_NAME, FLAGS, PROGRAM_FLAG_BY_NAME, Flag
from nanobragg.io._cscan import INT_MAX, INT_MIN

__all__ = ["config_from_argv", "config_to_argv"]

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


def _to_config(rec: Record) -> Config:
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
    # quirk pivot_forced_by_convention: the other conventions impose their own pivot
    # after the original's parse; the Config records that in both modes
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
    assert m is not None, path
    assert m.group(3) is None, path
    setattr(getattr(config, m.group(1)), m.group(2), value)


def config_from_argv(argv: list[str], *, c_parity: bool = False) -> Config:
    """The Config the original's command line describes (program name excluded).

    ``c_parity=False`` (the default, as in the ``nanoBragg`` command) wants exact flag
    names and well-formed numbers, applies a header's TWOTHETA, and warns
    (:class:`~nanobragg.errors.ConventionWarning`) when a vector flag replaces a
    convention that a flag selected; ``c_parity=True`` reads the arguments exactly as
    the original does (substring matching, C ``atof``/``atoi``, order-dependent side
    effects).  Raises :class:`~nanobragg.errors.UsageError` for one of the command's own
    flags (:data:`~nanobragg.flags.table.PROGRAM_FLAGS`), an unknown flag, missing values
    at the end, a malformed number (strict mode) and an argument no flag takes;
    FileNotFoundError or :class:`nanobragg.io.FormatError` for an unreadable
    ``-img``/``-mask`` file.
    """
    argv = [os.fsdecode(arg) for arg in argv]
    _refuse_program_flags(argv)
    rec = parse_parity(argv) if c_parity else parse_strict(argv)
    return _to_config(rec)


def _refuse_program_flags(argv: list[str]) -> None:
    """The command removes its own flags (exact spellings, anywhere) before reading the
    rest; in an argument list read into a Config they are a mistake, refused the same way
    in both modes rather than read as whatever the original would make of them."""
    for arg in argv:
        flag = PROGRAM_FLAG_BY_NAME.get(arg)
        if flag is not None:
            raise UsageError(f"{arg} is an option of the nanoBragg command, not of a Config; "
                             f"{flag.in_python}")


_IN_MEMORY = (
    "crystal.mosflm_matrix",
    "structure_factors.structure_factors",
    "beam.sources",
    "detector.mask",
)

# fields a -mask header sets: written even at their defaults when a mask is given
# (the header's TWOTHETA only counts in strict mode; writing it does no harm in the other)
_HEADER_FIELDS = (
    "detector.pixel_size_mm",
    "detector.detsize_f_mm",
    "detector.detsize_s_mm",
    "detector.distance_mm",
    "detector.twotheta_deg",
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
    if not number.is_integer() or not INT_MIN <= number <= INT_MAX:
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
        return bool(value != default)
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
        default = C_INITIAL_VECTORS[key] if convention == "custom" else _get(reference, path)
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
