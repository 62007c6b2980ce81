"""The ``nonBragg`` command's flags: the table, and its strict and c_parity parses.

:data:`NONBRAGG_FLAGS` lists every rule of the original's argument loop in its order.
Strict parsing (``c_parity=False``) accepts each flag only by one of its ``names``, with
exactly its values, as well-formed numbers.  The c_parity parse is the original's loop:
every argument starting with ``-`` is tested against every rule, by substring (quirk
substring_flag_matching: ``-twotheta_axis`` also sets the two-theta angle,
``-pgmscale`` also sets ``-scale``, ``-sample_thick`` is also ``-thick``); a rule
written ``=name`` wants the whole argument; a rule applies only when enough arguments
follow; values are C ``atof``/``atoi``.  Unknown flags and stray arguments are usage
errors in both modes.  The parse gives :class:`NonBraggArgs`: the settings of an
:class:`~nanobragg.amorphous_scattering.AmorphousConfig` and the command's own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nanobragg.errors import UsageError
from nanobragg.flags.cnumbers import Conv
from nanobragg.flags.suite import parse_exact, split_own_flags

__all__ = ["NONBRAGG_FLAGS", "NonBraggArgs", "NonBraggFlag", "parse_nonbragg"]


@dataclass
class NonBraggArgs:
    """What a command line sets: ``config`` the AmorphousConfig fields, the rest the
    command's own choices (defaults: the original's)."""

    config: dict[str, Any] = field(default_factory=dict)
    floatfile: str = "floatimage.bin"
    intfile: str = "intimage.img"
    pgmfile: str = "image.pgm"
    noisefile: str = "noiseimage.img"
    write_noise: bool = True
    write_pgm: bool = True
    progress: bool = True
    printout: bool = False
    printout_pixel: tuple[int, int] | None = None
    """(fast, slow) of the one pixel -printout prints; None: every pixel."""
    image_file: str | None = None
    """-img: an SMV image whose header sets the detector and whose pixels are binned by
    sin(theta)/lambda into the -stolout file."""
    stolout: str = "output.stol"
    gain: float = 1.0
    """-gain: photons per count of the -img pixels."""
    ignore_values: list[float] = field(default_factory=list)
    """-ignore: -img pixel values left out of the bins."""
    backend: str = "c"
    c_parity: bool = False
    device: str | None = None
    dtype: str | None = None
    threads: int | None = None


Action = Callable[[NonBraggArgs, Sequence[str], Conv], None]


@dataclass(frozen=True)
class NonBraggFlag:
    names: tuple[str, ...]
    """The exact spellings strict parsing accepts."""
    needles: tuple[str, ...]
    """What the original looks for: a substring, or ``=text`` the whole argument."""
    nvalues: int
    action: Action
    help: str
    need: int | None = None
    """Arguments that must follow for the original to apply the rule (None: nvalues)."""

    def matches(self, arg: str) -> bool:
        return any(arg == n[1:] if n.startswith("=") else n in arg for n in self.needles)


def _set(*names: str, scale: float = 1.0) -> Action:
    def action(args: NonBraggArgs, values: Sequence[str], conv: Conv) -> None:
        for name in names:
            args.config[name] = conv.f(values[0]) * scale
    return action


def _set_int(*names: str) -> Action:
    def action(args: NonBraggArgs, values: Sequence[str], conv: Conv) -> None:
        for name in names:
            args.config[name] = conv.i(values[0])
    return action


def _pivot(pivot: str, then: Action | None = None) -> Action:
    def action(args: NonBraggArgs, values: Sequence[str], conv: Conv) -> None:
        if then is not None:
            then(args, values, conv)
        args.config["pivot"] = pivot
    return action


def _word_pivot(args: NonBraggArgs, values: Sequence[str], conv: Conv) -> None:
    if conv.strict and values[0] not in ("sample", "beam"):
        raise UsageError(f"{conv.flag}: {values[0]!r} is not a pivot; expected sample or beam")
    if "sample" in values[0]:
        args.config["pivot"] = "sample"
    if "beam" in values[0]:
        args.config["pivot"] = "beam"


def _vector(name: str) -> Action:
    def action(args: NonBraggArgs, values: Sequence[str], conv: Conv) -> None:
        args.config[name] = tuple(conv.f(v) for v in values[:3])
    return action


def _ignored(args: NonBraggArgs, values: Sequence[str], conv: Conv) -> None:
    """A flag the original reads and never uses (or uses only with ``-img``)."""


def _const(**settings: Any) -> Action:
    def action(args: NonBraggArgs, values: Sequence[str], conv: Conv) -> None:
        for name, value in settings.items():
            if name in NonBraggArgs.__dataclass_fields__:
                setattr(args, name, value)
            else:
                args.config[name] = value
    return action


def _polar(args: NonBraggArgs, values: Sequence[str], conv: Conv) -> None:
    args.config["polarization"] = conv.f(values[0])
    args.config["nopolar"] = False


def _roi(args: NonBraggArgs, values: Sequence[str], conv: Conv) -> None:
    args.config["roi"] = tuple(conv.i(v) for v in values[:4])


def _energy(args: NonBraggArgs, values: Sequence[str], conv: Conv) -> None:
    with np.errstate(all="ignore"):
        args.config["wavelength_A"] = float(12398.42 / np.float64(conv.f(values[0])))


def _stol(unit: str) -> Action:
    def action(args: NonBraggArgs, values: Sequence[str], conv: Conv) -> None:
        args.config["stol_file"] = values[0]
        args.config["stol_unit"] = unit
    return action


def _path(name: str) -> Action:
    def action(args: NonBraggArgs, values: Sequence[str], conv: Conv) -> None:
        args.config[name] = values[0]
    return action


def _output(name: str, **extra: Any) -> Action:
    def action(args: NonBraggArgs, values: Sequence[str], conv: Conv) -> None:
        setattr(args, name, values[0])
        for key, value in extra.items():
            setattr(args, key, value)
    return action


def _image(args: NonBraggArgs, values: Sequence[str], conv: Conv) -> None:
    args.image_file = values[0]


def _stolout(args: NonBraggArgs, values: Sequence[str], conv: Conv) -> None:
    args.stolout = values[0]


def _gain(args: NonBraggArgs, values: Sequence[str], conv: Conv) -> None:
    args.gain = conv.f(values[0])


def _ignore(args: NonBraggArgs, values: Sequence[str], conv: Conv) -> None:
    value = conv.f(values[0])
    if conv.strict:
        if not (math.isfinite(value) and value == int(value) and 0 <= value <= 65535):
            raise UsageError(f"{conv.flag}: {values[0]!r} is not a pixel value; expected "
                             "an integer from 0 to 65535")
    elif math.isfinite(value) and abs(value) < 2.0 ** 31:
        # the original keeps the value as an unsigned 16-bit integer
        value = float(int(value) & 0xFFFF)
    else:
        value = 0.0
    args.ignore_values.append(value)


def _seed(args: NonBraggArgs, values: Sequence[str], conv: Conv) -> None:
    args.config["seed"] = conv.i(values[0])


def _printout_pixel(args: NonBraggArgs, values: Sequence[str], conv: Conv) -> None:
    args.printout_pixel = (conv.i(values[0]), conv.i(values[1]))
    args.printout = True


F = NonBraggFlag
NONBRAGG_FLAGS: tuple[NonBraggFlag, ...] = (
    F(("-samplesize", "-sample_size"), ("-samplesize", "-sample_size"), 1,
      _set("sample_thickness_mm", "sample_width_mm", "sample_height_mm"),
      "edge of a cube-shaped sample (mm)"),
    F(("-thickness", "-sample_thick", "-sample_thickness", "-sample_x", "-thick"),
      ("-sample_thick", "-sample_x", "-thick"), 1, _set("sample_thickness_mm"),
      "sample thickness along the beam (mm)"),
    F(("-sample_width", "-sample_y", "-width"), ("-sample_width", "-sample_y", "-width"), 1,
      _set("sample_width_mm"), "sample width (mm)"),
    F(("-sample_height", "-sample_z", "-height"), ("-sample_heigh", "-sample_z", "-heigh"), 1,
      _set("sample_height_mm"), "sample height (mm)"),
    F(("-density", "-sample_density"), ("-density", "-sample_den"), 1, _set("density_g_cm3"),
      "sample density (g/cm^3)"),
    F(("-molecules", "-sample_molecules"), ("-molecules", "-sample_molecules"), 1,
      _set("molecules"), "molecules in the sample (sets the density)"),
    F(("-MW", "-molecular_weight"), ("=-MW", "-molecular"), 1, _set("molecular_weight_g_mol"),
      "molecular weight (g/mol)"),
    F(("-Xbeam",), ("-Xbeam",), 1, _pivot("beam", _set("beam_x_mm")),
      "direct-beam position along fast (mm); pivots about the beam spot"),
    F(("-Ybeam",), ("-Ybeam",), 1, _pivot("beam", _set("beam_y_mm")),
      "direct-beam position along slow (mm); pivots about the beam spot"),
    F(("-Xclose",), ("-Xclose",), 1, _pivot("sample", _set("close_x_mm")),
      "near point along fast (mm); pivots about the sample"),
    F(("-Yclose",), ("-Yclose",), 1, _pivot("sample", _set("close_y_mm")),
      "near point along slow (mm); pivots about the sample"),
    F(("-ORGX",), ("-ORGX",), 1, _pivot("sample", _set("orgx_px")),
      "near point along fast (pixels); pivots about the sample"),
    F(("-ORGY",), ("-ORGY",), 1, _pivot("sample", _set("orgy_px")),
      "near point along slow (pixels); pivots about the sample"),
    F(("-pivot",), ("-pivot",), 1, _word_pivot, "sample or beam"),
    F(("-fdet_vector",), ("-fdet_vector",), 3, _vector("fdet_vector"), "fast axis"),
    F(("-sdet_vector",), ("-sdet_vector",), 3, _vector("sdet_vector"), "slow axis"),
    F(("-odet_vector",), ("-odet_vector",), 3, _ignored,
      "detector normal (ignored: always fast x slow)"),
    F(("-beam_vector",), ("-beam_vector",), 3, _vector("beam_vector"), "beam direction"),
    F(("-polar_vector",), ("-polar_vector",), 3, _vector("polar_vector"),
      "E vector of the beam"),
    F(("-spindle_axis",), ("-spindle_axis",), 3, _ignored, "spindle axis (unused)"),
    F(("-twotheta_axis",), ("-twotheta_axis",), 3, _vector("twotheta_axis"),
      "two-theta rotation axis"),
    F(("-pix0_vector",), ("-pix0_vector",), 3, _vector("pix0_vector_m"),
      "first pixel's corner (m); the original ignores it"),
    F(("-distance",), ("-distance",), 1, _pivot("beam", _set("distance_mm")),
      "sample to detector along the beam (mm); pivots about the beam spot"),
    F(("-close_distance",), ("-close_distance",), 1,
      _pivot("sample", _set("close_distance_mm")),
      "sample to detector plane (mm); pivots about the sample"),
    F(("-source_distance",), ("-source_distance",), 1, _set("source_distance_mm"),
      "sample to sources (mm)"),
    F(("-twotheta",), ("-twotheta",), 1, _pivot("sample", _set("twotheta_deg")),
      "detector swing (deg); pivots about the sample"),
    F(("-detector_rotx",), ("-detector_rotx",), 1, _set("rotx_deg"), "rotation about x (deg)"),
    F(("-detector_roty",), ("-detector_roty",), 1, _set("roty_deg"), "rotation about y (deg)"),
    F(("-detector_rotz",), ("-detector_rotz",), 1, _set("rotz_deg"), "rotation about z (deg)"),
    F(("-detsize",), ("=-detsize",), 1, _set("detsize_f_mm", "detsize_s_mm"),
      "detector edge (mm)"),
    F(("-detsize_x",), ("-detsize_x",), 1, _set("detsize_f_mm"), "detector width (mm)"),
    F(("-detsize_y",), ("-detsize_y",), 1, _set("detsize_s_mm"), "detector height (mm)"),
    F(("-detpixels",), ("=-detpixels",), 1, _set_int("fpixels", "spixels"),
      "pixels along each edge"),
    F(("-detpixels_f", "-detpixels_x"), ("-detpixels_f", "-detpixels_x"), 1,
      _set_int("fpixels"), "pixels along fast"),
    F(("-detpixels_s", "-detpixels_y"), ("-detpixels_s", "-detpixels_y"), 1,
      _set_int("spixels"), "pixels along slow"),
    F(("-curved_det",), ("-curved_det",), 0, _const(curved_detector=True),
      "every pixel at the same distance", need=1),
    F(("-pixel",), ("-pixel",), 1, _set("pixel_size_mm"), "pixel size (mm)"),
    F(("-point_pixel",), ("-point_pixel",), 0, _const(point_pixel=True),
      "solid angle 1/R^2 (no obliquity)"),
    F(("-Fmap",), ("-Fmap",), 0, _const(Fmap=True), "store F instead of photons"),
    F(("-polar",), ("=-polar",), 1, _polar, "Kahn polarization factor"),
    F(("-nopolar",), ("-nopolar",), 0, _const(nopolar=True), "no polarization factor"),
    F(("-oversample",), ("-oversample",), 1, _set_int("oversample"),
      "sub-pixels along each pixel edge"),
    F(("-roi",), ("-roi",), 4, _roi, "xmin xmax ymin ymax (pixels, included)"),
    F(("-lambda", "-wave"), ("-lambda", "-wave"), 1, _set("wavelength_A"), "wavelength (A)"),
    F(("-energy",), ("-energy",), 1, _energy, "photon energy (eV)"),
    F(("-fluence",), ("-fluence",), 1, _set("fluence_per_m2"), "photons/m^2"),
    F(("-flux",), ("-flux",), 1, _set("flux_per_s"), "photons/s (with -exposure, -beamsize)"),
    F(("-exposure",), ("-exposure",), 1, _set("exposure_s"), "exposure time (s)"),
    F(("-beamsize",), ("-beamsize",), 1, _set("beam_size_mm"), "beam edge (mm)"),
    F(("-dispersion",), ("-dispersion",), 1, _set("dispersion_pct"),
      "spectral width (percent)"),
    F(("-dispsteps",), ("-dispsteps",), 1, _set_int("dispersion_steps"), "wavelengths"),
    F(("-divergence",), ("-divergence",), 1, _set("hdiv_range_mrad", "vdiv_range_mrad"),
      "divergence both ways (mrad)"),
    F(("-hdivrange",), ("-hdivrange",), 1, _set("hdiv_range_mrad"),
      "horizontal divergence (mrad)"),
    F(("-vdivrange",), ("-vdivrange",), 1, _set("vdiv_range_mrad"),
      "vertical divergence (mrad)"),
    F(("-hdivstep",), ("=-hdivstep",), 1, _set("hdiv_step_mrad"), "horizontal step (mrad)"),
    F(("-hdivsteps",), ("-hdivsteps",), 1, _set_int("hdiv_steps"), "horizontal points"),
    F(("-vdivstep",), ("=-vdivstep",), 1, _set("vdiv_step_mrad"), "vertical step (mrad)"),
    F(("-vdivsteps",), ("-vdivsteps",), 1, _set_int("vdiv_steps"), "vertical points"),
    F(("-divsteps",), ("-divsteps",), 1, _set_int("hdiv_steps", "vdiv_steps"),
      "points both ways"),
    F(("-round_div",), ("-round_div",), 0, _const(round_div=True),
      "cut the divergence grid to an ellipse"),
    F(("-square_div",), ("-square_div",), 0, _const(round_div=False),
      "keep the whole divergence grid"),
    F(("-adc",), ("-adc",), 1, _set("adc_offset"), "ADC offset added to SMV pixels"),
    F(("-gain",), ("-gain",), 1, _gain, "photons per count of the -img pixels"),
    F(("-phi",), ("=-phi",), 1, _set("phi_deg"), "phi for the header (deg)"),
    F(("-osc",), ("-osc",), 1, _set("osc_deg"), "oscillation for the header (deg)"),
    F(("-phistep",), ("=-phistep",), 1, _set("phi_step_deg"), "phi step (deg)"),
    F(("-phisteps",), ("-phisteps",), 1, _set_int("phi_steps"), "phi steps"),
    F(("-img",), ("-img",), 1, _image,
      "SMV image: its header sets the detector, its pixels go to -stolout"),
    F(("-ignore",), ("-ignore",), 1, _ignore, "-img pixel value to leave out (repeatable)"),
    F(("-stolout",), ("-stolout",), 1, _stolout,
      "F against sin(theta)/lambda of the -img pixels (default output.stol)"),
    F(("-stol",), ("=-stol",), 1, _stol("stol"), "table of sin(theta)/lambda (1/A) and F"),
    F(("-4stol",), ("=-4stol",), 1, _stol("4stol"), "table of 4 sin(theta)/lambda and F"),
    F(("-Q",), ("=-Q",), 1, _stol("Q"), "table of Q = 4 pi sin(theta)/lambda and F"),
    F(("-sourcefile",), ("-sourcefile",), 1, _path("source_file"),
      "source table: X Y Z weight wavelength (m)"),
    F(("-floatfile", "-floatimage"), ("-floatfile", "-floatimage"), 1, _output("floatfile"),
      "raw float output"),
    F(("-intfile", "-intimage"), ("-intfile", "-intimage"), 1, _output("intfile"),
      "SMV output"),
    F(("-pgmfile", "-pgmimage"), ("-pgmfile", "-pgmimage"), 1, _output("pgmfile"),
      "PGM output"),
    F(("-noisefile", "-noiseimage"), ("-noisefile", "-noiseimage"), 1,
      _output("noisefile", write_noise=True), "SMV output with Poisson noise"),
    F(("-nonoise",), ("-nonoise",), 0, _const(write_noise=False), "no noise image"),
    F(("-nopgm",), ("-nopgm",), 0, _const(write_pgm=False), "no PGM image"),
    F(("-noreject",), ("-noreject",), 0, _ignored,
      "no outlier rejection (the original never rejects)"),
    F(("-scale",), ("-scale",), 1, _set("int_scale"), "SMV scale"),
    F(("-pgmscale",), ("-pgmscale",), 1, _set("pgm_scale"), "PGM scale"),
    F(("-coherent",), ("-coherent",), 0, _ignored, "(unused)"),
    F(("-printout",), ("-printout",), 0, _const(printout=True), "pixel values on the screen"),
    F(("-noprogress",), ("-noprogress",), 0, _const(progress=False), "no progress meter"),
    F(("-progress",), ("-progress",), 0, _const(progress=True), "progress meter"),
    F(("-printout_pixel",), ("-printout_pixel",), 2, _printout_pixel,
      "print one pixel (fast slow)"),
    F(("-seed",), ("-seed",), 1, _seed, "noise seed"),
)

OWN_FLAGS = {"-backend": "backend", "-device": "device", "-dtype": "dtype",
             "-threads": "threads"}
"""This command's own flags (each one value), beside ``-c_parity``: exact names only."""

FLAG_BY_NAME = {name: flag for flag in NONBRAGG_FLAGS for name in flag.names}


def parse_nonbragg(argv: Sequence[str]) -> NonBraggArgs:
    """The settings of a nonBragg command line (see the module text for both modes)."""
    args = NonBraggArgs()
    words, own = split_own_flags(argv, {"-c_parity": 0, **dict.fromkeys(OWN_FLAGS, 1)})
    args.c_parity = bool(own.pop("c_parity", False))
    for name, value in own.items():
        setattr(args, OWN_FLAGS["-" + name], value)
    if args.threads is not None:
        args.threads = Conv("-threads", strict=True).i(str(args.threads))
    if args.c_parity:
        _parse_parity(args, words)
    else:
        parse_exact(FLAG_BY_NAME, args, words)
    return args


def _parse_parity(args: NonBraggArgs, argv: Sequence[str]) -> None:
    n = len(argv)
    consumed: set[int] = set()
    for i, arg in enumerate(argv):
        free = i not in consumed
        if not arg.startswith("-"):
            if free:
                raise UsageError(f"unexpected argument {arg!r}: no flag takes it as a value")
            continue
        matched = fired = False
        # quirk substring_flag_matching: every rule the argument contains fires
        for flag in NONBRAGG_FLAGS:
            if not flag.matches(arg):
                continue
            matched = True
            need = flag.nvalues if flag.need is None else flag.need
            if n - i - 1 < need:
                continue
            fired = True
            consumed.update(range(i + 1, i + 1 + flag.nvalues))
            flag.action(args, argv[i + 1:i + 1 + flag.nvalues], Conv(arg, strict=False))
        if free and not matched:
            raise UsageError(f"unknown flag {arg!r}")
        if free and matched and not fired and any(f.nvalues for f in NONBRAGG_FLAGS
                                                  if f.matches(arg)):
            raise UsageError(f"{arg}: needs a value, the command line ends first")
