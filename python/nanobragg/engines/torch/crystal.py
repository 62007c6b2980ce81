"""crystal_vectors: real and reciprocal cell vectors from a cell or a MOSFLM
matrix, the misset rotation, and the crystal size in cells (as ``nb_crystal.c``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from nanobragg.config import as_floats
from nanobragg.engines.torch.vectors import (
    DBL_MIN,
    Placement,
    cross,
    dot,
    norm,
    rescale,
    rotate_xyz,
)
from nanobragg.legacy_random import random_misset
from nanobragg.stages import CrystalSpec, CrystalVectors, to_numpy


def _clamp_unit(v: torch.Tensor) -> torch.Tensor:
    return torch.clamp(v, -1.0, 1.0)


def _clamp_cos(v: torch.Tensor) -> torch.Tensor:
    return torch.where(v * v > 1.0, torch.ones_like(v), v)


def _positive(v: torch.Tensor) -> torch.Tensor:
    return torch.where(v <= 0, torch.full_like(v, DBL_MIN), v)


def reciprocal_from_cell(cell: list[torch.Tensor], *, c_parity: bool
                         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Reciprocal vectors in the standard setting (a* along x, b* in the xy plane)."""
    a, b, c, alpha, beta, gamma = cell
    half = (alpha + beta + gamma) / 2
    skew = torch.abs(torch.sin(half) * torch.sin(half - alpha) * torch.sin(half - beta)
                     * torch.sin(half - gamma))
    V_cell = _positive(2.0 * a * b * c * torch.sqrt(skew))
    V_star = 1.0 / V_cell
    a_s = _positive(torch.abs(b * c * torch.sin(alpha) * V_star))
    b_s = _positive(torch.abs(c * a * torch.sin(beta) * V_star))
    c_s = _positive(torch.abs(a * b * torch.sin(gamma) * V_star))
    sin_gs = _clamp_unit(c * V_star / a_s / b_s)
    cos_as = _clamp_cos((torch.cos(beta) * torch.cos(gamma) - torch.cos(alpha))
                        / (torch.sin(beta) * torch.sin(gamma)))
    cos_bs = _clamp_cos((torch.cos(gamma) * torch.cos(alpha) - torch.cos(beta))
                        / (torch.sin(gamma) * torch.sin(alpha)))
    cos_gs = _clamp_cos((torch.cos(alpha) * torch.cos(beta) - torch.cos(gamma))
                        / (torch.sin(alpha) * torch.sin(beta)))
    zero = torch.zeros_like(a)
    # quirk triclinic_cstar_z: the original's z component is off by sin(gamma)/sin(gamma*)
    # relative to 1/c (c is along z here), which bends the cell angles
    c_star_z = c_s * V_cell / (a * b * c * sin_gs) if c_parity else 1.0 / c
    a_star = torch.stack((a_s, zero, zero))
    b_star = torch.stack((b_s * cos_gs, b_s * sin_gs, zero))
    c_star = torch.stack((c_s * cos_bs, c_s * (cos_as - cos_bs * cos_gs) / sin_gs, c_star_z))
    return V_cell, a_star, b_star, c_star


def _cell_angle(u: torch.Tensor, v: torch.Tensor, w_length: torch.Tensor,
                volume: torch.Tensor) -> torch.Tensor:
    sine = _clamp_unit(w_length * volume / norm(u) / norm(v))
    cosine = _clamp_cos(dot(u, v) / norm(u) / norm(v))
    return torch.atan2(sine, cosine)


def _cell_values(spec: CrystalSpec, at: Placement) -> list[torch.Tensor]:
    """The six cell numbers, defaults filled in as the original does (b, c = a; 90 deg)."""
    lengths, angles = at.tensor(spec.cell_lengths_A), at.tensor(spec.cell_angles_rad)
    plain = as_floats(to_numpy(spec.cell_lengths_A), 3) + as_floats(
        to_numpy(spec.cell_angles_rad), 3)
    out = list(lengths.unbind()) + list(angles.unbind())
    for i in (1, 2):
        if plain[i] <= 0:
            out[i] = out[0]
    for i in (3, 4, 5):
        if plain[i] <= 0:
            out[i] = at.scalar(math.pi / 2)
    return out


def crystal_vectors(spec: CrystalSpec, rng: Any, *, at: Placement) -> CrystalVectors:
    """Real (metres) and reciprocal (1/Angstrom) cell vectors at phi = 0, and N."""
    has_cell = spec.cell_lengths_A is not None
    zero = at.tensor((0.0, 0.0, 0.0))
    a_star = b_star = c_star = zero
    V_cell = at.scalar(0.0)
    if has_cell:
        cell = _cell_values(spec, at)
        V_cell, a_star, b_star, c_star = reciprocal_from_cell(cell, c_parity=spec.c_parity)
    if spec.matrix is not None:
        scale = 1e-10 / at.tensor(spec.wavelength_m)
        m = at.tensor(spec.matrix).reshape(3, 3)
        a_star, b_star, c_star = scale * m[:, 0], scale * m[:, 1], scale * m[:, 2]

    misset = None
    if spec.misset_rad is not None:
        misset = at.tensor(spec.misset_rad)
    if spec.misset_random:
        # quirk random_misset_cap_in_radians: drawn by the C library from the legacy
        # generator, capped as the mode says
        misset = at.tensor(random_misset(spec.c_parity, spec.misset_seed, rng))
    if misset is not None:
        a_star, b_star, c_star = (rotate_xyz(v, misset[0], misset[1], misset[2])
                                  for v in (a_star, b_star, c_star))
    else:
        misset = zero

    axb, bxc, cxa = cross(a_star, b_star), cross(b_star, c_star), cross(c_star, a_star)
    V_star = dot(a_star, bxc)
    if has_cell:
        # a user cell fixes the lengths whatever the matrix said
        bxc = rescale(bxc, cell[0] / V_cell)
        cxa = rescale(cxa, cell[1] / V_cell)
        axb = rescale(axb, cell[2] / V_cell)
        V_star = 1.0 / V_cell
    V_cell = 1.0 / V_star
    a, b, c = bxc * V_cell, cxa * V_cell, axb * V_cell
    a_star, b_star, c_star = cross(b, c) * V_star, cross(c, a) * V_star, cross(a, b) * V_star

    reciprocal_lengths = torch.stack((norm(a_star), norm(b_star), norm(c_star)))
    reciprocal_angles = torch.stack((_cell_angle(b_star, c_star, norm(a), V_star),
                                     _cell_angle(a_star, c_star, norm(b), V_star),
                                     _cell_angle(a_star, b_star, norm(c), V_star)))
    lengths = torch.stack((norm(a), norm(b), norm(c)))
    angles = torch.stack((_cell_angle(b, c, norm(a_star), V_cell),
                          _cell_angle(a, c, norm(b_star), V_cell),
                          _cell_angle(a, b, norm(c_star), V_cell)))
    a, b, c = a * 1e-10, b * 1e-10, c * 1e-10
    N, size = _size_in_cells(spec, (a, b, c), at)
    return CrystalVectors(
        a_m=a, b_m=b, c_m=c, a_star_per_A=a_star, b_star_per_A=b_star, c_star_per_A=c_star,
        cell_lengths_A=lengths, cell_angles_rad=angles,
        reciprocal_lengths_per_A=reciprocal_lengths, reciprocal_angles_rad=reciprocal_angles,
        volume_A3=V_cell, misset_rad=misset, N_cells=N, size_m=size)


def _size_in_cells(spec: CrystalSpec, axes: tuple[torch.Tensor, ...],
                   at: Placement) -> tuple[torch.Tensor, torch.Tensor]:
    """N along each axis (a crystal size sets it; at least 1) and the size it makes."""
    sample = as_floats(to_numpy(spec.sample_size_m), 3)
    N_given = at.tensor(spec.N_cells)
    N, size = [], []
    for i, axis in enumerate(axes):
        length = norm(axis)
        n = N_given[i]
        if sample[i] > 0:
            # C's arithmetic: an infinite size or a zero length gives N = inf, not a raise
            with np.errstate(all="ignore"):
                n = at.scalar(float(np.ceil(np.float64(sample[i]) / float(length))))
        n = torch.where(n <= 1.0, torch.ones_like(n), n)
        N.append(n)
        size.append(length * n)
    return torch.stack(N), torch.stack(size)
