"""Lattice (shape) factors and structure-factor lookup, elementwise over the
fractional Miller indices of every term (as ``nb_lattice.h``)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from nanobragg.codes import CrystalShape
from nanobragg.engines.torch.vectors import PI


@dataclass
class Lattice:
    """What the lattice factor needs: crystal shape, N, fudge, the unrotated
    reciprocal vectors (the legacy spot-radius measure uses them), the mode."""

    shape: CrystalShape
    N: torch.Tensor
    fudge: float
    reciprocal: torch.Tensor
    """(3, 3): rows a*, b*, c* in 1/Angstrom."""
    c_parity: bool
    chebyshev: tuple[int | None, int | None, int | None]
    """Per axis, the whole N (at most 64) when the corrected form may be evaluated as
    the Chebyshev polynomial U_{N-1}(cos pi d), as the C engine does: cheaper than two
    sines.  None where N is fractional, larger, or needs a gradient."""
    reduced: bool
    """Square shape: evaluate sin(N pi h) / sin(pi h) from the distance to the nearest
    lattice point.  Always in the corrected mode; with c_parity only in float32 and
    for whole N, where it equals the original's form up to a sign that cancels in
    |F_latt|^2 and keeps float32 accurate near the peaks."""


def _sincg(x: torch.Tensor, N: torch.Tensor) -> torch.Tensor:
    """sin(N x) / sin(x), N at x = 0."""
    zero = x == 0
    safe = torch.where(zero, torch.ones_like(x), x)
    return torch.where(zero, N.expand_as(x), torch.sin(safe * N) / torch.sin(safe))


def _sinc3(x: torch.Tensor) -> torch.Tensor:
    zero = x == 0
    safe = torch.where(zero, torch.ones_like(x), x)
    return torch.where(zero, torch.ones_like(x),
                       3.0 * (torch.sin(safe) / safe - torch.cos(safe)) / (safe * safe))


def _chebyshev(d: torch.Tensor, n: int) -> torch.Tensor:
    """U_{n-1}(cos pi d) = sin(n pi d) / sin(pi d)."""
    if n == 1:
        return torch.ones_like(d)
    return chebyshev_of_cosine(2.0 * torch.cos(PI * d), n)


def chebyshev_of_cosine(c2: torch.Tensor, n: int, *, signed: bool = True) -> torch.Tensor:
    """U_{n-1}(c) from c2 = 2c (n >= 2), by its three-term recurrence.  The signs are
    chosen so that each step is one fused multiply-add (b_{k+1} = b_{k-1} +- c2 b_k),
    which gives b_k = (-1)^(k // 2) U_k; signed=False leaves that sign (for callers
    that square the result)."""
    if n == 2:
        return c2
    previous, current = c2, torch.addcmul(c2.new_ones(()), c2, c2, value=-1.0)
    for k in range(2, n - 1):
        previous, current = current, torch.addcmul(previous, c2, current,
                                                   value=-1.0 if k % 2 else 1.0)
    return -current if signed and (n - 1) // 2 % 2 else current


def interference(lat: Lattice, axis: int, h: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    """The square crystal's factor along one axis, sin(N pi h) / sin(pi h) in the mode's form."""
    n = lat.chebyshev[axis]
    if not lat.c_parity and n is not None:
        return _chebyshev(h - h0, n)
    if lat.reduced:
        return _sincg(PI * (h - h0), lat.N[axis])
    # quirk lattice_factor_poles: the original's form, periodic in h only for
    # whole N (it has poles at whole h otherwise)
    return _sincg(PI * h, lat.N[axis])


def lattice_factor(lat: Lattice, hkl: torch.Tensor, hkl0: torch.Tensor) -> torch.Tensor:
    """F_latt for fractional indices hkl (..., 3) with nearest whole indices hkl0."""
    N = lat.N
    if lat.shape == CrystalShape.SQUARE:
        factor = interference(lat, 0, hkl[..., 0], hkl0[..., 0])
        for i in (1, 2):
            factor = factor * interference(lat, i, hkl[..., i], hkl0[..., i])
        return factor
    d = hkl - hkl0
    volume = N[0] * N[1] * N[2]
    radius_units = (d[..., 0] * d[..., 0] * N[0] * N[0] + d[..., 1] * d[..., 1] * N[1] * N[1]
                    + d[..., 2] * d[..., 2] * N[2] * N[2])
    if lat.shape == CrystalShape.ROUND:
        # the square root has an infinite slope at a lattice point: keep it out of the graph
        r = radius_units * lat.fudge
        nonzero = r > 0
        x = torch.where(nonzero, PI * torch.sqrt(torch.where(nonzero, r, torch.ones_like(r))),
                        torch.zeros_like(r))
        return volume * 0.723601254558268 * _sinc3(x)
    if lat.c_parity:
        # quirk spot_radius_units: the original measures the spot radius in 1/Angstrom
        r = lat.reciprocal
        delta = (d[..., 0:1] * r[0] + d[..., 1:2] * r[1]) + d[..., 2:3] * r[2]
        rad_star_sqr = ((delta[..., 0] * delta[..., 0] + delta[..., 1] * delta[..., 1]
                         + delta[..., 2] * delta[..., 2]) * N[0] * N[0] * N[1] * N[1]
                        * N[2] * N[2])
    else:
        rad_star_sqr = radius_units
    if lat.shape == CrystalShape.GAUSS:
        return volume * torch.exp(-(rad_star_sqr / 0.63 * lat.fudge))
    return volume * (rad_star_sqr * lat.fudge < 0.3969).to(rad_star_sqr.dtype)


@dataclass
class StructureFactorGrid:
    """A dense grid of F over whole (h, k, l) from hkl_min, or none (default_F only)."""

    values: torch.Tensor | None
    hkl_min: tuple[int, int, int]
    default_F: float

    @property
    def shape(self) -> tuple[int, int, int]:
        if self.values is None:
            return (0, 0, 0)
        n_h, n_k, n_l = self.values.shape
        return (n_h, n_k, n_l)


def _flat_index(grid: StructureFactorGrid, h: torch.Tensor, k: torch.Tensor,
                l_: torch.Tensor) -> torch.Tensor:
    kn, ln = grid.shape[1], grid.shape[2]
    return ((h - grid.hkl_min[0]) * kn + (k - grid.hkl_min[1])) * ln + (l_ - grid.hkl_min[2])


def nearest_F(grid: StructureFactorGrid, hkl0: torch.Tensor) -> torch.Tensor:
    """F at whole indices hkl0 (..., 3): the grid's value, or default_F off the grid."""
    default = torch.full(hkl0.shape[:-1], grid.default_F, dtype=hkl0.dtype, device=hkl0.device)
    if grid.values is None:
        return default
    inside = torch.ones(hkl0.shape[:-1], dtype=torch.bool, device=hkl0.device)
    index = []
    for i in range(3):
        low, high = grid.hkl_min[i], grid.hkl_min[i] + grid.shape[i] - 1
        inside &= (hkl0[..., i] >= low) & (hkl0[..., i] <= high)
    for i in range(3):
        value = torch.where(inside, hkl0[..., i], torch.full_like(hkl0[..., i], grid.hkl_min[i]))
        index.append(value.to(torch.long))
    flat = grid.values.reshape(-1)[_flat_index(grid, *index)]
    return torch.where(inside, flat, default)


def stencil_outside(grid: StructureFactorGrid, hkl: torch.Tensor) -> torch.Tensor:
    """Whether the 4x4x4 interpolation stencil around hkl leaves the grid."""
    outside = ~torch.isfinite(hkl).all(dim=-1)
    for i in range(3):
        low, size = grid.hkl_min[i], grid.shape[i]
        x = hkl[..., i]
        outside |= ((x - low + 3) > size) | (x - 2 < low)
    return outside


def _lagrange4(xa: torch.Tensor, ya: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Cubic through four points along the last dimension of xa and ya, at x."""
    x0, x1, x2, x3 = (xa[..., i] for i in range(4))
    y0, y1, y2, y3 = (ya[..., i] for i in range(4))
    return ((x - x1) * (x - x2) * (x - x3) * y0 / ((x0 - x1) * (x0 - x2) * (x0 - x3))
            + (x - x0) * (x - x2) * (x - x3) * y1 / ((x1 - x0) * (x1 - x2) * (x1 - x3))
            + (x - x0) * (x - x1) * (x - x3) * y2 / ((x2 - x0) * (x2 - x1) * (x2 - x3))
            + (x - x0) * (x - x1) * (x - x2) * y3 / ((x3 - x0) * (x3 - x1) * (x3 - x2)))


def tricubic_F(grid: StructureFactorGrid, hkl: torch.Tensor,
               usable: torch.Tensor) -> torch.Tensor:
    """Tricubic interpolation of F on the stencil from one below floor(hkl).  Entries
    where usable is False get the stencil at hkl_min, their reads kept inside the
    array (a grid may be thinner than the stencil); their values are not used."""
    base = torch.floor(hkl) - 1
    offsets = torch.arange(4, dtype=hkl.dtype, device=hkl.device)
    start = torch.stack([torch.where(usable, base[..., i],
                                     torch.full_like(base[..., i], grid.hkl_min[i]))
                         for i in range(3)], dim=-1)
    # unused entries sit inside their clamped stencil, so no NaN reaches a gradient
    x = torch.where(usable[..., None], hkl, start + 1)
    h = (start[..., 0, None, None, None] + offsets[:, None, None]).to(torch.long)
    k = (start[..., 1, None, None, None] + offsets[None, :, None]).to(torch.long)
    l_ = (start[..., 2, None, None, None] + offsets[None, None, :]).to(torch.long)
    assert grid.values is not None, "a scene interpolates only with a grid of F"
    flat = grid.values.reshape(-1)
    values = flat[_flat_index(grid, h, k, l_).clamp(0, flat.numel() - 1)]
    axis = [start[..., i, None] + offsets for i in range(3)]
    along_k = _lagrange4(axis[2][..., None, None, :], values, x[..., 2, None, None])
    along_h = _lagrange4(axis[1][..., None, :], along_k, x[..., 1, None])
    return _lagrange4(axis[0], along_h, x[..., 0])


def dots(vectors: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """(m, r) dot products of vectors (m, 3) with rows (r, 3): one matrix product, unless
    the user allowed float32 matrix products in reduced precision (TF32, bf16:
    ``torch.set_float32_matmul_precision``), which would ruin the Miller indices; then
    multiply-adds in the C engine's order."""
    if vectors.dtype == torch.float64 or torch.get_float32_matmul_precision() == "highest":
        return vectors @ rows.T
    return ((vectors[:, 0, None] * rows[:, 0] + vectors[:, 1, None] * rows[:, 1])
            + vectors[:, 2, None] * rows[:, 2])


def miller_indices(axes: torch.Tensor, scattering: torch.Tensor) -> torch.Tensor:
    """(..., terms, 3) fractional h, k, l of scattering vectors (..., 3) for each axes row."""
    flat = dots(scattering.reshape(-1, 3), axes.reshape(-1, 3))
    return flat.reshape(*scattering.shape[:-1], axes.shape[0], 3)
