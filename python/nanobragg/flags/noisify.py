"""The ``noisify`` command's flags: the original program's, and ours.

:data:`NOISIFY_FLAGS` lists every rule of the original's argument loop in its order.
Strict (the default): each flag is spelt as listed (``names``), its values are
well-formed numbers, anything else is a usage error.  ``-c_parity``: the original's own
matching (the substring_flag_matching quirk): an argument starting with ``-`` fires every
rule whose needle it contains (``-readout_noise`` is ``-readout``, ``-psf_sigma`` sets
the FWHM), a few rules ask for the whole argument (``-psf``, ``-detsize``,
``-detpixels``), values are read with C ``atof``/``atoi``, and any argument containing
``floatimage.bin`` names the input.  Unlike the original, an argument that fires no
rule, a stray word and a missing value are usage errors in both modes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from nanobragg.errors import UsageError
from nanobragg.flags.cnumbers import Conv

__all__ = ["NOISIFY_FLAGS", "NoisifyCommand", "NoisifyFlag", "parse_noisify", "usage"]


@dataclass(frozen=True)
class NoisifyFlag:
    names: tuple[str, ...]
    """The spellings strict mode accepts; the first is the flag's name."""
    kind: str
    """float, int, path, word or none."""
    target: str
    """The NoisifyCommand attribute it sets."""
    help: str
    needles: tuple[str, ...] = ()
    """What the original looks for in an argument; ``=text``: the whole argument."""
    scale: float = 1.0
    """The value is divided by this (mm to m: 1000)."""
    parity_only: bool = False
    """Read by the original but without effect: accepted with -c_parity only."""

    @property
    def name(self) -> str:
        return self.names[0]


def _flag(names: str, kind: str, target: str, help: str, needles: str = "", *,
          scale: float = 1.0, parity_only: bool = False) -> NoisifyFlag:
    spelt = tuple(names.split())
    return NoisifyFlag(spelt, kind, target, help, tuple(needles.split()) or (spelt[0],),
                       scale, parity_only)


NOISIFY_FLAGS = (
    _flag("-lambda", "float", "wavelength_A", "wavelength for the header (A)"),
    _flag("-Xbeam", "float", "xbeam_mm", "direct-beam X for the header (mm)"),
    _flag("-Ybeam", "float", "ybeam_mm", "direct-beam Y for the header (mm)"),
    _flag("-distance", "float", "distance_mm", "detector distance for the header (mm)"),
    _flag("-detsize", "float", "detsize_mm", "detector size, both edges (mm)", "=-detsize"),
    _flag("-detsize_x", "float", "detsize_x_mm", "detector size along x (mm)"),
    _flag("-detsize_y", "float", "detsize_y_mm", "detector size along y (mm)"),
    _flag("-detpixels", "int", "detpixels", "pixels along both edges", "=-detpixels"),
    _flag("-detpixels_x", "int", "detpixels_x", "pixels along x"),
    _flag("-detpixels_y", "int", "detpixels_y", "pixels along y"),
    _flag("-pixel", "float", "pixel_mm", "pixel size (mm)"),
    _flag("-psf", "word", "psf", "point-spread function: gauss or fiber", "=-psf"),
    _flag("-psf_radius", "float", "psf_radius", "PSF kernel radius (pixels; 0 automatic)",
          "-psf_rad"),
    _flag("-psf_fwhm -psf_width", "float", "psf_fwhm_um", "PSF full width at half maximum (um)",
          "-psf_si -psf_fw -psf_wi"),
    _flag("-fluence", "float", "fluence", "incident photons per m^2"),
    _flag("-floatfile -floatimage -bin", "path", "floatfile", "input float image",
          "-floatfile -floatimage -bin"),
    _flag("-header", "path", "header", "take the geometry and the header from an SMV file"),
    _flag("-pgmfile -pgmimage", "path", "pgmfile", "PGM output", "-pgmfile -pgmimage"),
    _flag("-intfile -intimage", "path", "intfile", "noiseless SMV output",
          "-intfile -intimage"),
    _flag("-bits", "int", "bits", "pixel size of the SMV images: 16 or 32"),
    _flag("-noisefile -noiseimage", "path", "noisefile", "noise SMV output",
          "-noisefile -noiseimage"),
    _flag("-nonoise", "none", "nonoise", "write the noiseless image only"),
    _flag("-nopgm", "none", "nopgm", "write no PGM"),
    _flag("-readout -readout_noise -readnoise", "float", "readout", "read-out noise (ADU rms)",
          "-readout -readnoi"),
    _flag("-flicker", "float", "flicker", "fractional beam flicker"),
    _flag("-calibration", "float", "calibration", "fractional calibration error per pixel"),
    _flag("-scale", "float", "scale", "multiplies every input value"),
    _flag("-seed", "int", "seed", "noise seed"),
    _flag("-calib_seed", "int", "calib_seed", "calibration error seed"),
    _flag("-badpix_seed", "int", "unused", "read, unused by the original", parity_only=True),
    _flag("-hotpix_seed", "int", "unused", "read, unused by the original", parity_only=True),
    _flag("-adc -adc_offset", "float", "adc", "ADC offset (ADU)", "-adc"),
    _flag("-gain", "float", "gain", "ADU per photon"),
    _flag("-phi", "float", "phi", "start angle for the header (deg)"),
    _flag("-osc", "float", "osc", "oscillation for the header (deg)"),
)
OUR_FLAGS = {"-backend": 1, "-device": 1, "-c_parity": 0}
"""This program's own flags, spelt exactly in both modes, with their value counts."""


@dataclass
class NoisifyCommand:
    """What a command line asks for (None: not given; the original's defaults apply)."""

    c_parity: bool = False
    backend: str = "c"
    device: str | None = None
    floatfile: str | None = None
    header: str | None = None
    intfile: str = "intimage.img"
    noisefile: str = "noiseimage.img"
    pgmfile: str = "image.pgm"
    nonoise: bool = False
    nopgm: bool = False
    values: dict[str, float | int | str] = field(default_factory=dict)
    """Every numeric and word value given, by target (in metres where ``scale`` says)."""
    psf_unknown: list[str] = field(default_factory=list)
    """Words given to -psf that name no PSF (the original warns and uses none)."""


def _matches(flag: NoisifyFlag, arg: str) -> bool:
    # quirk substring_flag_matching: the original tests each rule by substring
    return any(arg == needle[1:] if needle.startswith("=") else needle in arg
               for needle in flag.needles)


def _apply(flag: NoisifyFlag, command: NoisifyCommand, value: str | None, conv: Conv) -> None:
    if flag.kind == "none":
        setattr(command, flag.target, True)
    elif flag.kind == "path":
        assert value is not None
        setattr(command, flag.target, value)
    elif flag.kind == "word":
        assert value is not None
        psf = "gauss" if "gauss" in value else None
        psf = "fiber" if "fiber" in value else psf
        if psf is None:
            command.psf_unknown.append(value)
        command.values["psf"] = psf or ""
    elif flag.kind == "int":
        assert value is not None
        command.values[flag.target] = conv.i(value)
    else:
        assert value is not None
        command.values[flag.target] = conv.f(value) / flag.scale


def _strict_word(flag: NoisifyFlag, value: str) -> None:
    if flag.kind == "word" and value not in ("gauss", "fiber"):
        raise UsageError(f"-psf: {value!r} is not a PSF; expected gauss or fiber")


def parse_noisify(argv: Sequence[str]) -> NoisifyCommand:
    """The command line as the strict parse (or, with -c_parity, the original's) reads it."""
    command = NoisifyCommand(c_parity="-c_parity" in argv)
    by_name = {name: flag for flag in NOISIFY_FLAGS for name in flag.names}
    consumed: set[int] = set()
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in OUR_FLAGS:
            count = OUR_FLAGS[arg]
            if i + count >= len(argv):
                raise UsageError(f"{arg} needs a value")
            if arg == "-backend":
                command.backend = argv[i + 1]
            elif arg == "-device":
                command.device = argv[i + 1]
            consumed.update(range(i, i + count + 1))
            i += count + 1
            continue
        if i in consumed:
            i += 1
            continue
        if command.c_parity:
            i = _parity_argument(argv, i, command, consumed)
        else:
            flag = by_name.get(arg)
            if flag is None or flag.parity_only:
                if flag is not None:
                    raise UsageError(f"{arg}: read by the original but without effect; "
                                     "leave it out, or use -c_parity")
                if "floatimage.bin" in arg and not arg.startswith("-"):
                    command.floatfile = arg
                    i += 1
                    continue
                raise UsageError(f"unknown flag {arg!r}" if arg.startswith("-")
                                 else f"unexpected argument {arg!r}")
            need = 0 if flag.kind == "none" else 1
            if i + need >= len(argv):
                raise UsageError(f"{arg} needs a value")
            value = argv[i + 1] if need else None
            if value is not None:
                _strict_word(flag, value)
            _apply(flag, command, value, Conv(arg, strict=True))
            i += need + 1
    return command


def _parity_argument(argv: Sequence[str], i: int, command: NoisifyCommand,
                     consumed: set[int]) -> int:
    """One argument as the original's loop reads it; the index of the next one."""
    arg = argv[i]
    if "floatimage.bin" in arg:
        command.floatfile = arg
        return i + 1
    if not arg.startswith("-"):
        raise UsageError(f"unexpected argument {arg!r}")
    fired = [flag for flag in NOISIFY_FLAGS if _matches(flag, arg)]
    if not fired:
        raise UsageError(f"unknown flag {arg!r}")
    for flag in fired:
        need = 0 if flag.kind == "none" else 1
        if i + need >= len(argv):
            raise UsageError(f"{arg} needs a value")
        if need:
            consumed.add(i + 1)
        _apply(flag, command, argv[i + 1] if need else None, Conv(arg, strict=False))
    return i + 1


def usage() -> str:
    """The ``-h`` text: every flag with its spellings and what it sets."""
    lines = ["usage: noisify -floatfile FILE [flags]", "",
             "Turns a float image (photons per pixel) into the images a detector records.",
             ""]
    for flag in NOISIFY_FLAGS:
        value = {"none": "", "path": " FILE", "word": " gauss|fiber"}.get(flag.kind, " N")
        note = " (-c_parity only)" if flag.parity_only else ""
        lines.append(f"  {', '.join(flag.names) + value:<42} {flag.help}{note}")
    lines += ["  -c_parity                                  the original's images and quirks",
              "  -backend c|torch, -device DEVICE           the engine"]
    return "\n".join(lines) + "\n"
