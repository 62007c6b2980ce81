"""``nanobragg.detector_response``: the images a detector records of a float image (the
original ``noisify`` program).

A float image in photons per pixel (a :class:`~nanobragg.Result`, an array, a tensor or
a raw float file) becomes the integer images of an area detector: beam flicker, a
per-pixel calibration error, Poisson shot noise, a Gaussian or fiber point-spread
function, read-out noise, gain and ADC offset, in 16- or 32-bit pixels, with the SMV
header the original writes::

    result = nanobragg.simulate(config)
    response = nanobragg.detector_response(result, nanobragg.ResponseConfig(
        psf="gauss", psf_fwhm_um=100, readout_adu=3, seed=1))
    response.write_smv("noiseimage.img")          # the noise image
    response.write_smv("intimage.img", noisy=False)  # the noiseless one
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nanobragg.codes import Psf
from nanobragg.config import is_tensor
from nanobragg.field_classes import shown
from nanobragg.io import format_smv_header
from nanobragg.legacy_random import LegacyRandom
from nanobragg.stages.response import R_E_SQUARED_M2, ResponseImage, ResponseInfo, ResponseSpec

DEFAULT_FLUENCE_PER_M2 = 125932015286227086360700780544.0
"""The original's default fluence: one electron scatters one photon per steradian, so
the input's photons-per-pixel scale is kept."""
DEFAULT_CALIBRATION_SEED = 123456789
"""The calibration error's seed when none is given, as the original holds it."""
PSF_NAMES = {"gauss": Psf.GAUSS, "fiber": Psf.FIBER}


@dataclass
class ResponseConfig:
    """What a detector makes of photons: the parameters of the original ``noisify``,
    with units in the names.  Defaults are the original's."""

    scale: float = 1.0
    """Multiplies every input value before anything else (``-scale``)."""
    fluence_per_m2: float = DEFAULT_FLUENCE_PER_M2
    """Photons/m^2; the input is multiplied by fluence x r_e^2 (``-fluence``)."""
    flicker: float = 0.0
    """Fractional beam flicker, drawn per pixel (``-flicker``)."""
    calibration: float = 0.03
    """Fractional calibration error per pixel (``-calibration``)."""
    readout_adu: float = 0.0
    """Gaussian read-out noise, ADU rms (``-readout``)."""
    gain_adu_per_photon: float = 1.0
    adc_offset_adu: float = 40.0
    psf: str | None = None
    """"gauss", "fiber" or None (``-psf``)."""
    psf_fwhm_um: float = 46.0
    """The PSF's full width at half maximum, micrometres (``-psf_fwhm``)."""
    psf_radius_px: int = 0
    """The PSF kernel's radius in pixels; 0 chooses it from the brightest pixel."""
    bits: int = 16
    """16 or 32: the integer images' pixel size (``-bits``)."""
    noise: bool = True
    """False: the noiseless image only (``-nonoise``)."""
    seed: int | None = None
    """The noise seed (``-seed``); None: the clock, as the original."""
    calibration_seed: int | None = None
    """The calibration error's seed (``-calib_seed``); None: the original's fixed one."""
    pixel_size_mm: float = 0.1
    """Sets the PSF width in pixels, and the header's PIXEL_SIZE."""
    distance_mm: float = 100.0
    wavelength_A: float = 1.0
    beam_center_mm: tuple[float, float] | None = None
    """(X, Y) of the direct beam, mm from the first pixel (the original's -Xbeam -Ybeam);
    None: the detector's centre."""
    phi_deg: float = 0.0
    osc_deg: float = 1.0

    def replace(self, **changes: Any) -> ResponseConfig:
        return dataclasses.replace(self, **changes)


DIFFERENTIABLE = ("scale", "gain_adu_per_photon", "adc_offset_adu", "psf_fwhm_um")
"""Fields that may be 0-d tensors: the torch engine keeps their graph into
``Response.expected_adu`` (corrected mode)."""


def _number(name: str, value: Any, *, positive: bool = False,
            at_least_zero: bool = False) -> float:
    if is_tensor(value) and name in DIFFERENTIABLE:
        if value.ndim != 0 or value.is_complex():
            raise TypeError(f"{name}: expected a number or a 0-d real tensor, got "
                            f"{shown(value)}")
        value = float(value.detach())
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name}: expected a number, got {shown(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name}: {shown(value)} is not valid; expected a finite number")
    if positive and number <= 0.0:
        raise ValueError(f"{name}: {shown(value)} is not valid; expected a number > 0")
    if at_least_zero and number < 0.0:
        raise ValueError(f"{name}: {shown(value)} is not valid; expected a number >= 0")
    return number


def _whole(name: str, value: Any, low: int, high: int, *, none: bool = False) -> int | None:
    if value is None and none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        expected = "a whole number" + (" or None" if none else "")
        raise TypeError(f"{name}: expected {expected}, got {shown(value)}")
    if not low <= int(value) <= high:
        raise ValueError(f"{name}: {shown(value)} is not valid; expected a whole number from "
                         f"{low} to {high}")
    return int(value)


SEED_RANGE = (-(2**31 - 1), 2**31 - 1)


def validate_response(config: ResponseConfig, *, c_parity: bool) -> None:
    """Every field's type and value; TypeError or ValueError naming the field."""
    if not isinstance(config, ResponseConfig):
        raise TypeError(f"config: expected a nanobragg.ResponseConfig, got {shown(config)}")
    for name in ("scale", "fluence_per_m2", "flicker", "calibration", "readout_adu",
                 "gain_adu_per_photon", "adc_offset_adu", "distance_mm", "wavelength_A",
                 "phi_deg", "osc_deg"):
        _number(name, getattr(config, name))
    for name in ("flicker", "calibration", "readout_adu"):
        _number(name, getattr(config, name), at_least_zero=not c_parity)
    _number("pixel_size_mm", config.pixel_size_mm, positive=True)
    _number("psf_fwhm_um", config.psf_fwhm_um, at_least_zero=True)
    if config.psf is not None and config.psf not in PSF_NAMES:
        raise ValueError(f"psf: {shown(config.psf)} is not valid; expected one of "
                         f"{', '.join(map(repr, PSF_NAMES))} or None")
    _whole("psf_radius_px", config.psf_radius_px, -(2**31) if c_parity else 0, 2**31 - 1)
    if config.bits not in (16, 32) or isinstance(config.bits, bool):
        raise ValueError(f"bits: {shown(config.bits)} is not valid; expected 16 or 32")
    if not isinstance(config.noise, bool | np.bool_):
        raise TypeError(f"noise: expected a bool, got {shown(config.noise)}")
    _whole("seed", config.seed, *SEED_RANGE, none=True)
    _whole("calibration_seed", config.calibration_seed, *SEED_RANGE, none=True)
    if config.beam_center_mm is not None:
        if (not isinstance(config.beam_center_mm, tuple | list)
                or len(config.beam_center_mm) != 2):
            raise TypeError(f"beam_center_mm: expected (X, Y) in mm or None, got "
                            f"{shown(config.beam_center_mm)}")
        for value in config.beam_center_mm:
            _number("beam_center_mm", value)


def _kept(value: Any) -> Any:
    """A tensor as it is (its graph kept), anything else as a float."""
    return value if is_tensor(value) else float(value)


def response_spec(config: ResponseConfig, *, c_parity: bool, seed: int,
                  expected_adu: bool = False) -> ResponseSpec:
    """The stage's spec; ``seed``: the noise seed as the original holds it (negated);
    ``expected_adu``: the stage gives the noiseless values in ADU too."""
    # the original keeps the PSF width in a float; a tensor keeps its graph instead
    fwhm_m = (config.psf_fwhm_um / 1e6 if is_tensor(config.psf_fwhm_um)
              else float(np.float32(config.psf_fwhm_um / 1e6)))
    pixel_m = config.pixel_size_mm / 1000.0
    calibration_seed = (DEFAULT_CALIBRATION_SEED if config.calibration_seed is None
                        else -int(config.calibration_seed))
    psf = Psf.NONE if config.psf is None else PSF_NAMES[config.psf]
    return ResponseSpec(
        c_parity=c_parity, noise=bool(config.noise),
        photons_per_value=(float(config.fluence_per_m2) * R_E_SQUARED_M2) * _kept(config.scale),
        flicker=float(config.flicker) if config.noise else 0.0,
        calibration=float(config.calibration) if config.noise else 0.0,
        readout_adu=float(config.readout_adu) if config.noise else 0.0,
        gain_adu_per_photon=_kept(config.gain_adu_per_photon),
        adc_offset_adu=_kept(config.adc_offset_adu), psf=psf, psf_fwhm_px=fwhm_m / pixel_m,
        psf_radius_px=int(config.psf_radius_px), bits=int(config.bits), seed=seed,
        calibration_seed=calibration_seed, expected_adu=expected_adu)


@dataclass
class Response:
    """The images a detector records of one float image."""

    expected: np.ndarray
    """(slow, fast) uint16 or uint32: the noiseless image in ADU."""
    noisy: np.ndarray | None
    """(slow, fast): the noise image in ADU (None when ``config.noise`` is False)."""
    info: ResponseInfo
    config: ResponseConfig
    c_parity: bool
    seed: int
    """The noise seed as the original holds it (negated), from the clock if none was given."""
    adu_values: Any = field(default=None, repr=False)
    """``expected_adu`` once made (None until then)."""
    make_adu_values: Callable[[], Any] | None = field(default=None, repr=False)
    """Makes ``expected_adu`` on first use (the stage again, without noise)."""

    @property
    def expected_adu(self) -> Any:
        """(slow, fast) float64: the noiseless values before they become pixels (no
        clipping or truncation); from the torch engine a tensor, differentiable in the
        fields of ``DIFFERENTIABLE`` given as tensors (corrected mode).  From the C engine
        it is made on first use, unless ``detector_response(expected_adu=True)`` asked
        for it."""
        if self.adu_values is None and self.make_adu_values is not None:
            self.adu_values = self.make_adu_values()
            self.make_adu_values = None
        return self.adu_values

    def smv_header(self, header: bytes | None = None) -> bytes:
        """The 512-byte SMV header the original writes (``header``: an imported one, kept
        as it is)."""
        if header is not None:
            return header
        c = self.config
        slow, fast = self.expected.shape
        pixel_m = c.pixel_size_mm / 1000.0
        x_m, y_m = ((fast * pixel_m / 2.0, slow * pixel_m / 2.0) if c.beam_center_mm is None
                    else (c.beam_center_mm[0] / 1000.0, c.beam_center_mm[1] / 1000.0))
        detsize_y = pixel_m * slow
        fields = [("SIZE1", str(fast)), ("SIZE2", str(slow)),
                  ("PIXEL_SIZE", "%g" % (pixel_m * 1000.0)),
                  ("DISTANCE", "%g" % (c.distance_mm / 1000.0 * 1000.0)),
                  ("WAVELENGTH", "%g" % c.wavelength_A),
                  ("BEAM_CENTER_X", "%g" % (x_m * 1000.0)),
                  ("BEAM_CENTER_Y", "%g" % ((detsize_y - y_m) * 1000)),
                  ("PHI", "%g" % c.phi_deg), ("OSC_START", "%g" % c.phi_deg),
                  ("OSC_RANGE", "%g" % c.osc_deg), ("DETECTOR_SN", "000"), ("BEAMLINE", "fake")]
        return format_smv_header(fields, pixel_type="unsigned_short" if c.bits == 16
                                 else "long_integer")

    def smv_chunks(self, *, noisy: bool = True, header: bytes | None = None) -> list[bytes]:
        """The SMV file of the noise image (``noisy=False``: the noiseless one) as its
        header and its pixels, the pixels copied once."""
        data = self.noisy if noisy else self.expected
        if data is None:
            raise ValueError("no noise image: the response was made with noise=False")
        pixels = np.ascontiguousarray(data).astype(
            "<u2" if self.config.bits == 16 else "<u4", copy=False)
        return [self.smv_header(header), pixels.tobytes()]

    def smv_bytes(self, *, noisy: bool = True, header: bytes | None = None) -> bytes:
        """The SMV file of the noise image (``noisy=False``: the noiseless one)."""
        return b"".join(self.smv_chunks(noisy=noisy, header=header))

    def write_smv(self, path: str | Path, *, noisy: bool = True,
                  header: bytes | None = None) -> None:
        from nanobragg.io.outputs import atomic_write

        atomic_write(path, self.smv_chunks(noisy=noisy, header=header))

    def pgm_pixels(self) -> np.ndarray:
        """The noiseless image as 16-bit pixels, clipped at 255, as the original's PGM
        (uint8)."""
        values = self.expected
        if self.c_parity and values.dtype != np.uint16:
            values = values & 0xFFFF  # the original's 16-bit pixels wrap
        # (corrected, the 16-bit clipping at 65535 and the one at 255 are one clipping)
        pixels = np.empty(values.shape, np.uint8)
        np.minimum(values, 255, out=pixels, casting="unsafe")
        return pixels


def image_values(image: Any, *, keep_tensor: bool = False) -> Any:
    """A float image (slow, fast) as float32: a Result's image, an array or a tensor (kept
    as a tensor, with its graph, when ``keep_tensor``)."""
    from nanobragg.result import Result

    if isinstance(image, Result):
        image = image.image_tensor if keep_tensor and image.image_tensor is not None \
            else image.image
    if is_tensor(image):
        if image.ndim != 2 or 0 in image.shape or image.is_complex():
            raise ValueError(f"image: expected a 2-d real image (slow, fast), got a tensor of "
                             f"shape {tuple(image.shape)}")
        if keep_tensor:
            return image
        image = image.detach().cpu().numpy()
    if not isinstance(image, np.ndarray) or image.dtype.kind not in "biuf":
        raise TypeError(f"image: expected a nanobragg.Result, a 2-d array or tensor of "
                        f"numbers, got {shown(image)}")
    if image.ndim != 2 or 0 in image.shape:
        raise ValueError(f"image: expected a 2-d image (slow, fast), got shape {image.shape}")
    return image.astype(np.float32, copy=False)


def detector_response(image: Any, config: ResponseConfig | None = None, *,
                      backend: str = "c", c_parity: bool = False, threads: int | None = None,
                      device: Any = None, expected_adu: bool = False) -> Response:
    """The noiseless and noise images a detector records of ``image`` (photons per
    pixel: a :class:`~nanobragg.Result`, an array or tensor (slow, fast)).

    ``c_parity=True`` reproduces the original ``noisify``'s images from the same seeds,
    quirks included; ``c_parity=False`` gives the corrected response.  ``backend`` "c"
    or "torch" (``device`` for torch); ``threads``: the C engine's OpenMP threads (None:
    the OpenMP default).  ``expected_adu=True`` makes ``Response.expected_adu`` with the
    images (the C engine otherwise makes it on first use; the torch engine always keeps
    it, with its graph)."""
    from nanobragg.engines import COptions, TorchOptions, create

    config = ResponseConfig() if config is None else config
    validate_response(config, c_parity=bool(c_parity))
    if c_parity and is_tensor(config.psf_fwhm_um) and config.psf_fwhm_um.requires_grad:
        raise ValueError("psf_fwhm_um: gradients through the PSF need c_parity=False (the "
                         "original's PSF is computed with its own arithmetic)")
    values = image_values(image, keep_tensor=backend == "torch")
    seed = -int(time.time()) if config.seed is None else -int(config.seed)
    spec = response_spec(config, c_parity=bool(c_parity), seed=seed,
                         expected_adu=bool(expected_adu) or backend == "torch")
    options: Any = (COptions(threads=threads) if backend == "c"
                    else TorchOptions(device=device) if backend == "torch" else None)
    engine = create(backend, options)
    out: ResponseImage = engine.detector_response(values, spec, LegacyRandom())

    def noiseless_values() -> Any:
        # the noiseless values come before the noise and, with noise, without the PSF
        again = dataclasses.replace(spec, noise=False, expected_adu=True, flicker=0.0,
                                    calibration=0.0, readout_adu=0.0,
                                    psf=Psf.NONE if spec.noise else spec.psf)
        return engine.detector_response(values, again, LegacyRandom()).expected_adu

    return Response(expected=out.expected, noisy=out.noisy, info=out.info, config=config,
                    c_parity=bool(c_parity), seed=seed, adu_values=out.expected_adu,
                    make_adu_values=None if out.expected_adu is not None else noiseless_values)
