"""The ``nearBragg`` command line: the original's flags read into a
:class:`~nanobragg.scatterers.ScattererConfig` and the command's file options.

``c_parity=True``: every argument starting with ``-`` is tested against every rule of
:data:`NEAR_FLAGS`, in the original's order, by substring (the near_flag_substrings quirk:
``-distance_mm`` sets the distance, ``-printout_pixel`` also turns on ``-printout``), a
few rules by the whole argument; a rule applies only when enough arguments follow
(``-curved_det`` needs one more, which it does not use); values are read with C
``atof``/``atoi``.  ``c_parity=False``: each flag spelt exactly, with exactly its
values, numbers strict.  In both modes an argument that no rule takes is a
:class:`~nanobragg.errors.UsageError`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from nanobragg.errors import UsageError
from nanobragg.flags.cnumbers import Conv
from nanobragg.flags.suite import parse_exact

__all__ = ["NEAR_FLAGS", "NearFlag", "NearRecord", "parse_near"]


@dataclass
class NearRecord:
    """The original's variables, in the user's units, as the flags leave them."""

    config: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=lambda: {
        "floatfile": "floatimage.bin", "sinfile": "sinimage.bin",
        "cosfile": "cosimage.bin", "intfile": "intimage.img"})
    atoms_path: str | None = None
    int_scale: float = 0.0
    progress: bool = True
    printout: bool = False
    printout_pixel: tuple[int, int] | None = None
    """(fast, slow) of the one pixel -printout prints; None (or a negative fast): every
    rendered pixel."""
    debug: bool = False
    """-debug: the atom list's blank lines and atoms as read; with -printout each atom's
    running sums at the printed pixels."""
    accumulate: bool = False


Action = Callable[[NearRecord, Sequence[str], Conv], None]


@dataclass(frozen=True)
class NearFlag:
    name: str
    """The needle the original looks for (strict: the exact spelling)."""
    nvalues: int
    action: Action
    help: str
    whole: bool = False
    """The original asks for the whole argument (a length check)."""
    need: int | None = None
    """Arguments that must follow for the original to apply it (None: nvalues)."""
    synonyms: tuple[str, ...] = ()
    """Further exact spellings accepted in strict mode."""
    needles: tuple[str, ...] = ()
    """Further names the original looks for in an argument."""

    def matches(self, arg: str) -> bool:
        if self.whole:
            return arg == self.name
        return any(needle in arg for needle in (self.name, *self.needles))


def _set(key: str, kind: str = "f", scale: float = 1.0) -> Action:
    def action(rec: NearRecord, values: Sequence[str], conv: Conv) -> None:
        rec.config[key] = conv.f(values[0]) * scale if kind == "f" else conv.i(values[0])
    return action


def _both(keys: tuple[str, ...], kind: str = "f") -> Action:
    def action(rec: NearRecord, values: Sequence[str], conv: Conv) -> None:
        for key in keys:
            rec.config[key] = conv.f(values[0]) if kind == "f" else conv.i(values[0])
    return action


def _vector(key: str) -> Action:
    def action(rec: NearRecord, values: Sequence[str], conv: Conv) -> None:
        rec.config[key] = tuple(conv.f(v) for v in values[:3])
    return action


def _switch(key: str, value: Any = True) -> Action:
    def action(rec: NearRecord, values: Sequence[str], conv: Conv) -> None:
        if key in ("progress", "printout", "accumulate", "debug"):
            setattr(rec, key, value)
        else:
            rec.config[key] = value
    return action


def _file(key: str) -> Action:
    def action(rec: NearRecord, values: Sequence[str], conv: Conv) -> None:
        if key == "atoms":
            rec.atoms_path = values[0]
        else:
            rec.files[key] = values[0]
    return action


def _ignore(rec: NearRecord, values: Sequence[str], conv: Conv) -> None:
    for value in values:
        conv.f(value)


def _source_distance(rec: NearRecord, values: Sequence[str], conv: Conv) -> None:
    if "far" in values[0]:
        rec.config["far_source"] = True
        rec.config["source_depth_A"] = 0.0
    else:
        rec.config["source_distance_mm"] = conv.f(values[0])


def _energy(rec: NearRecord, values: Sequence[str], conv: Conv) -> None:
    rec.config["wavelength_A"] = 12398.42 / conv.f(values[0])


def _roi(rec: NearRecord, values: Sequence[str], conv: Conv) -> None:
    rec.config["roi"] = tuple(conv.i(v) for v in values)


def _printout_pixel(rec: NearRecord, values: Sequence[str], conv: Conv) -> None:
    fast, slow = (conv.i(value) for value in values[:2])
    rec.printout_pixel = None if fast < 0 else (fast, slow)
    rec.printout = True


def _scale(rec: NearRecord, values: Sequence[str], conv: Conv) -> None:
    rec.int_scale = conv.f(values[0])


NEAR_FLAGS: tuple[NearFlag, ...] = (
    NearFlag("-atoms", 1, _ignore, "ignored (the count comes from the file)"),
    NearFlag("-Xbeam", 1, _set("beam_x_mm"), "direct beam along fast, mm"),
    NearFlag("-Ybeam", 1, _set("beam_y_mm"), "direct beam along slow, mm"),
    NearFlag("-fdet_vector", 3, _vector("fdet_vector"), "fast axis"),
    NearFlag("-sdet_vector", 3, _vector("sdet_vector"), "slow axis"),
    NearFlag("-odet_vector", 3, _vector("odet_vector"), "detector normal"),
    NearFlag("-beam_vector", 3, _ignore, "read and ignored (the beam is +x)"),
    NearFlag("-polar_vector", 3, _ignore, "read and ignored (no polarization)"),
    NearFlag("-spindle_axis", 3, _vector("spindle_axis"), "two-theta axis"),
    NearFlag("-pix0_vector", 3, _vector("pix0_vector_m"), "first pixel's corner, m"),
    NearFlag("-divergence", 1, _both(("hdiv_range_mrad", "vdiv_range_mrad")),
             "horizontal and vertical divergence, mrad"),
    NearFlag("-hdivrange", 1, _set("hdiv_range_mrad"), "horizontal divergence, mrad"),
    NearFlag("-vdivrange", 1, _set("vdiv_range_mrad"), "vertical divergence, mrad"),
    NearFlag("-hdivstep", 1, _set("hdiv_step_mrad"), "horizontal step, mrad", whole=True),
    NearFlag("-hdivsteps", 1, _set("hdiv_steps", "i"), "horizontal steps"),
    NearFlag("-vdivstep", 1, _set("vdiv_step_mrad"), "vertical step, mrad", whole=True),
    NearFlag("-vdivsteps", 1, _set("vdiv_steps", "i"), "vertical steps"),
    NearFlag("-divsteps", 1, _both(("hdiv_steps", "vdiv_steps"), "i"), "steps each way"),
    NearFlag("-distance", 1, _set("distance_mm"), "sample to detector, mm"),
    NearFlag("-twotheta", 1, _set("twotheta_deg"), "detector swing about the spindle, deg"),
    NearFlag("-source_dist", 1, _source_distance, "source distance, mm, or far",
             synonyms=("-source_distance",)),
    NearFlag("-source_depth", 1, _set("source_depth_A"), "source depth, Angstrom"),
    NearFlag("-depthsteps", 1, _set("depth_steps", "i"), "source depth steps"),
    NearFlag("-detsize", 1, _both(("detsize_f_mm", "detsize_s_mm")), "detector size, mm",
             whole=True),
    NearFlag("-detsize_x", 1, _set("detsize_f_mm"), "detector size along fast, mm"),
    NearFlag("-detsize_y", 1, _set("detsize_s_mm"), "detector size along slow, mm"),
    NearFlag("-detpixels", 1, _both(("fpixels", "spixels"), "i"), "detector pixels",
             whole=True),
    NearFlag("-detpixels_x", 1, _set("fpixels", "i"), "pixels along fast"),
    NearFlag("-detpixels_y", 1, _set("spixels", "i"), "pixels along slow"),
    NearFlag("-curved_det", 0, _switch("curved"), "curved detector", need=1),
    NearFlag("-pixel", 1, _set("pixel_size_mm"), "pixel size, mm"),
    NearFlag("-point_pixel", 0, _switch("point_pixel"), "no solid angle"),
    NearFlag("-nopolar", 0, _ignore, "accepted; no polarization is applied"),
    NearFlag("-oversample", 1, _set("oversample", "i"), "sub-pixels per pixel edge"),
    NearFlag("-roi", 4, _roi, "xmin xmax ymin ymax pixels"),
    NearFlag("-lambda", 1, _set("wavelength_A"), "wavelength, Angstrom",
             synonyms=("-wave", "-wavelength"), needles=("-wave",)),
    NearFlag("-energy", 1, _energy, "photon energy, eV"),
    NearFlag("-fluence", 1, _set("fluence"), "photons per square metre"),
    NearFlag("-dispersion", 1, _set("dispersion_pct"), "spectral dispersion, percent"),
    NearFlag("-dispsteps", 1, _set("dispersion_steps", "i"), "wavelength steps"),
    NearFlag("-phi", 1, _set("phi_deg"), "phi in the header, deg", whole=True),
    NearFlag("-file", 1, _file("atoms"), "atom list"),
    NearFlag("-floatfile", 1, _file("floatfile"), "float image"),
    NearFlag("-sinfile", 1, _file("sinfile"), "Im(F) image"),
    NearFlag("-cosfile", 1, _file("cosfile"), "Re(F) image"),
    NearFlag("-intfile", 1, _file("intfile"), "SMV image"),
    NearFlag("-scale", 1, _scale, "SMV scale (default: 55000 / max)"),
    NearFlag("-coherent", 0, _switch("coherent"), "add everything coherently"),
    NearFlag("-printout", 0, _switch("printout"), "each rendered pixel's values on the screen"),
    NearFlag("-noprogress", 0, _switch("progress", False), "no progress lines"),
    NearFlag("-progress", 0, _switch("progress"), "progress lines"),
    NearFlag("-debug", 0, _switch("debug"),
             "the atoms as read; with -printout each atom's running sums"),
    NearFlag("-printout_pixel", 2, _printout_pixel, "print one pixel (fast slow)"),
    NearFlag("-accumulate", 0, _switch("accumulate"), "add to the existing output files"),
)
"""The original's rules in the order its loop tests them."""

_BY_NAME = {name: flag for flag in NEAR_FLAGS for name in (flag.name, *flag.synonyms)}


def parse_near(argv: Sequence[str], *, c_parity: bool) -> NearRecord:
    rec = NearRecord()
    n = len(argv)
    if not c_parity:
        parse_exact(_BY_NAME, rec, argv)
        return rec
    taken: set[int] = set()
    for i, arg in enumerate(argv):
        if not arg.startswith("-"):
            if i not in taken:
                raise UsageError(f"unexpected argument {arg!r}: no flag takes it as a value")
            continue
        matched = short = False
        # quirk near_flag_substrings: every rule whose name the argument contains applies
        # (a rule without enough arguments after it does nothing)
        for flag in NEAR_FLAGS:
            if not flag.matches(arg):
                continue
            need = flag.nvalues if flag.need is None else flag.need
            if n - i - 1 < need:
                short = short or flag.nvalues > 0
                matched = matched or flag.nvalues == 0
                continue
            matched = True
            taken.update(range(i + 1, i + 1 + flag.nvalues))
            flag.action(rec, argv[i + 1:i + 1 + flag.nvalues], Conv(arg, strict=False))
        if i in taken:
            continue
        if short and not matched:
            raise UsageError(f"{arg}: needs a value, the command line ends first")
        if not matched:
            raise UsageError(f"unknown flag {arg!r}")
    return rec
