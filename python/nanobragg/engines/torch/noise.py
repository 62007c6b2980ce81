"""add_noise: Poisson photon counts plus the ADC offset, as 16-bit pixels.

c_parity draws from the legacy generator (shared with the C engine: it is
sequential by nature, so the same seed gives the original's image).  The
corrected mode samples on the image's device with torch's Poisson sampler and
a generator seeded from the noise seed: reproducible per seed and device."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from nanobragg import _core


def add_noise(image: Any, roi: tuple[int, int, int, int], *, adc_offset: float, seed: int,
              rng: Any, c_parity: bool) -> tuple[np.ndarray, float, int]:
    """Noise image (uint16, slow x fast), total photons and overloaded pixels (ROI only)."""
    if c_parity or not isinstance(image, torch.Tensor):
        plain = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else image
        return _core.add_noise(np.asarray(plain, dtype=np.float32), list(roi), adc_offset, seed,
                               rng)
    mean = image.detach().to(torch.float32)
    generator = torch.Generator(device=mean.device)
    generator.manual_seed(abs(int(seed)))
    counts = torch.poisson(torch.clamp(mean, min=0.0), generator=generator)
    xmin, xmax, ymin, ymax = roi
    inside = torch.zeros_like(mean, dtype=torch.bool)
    inside[max(ymin, 0):ymax + 1, max(xmin, 0):xmax + 1] = True
    photons = float(counts[inside].to(torch.float64).sum())
    value = counts.to(torch.float64) + adc_offset
    overloads = int((inside & (value > 65535.0)).sum())
    value = torch.clamp(value, 0.0, 65535.0)
    out = torch.where(inside, value, torch.zeros_like(value)).to(torch.int32)
    return out.cpu().numpy().astype(np.uint16), photons, overloads
