"""add_noise: Poisson photon counts plus the ADC offset, as 16-bit pixels (as
``nb_noise.c``).

c_parity draws from the legacy generator (shared with the C engine: it is sequential
by nature, so the same seed gives the original's image).  The corrected mode samples
on the image's device with torch's Poisson sampler and a generator seeded from the
noise seed: reproducible per seed and device."""

from __future__ import annotations

import numpy as np
import torch

from nanobragg.legacy_random import LegacyRandom, poisson_noise
from nanobragg.stages import NoiseImage, NoiseSpec, to_numpy


def add_noise(image: torch.Tensor, spec: NoiseSpec, rng: LegacyRandom) -> NoiseImage:
    """Noise image (uint16, slow x fast), total photons and overloaded pixels (ROI only)."""
    if spec.c_parity:
        return poisson_noise(to_numpy(image), spec, rng)
    mean = image.detach().to(torch.float32)
    generator = torch.Generator(device=mean.device)
    generator.manual_seed(abs(int(spec.seed)))
    counts = torch.poisson(torch.clamp(mean, min=0.0), generator=generator)
    inside = torch.zeros_like(mean, dtype=torch.bool)
    inside[max(spec.roi_ymin, 0):spec.roi_ymax + 1, max(spec.roi_xmin, 0):spec.roi_xmax + 1] = True
    photons = float(counts[inside].to(torch.float64).sum())
    value = counts.to(torch.float64) + spec.adc_offset
    overloads = int((inside & (value > 65535.0)).sum())
    value = torch.clamp(value, 0.0, 65535.0)
    out = torch.where(inside, value, torch.zeros_like(value)).to(torch.int32)
    return NoiseImage(out.cpu().numpy().astype(np.uint16), photons, overloads)
