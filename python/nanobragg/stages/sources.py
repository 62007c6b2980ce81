"""sources: the incident beam as a set of point sources.

``SourceSpec`` is what the stage reads: the central wavelength and beam axes, and the
divergence and dispersion grids (or, given separately, a table of sources from a
file); ``Sources`` what it gives.  Mirrored by ``nb_source_spec`` in
``csrc/engine/nanobragg.h``; the C engine returns the three arrays of ``Sources``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nanobragg.config import Config
from nanobragg.sampling import Sampling
from nanobragg.stages.fields import scaled

if TYPE_CHECKING:
    from nanobragg.stages.fields import Array, Real
    from nanobragg.stages.geometry import DetectorGeometry

SOURCE_DISTANCE_M = 10.0
"""How far from the sample the original places its sources."""


@dataclass(frozen=True)
class SourceSpec:
    wavelength_m: Real
    """The central wavelength."""
    beam: Array
    polar: Array
    vert: Array
    """beam x polar: horizontal divergence turns about it, vertical about polar."""
    hdiv_steps: int
    vdiv_steps: int
    dispersion_steps: int
    hdiv_range_rad: float
    hdiv_step_rad: float
    vdiv_range_rad: float
    vdiv_step_rad: float
    dispersion_range: float
    """Full width of the spectrum, as a fraction of the central wavelength."""
    dispersion_step: float
    round_div: bool
    """Keep only the divergence grid points inside its ellipse."""
    source_distance_m: float


@dataclass(frozen=True)
class Sources:
    direction: Array
    """(n, 3) unit vectors from the sample towards each source."""
    wavelength_m: Array
    """(n,)"""
    weight: Array
    """(n,) as given (a file's weights; 1/n for a grid)."""
    divergence_steps: int
    """Grid points inside the divergence ellipse (0 for a table)."""


def wavelength_m(config: Config) -> Real:
    """The central wavelength (given as a tensor, a float64 tensor with its graph)."""
    wavelength: Real = scaled(config.beam.wavelength_A, 1e10)
    return wavelength


def source_spec(sampling: Sampling, geometry: DetectorGeometry, *, wavelength_m: Any,
                round_div: bool) -> SourceSpec:
    return SourceSpec(
        wavelength_m=wavelength_m,
        beam=geometry.beam,
        polar=geometry.polar,
        vert=geometry.vert,
        hdiv_steps=sampling.hdiv.steps,
        vdiv_steps=sampling.vdiv.steps,
        dispersion_steps=sampling.dispersion.steps,
        hdiv_range_rad=sampling.hdiv.range,
        hdiv_step_rad=sampling.hdiv.step,
        vdiv_range_rad=sampling.vdiv.range,
        vdiv_step_rad=sampling.vdiv.step,
        dispersion_range=sampling.dispersion.range,
        dispersion_step=sampling.dispersion.step,
        round_div=bool(round_div),
        source_distance_m=SOURCE_DISTANCE_M,
    )


def _axis_terms(step: float, range_: float, steps: int) -> np.ndarray:
    """One axis's share of the divergence ellipse test at each of its grid points, in the
    engines' IEEE arithmetic (NaN where the range is 0)."""
    with np.errstate(all="ignore"):
        angle = step * np.arange(steps, dtype=np.float64) - range_ / 2.0
        return ((angle * angle - step * step / 4.0 * (1 - steps % 2))
                / np.float64(range_) / np.float64(range_))


def source_count(spec: SourceSpec) -> int:
    """The number of sources the grid of ``spec`` makes, as both engines' sources stage
    makes them (the divergence points inside the ellipse times the wavelengths), counted
    without making them: a grid too big for the work limit is refused before the stage
    allocates it.

    A point (h, v) is cut when (A[h] + B[v]) * 4 > 1.1, with A and B the axes' shares
    (:func:`_axis_terms`).  For a given A that test only grows with B (a NaN B or sum
    keeps the point), so the points kept are those of the sorted Bs before the first one
    cut, found by bisection for every A at once."""
    h_steps, v_steps = int(spec.hdiv_steps), int(spec.vdiv_steps)
    points = max(h_steps, 0) * max(v_steps, 0)
    if spec.round_div and points:
        a = _axis_terms(float(spec.hdiv_step_rad), float(spec.hdiv_range_rad), h_steps)
        b = _axis_terms(float(spec.vdiv_step_rad), float(spec.vdiv_range_rad), v_steps)
        b_nan = int(np.isnan(b).sum())
        b = np.sort(b[~np.isnan(b)])
        low, high = np.zeros(len(a), dtype=np.int64), np.full(len(a), len(b))
        with np.errstate(all="ignore"):
            while (low < high).any():
                middle = (low + high) // 2
                cut = ((a + b[np.minimum(middle, len(b) - 1)]) * 4.0 > 1.1) & (low < high)
                high = np.where(cut, middle, high)
                low = np.where(cut | (low >= high), low, middle + 1)
        points = int(low.sum()) + b_nan * len(a)
    return points * max(int(spec.dispersion_steps), 0)
