"""The result of an amorphous render: its image, the stage data that made it, the
statistics the original reports and the original's files (raw float, SMV, PGM, noise)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from nanobragg import engines
from nanobragg.image_counts import auto_int_scale, smv_counts
from nanobragg.io import format_smv_header
from nanobragg.legacy_random import LegacyRandom
from nanobragg.result import image_statistics
from nanobragg.sampling import RTD, phi_sweep
from nanobragg.stages import DetectorGeometry, NoiseSpec, Sources
from nanobragg.stages.amorphous import AmorphousImage, AmorphousSpec, StolTable
from nanobragg.stages.fields import to_numpy

if TYPE_CHECKING:
    from nanobragg.amorphous_scattering import AmorphousConfig

__all__ = ["AmorphousResult", "Statistics"]


@dataclass(frozen=True)
class Statistics:
    max_I: float
    max_I_fast_m: float
    max_I_slow_m: float
    mean: float
    rms: float
    rmsd: float


@dataclass
class AmorphousResult:
    """An amorphous render: the image, the stage data that made it, the statistics and
    the original's output files."""

    config: AmorphousConfig
    c_parity: bool
    geometry: DetectorGeometry
    sources: Sources
    spec: AmorphousSpec
    table: StolTable
    output: AmorphousImage
    image_tensor: Any = None
    detsize_s_m: float = 0.0
    extras: dict[str, Any] = field(default_factory=dict)
    mean_count: int | None = None
    """The pixel count the mean and rms are divided by (None: the ROI's); nonBragg -img
    sets it with c_parity (the original's img_stats_count)."""

    @property
    def image(self) -> np.ndarray:
        """Photons per pixel as float32 (as the original stores them), (slow, fast)."""
        with np.errstate(over="ignore"):
            # beyond float32's range is inf, as in the original
            return np.asarray(to_numpy(self.output.image), dtype=np.float64).astype(np.float32)

    def roi_mask(self) -> np.ndarray:
        s, f = np.indices((self.spec.spixels, self.spec.fpixels))
        return ((f >= self.spec.roi_xmin) & (f <= self.spec.roi_xmax)
                & (s >= self.spec.roi_ymin) & (s <= self.spec.roi_ymax))

    @property
    def statistics(self) -> Statistics:
        """As the original reports them: over the ROI in image order, the squares of the
        mean square in single precision.  quirk amorphous_rmsd_shifted: legacy measures
        the rmsd of each ROI pixel's next pixel (0 past the last)."""
        image2d, inside2d = self.image, self.roi_mask()
        stats = image_statistics(image2d, inside2d, inside2d, self.spec.pixel_size_m,
                                 self.spec.oversample)
        image, inside = image2d.ravel(), inside2d.ravel()
        n = max(stats.pixels, 1)
        mean, rms = stats.mean, stats.rms
        values = image[inside].astype(np.float64)
        if self.mean_count is not None:
            # the sums image_statistics takes, over the count the original divides by
            count = max(self.mean_count, 1)
            total = float(np.cumsum(values)[-1]) if values.size else 0.0
            with np.errstate(over="ignore"):
                squares = image[inside] * image[inside]
            sumsqr = float(np.cumsum(squares.astype(np.float64))[-1]) if values.size else 0.0
            mean, rms = total / count, math.sqrt(sumsqr / (max(count, 2) - 1))
        if self.c_parity:
            shifted = np.append(image, np.float32(0.0))[1:]
            values = shifted[inside].astype(np.float64)
        with np.errstate(all="ignore"):
            # an infinite pixel makes the rmsd NaN, as in the original
            rmsd = math.sqrt(float(np.sum((values - mean) ** 2)) / (max(n, 2) - 1))
        fast_m, slow_m = stats.max_I_position_m
        return Statistics(stats.max_I, fast_m, slow_m, mean, rms, rmsd)

    @property
    def int_scale(self) -> float:
        return auto_int_scale(float(self.config.int_scale), self.statistics.max_I)

    @property
    def pgm_scale(self) -> float:
        scale = float(self.config.pgm_scale)
        if scale <= 0.0:
            rmsd = self.statistics.rmsd
            scale = 250.0 / (5.0 * rmsd) if rmsd > 0.0 else self.int_scale
        return scale

    def int_image(self) -> np.ndarray:
        """The noiseless SMV image: value x scale + ADC, clipped, rounded in single
        precision; 0 outside the ROI."""
        return smv_counts(self.image, self.roi_mask(), self.int_scale,
                          float(self.config.adc_offset), round_to_nearest=True)

    def pgm_image(self) -> np.ndarray:
        with np.errstate(all="ignore"):
            value = np.nan_to_num(np.minimum(self.image.astype(np.float64) * self.pgm_scale,
                                             255.0), nan=0.0, neginf=0.0)
        if self.c_parity:
            # a negative value wraps as the original's conversion to unsigned char does
            with np.errstate(invalid="ignore"):
                pixels = (np.trunc(value).astype(np.int64) & 0xFF).astype(np.uint8)
        else:
            pixels = np.clip(value, 0.0, 255.0).astype(np.uint8)
        return np.where(self.roi_mask(), pixels, np.uint8(0))

    def noise_image(self, seed: int | None = None) -> tuple[np.ndarray, float, int]:
        """(counts, photons, overloads): Poisson counts plus the ADC offset in the ROI,
        with the legacy generator from the original's internal seed (-seed)."""
        internal = self.internal_seed if seed is None else -int(seed)
        roi = self.spec
        spec = NoiseSpec(c_parity=self.c_parity, roi_xmin=roi.roi_xmin, roi_xmax=roi.roi_xmax,
                         roi_ymin=roi.roi_ymin, roi_ymax=roi.roi_ymax,
                         adc_offset=float(self.config.adc_offset), seed=internal)
        noise = engines.create("c").add_noise(self.image, spec, LegacyRandom())
        return noise.counts, noise.photons, noise.overloads

    @property
    def internal_seed(self) -> int:
        seed: int = self.extras["seed"]
        return seed

    def smv_header(self) -> bytes:
        g, cfg = self.geometry, self.config
        pixel = g.pixel_size_m
        phi0 = float(cfg.phi_deg) / RTD
        osc = phi_sweep(-1.0 if cfg.osc_deg is None else cfg.osc_deg / RTD,
                        -1.0 if cfg.phi_step_deg is None else cfg.phi_step_deg / RTD,
                        -1 if cfg.phi_steps is None else int(cfg.phi_steps)).range
        return format_smv_header([
            ("SIZE1", "%d" % g.fpixels),
            ("SIZE2", "%d" % g.spixels),
            ("PIXEL_SIZE", "%g" % (pixel * 1000.0)),
            ("DISTANCE", "%g" % (float(g.distance_m) * 1000.0)),
            ("WAVELENGTH", "%g" % (float(cfg.wavelength_A) / 1e10 * 1e10)),
            ("BEAM_CENTER_X", "%g" % (float(g.Fbeam_m) * 1000.0)),
            ("BEAM_CENTER_Y", "%g" % ((self.detsize_s_m - float(g.Sbeam_m)) * 1000)),
            ("ORGX", "%g" % (float(g.Fclose_m) / pixel)),
            ("ORGY", "%g" % (float(g.Sclose_m) / pixel)),
            ("CLOSE_DISTANCE", "%g" % (float(g.close_distance_m) * 1000.0)),
            ("PHI", "%g" % (phi0 * RTD)),
            ("OSC_START", "%g" % (phi0 * RTD)),
            ("OSC_RANGE", "%g" % (osc * RTD)),
            ("TWOTHETA", "%g" % (float(cfg.twotheta_deg) / RTD * RTD)),
            ("DETECTOR_SN", "000"),
            ("BEAMLINE", "fake"),
        ])

    def float_bytes(self) -> bytes:
        return self.image.astype("<f4").tobytes()

    def int_image_bytes(self) -> bytes:
        return self.smv_header() + self.int_image().astype("<u2").tobytes()

    def noise_image_bytes(self, counts: np.ndarray) -> bytes:
        return self.smv_header() + np.asarray(counts).astype("<u2").tobytes()

    def pgm_bytes(self) -> bytes:
        """quirk pgm_reads_past_image: the original writes two bytes per pixel from its
        one-byte image, the second half whatever follows it in memory (zeros here);
        corrected, one byte per pixel."""
        g = self.geometry
        head = b"P5\n%d %d\n# pixels scaled by %s\n255\n" % (
            g.fpixels, g.spixels, ("%g" % self.pgm_scale).encode())
        body = self.pgm_image().tobytes()
        if self.c_parity:
            body += bytes(len(body))
        return head + body
