"""Point scatterers (the original nearBragg program): the waves scattered by a list of
atoms, summed at every pixel of a detector, incoherently or coherently.

``point_scatterers(atoms_or_config, backend=, c_parity=, ...)`` runs the stage on either
engine; :class:`ScattererConfig` holds every setting, with units in the names as
:class:`~nanobragg.config.Config` has them.  ``specs/nearbragg.md`` describes both
modes."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nanobragg.config import is_tensor
from nanobragg.stages.geometry import DetectorGeometry
from nanobragg.stages.scatterers import (
    ScattererInputs,
    ScattererOutput,
    ScattererParams,
    SourceGrids,
    oversample,
    scatterer_atoms,
    scatterer_detector_spec,
    scatterer_params,
    scatterer_sources,
    source_grids,
)

DEFAULT_FLUENCE = 1.25932015286227e29
"""nearBragg's fluence, photons per square metre: r_e^2 x fluence = 1."""
R_E_SQR_M2 = 7.94079248018965e-30


@dataclass(frozen=True)
class ScattererConfig:
    """Everything a point-scatterer image depends on.  ``atoms``: an (n, 3 to 6) table
    x y z (Angstrom), occupancy (default 1), B (square Angstrom, default 0), phase
    (degrees; default 0, -90 with c_parity); the x axis is the beam."""

    atoms: Any
    distance_mm: float = 100.0
    pixel_size_mm: float = 0.1
    detsize_f_mm: float = 102.4
    detsize_s_mm: float = 102.4
    fpixels: int | None = None
    spixels: int | None = None
    beam_x_mm: float | None = None
    """The direct beam along fast from the first pixel's corner (None: the default)."""
    beam_y_mm: float | None = None
    twotheta_deg: float = 0.0
    fdet_vector: Sequence[float] = (0.0, 0.0, 1.0)
    sdet_vector: Sequence[float] = (0.0, -1.0, 0.0)
    odet_vector: Sequence[float] = (1.0, 0.0, 0.0)
    spindle_axis: Sequence[float] = (0.0, 0.0, 1.0)
    """The axis two-theta turns the detector about."""
    pix0_vector_m: Sequence[float] | None = None
    curved: bool = False
    point_pixel: bool = False
    oversample: int | None = None
    roi: Sequence[int] | None = None
    """(xmin, xmax, ymin, ymax) pixels, bounds included; None: the whole detector."""
    wavelength_A: float = 1.0
    dispersion_pct: float = 0.0
    dispersion_steps: int | None = None
    hdiv_range_mrad: float | None = None
    vdiv_range_mrad: float | None = None
    hdiv_step_mrad: float | None = None
    vdiv_step_mrad: float | None = None
    hdiv_steps: int | None = None
    vdiv_steps: int | None = None
    source_distance_mm: float = 10000.0
    far_source: bool = False
    source_depth_A: float = 0.0
    depth_steps: int | None = None
    fluence: float = DEFAULT_FLUENCE
    coherent: bool = False
    phi_deg: float = 0.0
    """Written to the SMV header only."""

    def __post_init__(self) -> None:
        checks = (("distance_mm", self.distance_mm > 0, "a positive number"),
                  ("pixel_size_mm", self.pixel_size_mm > 0, "a positive number"),
                  ("wavelength_A", self.wavelength_A > 0, "a positive number"),
                  ("source_distance_mm", self.far_source or self.source_distance_mm > 0,
                   "a positive number (or far_source=True)"))
        for name, ok, expected in checks:
            if not ok or not np.isfinite(float(getattr(self, name))):
                raise ValueError(f"{name}: {getattr(self, name)!r} is not valid; expected "
                                 f"{expected}")
        for name in ("fpixels", "spixels", "oversample", "dispersion_steps", "hdiv_steps",
                     "vdiv_steps", "depth_steps"):
            value = getattr(self, name)
            if value is not None and not 0 <= int(value) <= 100000:
                raise ValueError(f"{name}: {value!r} is not valid; expected a whole number "
                                 "from 0 to 100000")
        for name in ("detsize_f_mm", "detsize_s_mm"):
            size = float(getattr(self, name))
            count = getattr(self, name.replace("detsize_", "").replace("_mm", "pixels"))
            if not count and not (0 < size / self.pixel_size_mm <= 100000):
                raise ValueError(f"{name}: {size!r} is not valid; expected a positive size "
                                 "of at most 100000 pixels")
        if self.roi is not None and len(self.roi) != 4:
            raise ValueError(f"roi: {self.roi!r} is not valid; expected 4 whole numbers "
                             "xmin xmax ymin ymax")


def atom_table(atoms: Any, *, c_parity: bool) -> Any:
    """An (n, 6) table from one of 3 to 6 columns, the missing columns at their defaults.
    quirk near_default_phase: a scatterer without a phase gets -90 degrees in the
    original; corrected, 0."""
    shape = tuple(atoms.shape) if is_tensor(atoms) else np.shape(atoms)
    if len(shape) == 1 and shape[0] == 0:
        shape = (0, 3)
    if len(shape) != 2 or not 3 <= shape[1] <= 6:
        raise ValueError(f"atoms: an array of shape {shape} is not valid; expected (n, 3) "
                         "to (n, 6): x y z [occupancy [B [phase]]]")
    n, columns = shape
    defaults = (1.0, 0.0, -90.0 if c_parity else 0.0)[columns - 3:]
    if is_tensor(atoms):
        import torch

        rows = atoms.to(torch.float64)
        pad = torch.tensor(defaults, dtype=torch.float64, device=rows.device).expand(n, -1)
        return torch.cat([rows, pad], dim=1)
    table = np.asarray(atoms, dtype=np.float64).reshape(n, columns)
    return np.concatenate([table, np.tile(np.asarray(defaults, dtype=np.float64), (n, 1))],
                          axis=1)


@dataclass(frozen=True)
class ScattererResult:
    """The images and what the run resolved."""

    output: ScattererOutput
    params: ScattererParams
    geometry: DetectorGeometry
    grids: SourceGrids
    oversample_recommended: int
    backend: str
    c_parity: bool
    inputs: ScattererInputs | None = None
    """What the stage was given (atoms, sources, images added to)."""

    @property
    def image(self) -> np.ndarray:
        """(slow, fast) photons per pixel, float64."""
        return _numpy(self.output.image)

    @property
    def image_tensor(self) -> Any:
        """The torch engine's image tensor (with its graph)."""
        return self.output.image

    @property
    def real(self) -> np.ndarray:
        """(slow, fast) mean Re(F) per term (coherent)."""
        return _numpy(self.output.real)

    @property
    def imag(self) -> np.ndarray:
        return _numpy(self.output.imag)

    @property
    def omega_sum_sr(self) -> float:
        """The solid angle of the rendered pixels as the original sums it."""
        omega = _numpy(self.output.omega)
        return float(np.cumsum(omega.reshape(-1))[-1]) if omega.size else 0.0


def _numpy(value: Any) -> np.ndarray:
    if is_tensor(value):
        return np.asarray(value.detach().cpu().numpy(), dtype=np.float64)
    return np.asarray(value, dtype=np.float64)


def point_scatterers(atoms_or_config: Any, *, backend: str = "c", c_parity: bool = False,
                     image: Any = None, real: Any = None, imag: Any = None,
                     threads: int | None = None, device: Any = None, dtype: Any = None,
                     progress: Callable[[int, int], Any] | None = None,
                     **settings: Any) -> ScattererResult:
    """The point-scatterer image of ``atoms_or_config`` (a :class:`ScattererConfig`, or
    an atom table with the config's other fields as keywords).  ``image`` (and, for
    coherent sums, ``real`` and ``imag``) are (slow, fast) images added to.  backend "c":
    ``threads``; "torch": ``device`` and ``dtype`` (float64 default; a tensor atom table
    with ``requires_grad`` keeps its graph into ``image_tensor``)."""
    from nanobragg import engines
    from nanobragg.engines.base import COptions, TorchOptions

    if isinstance(atoms_or_config, ScattererConfig):
        config = dataclasses.replace(atoms_or_config, **settings) if settings else \
            atoms_or_config
    else:
        config = ScattererConfig(atoms=atoms_or_config, **settings)
    table = atom_table(config.atoms, c_parity=c_parity)
    options: Any = COptions(threads=threads) if backend == "c" else \
        TorchOptions(device=device, dtype=dtype)
    engine = engines.create(backend, options)
    grids = source_grids(config, c_parity=c_parity)
    geometry = engine.detector_geometry(scatterer_detector_spec(config, c_parity=c_parity))
    plain = _numpy(table)
    params = scatterer_params(config, geometry, plain, c_parity=c_parity)
    inputs = ScattererInputs(params=params, atoms=scatterer_atoms(table, c_parity=c_parity),
                             sources=scatterer_sources(config, grids, c_parity=c_parity),
                             image=_optional(image), real=_optional(real),
                             imag=_optional(imag))
    output = engine.point_scatterers(inputs, progress)
    return ScattererResult(output=output, params=params, geometry=geometry, grids=grids,
                           oversample_recommended=oversample(config, plain)[1],
                           backend=backend, c_parity=c_parity, inputs=inputs)


def _optional(value: Any) -> Any:
    if value is None or is_tensor(value):
        return value
    return np.asarray(value, dtype=np.float64)
