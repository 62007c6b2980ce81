"""render: the float image, photons per pixel.

``RenderParams`` holds every number the pixel loop reads (mirrored field for field by
``nb_render_params`` in ``csrc/engine/nanobragg.h``); ``RenderInputs`` bundles it with
the earlier stages' arrays; ``RenderOutput`` is the image and what the loop reports.
The builders here turn the Config and the earlier stages' outputs into them: the
fluence, the water background, the automatic interpolation and the region of interest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nanobragg.codes import CrystalShape, shape_code
from nanobragg.config import Config, as_float, as_floats, is_tensor
from nanobragg.field_classes import shown
from nanobragg.sampling import RTD, Sampling
from nanobragg.stages.fields import scaled
from nanobragg.stages.sources import wavelength_m
from nanobragg.validation import MAX_STEPS

if TYPE_CHECKING:
    from nanobragg.io import StructureFactors
    from nanobragg.stages.crystal import CrystalVectors
    from nanobragg.stages.fields import Array, Real
    from nanobragg.stages.geometry import DetectorGeometry
    from nanobragg.stages.mosaic import MosaicRotations
    from nanobragg.stages.sources import Sources

DEFAULT_MAX_TERMS = 1e11
"""Most terms a render may evaluate unless the caller raises the limit: about 20 minutes
of the C engine on two cores, a minute or two of the torch engine on a GPU."""
R_E_SQR_M2 = 7.94079248018965e-30
"""Thomson cross section of the electron."""
AVOGADRO = 6.02214179e23
WATER_F = 2.57
"""Forward scattering of one water molecule (electrons), as the original takes it."""
WATER_MW = 18.0


@dataclass(frozen=True)
class RenderParams:
    c_parity: bool
    fpixels: int
    spixels: int
    pixel_size_m: float
    oversample: int
    """Sub-pixels along each pixel edge."""
    oversample_thick: bool
    oversample_polar: bool
    oversample_omega: bool
    fdet: Array
    sdet: Array
    odet: Array
    pix0_m: Array
    beam: Array
    polar: Array
    spindle: Array
    distance_m: Real
    close_distance_m: Real
    curved_detector: bool
    point_pixel: bool
    nopolar: bool
    polarization: float
    """Kahn polarization factor."""
    thickness_steps: int
    thickness_step_m: float
    thickness_m: float
    mu_per_m: float
    """Attenuation coefficient of the sensor."""
    roi_xmin: int
    roi_xmax: int
    roi_ymin: int
    roi_ymax: int
    phi_steps: int
    phi0_rad: Real
    phi_step_rad: float
    mosaic_spread_rad: float
    a_m: Array
    b_m: Array
    c_m: Array
    a_star_per_A: Array
    b_star_per_A: Array
    c_star_per_A: Array
    N_cells: Array
    shape: CrystalShape
    fudge: float
    default_F: float
    interpolate: bool
    """Tricubic interpolation of the structure factors."""
    dmin_m: float
    """Resolution limit: terms beyond it add nothing (0: none)."""
    r_e_sqr_m2: float
    fluence_per_m2: Real
    water_background_per_sr: Real
    """Photons per steradian scattered by the water around the crystal."""
    water_size_m: float


@dataclass(frozen=True)
class RenderInputs:
    """Everything the render stage and the pixel trace read."""

    params: RenderParams
    sources: Sources
    mosaic: MosaicRotations
    structure_factors: StructureFactors | None
    """The F grid, or None: default_F everywhere."""
    mask: np.ndarray | None
    """(slow, fast) uint8, 0 = pixel not rendered; or None."""

    @property
    def terms_per_pixel(self) -> int:
        p = self.params
        return (p.thickness_steps * p.oversample * p.oversample * len(self.sources.wavelength_m)
                * p.phi_steps * len(self.mosaic.umats))


@dataclass(frozen=True)
class RenderOutput:
    image: Array
    """(spixels, fpixels) float64 photons per pixel."""
    omega_sum_sr: float
    """Sum of the solid angles the loop evaluated."""
    steps: int
    """Terms per pixel in the normalisation: sources x domains x phi steps x sub-pixels."""
    interpolation_switched_off: bool
    first_executed: int
    """c_parity: the pixel that started from the unrotated crystal, or -1."""
    switch_pixel: int
    """c_parity: the last pixel rendered with interpolation on, or -1."""


@dataclass(frozen=True)
class Work:
    """How many terms a render evaluates: every rendered pixel sums over its sub-pixels,
    sensor layers, sources, phi steps and mosaic domains."""

    pixels: int
    """Pixels rendered (inside the ROI, not masked)."""
    oversample: int
    automatic_oversample: bool
    """The oversampling was chosen from the crystal size (no -oversample given)."""
    layers: int
    sources: int
    phi_steps: int
    domains: int

    @property
    def terms(self) -> int:
        return (self.pixels * self.oversample * self.oversample * self.layers * self.sources
                * self.phi_steps * self.domains)

    def describe(self) -> str:
        return (f"{self.pixels} pixels x {self.oversample}^2 sub-pixels x {self.layers} "
                f"layers x {self.sources} sources x {self.phi_steps} phi steps x "
                f"{self.domains} mosaic domains = {self.terms:.3g} terms")

    def check(self, max_terms: float) -> None:
        """A render above the limit is refused before it starts, naming what makes it big;
        so is one whose pixels each need more terms than the engines' whole-number
        arithmetic counts (MAX_STEPS)."""
        per_pixel = (self.oversample * self.oversample * self.layers * self.sources
                     * self.phi_steps * self.domains)
        if per_pixel > MAX_STEPS:
            raise ValueError(
                f"{self.sources} sources x {self.domains} mosaic domains x {self.phi_steps} "
                f"phi steps x {self.oversample}^2 sub-pixels x {self.layers} sensor layers = "
                f"{per_pixel} terms per pixel; the limit is {MAX_STEPS}; most of it comes "
                f"from {self._largest_factor()}")
        if self.terms > max_terms:
            raise ValueError(
                f"the render would evaluate {self.describe()}, more than the limit of "
                f"{max_terms:.3g} (max_terms); most of it comes from "
                f"{self._largest_factor(max_terms)}. Reduce it, or raise the limit: "
                "-max_terms on the "
                "command line, max_terms= to simulate")

    def _largest_factor(self, max_terms: float = math.inf) -> str:
        """The detector when its pixels alone exceed the limit, else the largest of the
        factors each pixel sums over."""
        if self.pixels > max_terms:
            return "the detector (-detpixels, -detsize, -pixel, -roi)"
        oversampling = ("the automatic oversampling (from the crystal size and -N or "
                        "-xtal_size; give -oversample)" if self.automatic_oversample
                        else "-oversample")
        factors = {
            oversampling: self.oversample * self.oversample,
            "the sensor layers (-thicksteps)": self.layers,
            "the sources (-divsteps, -dispsteps, -sourcefile)": self.sources,
            "the phi steps (-phisteps)": self.phi_steps,
            "the mosaic domains (-mosaic_dom)": self.domains,
        }
        return max(factors, key=lambda name: factors[name])


def fluence_per_m2(config: Config) -> Any:
    """Photons per m^2: from flux * exposure / beamsize^2 when a flux is given.  A fluence
    given as a tensor is returned as it is (the torch engine keeps its graph)."""
    beam = config.beam
    beamsize = float(beam.beamsize_mm) / 1000
    if beam.flux != 0.0 and beam.exposure_s > 0.0 and beamsize >= 0:
        return beam.flux * beam.exposure_s / beamsize / beamsize
    return beam.fluence if is_tensor(beam.fluence) else float(beam.fluence)


def water_background_per_sr(config: Config, fluence: Any) -> Any:
    """Photons per steradian scattered by the water around the crystal."""
    size = float(config.beam.water_um) / 1e6
    return (WATER_F * WATER_F * R_E_SQR_M2 * fluence * size * size * size * 1e6 * AVOGADRO
            / WATER_MW)


def interpolation_wanted(config: Config, has_grid: bool) -> bool:
    """Tricubic interpolation: on when asked, or automatically for crystals 2 cells thin
    or less."""
    if not has_grid:
        return False
    choice = config.structure_factors.interpolate
    if choice is not None:
        return bool(choice)
    return any(n <= 2 for n in as_floats(config.crystal.N_cells, 3))


def resolve_roi(config: Config, fpixels: int, spixels: int) -> tuple[int, int, int, int]:
    """xmin, xmax, ymin, ymax in pixels, bounds included; unset (negative) bounds are the
    detector's.  An ROI that selects no pixel is an error (not an empty image), raised
    here, where the detector's size is first known and before either engine renders."""
    roi = config.sampling.roi
    xmin, xmax, ymin, ymax = (-1, -1, -1, -1) if roi is None else (int(v) for v in roi)
    bounds = (max(xmin, 0), fpixels if xmax < 0 else xmax,
              max(ymin, 0), spixels if ymax < 0 else ymax)
    if bounds[0] > min(bounds[1], fpixels - 1) or bounds[2] > min(bounds[3], spixels - 1):
        raise ValueError(
            f"sampling.roi: {shown(roi)} selects no pixel of the {fpixels} x {spixels} "
            f"(fast x slow) detector; expected xmin <= xmax and ymin <= ymax that overlap "
            f"pixels 0..{fpixels - 1} (x) and 0..{spixels - 1} (y)")
    return bounds


def choose_oversample(config: Config, crystal: CrystalVectors, geometry: DetectorGeometry, *,
                      c_parity: bool = True) -> int:
    """The requested oversampling, or the original's choice: enough sub-pixels that
    the crystal's reciprocal-space spot spans three of them.  The corrected mode
    ignores rounding noise of the cell vectors (3.0000000000000004 is 3, not 4)."""
    requested = config.sampling.oversample
    if requested is not None and requested > 0:
        return int(requested)
    size_max = max(as_floats(crystal.size_m, 3))
    reciprocal_pixel = (as_float(wavelength_m(config)) * as_float(geometry.distance_m)
                        / geometry.pixel_size_m)
    recommended = 3.0 * size_max / reciprocal_pixel if reciprocal_pixel != 0 else math.inf
    if not math.isfinite(recommended):
        raise ValueError(
            "sampling.oversample: cannot be chosen automatically for this geometry "
            f"(wavelength x distance / pixel size = {shown(reciprocal_pixel)} m); "
            "set it explicitly")
    if not c_parity:
        # quirk oversample_rounding_noise: a ratio that is whole but for the rounding of
        # the cell vectors (3.0000000000000004) is rounded up by the original
        recommended -= 1e-9 * recommended
    return max(math.ceil(recommended), 1)


def render_params(config: Config, *, c_parity: bool, geometry: DetectorGeometry,
                  crystal: CrystalVectors, sampling: Sampling, oversample: int,
                  roi: tuple[int, int, int, int], fluence: Any,
                  has_grid: bool) -> RenderParams:
    det, beam, sf = config.detector, config.beam, config.structure_factors
    phi0 = config.crystal.phi_deg
    return RenderParams(
        c_parity=c_parity,
        fpixels=geometry.fpixels,
        spixels=geometry.spixels,
        pixel_size_m=geometry.pixel_size_m,
        oversample=oversample,
        oversample_thick=bool(config.sampling.oversample_thick),
        oversample_polar=bool(config.sampling.oversample_polar),
        oversample_omega=bool(config.sampling.oversample_omega),
        fdet=geometry.fdet,
        sdet=geometry.sdet,
        odet=geometry.odet,
        pix0_m=geometry.pix0_m,
        beam=geometry.beam,
        polar=geometry.polar,
        spindle=geometry.spindle,
        distance_m=geometry.distance_m,
        close_distance_m=geometry.close_distance_m,
        curved_detector=bool(det.curved),
        point_pixel=bool(det.point_pixel),
        nopolar=bool(beam.nopolar),
        polarization=float(beam.polarization),
        thickness_steps=sampling.thickness.steps,
        thickness_step_m=sampling.thickness.step,
        thickness_m=sampling.thickness.range,
        mu_per_m=sampling.detector_mu,
        roi_xmin=roi[0],
        roi_xmax=roi[1],
        roi_ymin=roi[2],
        roi_ymax=roi[3],
        phi_steps=sampling.phi.steps,
        phi0_rad=scaled(phi0, RTD) if is_tensor(phi0) else sampling.phi0,
        phi_step_rad=sampling.phi.step,
        mosaic_spread_rad=sampling.mosaic_spread,
        a_m=crystal.a_m,
        b_m=crystal.b_m,
        c_m=crystal.c_m,
        a_star_per_A=crystal.a_star_per_A,
        b_star_per_A=crystal.b_star_per_A,
        c_star_per_A=crystal.c_star_per_A,
        N_cells=crystal.N_cells,
        shape=shape_code(config.crystal.shape),
        fudge=float(config.crystal.fudge),
        default_F=float(sf.default_F),
        interpolate=interpolation_wanted(config, has_grid),
        dmin_m=float(sf.dmin_A) * 1e-10,
        r_e_sqr_m2=R_E_SQR_M2,
        fluence_per_m2=fluence,
        water_background_per_sr=water_background_per_sr(config, fluence),
        water_size_m=float(beam.water_um) / 1e6,
    )
