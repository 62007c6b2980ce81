"""The summed waves of point scatterers with the phase split into parts each exact to
its dtype, the torch twin of nb_scatterers.c: wave_tables and add_atoms_corrected.

The original's phase 2 pi (in + out) / lambda is some 6e11 radians for a source at
10 m; a double holds it only to 1e-4 radians, float32 not at all.  Here it is
P + Q + k (out - R): P = k R reduced below 2 pi per pixel (R its distance from the
origin) and Q per source and atom (the source's distance reduced, plus the atom's
excess path over it), both in float64 and then in the chosen dtype; out - R, at most
the atom's distance from the origin, as (|a|^2 - 2 pos.a) / (out + R), which has no
cancellation, so that float32 holds the whole phase to 1e-5 radians.  The
Debye-Waller factor takes |S - S0|^2 = 2 - 2 (pos - a).S0 / out for the unit S0.  This
path serves the corrected sums in every dtype and the legacy ones in float32 (their
quirks are in the tables); legacy float64 keeps the original's arithmetic term by term
(scatterers.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from nanobragg.engines.torch.vectors import FLOAT64, Placement

TWO_PI = 2.0 * math.pi


def _split(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Veltkamp's split: a = hi + lo exactly, each with half the mantissa."""
    c = 134217729.0 * a
    hi = c - (c - a)
    return hi, a - hi


def _square_excess(r: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """r^2 - x without rounding error in r^2 (Dekker's exact product)."""
    p = r * r
    hi, lo = _split(r)
    return (p - x) + (((hi * hi - p) + 2.0 * hi * lo) + lo * lo)


def exact_sqrt(x: torch.Tensor) -> torch.Tensor:
    """The correctly rounded square root, as C's sqrt gives it.  torch's CPU kernels
    are off by one unit in the last place for about 1 value in 70, and a path of 0.1 m
    off by one unit moves a phase by 1e-6 radians, which decides the image's last bits
    (a tensor with a graph keeps torch's derivative)."""
    root = torch.sqrt(x)
    with torch.no_grad():
        best = root.detach()
        if x.dtype == FLOAT64:
            best_excess = _square_excess(best, x).abs()
            for other in (torch.nextafter(best, torch.full_like(best, math.inf)),
                          torch.nextafter(best, torch.zeros_like(best))):
                excess = _square_excess(other, x).abs()
                better = excess < best_excess
                best = torch.where(better, other, best)
                best_excess = torch.where(better, excess, best_excess)
    return root + (best - root).detach() if root.requires_grad else best


def norm(v: torch.Tensor, exact: bool = True) -> torch.Tensor:
    """The length of vectors along the last dimension, summed as the C engine sums (and
    rounded as C's sqrt rounds, unless not ``exact``)."""
    squares = v[..., 0] * v[..., 0] + v[..., 1] * v[..., 1] + v[..., 2] * v[..., 2]
    return exact_sqrt(squares) if exact else torch.sqrt(squares)



@dataclass(frozen=True)
class WaveTable:
    """The columns of the sums, in the dtype but k."""

    columns: torch.Tensor
    """(4, N + M N), which [pos, 1] multiplies: for each atom |a|^2 - 2 pos.a (which is
    out^2 - R^2 and (out - R)(out + R)); for each source and atom Bc2 (pos - a).S0."""
    wavenumber: torch.Tensor
    """(M,) float64 two_pi / wavelength."""
    k: torch.Tensor
    """(M, 1) the wavenumbers in the dtype."""
    Q: torch.Tensor
    """(M, N) phase of the path from the source to the atom, plus the atom's own."""
    Bc2: torch.Tensor
    """(M, N) B / (2 lambda^2), Angstrom."""
    w: torch.Tensor
    """(M, N) the wave's amplitude but for the Debye-Waller factor and 1/out."""
    debye_waller: bool
    """False where every B is 0 (and wants no gradient): the factor is 1."""


def source_paths(p: Any, xyz: torch.Tensor, src: torch.Tensor,
                 k: torch.Tensor, at64: Placement) -> tuple[torch.Tensor, torch.Tensor]:
    """(M, N) paths from the sources to the atoms and (M, N, 3) incident directions there
    (see nb_scatterers.c: source_to_atom)."""
    if p.far_source:
        # quirk near_far_source_ignores_divergence
        in_path = xyz[:, 0].expand(len(k), -1) if p.c_parity else k @ xyz.T
        S0 = (torch.tensor([1.0, 0.0, 0.0], dtype=FLOAT64, device=at64.device)
              .expand(len(k), xyz.shape[0], 3) if p.c_parity
              else k[:, None, :].expand(-1, xyz.shape[0], -1))
        return in_path, S0
    delta = xyz[None, :, :] - src[:, None, :]                # (M, N, 3)
    in_path = norm(delta)
    return in_path, delta / in_path[..., None]


def wave_tables(inputs: Any, two_pi: float, at: Placement) -> WaveTable:
    p, atoms, sources = inputs.params, inputs.atoms, inputs.sources
    at64 = Placement(at.device, FLOAT64)
    xyz = at64.tensor(atoms.position_m)                       # (N, 3)
    src = at64.tensor(sources.position_m)                     # (M, 3)
    lam = at64.tensor(sources.wavelength_m)                   # (M,)
    in_path, S0 = source_paths(p, xyz, src, at64.tensor(sources.direction), at64)
    # (a tensor quotient: a number over a tensor is its reciprocal times the number, which
    # is not the correctly rounded quotient the C engine takes)
    wavenumber = torch.full_like(lam, two_pi) / lam
    a2 = xyz[:, 0] * xyz[:, 0] + xyz[:, 1] * xyz[:, 1] + xyz[:, 2] * xyz[:, 2]
    occupancy = at64.tensor(atoms.occupancy)
    if p.far_source:
        excess, source_phase = in_path, torch.zeros_like(lam)
        w = occupancy.expand(len(lam), -1)
    else:
        # the path less the source's distance, without cancellation
        src_a = src @ xyz.T
        src_norm = norm(src)
        excess = (a2 - 2.0 * src_a) / (in_path + src_norm[:, None])
        source_phase = torch.fmod(wavenumber * src_norm, TWO_PI)
        # quirk near_source_inverse_square (see nb_scatterers.c: wave_tables)
        w = occupancy / in_path if p.c_parity else occupancy * src_norm[:, None] / in_path
    Q = source_phase[:, None] + wavenumber[:, None] * excess + at64.tensor(atoms.phase_rad)
    lambda_A = lam * 1e10
    Bc2 = at64.tensor(atoms.B_A2) / (2.0 * lambda_A * lambda_A)[:, None]
    aS0 = (xyz[None, :, 0] * S0[..., 0] + xyz[None, :, 1] * S0[..., 1]
           + xyz[None, :, 2] * S0[..., 2])
    M, N = Q.shape
    excess = torch.cat([-2.0 * xyz.T, a2[None]])                          # (4, N)
    dwf = torch.stack([Bc2 * S0[..., 0], Bc2 * S0[..., 1], Bc2 * S0[..., 2],
                       -Bc2 * aS0]).reshape(4, M * N)
    dtype = at.dtype
    return WaveTable(columns=torch.cat([excess, dwf], dim=1).to(dtype), wavenumber=wavenumber,
                     k=wavenumber[:, None].to(dtype), Q=Q.to(dtype), Bc2=Bc2.to(dtype),
                     w=w.to(dtype), debye_waller=Bc2.requires_grad or bool((Bc2 != 0).any()))


def wave_sums(table: WaveTable, pos64: torch.Tensor, R: torch.Tensor,
              dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Re and Im of the summed waves (C: add_atoms_corrected) at the (rows, 3) positions,
    R = norm(pos64) their distances: (rows, M) each.  The terms' phases leave out P,
    which turns each source's sum once."""
    rows, (M, N) = pos64.shape[0], table.Q.shape
    P = torch.fmod(R[:, None] * table.wavenumber, TWO_PI).to(dtype)       # (rows, M)
    lhs = torch.cat([pos64, torch.ones_like(R)[:, None]], dim=1).to(dtype)
    products = lhs @ table.columns
    excess = products[:, :N]                                               # (out - R)(out + R)
    Bc2_g = products[:, N:].reshape(rows, M, N)
    R = R.to(dtype)[:, None]
    # without a graph the terms' passes write over the tensors they no longer need
    grad = torch.is_grad_enabled() and any(
        t.requires_grad for t in (pos64, R, table.columns, table.Q, table.Bc2, table.w))
    out2 = excess + R * R
    inv = torch.rsqrt(out2)                                               # 1 / out
    den = torch.addcmul(R, out2, inv, out=None if grad else out2)         # out + R
    if M == 1 and not table.k.requires_grad:                              # Q + k (out - R)
        phase = torch.addcdiv(table.Q, excess, den, value=float(table.k),
                              out=None if grad else den)[:, None, :]
    else:
        phase = torch.addcdiv(table.Q, excess[:, None, :] * table.k, den[:, None, :])
    inv = inv[:, None, :]
    amplitude = inv
    if grad:
        if table.debye_waller:
            amplitude = torch.exp(torch.addcmul(-table.Bc2, Bc2_g, inv)) * inv
        re = amplitude * torch.cos(phase)
        im = amplitude * torch.sin(phase)
    else:
        if table.debye_waller:
            amplitude = torch.addcmul(-table.Bc2, Bc2_g, inv, out=Bc2_g).exp_().mul_(inv)
        re = torch.cos(phase).mul_(amplitude)
        im = phase.sin_().mul_(amplitude)
    if M == 1:
        w = table.w[0]
        a, b = (re.reshape(rows, N) @ w)[:, None], (im.reshape(rows, N) @ w)[:, None]
    else:
        a, b = (re * table.w).sum(-1), (im * table.w).sum(-1)
    c, s = torch.cos(P), torch.sin(P)
    return c * a - s * b, s * a + c * b
