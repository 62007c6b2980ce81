"""The configuration model: every parameter of a nanoBragg run, in one place.

Values are kept as the user gave them, in the units the field name carries
(``_mm``, ``_um``, ``_A``, ``_deg``, ``_mrad``, ``_pct``). ``None`` means "not
given": the engines then apply the original program's automatic choices
(see :mod:`nanobragg.sampling`). The defaults here are the original program's.

``Config.from_cli(argv)`` and ``config.to_cli()`` convert from and to the
original program's command line (read strictly, as the ``nanoBragg`` command does;
``c_parity=True`` for the original's own reading); ``config.validate()`` raises
``ValueError`` (``TypeError`` for a value of the wrong type) naming the offending field
before any engine runs; ``specs/config.md`` lists what each field accepts.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias, TypeGuard

import numpy as np

if TYPE_CHECKING:
    import torch

CONVENTIONS = ("mosflm", "xds", "adxv", "denzo", "dials", "custom")
PIVOTS = ("beam", "sample")
CRYSTAL_SHAPES = ("square", "round", "gauss", "tophat")

PathName: TypeAlias = str | os.PathLike[str]
"""A file name field: a str or a path object."""

# The original's fluence default, photons per square metre.
DEFAULT_FLUENCE = 125932015286227086360700780544.0


@dataclass
class CrystalConfig:
    """The crystal: unit cell, orientation, size, shape, mosaicity, rotation."""

    cell: Sequence[Any] | None = None
    """a, b, c in Angstrom and alpha, beta, gamma in degrees (``-cell``)."""
    matrix_path: PathName | None = None
    """MOSFLM A matrix file (``-mat``): reciprocal vectors times the wavelength."""
    mosflm_matrix: Any = None
    """The nine numbers of such a file as a 3x3 array (rows x, y, z; columns a*, b*, c*)."""
    misset_deg: Sequence[Any] | None = None
    """Rotations about x, y, z applied to the reciprocal cell (``-misset``)."""
    misset_random: bool = False
    misset_seed: int | None = None
    """Seed for ``misset_random``; ``None`` draws it from the clock like the original."""
    N_cells: Sequence[Any] = (1.0, 1.0, 1.0)
    """Number of unit cells along a, b, c (``-N``, ``-Na``, ``-Nb``, ``-Nc``)."""
    size_mm: Sequence[float] = (0.0, 0.0, 0.0)
    """Crystal size along x, y, z; a non-zero entry sets the N along that axis."""
    shape: str = "square"
    fudge: float = 1.0
    mosaic_spread_deg: Any = None
    mosaic_domains: int | None = None
    mosaic_seed: int = 12345678
    phi_deg: Any = 0.0
    """Spindle angle at the start of the oscillation (``-phi``)."""
    osc_deg: float | None = None
    phi_step_deg: float | None = None
    phi_steps: int | None = None
    spindle_axis: Sequence[float] = (0.0, 0.0, 1.0)
    """Used by the CUSTOM convention only; the others fix it."""


@dataclass
class StructureFactorConfig:
    hkl_path: PathName | None = None
    structure_factors: Any = None
    """An in-memory :class:`nanobragg.io.StructureFactors` grid instead of a file."""
    default_F: float = 0.0
    dump_path: PathName = "Fdump.bin"
    """The original's structure-factor cache, read when no HKL file is given."""
    interpolate: bool | None = None
    """Tricubic interpolation; ``None`` turns it on when any N <= 2."""
    dmin_A: float = 0.0
    stol_path: PathName | None = None
    """Background F against sin(theta)/lambda (``-stol``, ``-4stol``, ``-Q``): the original
    reads this file (and stops when it is missing or empty) but never uses its values."""


@dataclass
class BeamConfig:
    wavelength_A: Any = 1.0
    dispersion_pct: float = 0.0
    dispersion_steps: int | None = None
    hdiv_range_mrad: float | None = None
    vdiv_range_mrad: float | None = None
    hdiv_step_mrad: float | None = None
    vdiv_step_mrad: float | None = None
    hdiv_steps: int | None = None
    vdiv_steps: int | None = None
    round_div: bool = True
    fluence: Any = DEFAULT_FLUENCE
    """Photons per square metre; replaced by flux*exposure/beamsize^2 when flux is given."""
    flux: float = 0.0
    """Photons per second."""
    exposure_s: float = 1.0
    beamsize_mm: float = 0.1
    polarization: float = 0.0
    """Kahn polarization factor (``-polar``)."""
    nopolar: bool = False
    beam_vector: Sequence[float] = (1.0, 0.0, 0.0)
    """Direction of the beam; CUSTOM convention only."""
    polar_vector: Sequence[float] = (0.0, 0.0, 1.0)
    """Direction of the E vector; CUSTOM convention only."""
    source_path: PathName | None = None
    sources: Any = None
    """An (n, 5) array X Y Z weight wavelength_m, as a source file holds (NaN = default)."""
    water_um: float = 0.0


@dataclass
class DetectorConfig:
    distance_mm: Any = 100.0
    close_distance_mm: float | None = None
    pixel_size_mm: float = 0.1
    detsize_f_mm: float = 102.4
    detsize_s_mm: float = 102.4
    fpixels: int | None = None
    spixels: int | None = None
    beam_x_mm: Any = None
    """The ``-Xbeam`` value: direct-beam position in the convention's own axes."""
    beam_y_mm: Any = None
    close_x_mm: float | None = None
    close_y_mm: float | None = None
    orgx_px: float | None = None
    orgy_px: float | None = None
    convention: str = "mosflm"
    pivot: str | None = None
    """``None``: the convention's own (beam: mosflm, denzo, adxv, custom; sample: xds, dials)."""
    rotx_deg: Any = 0.0
    roty_deg: Any = 0.0
    rotz_deg: Any = 0.0
    twotheta_deg: Any = 0.0
    fdet_vector: Sequence[float] = (0.0, 0.0, 1.0)
    sdet_vector: Sequence[float] = (0.0, -1.0, 0.0)
    odet_vector: Sequence[float] = (1.0, 0.0, 0.0)
    twotheta_axis: Sequence[float] = (0.0, 0.0, -1.0)
    pix0_vector_m: Sequence[float] | None = None
    curved: bool = False
    point_pixel: bool = False
    thickness_um: float = 0.0
    attenuation_length_um: float | None = None
    """Sensor attenuation length; ``math.inf`` means no absorption."""
    thickness_steps: int | None = None
    mask_path: PathName | None = None
    mask: Any = None
    """A (slow, fast) array; pixels where it is 0 are not rendered."""


@dataclass
class SamplingConfig:
    oversample: int | None = None
    oversample_thick: bool = False
    oversample_polar: bool = False
    oversample_omega: bool = False
    roi: Sequence[int] | None = None
    """xmin xmax ymin ymax in pixels, bounds included."""


@dataclass
class OutputConfig:
    """Noise and image files (used by the command and the writers)."""

    seed: int | None = None
    """Noise seed; ``None`` draws it from the clock like the original."""
    adc_offset: float = 40.0
    int_scale: float = 0.0
    """Scale of the integer image; 0 means 55000 / max."""
    pgm_scale: float = 0.0
    floatfile: PathName = "floatimage.bin"
    intfile: PathName = "intimage.img"
    noisefile: PathName = "noiseimage.img"
    pgmfile: PathName = "image.pgm"
    write_pgm: bool = True
    write_noise: bool = True
    progress: bool = True
    printout: bool = False
    printout_pixel: Sequence[int] | None = None
    """fast, slow (``-printout_pixel``)."""


@dataclass
class Config:
    crystal: CrystalConfig = field(default_factory=CrystalConfig)
    structure_factors: StructureFactorConfig = field(default_factory=StructureFactorConfig)
    beam: BeamConfig = field(default_factory=BeamConfig)
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    output: OutputConfig = field(default_factory=OutputConfig)

    @classmethod
    def from_cli(cls, argv: Sequence[str], *, c_parity: bool = False) -> Config:
        """Build a Config from nanoBragg command-line arguments (program name excluded).

        By default the arguments are read as the ``nanoBragg`` command reads them: flags
        spelt exactly, numbers that are numbers.  ``c_parity=True`` asks for the
        original program's reading, quirks included (substring matches, C ``atof``);
        ``specs/flags.md`` describes both.  The command's own flags (``-backend``,
        ``-device``, ``-dtype``, ``-trace_pixel``, ``-c_parity``, ``-h``) are not part
        of a Config and raise :class:`~nanobragg.errors.UsageError` naming what to pass
        instead.
        """
        # at call time: the flag reader builds Configs, so config must load without it
        from nanobragg.flags import config_from_argv

        return config_from_argv(list(argv), c_parity=c_parity)

    def to_cli(self) -> list[str]:
        """The command-line arguments that rebuild this Config."""
        # at call time: the flag reader builds Configs, so config must load without it
        from nanobragg.flags import config_to_argv

        return config_to_argv(self)

    def replace(self, **groups: Any) -> Config:
        return dataclasses.replace(self, **groups)

    def validate(self) -> None:
        """Raise ValueError (TypeError for a wrong type) naming the first invalid field."""
        from nanobragg.validation import validate_config

        validate_config(self)


def is_tensor(value: Any) -> TypeGuard[torch.Tensor]:
    """True for a torch tensor, without importing torch."""
    return type(value).__module__.startswith("torch")


def as_float(value: Any) -> float:
    """A plain float from a float or a 0-d tensor (the C engine needs numbers)."""
    if is_tensor(value):
        return float(value.detach().cpu().item())
    return float(value)


def as_floats(values: Any, n: int) -> tuple[float, ...]:
    """A tuple of n plain floats from a sequence, array or tensor."""
    if is_tensor(values):
        flat = values.detach().cpu().reshape(-1).tolist()
    elif isinstance(values, (list, tuple)) and any(is_tensor(v) for v in values):
        flat = [as_float(v) for v in values]
    else:
        flat = list(np.asarray(values, dtype=float).reshape(-1))
    if len(flat) != n:
        raise ValueError(f"expected {n} numbers, got {len(flat)}: {values!r}")
    return tuple(float(v) for v in flat)
