"""add_noise: the image a photon-counting detector would record.

``NoiseSpec`` is what the stage reads (mirrored by ``nb_noise_spec`` in
``csrc/engine/nanobragg.h``), ``NoiseImage`` what it gives."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class NoiseSpec:
    c_parity: bool
    """The C engine draws from the legacy generator in both modes; the torch engine only
    with c_parity (else from a torch generator on the image's device)."""
    roi_xmin: int
    roi_xmax: int
    roi_ymin: int
    roi_ymax: int
    adc_offset: float
    seed: int
    """The original's internal (negated) noise seed."""


@dataclass(frozen=True)
class NoiseImage:
    counts: np.ndarray
    """(slow, fast) uint16: Poisson photon counts plus the ADC offset, clipped to
    0..65535, inside the region of interest; 0 outside it."""
    photons: float
    """Photons counted inside the region of interest."""
    overloads: int
    """Pixels clipped at 65535."""
