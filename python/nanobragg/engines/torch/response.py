"""detector_response as tensors (as ``nb_response.c``).

c_parity takes its random draws from the legacy generator (shared with the C engine:
the stream is sequential by nature, so the same seeds give the original's images) and
reproduces the original's PSF: each pixel scattered over the kernel cut at its own
radius, in image order.  Every pixel receives its contributions in the C loop's order,
because the offsets are applied one after another, sorted so that a pixel's sources
come in image order, each sum rounded to float32 as the C image holds it; the kernel,
the radii and the lost photons come from the same libm functions (``math``) as the C
engine's.  Corrected, the noise draws from torch generators on the image's device
seeded from the two seeds, and the PSF is one kernel applied by a convolution."""

from __future__ import annotations

import math

import numpy as np
import torch

from nanobragg.codes import Psf
from nanobragg.engines.torch.vectors import Placement
from nanobragg.legacy_random import LegacyRandom, response_readout_deviates, response_shot_noise
from nanobragg.stages.response import ResponseImage, ResponseInfo, ResponseSpec, pixels_of

PHOTON_LOSS_FACTOR = 10.0
FIBER_G_PER_FWHM = 0.652383013252053
INT32_MIN = -(2**31)


def _number(value: object) -> float:
    """A number or a 0-d tensor as a float, without its graph."""
    return float(value.detach()) if isinstance(value, torch.Tensor) else float(value)  # type: ignore[arg-type]


def _gauss_integral(x: float, y: float) -> float:
    return 0.125 * (math.erf(2 * x * math.sqrt(math.log(2))) * math.erf(y * math.sqrt(math.log(16)))
                    * math.sqrt(math.log(16) / math.log(2)))


def _over_pixel(spec: ResponseSpec, dx: int, dy: int) -> float:
    fwhm = _number(spec.psf_fwhm_px)
    if spec.psf == Psf.GAUSS:
        u, v, half = dx / fwhm, dy / fwhm, 1.0 / fwhm / 2.
        return (_gauss_integral(u + half, v + half) - _gauss_integral(u + half, v - half)
                - _gauss_integral(u - half, v + half) + _gauss_integral(u - half, v - half))
    g = fwhm * FIBER_G_PER_FWHM

    def integral(x: float, y: float) -> float:
        return math.atan((x * y) / (g * math.sqrt(g * g + x * x + y * y))) / 2.0 / math.pi

    return (integral(dx + 0.5, dy + 0.5) - integral(dx + 0.5, dy - 0.5)
            - integral(dx - 0.5, dy + 0.5) + integral(dx - 0.5, dy - 0.5))


def _radius_for(spec: ResponseSpec, photons: float, *, summary: bool) -> float:
    fwhm = _number(spec.psf_fwhm_px)
    lost = math.sqrt(photons) / PHOTON_LOSS_FACTOR
    if spec.psf == Psf.GAUSS:
        ratio = lost / photons
        depth = (-math.log(ratio) / math.log(4) / 2 if summary
                 else -math.log(ratio) / math.log(16))
        return math.nan if depth < 0 else 1 + math.ceil(math.sqrt(depth) * fwhm)
    return 1 + math.ceil(fwhm * FIBER_G_PER_FWHM * (photons / lost))


def _lost_beyond(spec: ResponseSpec, photons: float, radius: int) -> float:
    if spec.psf == Psf.GAUSS:
        rsq = radius / _number(spec.psf_fwhm_px)
        return photons * math.exp(-math.log(16) * (rsq * rsq))
    g = _number(spec.psf_fwhm_px) * FIBER_G_PER_FWHM
    return photons * g / math.sqrt(g * g + radius * radius)


def _clip(radius: int, widest: int) -> int:
    radius = 1 if radius == 0 else radius
    return min(radius, widest)


def _kernel_radius(spec: ResponseSpec, brightest: float, widest: int) -> tuple[int, int]:
    """As choose_radius in nb_response.c: (the kernel's radius, the radius given or chosen
    before the image clips it); INT32_MIN: every pixel too faint (c_parity)."""
    if spec.psf_radius_px > 0:
        return _clip(int(spec.psf_radius_px), widest), int(spec.psf_radius_px)
    if brightest <= 0.0:
        return 0, 0
    radius = _radius_for(spec, brightest, summary=True)
    if math.isnan(radius):
        chosen = INT32_MIN if spec.c_parity else 1
        return chosen, chosen
    chosen = int(min(radius, 2**31 - 1)) or 1
    return _clip(chosen, widest), chosen


def _kernel(spec: ResponseSpec, radius: int) -> dict[tuple[int, int], float]:
    """The original's kernel entries, a disc, with its libm functions."""
    return {(dx, dy): _over_pixel(spec, dx, dy)
            for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)
            if dx * dx + dy * dy <= radius * radius}


def _pixel_radii(spec: ResponseSpec, values: np.ndarray,
                 widest: int) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's radius (-1: not spread: at or below 0, or a NaN radius, or a
    negative given one) and the photons it loses beyond it, computed once per distinct
    value with the C engine's libm functions."""
    positive = values > 0.0
    distinct, inverse = np.unique(values[positive], return_inverse=True)
    radius_of = np.full(distinct.size, -1, dtype=np.int64)
    lost_of = np.zeros(distinct.size, dtype=np.float64)
    for n, value in enumerate(distinct.tolist()):
        if spec.psf_radius_px != 0:
            r = _clip(int(spec.psf_radius_px), widest)
        else:
            found = _radius_for(spec, value, summary=False)
            if math.isnan(found):
                continue  # the pixel vanishes
            r = _clip(int(min(found, 2**31 - 1)), widest)
        radius_of[n] = r
        lost_of[n] = _lost_beyond(spec, value, r)
    radii = np.full(values.size, -1, dtype=np.int64)
    lost = np.zeros(values.size, dtype=np.float64)
    radii[positive] = radius_of[inverse]
    lost[positive] = lost_of[inverse]
    return radii, lost


def _scatter_legacy(spec: ResponseSpec, image: torch.Tensor, radius: int,
                    kernel: dict[tuple[int, int], float]) -> tuple[torch.Tensor, float]:
    """quirk psf_radius_per_pixel, quirk psf_edge_wraps (see nb_response.c).  The offsets
    run one after another; an offset reaches the pixels whose radius holds it, a prefix
    of the pixels sorted by radius."""
    slow, fast = image.shape
    flat = image.detach().reshape(-1)
    radii, lost = _pixel_radii(spec, flat.cpu().numpy(), max(fast, slow))
    total_lost = float(np.cumsum(lost)[-1]) if lost.size else 0.0
    spread = np.nonzero(radii >= 0)[0]
    by_reach = spread[np.argsort(-radii[spread], kind="stable")]
    reach = radii[by_reach]
    sources = torch.as_tensor(by_reach, device=image.device)
    x0, y0 = sources % fast, sources // fast
    out = torch.zeros_like(flat)
    values = flat.to(torch.float64)
    offsets = sorted(((dx, dy) for (dx, dy), w in kernel.items() if w != 0.0),
                     key=lambda d: (-(d[1] * fast + d[0]), d[0], d[1]))
    for dx, dy in offsets:
        need = math.isqrt(dx * dx + dy * dy - 1) + 1 if dx or dy else 0
        count = int(np.searchsorted(-reach, -need, side="right"))
        if count == 0:
            continue
        i = sources[:count]
        x, y = x0[:count] + dx, y0[:count] + dy
        target = y * fast + x
        inside = (x >= 0) & (x <= fast) & (y >= 0) & (y <= slow) & (target < flat.numel())
        i, j = i[inside], target[inside]
        out[j] = (out[j].to(torch.float64) + values[i] * kernel[(dx, dy)]).to(out.dtype)
    return out.reshape(slow, fast), total_lost


def _corrected_kernel(spec: ResponseSpec, radius: int, device: torch.device) -> torch.Tensor:
    """The square kernel (2 radius + 1)^2 of the PSF integrated over each pixel, as
    tensors of the PSF width (which may carry a graph): the Gaussian as the product of
    one-dimensional integrals, the fiber PSF from its two-dimensional integral."""
    fwhm = torch.as_tensor(spec.psf_fwhm_px, dtype=torch.float64, device=device)
    d = torch.arange(-radius, radius + 1, dtype=torch.float64, device=device)
    if spec.psf == Psf.GAUSS:
        scale, half = math.sqrt(math.log(16)), 0.5 / fwhm
        line = (torch.special.erf(scale * (d / fwhm + half))
                - torch.special.erf(scale * (d / fwhm - half))) / 2.0
        square: torch.Tensor = line[:, None] * line[None, :]
        return square
    g = fwhm * FIBER_G_PER_FWHM
    y, x = d[:, None], d[None, :]

    def integral(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.atan((a * b) / (g * torch.sqrt(g * g + a * a + b * b))) / 2.0 / math.pi

    return (integral(x + 0.5, y + 0.5) - integral(x + 0.5, y - 0.5)
            - integral(x - 0.5, y + 0.5) + integral(x - 0.5, y - 0.5))


def _gather_corrected(spec: ResponseSpec, image: torch.Tensor,
                      radius: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The one square kernel on every pixel, zero beyond the edges, and the photons it
    misses (the image's sum times 1 minus the kernel's)."""
    kernel = _corrected_kernel(spec, radius, image.device)
    source = image.to(torch.float64)
    blurred = torch.nn.functional.conv2d(source[None, None], kernel.flip(0, 1)[None, None],
                                         padding=radius)[0, 0]
    return blurred, source.sum() * (1.0 - kernel.sum())


def apply_psf(spec: ResponseSpec, image: torch.Tensor) -> tuple[torch.Tensor, dict[str, object]]:
    """The blurred image and what the PSF reports (ResponseInfo's psf_ fields)."""
    slow, fast = image.shape
    brightest = max(float(image.detach().max()), 0.0) if image.numel() else 0.0
    radius, chosen = _kernel_radius(spec, brightest, max(fast, slow))
    info: dict[str, object] = {"psf_applied": True, "psf_max_photons": brightest,
                               "psf_radius_px": chosen, "lost_photons": 0.0}
    if radius == 0:
        return (image.clone() if not spec.c_parity else torch.zeros_like(image)), info
    if radius == INT32_MIN:
        return torch.zeros_like(image), info
    if spec.c_parity:
        out, lost = _scatter_legacy(spec, image, radius, _kernel(spec, radius))
        info["lost_photons"] = lost
        return (out.to(torch.float64) + lost / (slow * fast)).to(torch.float32), info
    blurred, missed = _gather_corrected(spec, image, radius)
    info["lost_photons"] = _number(missed)
    return (blurred + missed / (slow * fast)).to(torch.float32), info


def _legacy_pixels(adu: torch.Tensor, bits: int) -> torch.Tensor:
    """quirk negative_adu_wraps (see nb_response.c)."""
    if bits == 16:
        inside = (adu > -2147483649.0) & (adu < 2147483648.0)
        t = torch.where(inside, torch.trunc(torch.nan_to_num(adu)), float(INT32_MIN))
        return t.to(torch.int64) & 0xFFFF
    inside = (adu > -9.223372036854775808e18) & (adu < 9.223372036854775808e18)
    t = torch.where(inside, torch.trunc(torch.nan_to_num(adu)), -9.223372036854775808e18)
    return t.to(torch.int64) & 0xFFFFFFFF


def _corrected_pixels(adu: torch.Tensor, bits: int) -> torch.Tensor:
    top = 65535.0 if bits == 16 else 2147483647.0
    return torch.trunc(torch.clamp(torch.nan_to_num(adu, nan=0.0), 0.0, top)).to(torch.int64)


def _pixels(spec: ResponseSpec, adu: torch.Tensor) -> np.ndarray:
    values = (_legacy_pixels(adu, spec.bits) if spec.c_parity
              else _corrected_pixels(adu, spec.bits))
    return pixels_of(values.cpu().numpy(), spec.bits)


def _expected_image(spec: ResponseSpec, signal: torch.Tensor) -> tuple[np.ndarray, torch.Tensor]:
    """The noiseless pixels and their values before they become pixels.
    quirk int32_expected_clipped (see nb_response.c)."""
    adu = signal.to(torch.float64) * spec.gain_adu_per_photon + spec.adc_offset_adu
    pixels = torch.clamp(adu.detach(), max=65535.0) if spec.c_parity else adu.detach()
    return _pixels(spec, pixels), adu


def _corrected_counts(spec: ResponseSpec, photons: torch.Tensor,
                      shot: torch.Generator) -> torch.Tensor:
    """quirk calibration_follows_shot_seed: corrected, the calibration error has a
    generator of its own (c_parity draws from the legacy stream, nb_response.c)."""
    expected = photons.to(torch.float64)
    if spec.flicker > 0.0:
        expected = expected * (1.0 + spec.flicker * torch.randn(
            expected.shape, generator=shot, dtype=torch.float64, device=expected.device))
    if spec.calibration > 0.0:
        calibration = torch.Generator(device=expected.device)
        calibration.manual_seed(abs(int(spec.calibration_seed)))
        expected = expected * (1.0 + spec.calibration * torch.randn(
            expected.shape, generator=calibration, dtype=torch.float64, device=expected.device))
    counts = torch.poisson(torch.clamp(torch.nan_to_num(expected), min=0.0), generator=shot)
    return counts.to(torch.float32)


def detector_response(image: torch.Tensor, spec: ResponseSpec, rng: LegacyRandom, *,
                      at: Placement) -> ResponseImage:
    """The noiseless and noisy images of ``image`` (slow, fast) in photons' units."""
    values = image.to(device=at.device, dtype=torch.float32)
    max_value = max(float(values.detach().max()), 0.0) if values.numel() else 0.0
    photons = (spec.photons_per_value * values.to(torch.float64)).to(torch.float32)
    blur = spec.psf != Psf.NONE and _number(spec.psf_fwhm_px) > 0.0
    info: dict[str, object] = {"max_value": max_value, "photons_before_psf": 0.0,
                               "photons": 0.0, "overloads": 0, "psf_applied": False,
                               "psf_max_photons": 0.0, "psf_radius_px": 0, "lost_photons": 0.0}
    signal = photons
    if not spec.noise and blur:
        signal, psf_info = apply_psf(spec, photons)
        info.update(psf_info)
    expected, adu_values = _expected_image(spec, signal)
    expected_adu = adu_values if spec.expected_adu else None
    if not spec.noise:
        return ResponseImage(expected=expected, expected_adu=expected_adu, noisy=None,
                             info=ResponseInfo(**info))  # type: ignore[arg-type]
    shot = torch.Generator(device=at.device)
    shot.manual_seed(abs(int(spec.seed)))
    photons = photons.detach()
    if spec.c_parity:
        counts_np, before, seed = response_shot_noise(photons.cpu().numpy(), spec, rng)
        counts = torch.as_tensor(counts_np, device=at.device)
    else:
        counts = _corrected_counts(spec, photons, shot)
        before, seed = float(counts.to(torch.float64).sum()), int(spec.seed)
    info["photons_before_psf"] = before
    signal = counts
    if blur:
        signal, psf_info = apply_psf(spec, counts)
        info.update(psf_info)
    adu = (signal.detach().to(torch.float64) * _number(spec.gain_adu_per_photon)
           + _number(spec.adc_offset_adu))
    if spec.readout_adu > 0.0:
        if spec.c_parity:
            deviates = torch.as_tensor(response_readout_deviates(signal.numel(), seed, rng),
                                       device=at.device).reshape(signal.shape)
        else:
            deviates = torch.randn(signal.shape, generator=shot, dtype=torch.float32,
                                   device=at.device)
        adu = adu + spec.readout_adu * deviates.to(torch.float64)
    top = 65535.0 if spec.bits == 16 else 2147483647.0
    info["overloads"] = int((adu > top).sum())
    info["photons"] = float(np.cumsum(signal.to(torch.float64).cpu().numpy())[-1])
    noisy = _pixels(spec, torch.clamp(adu, max=top))
    return ResponseImage(expected=expected, expected_adu=expected_adu, noisy=noisy,
                         info=ResponseInfo(**info))  # type: ignore[arg-type]
