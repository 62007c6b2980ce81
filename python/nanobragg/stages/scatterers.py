"""point_scatterers: the waves of a list of point scatterers summed at every pixel
(the stage of the original nearBragg program).

``ScattererParams`` mirrors ``nb_scatterer_params`` in ``csrc/engine/nanobragg.h``;
``Atoms`` and ``ScattererSources`` are its arrays, ``ScattererInputs`` all that the stage
reads, ``ScattererOutput`` what it gives.  :func:`scatterer_sources` makes nearBragg's
source points (divergence, dispersion and depth grids) and :func:`scatterer_params`
the parameters from a :class:`~nanobragg.scatterers.ScattererConfig` and the detector
placed by the shared ``detector_geometry`` stage."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nanobragg.codes import Convention, Pivot
from nanobragg.stages.geometry import DetectorGeometry, DetectorSpec
from nanobragg.validation import MAX_SOURCES

if TYPE_CHECKING:
    from nanobragg.scatterers import ScattererConfig
    from nanobragg.stages.fields import Array

LEGACY_PI = 3.14159265358979
"""nearBragg's pi, cut after 15 digits (the near_truncated_pi quirk)."""


@dataclass(frozen=True)
class ScattererParams:
    c_parity: bool
    fpixels: int
    spixels: int
    pixel_size_m: float
    distance_m: float
    """Sample to detector; the curved detector's radius and the legacy obliquity's."""
    fdet: Array
    sdet: Array
    odet: Array
    pix0_m: Array
    curved_detector: bool
    point_pixel: bool
    oversample: int
    roi_xmin: int
    roi_xmax: int
    """Last fast pixel rendered (bounds included, as are the others)."""
    roi_ymin: int
    roi_ymax: int
    coherent: bool
    """Every term adds to one amplitude (else each source group adds its intensity)."""
    far_source: bool
    fluence_per_m2: float


@dataclass(frozen=True)
class Atoms:
    position_m: Array
    """(n, 3) positions of the scatterers."""
    occupancy: Array
    """(n,) amplitude of each scatterer."""
    B_A2: Array
    """(n,) Debye-Waller B factors, square Angstrom."""
    phase_rad: Array
    """(n,) phase added to each scatterer's wave."""


@dataclass(frozen=True)
class ScattererSources:
    position_m: Array
    """(n, 3) source points (used by near sources)."""
    direction: Array
    """(n, 3) unit propagation directions (used by far sources)."""
    wavelength_m: Array
    """(n,)"""
    group: np.ndarray
    """(n,) int: consecutive sources of one group add amplitudes (the depth points of one
    divergence angle and wavelength); groups add intensities unless coherent."""


@dataclass(frozen=True)
class ScattererInputs:
    params: ScattererParams
    atoms: Atoms
    sources: ScattererSources
    image: Array | None = None
    """(spixels, fpixels) photons to add to (accumulation), or None."""
    real: Array | None = None
    """(spixels, fpixels) mean Re(F) per term to add to (coherent accumulation)."""
    imag: Array | None = None


@dataclass(frozen=True)
class ScattererOutput:
    image: Array
    """(spixels, fpixels) photons per pixel (the input image added)."""
    real: Array
    """(spixels, fpixels) mean Re(F) per term, coherent sums only (else the input)."""
    imag: Array
    omega: Array
    """(spixels, fpixels) the sum of the sub-pixel solid-angle factors (pixel^2 x
    obliquity, or 1 for point pixels) evaluated."""
    steps: int
    """Terms per atom and pixel: sources x oversample^2."""


@dataclass(frozen=True)
class StepGrid:
    """One of nearBragg's step sweeps (divergence, dispersion, depth) as resolved."""

    range: float
    step: float
    count: int

    def values(self, *, c_parity: bool) -> list[float]:
        """The swept offsets.  quirk near_step_grid: the original starts at -range/2 and
        takes ceil(range/step) steps, which stops a step short of +range/2; corrected,
        the whole steps that fit, centred on 0."""
        if c_parity:
            return [self.step * i - self.range / 2.0 for i in range(self.count)]
        return [self.step * i - self.step * (self.count - 1) / 2.0 for i in range(self.count)]


def step_grid(name: str, range_: float | None, step: float | None, count: int | None, *,
              c_parity: bool) -> StepGrid:
    """A sweep from what was given (None: not given), as nearBragg resolves it: a count
    alone spans 1 unit (quirk near_step_grid; corrected, an error), a range or a step alone
    gives two points, a range and a step ceil(range/step) points (corrected:
    floor(range/step) + 1, centred)."""
    r = -1.0 if range_ is None else float(range_)
    s = -1.0 if step is None else float(step)
    n = -1 if count is None else int(count)
    if n <= 0:
        if r < 0.0:
            r, s, n = (0.0, 0.0, 1) if s <= 0.0 else (s, s, 2)
        elif s <= 0.0:
            s, n = r, 2
        elif not r / s <= MAX_SOURCES:
            raise ValueError(f"{name}: a range of {r:g} in steps of {s:g} is {r / s:g} steps, "
                             f"more than the {MAX_SOURCES} a run takes; use a coarser step")
        elif c_parity:
            n = math.ceil(r / s)
        else:
            n = math.floor(r / s * (1 + 1e-12)) + 1
    elif r < 0.0:
        if s <= 0.0:
            if not c_parity and n > 1:
                raise ValueError(f"{name}: a count of {n} without a range or a step is not "
                                 "valid; give a range or a step")
            r, s = 1.0, 1.0 / n
        else:
            r, n = s, 2
    elif s <= 0.0:
        n = max(n, 2)
        s = r / (n - 1)
    if r <= 0.0 or s <= 0.0 or n <= 0:
        return StepGrid(0.0, 0.0, 1)
    return StepGrid(r, s, n)


@dataclass(frozen=True)
class SourceGrids:
    hdiv: StepGrid
    vdiv: StepGrid
    dispersion: StepGrid
    depth: StepGrid
    divergence: list[tuple[float, float]]
    """The (horizontal, vertical) angles inside the ellipse, in loop order."""
    wavelengths_m: list[float]
    depths_m: list[float]


def source_grids(config: ScattererConfig, *, c_parity: bool) -> SourceGrids:
    """The divergence angles (cut to an ellipse), the wavelengths and the depths."""
    hdiv = step_grid("hdiv_steps", _scaled(config.hdiv_range_mrad, 1e3),
                     _scaled(config.hdiv_step_mrad, 1e3), config.hdiv_steps, c_parity=c_parity)
    vdiv = step_grid("vdiv_steps", _scaled(config.vdiv_range_mrad, 1e3),
                     _scaled(config.vdiv_step_mrad, 1e3), config.vdiv_steps, c_parity=c_parity)
    disp = step_grid("dispersion_steps", float(config.dispersion_pct) / 100.0, None,
                     config.dispersion_steps, c_parity=c_parity)
    depth = step_grid("depth_steps", float(config.source_depth_A) * 1e-10, None,
                      config.depth_steps, c_parity=c_parity)
    if hdiv.count * vdiv.count * disp.count * depth.count > MAX_SOURCES:
        raise ValueError(
            f"the source grid of {hdiv.count} x {vdiv.count} divergence x {disp.count} "
            f"wavelength x {depth.count} depth points is more than the {MAX_SOURCES} "
            "sources a run takes; use coarser steps (hdiv_step_mrad, vdiv_step_mrad, "
            "dispersion_steps, depth_steps)")
    angles = [(h, v) for h in hdiv.values(c_parity=c_parity)
              for v in vdiv.values(c_parity=c_parity) if _inside_ellipse(h, v, hdiv, vdiv)]
    lambda0 = float(config.wavelength_A) / 1e10
    wavelengths = [lambda0 * (1.0 + d) if not c_parity else
                   lambda0 * (1.0 + disp.step * i - disp.range / 2.0)
                   for i, d in enumerate(disp.values(c_parity=c_parity))]
    return SourceGrids(hdiv, vdiv, disp, depth, angles, wavelengths,
                       depth.values(c_parity=c_parity))


def _inside_ellipse(h: float, v: float, hdiv: StepGrid, vdiv: StepGrid) -> bool:
    """The original's elliptical cut (a zero range gives NaN, which keeps the point)."""
    with np.errstate(all="ignore"):
        test = ((np.float64(h) * h - hdiv.step * hdiv.step / 4.0 * (1 - hdiv.count % 2))
                / np.float64(hdiv.range) / hdiv.range)
        test += ((np.float64(v) * v - vdiv.step * vdiv.step / 4.0 * (1 - vdiv.count % 2))
                 / np.float64(vdiv.range) / vdiv.range)
        return not bool(test * 4.0 > 1.1)


def scatterer_sources(config: ScattererConfig, grids: SourceGrids, *,
                      c_parity: bool) -> ScattererSources:
    """The source points in loop order: wavelength, horizontal, vertical angle, depth."""
    distance = 0.0 if config.far_source else float(config.source_distance_mm) / 1000.0
    positions, directions, wavelengths, groups = [], [], [], []
    group = 0
    for wavelength in grids.wavelengths_m:
        for h, v in grids.divergence:
            # quirk near_divergence_atan: the original places a source at atan(angle) x
            # distance off the axis; corrected, tan(angle) x distance
            off = (math.atan(h), math.atan(v)) if c_parity else (math.tan(h), math.tan(v))
            for depth in grids.depths_m:
                position = (-distance + depth, off[0] * distance, off[1] * distance)
                ray = np.array([1.0, off[0], off[1]])
                positions.append(position)
                directions.append(ray / np.linalg.norm(ray))
                wavelengths.append(wavelength)
                groups.append(group)
            group += 1
    return ScattererSources(
        position_m=np.array(positions, dtype=np.float64).reshape(-1, 3),
        direction=np.array(directions, dtype=np.float64).reshape(-1, 3),
        wavelength_m=np.array(wavelengths, dtype=np.float64),
        group=np.array(groups, dtype=np.int32))


def detector_counts(config: ScattererConfig) -> tuple[int, int]:
    """nearBragg's pixel counts: a count sets the size to count x pixel, then the count
    is ceil(size / pixel)."""
    pixel = float(config.pixel_size_mm) / 1000.0
    counts = []
    for count, size_mm in ((config.fpixels, config.detsize_f_mm),
                           (config.spixels, config.detsize_s_mm)):
        size = pixel * int(count) if count else float(size_mm) / 1000.0
        counts.append(math.ceil(size / pixel))
    return counts[0], counts[1]


def beam_centre_m(config: ScattererConfig, *, c_parity: bool) -> tuple[float, float]:
    """The direct-beam spot (Xbeam along fast, Ybeam along slow) from the first pixel's
    corner.  quirk near_beam_centre_off_by_pixel: by default the original puts it at
    ((width - pixel)/2, (height + pixel)/2), a pixel apart in the two directions;
    corrected, at the detector's centre."""
    pixel = float(config.pixel_size_mm) / 1000.0
    fpixels, spixels = detector_counts(config)
    width, height = detector_size_m(config)
    if c_parity:
        default_x, default_y = (width - pixel) / 2.0, (height + pixel) / 2.0
    else:
        default_x, default_y = fpixels * pixel / 2.0, spixels * pixel / 2.0
    x = default_x if config.beam_x_mm is None else float(config.beam_x_mm) / 1000.0
    y = default_y if config.beam_y_mm is None else float(config.beam_y_mm) / 1000.0
    return x, y


def detector_size_m(config: ScattererConfig) -> tuple[float, float]:
    pixel = float(config.pixel_size_mm) / 1000.0
    width = pixel * int(config.fpixels) if config.fpixels else float(config.detsize_f_mm) / 1e3
    height = pixel * int(config.spixels) if config.spixels else float(config.detsize_s_mm) / 1e3
    return width, height


def radians(degrees: float, *, c_parity: bool) -> float:
    """quirk near_truncated_pi: the original converts with its own 15-digit pi (and uses
    a 15-digit 2 pi in every phase); corrected, with math.pi."""
    return float(degrees) / (180.0 / LEGACY_PI) if c_parity else math.radians(float(degrees))


def scatterer_detector_spec(config: ScattererConfig, *, c_parity: bool) -> DetectorSpec:
    """nearBragg's detector as the shared detector_geometry stage places it: the CUSTOM
    convention with nearBragg's axes, the near point at the beam centre at the distance,
    turned by two-theta about the spindle axis with the sample as the pivot."""
    fpixels, spixels = detector_counts(config)
    x, y = beam_centre_m(config, c_parity=c_parity)
    return DetectorSpec(
        c_parity=c_parity, convention=Convention.CUSTOM, pivot=Pivot.SAMPLE,
        pixel_size_m=float(config.pixel_size_mm) / 1000.0, fpixels=fpixels, spixels=spixels,
        detsize_f_m=fpixels * float(config.pixel_size_mm) / 1000.0,
        detsize_s_m=spixels * float(config.pixel_size_mm) / 1000.0,
        distance_m=float(config.distance_mm) / 1000.0,
        close_distance_m=float(config.distance_mm) / 1000.0,
        Xbeam_m=x, Ybeam_m=y, Xclose_m=x, Yclose_m=y, ORGX_px=None, ORGY_px=None,
        rotx_rad=0.0, roty_rad=0.0, rotz_rad=0.0,
        twotheta_rad=radians(config.twotheta_deg, c_parity=c_parity),
        fdet=_vector(config.fdet_vector), sdet=_vector(config.sdet_vector),
        odet=_vector(config.odet_vector), beam=np.array([1.0, 0.0, 0.0]),
        polar=np.array([0.0, 0.0, 1.0]), spindle=_vector(config.spindle_axis),
        twotheta_axis=_vector(config.spindle_axis), pix0_m=None)


def oversample(config: ScattererConfig, atoms: np.ndarray) -> tuple[int, int]:
    """(the oversampling used, the one recommended): ceil(3 x the scatterers' largest
    extent / (lambda x distance / pixel)), at least 1."""
    if len(atoms):
        extent = float(np.max(np.max(atoms[:, :3], axis=0) - np.min(atoms[:, :3], axis=0)))
    else:
        extent = 0.0
    reciprocal_pixel = (float(config.wavelength_A) / 1e10 * (float(config.distance_mm) / 1e3)
                        / (float(config.pixel_size_mm) / 1e3))
    recommended = max(1, math.ceil(3.0 * (extent * 1e-10) / reciprocal_pixel))
    chosen = recommended if not config.oversample or config.oversample <= 0 else config.oversample
    return int(chosen), int(recommended)


def roi(config: ScattererConfig, fpixels: int, spixels: int) -> tuple[int, int, int, int]:
    """The rendered region, bounds included; negative bounds are the detector's edges."""
    given = tuple(config.roi) if config.roi is not None else (-1, -1, -1, -1)
    xmin, xmax, ymin, ymax = (int(v) for v in given)
    return (max(xmin, 0), xmax if xmax >= 0 else fpixels, max(ymin, 0),
            ymax if ymax >= 0 else spixels)


def vectors_as_given(config: ScattererConfig) -> bool:
    """Whether a detector vector or the spindle axis given is not a unit vector."""
    return any(abs(float(np.linalg.norm(_vector(v))) - 1.0) > 1e-12
               for v in (config.fdet_vector, config.sdet_vector, config.odet_vector,
                         config.spindle_axis))


def _rotate_axis(v: list[float], axis: list[float], angle: float) -> list[float]:
    """v turned by angle about axis (Rodrigues), in nearBragg's order of operations."""
    sin, cos = math.sin(angle), math.cos(angle)
    along = (axis[0] * v[0] + axis[1] * v[1] + axis[2] * v[2]) * (1.0 - cos)
    return [axis[0] * along + v[0] * cos + (-axis[2] * v[1] + axis[1] * v[2]) * sin,
            axis[1] * along + v[1] * cos + (+axis[2] * v[0] - axis[0] * v[2]) * sin,
            axis[2] * along + v[2] * cos + (-axis[1] * v[0] + axis[0] * v[1]) * sin]


def legacy_placement(config: ScattererConfig) -> tuple[np.ndarray, ...]:
    """(fdet, sdet, odet, pix0) as the original places a detector whose vectors are not
    unit vectors.  quirk near_detector_vectors_as_given: the original turns and uses
    them as given, so their lengths stretch the pixel grid and the distance; corrected
    (and legacy with unit vectors), the shared detector_geometry stage, which makes them
    unit vectors."""
    axis = [float(v) for v in config.spindle_axis]
    angle = radians(config.twotheta_deg, c_parity=True)
    f, s, o = (_rotate_axis([float(x) for x in v], axis, angle)
               for v in (config.fdet_vector, config.sdet_vector, config.odet_vector))
    x, y = beam_centre_m(config, c_parity=True)
    d = float(config.distance_mm) / 1000.0
    pix0 = [-x * f[i] - y * s[i] + d * o[i] for i in range(3)]
    return tuple(np.array(v, dtype=np.float64) for v in (f, s, o, pix0))


def scatterer_params(config: ScattererConfig, geometry: DetectorGeometry, atoms: np.ndarray,
                     *, c_parity: bool) -> ScattererParams:
    fpixels, spixels = int(geometry.fpixels), int(geometry.spixels)
    xmin, xmax, ymin, ymax = roi(config, fpixels, spixels)
    fdet, sdet, odet, pix0 = geometry.fdet, geometry.sdet, geometry.odet, geometry.pix0_m
    if c_parity and vectors_as_given(config):
        fdet, sdet, odet, pix0 = legacy_placement(config)
    if config.pix0_vector_m is not None:
        pix0 = _vector(config.pix0_vector_m)
    return ScattererParams(
        c_parity=c_parity, fpixels=fpixels, spixels=spixels,
        pixel_size_m=float(config.pixel_size_mm) / 1000.0,
        distance_m=float(config.distance_mm) / 1000.0,
        fdet=fdet, sdet=sdet, odet=odet, pix0_m=pix0,
        curved_detector=bool(config.curved), point_pixel=bool(config.point_pixel),
        oversample=oversample(config, atoms)[0], roi_xmin=xmin, roi_xmax=xmax,
        roi_ymin=ymin, roi_ymax=ymax, coherent=bool(config.coherent),
        far_source=bool(config.far_source), fluence_per_m2=float(config.fluence))


def scatterer_atoms(atoms: Any, *, c_parity: bool) -> Atoms:
    """Atoms from an (n, 6) table x y z (Angstrom), occupancy, B (square Angstrom), phase
    (degrees); a tensor table keeps its graph (positions and occupancies)."""
    from nanobragg.config import is_tensor

    if is_tensor(atoms):
        import torch

        rows = atoms.to(torch.float64)
        return Atoms(position_m=rows[:, :3] * 1e-10, occupancy=rows[:, 3],
                     B_A2=rows[:, 4], phase_rad=rows[:, 5] / (180.0 / (
                         LEGACY_PI if c_parity else math.pi)))
    table = np.asarray(atoms, dtype=np.float64)
    phases = np.array([radians(p, c_parity=c_parity) for p in table[:, 5]], dtype=np.float64)
    return Atoms(position_m=table[:, :3] / 1e10, occupancy=table[:, 3].copy(),
                 B_A2=table[:, 4].copy(), phase_rad=phases)


def _scaled(value: float | None, divisor: float) -> float | None:
    return None if value is None else float(value) / divisor


def _vector(values: Any) -> np.ndarray:
    return np.asarray([float(v) for v in values], dtype=np.float64).reshape(3)
