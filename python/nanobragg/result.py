"""What a simulation returns: the image, its statistics and the resolved setup."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from nanobragg.config import Config
from nanobragg.sampling import Sampling
from nanobragg.stages import CrystalVectors, DetectorGeometry, NoiseSpec, RenderOutput, Sources

if TYPE_CHECKING:
    from nanobragg.io import StructureFactors
    from nanobragg.legacy_random import LegacyRandom
    from nanobragg.simulation import Setup


@dataclass(frozen=True)
class Statistics:
    """Statistics over the rendered pixels, computed as the original prints them."""

    max_I: float
    max_I_position_m: tuple[float, float]
    """Fast and slow detector coordinates of the last sub-pixel of the brightest pixel."""
    max_I_pixel: tuple[int, int] | None
    """(slow, fast) index of the brightest pixel; None for an empty image."""
    mean: float
    rms: float
    rmsd: float
    pixels: int


def image_statistics(image: np.ndarray, rendered: np.ndarray, roi_mask: np.ndarray,
                     pixel_size: float, oversample: int) -> Statistics:
    """Sums in image order and in the original's precision (squares in float32).

    One sequential pass of the C engine over the pixels (``_core.image_sums``), as the
    original sums them; an infinite image has NaN deviations, as there.
    """
    from nanobragg._core import image_sums

    sums = image_sums(np.asarray(image, dtype=np.float32), rendered, roi_mask)
    count = int(sums["count"])
    mean = float(sums["mean"])
    rms = math.sqrt(float(sums["squares"]) / (max(count, 2) - 1))
    n_roi = int(sums["roi_count"])
    rmsd = math.sqrt(float(sums["deviations"]) / (max(n_roi, 2) - 1)) if n_roi else 0.0
    max_I, position, pixel = 0.0, (0.0, 0.0), None
    index = int(sums["max_index"])
    if index >= 0:
        spixel, fpixel = divmod(index, image.shape[1])
        max_I = float(sums["max_value"])
        sub = pixel_size / oversample
        last = oversample - 1
        position = (sub * (fpixel * oversample + last) + sub / 2.0,
                    sub * (spixel * oversample + last) + sub / 2.0)
        pixel = (spixel, fpixel)
    return Statistics(max_I, position, pixel, mean, rms, rmsd, count)


@dataclass
class Result:
    image: np.ndarray
    """Photons per pixel, float32 (as the original stores them), shape (slow, fast)."""
    image_float64: np.ndarray
    """The same before rounding to float32 (the engine's own precision)."""
    config: Config
    backend: str
    c_parity: bool
    geometry: DetectorGeometry
    """The resolved detector (numpy): pix0, axes, beam centres in every convention."""
    crystal: CrystalVectors
    sources: Sources
    mosaic_umats: np.ndarray
    """(domains, 3, 3) rotations of the mosaic domains."""
    sampling: Sampling
    oversample: int
    steps: int
    roi: tuple[int, int, int, int]
    """xmin, xmax, ymin, ymax in pixels, bounds included."""
    mask: np.ndarray | None
    """The detector mask used (0 = pixel skipped), or None."""
    omega_sum: float
    noise_seed: int
    """The original's internal (negative) noise seed."""
    rng: LegacyRandom = field(repr=False)
    """The legacy generator as the stages before the noise left it."""
    setup: Setup = field(repr=False)
    """The prepared run: traces of this image's pixels start from it
    (:meth:`nanobragg.trace.PixelTracer.of`), its noise from its route's engine."""
    render_output: RenderOutput = field(repr=False)
    """What the render stage reported, the image in numpy: with c_parity the run's state
    (the pixel that started from the unrotated crystal, where interpolation switched off)."""
    structure_factors: StructureFactors | None = field(repr=False, default=None)
    """The grid used, or None (default_F only)."""
    image_tensor: Any = None
    """torch backend: the image as the engine computed it (device, dtype, autograd graph)."""
    stages: dict[str, str] = field(default_factory=dict)
    """The engine that ran each stage (see :mod:`nanobragg.stages`)."""
    notes: dict[str, Any] = field(default_factory=dict)
    """Facts for the log: where the structure factors came from, how many, the fluence
    and the misset and mosaic seeds."""

    @property
    def roi_mask(self) -> np.ndarray:
        """Boolean (slow, fast): pixels inside the ROI."""
        xmin, xmax, ymin, ymax = self.roi
        inside = np.zeros(self.image.shape, dtype=bool)
        inside[max(ymin, 0):ymax + 1, max(xmin, 0):xmax + 1] = True
        return inside

    @property
    def rendered(self) -> np.ndarray:
        """Boolean (slow, fast): pixels inside the ROI and not masked."""
        if self.mask is None:
            return self.roi_mask
        unmasked = np.asarray(self.mask).reshape(self.image.shape) != 0
        rendered: np.ndarray = self.roi_mask & unmasked
        return rendered

    @functools.cached_property
    def statistics(self) -> Statistics:
        """Computed on first use, in the original's order and precision."""
        return image_statistics(self.image, self.rendered, self.roi_mask,
                                self.geometry.pixel_size_m, self.oversample)

    def int_scale(self) -> float:
        scale = float(self.config.output.int_scale)
        if scale <= 0.0:
            scale = 55000.0 / self.statistics.max_I if self.statistics.max_I > 0.0 else 1.0
        return scale

    def int_image(self) -> np.ndarray:
        """The noiseless SMV image: scale * photons + adc, clipped and rounded (uint16)."""
        from nanobragg._core import int_image

        return int_image(np.asarray(self.image, dtype=np.float32), self.roi_mask,
                         self.int_scale(), float(self.config.output.adc_offset))

    def pgm_scale(self) -> float:
        scale = float(self.config.output.pgm_scale)
        if scale <= 0.0:
            scale = self.int_scale()
            if self.statistics.rmsd > 0.0:
                scale = 250.0 / (5.0 * self.statistics.rmsd)
        return scale

    def pgm_image(self) -> np.ndarray:
        value = np.minimum(self.image.astype(np.float64) * self.pgm_scale(), 255.0)
        return np.where(self.roi_mask, value.astype(np.uint8), np.uint8(0))

    def noise_image(self) -> tuple[np.ndarray, float, int]:
        """Poisson photon counts plus adc (uint16), total photons and overloads.

        With c_parity, or with the add_noise stage on the C engine, it uses the legacy
        generator exactly as the original does: the same seed gives the same image, and
        each call draws from a copy of the generator state.  The torch engine's
        corrected mode samples on the image's device with a torch generator seeded from
        the noise seed.
        """
        xmin, xmax, ymin, ymax = self.roi
        spec = NoiseSpec(c_parity=self.c_parity, roi_xmin=xmin, roi_xmax=xmax, roi_ymin=ymin,
                         roi_ymax=ymax, adc_offset=float(self.config.output.adc_offset),
                         seed=self.noise_seed)
        image = self.image_float64 if self.image_tensor is None else self.image_tensor.detach()
        noise = self.setup.route["add_noise"].add_noise(image, spec, self.rng.copy())
        return noise.counts, noise.photons, noise.overloads
