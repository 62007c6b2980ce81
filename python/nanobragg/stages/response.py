"""detector_response: the integer images a detector records of a float image.

``ResponseSpec`` is what the stage reads (mirrored by ``nb_response_spec`` in
``csrc/engine/nanobragg.h``), ``ResponseImage`` what it gives (its ``info`` mirrored by
``nb_response_info``).  The stage takes the image in the units of its input (the
``nanoBragg`` float image: photons per pixel at unit fluence); ``photons_per_value``
puts it on the photon scale."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from nanobragg.codes import Psf

if TYPE_CHECKING:
    from nanobragg.stages.fields import Array, Real

R_E_SQUARED_M2 = 7.94079248018965e-30
"""The Thomson cross section of an electron (m^2), as the original states it."""


@dataclass(frozen=True)
class ResponseSpec:
    c_parity: bool
    """The original's order of operations, random streams, PSF and pixel casts."""
    noise: bool
    """Shot, flicker, calibration and read-out noise (False: the noiseless image only)."""
    photons_per_value: Real
    """Fluence (photons/m^2) x r_e^2 (m^2) x scale: photons per unit of the input."""
    flicker: Real
    """Fractional beam flicker drawn per pixel (0: none)."""
    calibration: Real
    """Fractional calibration error per pixel (0: none)."""
    readout_adu: Real
    """Gaussian read-out noise, ADU rms (0: none)."""
    gain_adu_per_photon: Real
    adc_offset_adu: Real
    psf: Psf
    psf_fwhm_px: Real
    """The PSF's full width at half maximum in pixels (0: no PSF)."""
    psf_radius_px: int
    """The PSF kernel's radius in pixels; 0 chooses it from the brightest pixel."""
    bits: int
    """16 or 32: the pixel size of the integer images."""
    seed: int
    """The original's internal (negated) noise seed."""
    calibration_seed: int
    """The calibration error's seed, as the original holds it."""
    expected_adu: bool
    """``ResponseImage.expected_adu`` is wanted (False: it is None, and costs nothing)."""


@dataclass(frozen=True)
class ResponseInfo:
    max_value: float
    """The largest input value (0 if none is above 0)."""
    photons_before_psf: float
    """Photons counted on the noise image before the PSF."""
    photons: float
    """Photons on the noise image."""
    overloads: int
    """Noise-image pixels clipped at the largest value of their size."""
    psf_applied: bool
    psf_max_photons: float
    """The brightest pixel the PSF saw (photons)."""
    psf_radius_px: int
    """The PSF radius given or chosen, before the image's size limits it (0: nothing
    above 0 to blur)."""
    lost_photons: float
    """Photons beyond the kernel's radius, spread evenly over the image again."""


@dataclass(frozen=True)
class ResponseImage:
    expected: np.ndarray
    """(slow, fast) uint16 or uint32: the noiseless image in ADU."""
    expected_adu: Array | None
    """(slow, fast) float64: the noiseless values in ADU before they become pixels (no
    clipping, no truncation); from the torch engine a tensor that keeps the graph of any
    tensor in the spec.  None unless ``spec.expected_adu``."""
    noisy: np.ndarray | None
    """(slow, fast) uint16 or uint32: the noise image in ADU (None without noise)."""
    info: ResponseInfo


def pixels_of(values: np.ndarray, bits: int) -> np.ndarray:
    """The engines' pixel values (uint32) as the integer type of ``bits``."""
    return values.astype(np.uint16 if bits == 16 else np.uint32)
