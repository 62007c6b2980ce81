"""crystal_vectors: real and reciprocal cell vectors from a cell or a MOSFLM
matrix, the misset rotation, and the crystal size in cells."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from nanobragg import _core
from nanobragg.config import Config, as_floats
from nanobragg.engines.torch.vectors import (
    DBL_MIN,
    Placement,
    cross,
    dot,
    norm,
    rescale,
    rotate_xyz,
)
from nanobragg.sampling import RTD


def _clamp_unit(v: torch.Tensor) -> torch.Tensor:
    return torch.clamp(v, -1.0, 1.0)


def _clamp_cos(v: torch.Tensor) -> torch.Tensor:
    return torch.where(v * v > 1.0, torch.ones_like(v), v)


def _positive(v: torch.Tensor) -> torch.Tensor:
    return torch.where(v <= 0, torch.full_like(v, DBL_MIN), v)


def reciprocal_from_cell(cell: list[torch.Tensor], *, c_parity: bool):
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
    # triclinic_cstar_z
    c_star_z = c_s * V_cell / (a * b * c * sin_gs) if c_parity else 1.0 / c
    a_star = torch.stack((a_s, zero, zero))
    b_star = torch.stack((b_s * cos_gs, b_s * sin_gs, zero))
    c_star = torch.stack((c_s * cos_bs, c_s * (cos_as - cos_bs * cos_gs) / sin_gs, c_star_z))
    return V_cell, a_star, b_star, c_star


def _cell_angle(u, v, w_length, volume):
    sine = _clamp_unit(w_length * volume / norm(u) / norm(v))
    cosine = _clamp_cos(dot(u, v) / norm(u) / norm(v))
    return torch.atan2(sine, cosine)


def _cell_values(config: Config, at: Placement) -> list[torch.Tensor]:
    """The six cell numbers, defaults filled in as the original does (b, c = a; 90 deg)."""
    cell = config.crystal.cell
    values = list(cell)[:6]
    plain = as_floats(cell, len(cell))
    out = [at.tensor(values[i]) for i in range(6)]
    for i in (1, 2):
        if plain[i] <= 0:
            out[i] = out[0]
    for i in (3, 4, 5):
        out[i] = out[i] / RTD if plain[i] > 0 else at.scalar(math.pi / 2)
    return out


def crystal_vectors(config: Config, rng: Any, *, c_parity: bool, lambda0: Any, matrix: Any,
                    misset_seed: int, at: Placement) -> dict[str, Any]:
    """Real (metres) and reciprocal (1/Angstrom) cell vectors at phi = 0, and N."""
    crystal = config.crystal
    has_cell = crystal.cell is not None
    zero = at.tensor((0.0, 0.0, 0.0))
    a_star = b_star = c_star = zero
    V_cell = at.scalar(0.0)
    if has_cell:
        cell = _cell_values(config, at)
        V_cell, a_star, b_star, c_star = reciprocal_from_cell(cell, c_parity=c_parity)
    if matrix is not None:
        scale = 1e-10 / at.tensor(lambda0)
        m = at.tensor(np.asarray(matrix, dtype=float).reshape(3, 3))
        a_star, b_star, c_star = scale * m[:, 0], scale * m[:, 1], scale * m[:, 2]

    misset = None
    if crystal.misset_deg is not None:
        misset = at.tensor(crystal.misset_deg) / RTD
    if crystal.misset_random:
        misset = at.tensor(_core.random_misset(int(c_parity), misset_seed, rng))
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

    reciprocal_cell = (norm(a_star), norm(b_star), norm(c_star),
                       _cell_angle(b_star, c_star, norm(a), V_star),
                       _cell_angle(a_star, c_star, norm(b), V_star),
                       _cell_angle(a_star, b_star, norm(c), V_star))
    out_cell = (norm(a), norm(b), norm(c), _cell_angle(b, c, norm(a_star), V_cell),
                _cell_angle(a, c, norm(b_star), V_cell), _cell_angle(a, b, norm(c_star), V_cell))
    a, b, c = a * 1e-10, b * 1e-10, c * 1e-10

    sample = [float(v) / 1000.0 for v in crystal.size_mm]
    N_given = at.tensor(crystal.N_cells)
    N, size = [], []
    for i, axis in enumerate((a, b, c)):
        length = norm(axis)
        n = N_given[i]
        if sample[i] > 0:
            n = at.scalar(math.ceil(sample[i] / float(length)))
        n = torch.where(n <= 1.0, torch.ones_like(n), n)
        N.append(n)
        size.append(length * n)
    return {"a": a, "b": b, "c": c, "a_star": a_star, "b_star": b_star, "c_star": c_star,
            "cell": out_cell, "reciprocal_cell": reciprocal_cell, "volume_A3": V_cell,
            "misset": misset, "N": torch.stack(N), "size": torch.stack(size)}
