"""amorphous: the scattering of a disordered sample (water, air, a solvent).

``AmorphousSpec`` is what the stage reads (the placed detector, the sample, the beam and
the sampling; mirrored by ``nb_amorphous_spec`` in ``csrc/engine/nanobragg.h``),
``StolTable`` the structure factor F of one molecule against sin(θ)/λ as the engines
interpolate it, and ``AmorphousImage`` what the stage gives.  The sources come from the
shared ``sources`` stage (:class:`~nanobragg.stages.sources.Sources`), with the weight
each term is multiplied by."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from nanobragg.stages.fields import Array, Real

AVOGADRO_PER_MOL = 6.02214179e23
"""Avogadro's number as the original has it."""
R_E_SQR_M2 = 7.94079248018965e-30
"""The Thomson cross section r_e² as the original has it."""
FAR_STOL_PER_M = (1e98, 1e99)
"""The original's two far points added at each end of a legacy table."""


@dataclass(frozen=True)
class AmorphousSpec:
    c_parity: bool
    fpixels: int
    spixels: int
    pixel_size_m: float
    oversample: int
    """Sub-pixels along each pixel edge."""
    fdet: Array
    sdet: Array
    pix0_m: Array
    beam: Array
    polar: Array
    distance_m: Real
    close_distance_m: Real
    Fbeam_m: Real
    """Where the beam meets the detector, along fast from pix0."""
    Sbeam_m: Real
    curved_detector: bool
    point_pixel: bool
    nopolar: bool
    polarization: float
    """The Kahn polarization factor (0: unpolarized)."""
    roi_xmin: int
    roi_xmax: int
    roi_ymin: int
    roi_ymax: int
    r_e_sqr_m2: float
    fluence_per_m2: Real
    molecules: Real
    """Molecules in the illuminated sample."""
    Fmap: bool
    """Each pixel holds the F of its last term instead of photons."""


@dataclass(frozen=True)
class StolTable:
    stol_per_m: Array
    """(n,) sin(θ)/λ of each row; corrected: strictly increasing, n >= 4; legacy: the rows
    as read, with the original's two far points before and after them."""
    F: Array
    """(n,) F at each row (electrons)."""


@dataclass(frozen=True)
class AmorphousImage:
    image: Array
    """(slow, fast) photons per pixel (float64; the original stores float32)."""
    omega_sum_sr: float
    """The solid angles of every sub-pixel rendered, summed."""
    steps: int
    """Terms per pixel the sum is divided by: sources x oversample²."""


def stol_table(rows: np.ndarray, *, multiplier: float, c_parity: bool,
               source: str = "stol table") -> StolTable:
    """The engines' table from rows (n, 2) of (sin(θ)/λ in the file's unit, F) read from
    ``source``; ``multiplier`` turns the first column into 1/m (1e10 for 1/Å).

    quirk stol_table_end_points: legacy keeps the rows as read (a missing F is 0) between
    two far points at each end holding the first and last F given; corrected, the rows
    must rise strictly and be at least four, every F given."""
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, 2)
    stol = rows[:, 0] * multiplier
    F = rows[:, 1].copy()
    if c_parity:
        given = F[~np.isnan(F)]
        low = given[0] if len(given) else math.nan
        high = given[-1] if len(given) else math.nan
        F[np.isnan(F)] = 0.0
        far_low, far_high = FAR_STOL_PER_M
        return StolTable(
            stol_per_m=np.concatenate(([-far_high, -far_low], stol, [far_low, far_high])),
            F=np.concatenate(([low, low], F, [high, high])))
    if len(rows) < 4:
        raise ValueError(f"{source}: {len(rows)} row(s); the four-point interpolation "
                         "needs at least 4 rows of sin(theta)/lambda and F")
    bad = np.flatnonzero(~np.isfinite(rows).all(axis=1))
    if len(bad):
        raise ValueError(f"{source}: row {bad[0] + 1} is not two finite numbers "
                         "(sin(theta)/lambda and F)")
    falls = np.flatnonzero(np.diff(stol) <= 0)
    if len(falls):
        i = falls[0]
        raise ValueError(f"{source}: sin(theta)/lambda {rows[i + 1, 0]!r} in row {i + 2} "
                         f"does not rise above {rows[i, 0]!r} in row {i + 1}; expected a "
                         "strictly increasing first column")
    return StolTable(stol_per_m=stol, F=F)
