"""crystal_vectors: the crystal's real and reciprocal axes at phi = 0 and its size.

``CrystalSpec`` is what the stage reads: a unit cell and/or an orientation matrix, the
misset, the crystal size (in cells, or in metres which sets the cells); ``CrystalVectors``
what it gives.  Mirrored by ``nb_crystal_spec`` and ``nb_crystal_vectors`` in
``csrc/engine/nanobragg.h``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nanobragg.config import Config
from nanobragg.sampling import RTD
from nanobragg.stages.fields import scaled, vector

if TYPE_CHECKING:
    from nanobragg.stages.fields import Array, Real


@dataclass(frozen=True)
class CrystalSpec:
    c_parity: bool
    cell_lengths_A: Array | None
    """a, b, c; None: no cell (the matrix gives it).  An entry <= 0 is the original's
    default: b and c equal to a."""
    cell_angles_rad: Array | None
    """alpha, beta, gamma; an entry <= 0 is 90 degrees."""
    matrix: Array | None
    """The MOSFLM A matrix as read (row i: component i of a*, b*, c*, times the
    wavelength in Angstrom), or None."""
    wavelength_m: Real
    """The wavelength the matrix was written for (it divides the matrix)."""
    misset_rad: Array | None
    """Rotations about x, y and z applied to the reciprocal axes, or None."""
    misset_random: bool
    misset_seed: int
    """The original's internal (negated) seed of a random misset."""
    sample_size_m: Array
    """Crystal size along a, b, c (the original's x, y, z sizes, y and z clipped to the
    beam); a nonzero entry sets N along that axis."""
    N_cells: Array


@dataclass(frozen=True)
class CrystalVectors:
    a_m: Array
    """Real axes at phi = 0, before any mosaic rotation."""
    b_m: Array
    c_m: Array
    a_star_per_A: Array
    b_star_per_A: Array
    c_star_per_A: Array
    cell_lengths_A: Array
    cell_angles_rad: Array
    reciprocal_lengths_per_A: Array
    reciprocal_angles_rad: Array
    volume_A3: Real
    misset_rad: Array
    """The misset applied (zero when none)."""
    N_cells: Array
    size_m: Array
    """Crystal size along a, b and c."""


def clipped_sample_size_mm(config: Config) -> tuple[float, float, float]:
    """Crystal size (mm) with its y and z clipped to the beam size, as the original does."""
    x, y, z = (float(v) for v in config.crystal.size_mm)
    beamsize = float(config.beam.beamsize_mm)
    if beamsize >= 0:
        y = min(y, beamsize)
        z = min(z, beamsize)
    return (x, y, z)


def crystal_spec(config: Config, *, c_parity: bool, matrix: np.ndarray | None,
                 wavelength_m: Any, misset_seed: int) -> CrystalSpec:
    crystal = config.crystal
    lengths = angles = None
    if crystal.cell is not None:
        cell = vector(crystal.cell, 6, pad=0.0)
        lengths, angles = cell[:3], scaled(cell[3:], RTD)
    return CrystalSpec(
        c_parity=c_parity,
        cell_lengths_A=lengths,
        cell_angles_rad=angles,
        matrix=matrix,
        wavelength_m=wavelength_m,
        misset_rad=None if crystal.misset_deg is None else scaled(vector(crystal.misset_deg),
                                                                  RTD),
        misset_random=bool(crystal.misset_random),
        misset_seed=misset_seed,
        sample_size_m=np.asarray(clipped_sample_size_mm(config)) / 1000.0,
        N_cells=vector(crystal.N_cells),
    )
