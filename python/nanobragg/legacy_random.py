"""The original program's random generator, shared by both engines.

Random missets, mosaic domains and (with c_parity) noise come from one generator whose
shuffle table is shared by every seed of a run, as in the original; drawing in the
original's order reproduces its images.  It is sequential by nature and lives in the C
library; the torch engine draws from it here, never through the C engine's stages."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from nanobragg import _core
from nanobragg.stages.mosaic import MosaicSpec
from nanobragg.stages.noise import NoiseImage, NoiseSpec

if TYPE_CHECKING:
    from nanobragg.stages.response import ResponseSpec

LegacyRandom = _core.LegacyRandom


def random_misset(c_parity: bool, seed: int, rng: LegacyRandom) -> np.ndarray:
    """Rotations about x, y and z (radians) of a random orientation
    (quirk random_misset_cap_in_radians: the C library's nb_random_misset draws it as the
    mode says)."""
    return np.asarray(_core.random_misset(c_parity, seed, rng), dtype=np.float64)


def mosaic_axes(spec: MosaicSpec, rng: LegacyRandom) -> tuple[np.ndarray, np.ndarray]:
    """The unit axes (domains, 3) and angles (domains,) of the mosaic domains, the first
    angle 0."""
    return _core.mosaic_axes(spec, rng)


def poisson_noise(image: np.ndarray, spec: NoiseSpec, rng: LegacyRandom) -> NoiseImage:
    """Poisson counts of a float image with the legacy generator, pixel by pixel in image
    order."""
    counts, photons, overloads = _core.add_noise(np.asarray(image, dtype=np.float32), spec, rng)
    return NoiseImage(counts, float(photons), int(overloads))


def response_shot_noise(photons: np.ndarray, spec: ResponseSpec,
                        rng: LegacyRandom) -> tuple[np.ndarray, float, int]:
    """The detector response's random pass in the legacy generator's order: each pixel's
    photons after beam flicker and calibration error, as Poisson counts (float32); their
    sum; the noise seed after it (the read-out noise goes on from there)."""
    counts, total, seed = _core.response_shot_noise(np.asarray(photons, dtype=np.float32),
                                                    spec, rng)
    return counts, float(total), int(seed)


def response_readout_deviates(pixels: int, seed: int, rng: LegacyRandom) -> np.ndarray:
    """The read-out noise's unit Gaussian deviates, one per pixel (float32)."""
    return np.asarray(_core.response_readout_deviates(pixels, seed, rng))
