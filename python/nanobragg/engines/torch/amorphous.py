"""amorphous: the scattering of a disordered sample, as tensors.

Pixels are rendered a block of rows at a time; within a block the sub-pixels and the
sources are tensor dimensions.  The arithmetic follows the C engine's
(``csrc/engine/nb_amorphous.c``) term for term, so float64 images agree with it (and,
with c_parity, with the original) to rounding."""

from __future__ import annotations

from typing import Any

import torch

from nanobragg.engines.base import Progress
from nanobragg.engines.torch.subpixel import kahn_polarization
from nanobragg.engines.torch.vectors import Placement, dot, rotate_axis, unitize
from nanobragg.stages.amorphous import AmorphousImage, AmorphousSpec, StolTable
from nanobragg.stages.fields import to_torch

TERMS_PER_BLOCK = 1 << 19
"""Sub-pixel x source terms a block of rows holds at once (bounds the memory)."""


def _denominators(xs: torch.Tensor) -> list[torch.Tensor]:
    """For each window of four rows starting at k, the products (x_i - x_j) over j != i
    in index order, for i = 0..3: (n - 3,) each."""
    n = xs.shape[0]
    rows = [xs[j:n - 3 + j] for j in range(4)]
    out = []
    for i in range(4):
        den = None
        for j in range(4):
            if j != i:
                den = rows[i] - rows[j] if den is None else den * (rows[i] - rows[j])
        assert den is not None
        out.append(den)
    return out


def _lagrange4(xs: torch.Tensor, ys: torch.Tensor, first: torch.Tensor,
               x0: torch.Tensor) -> torch.Tensor:
    """The four-point Lagrange polynomial through rows first..first+3 at x0, in the C
    engine's order (each term num x y_i / den, summed from i = 0)."""
    dens = _denominators(xs)
    diffs = [x0 - xs[first + j] for j in range(4)]
    total = None
    for i in range(4):
        num = None
        for j in range(4):
            if j != i:
                num = diffs[j] if num is None else num * diffs[j]
        assert num is not None
        term = num * ys[first + i] / dens[i][first]
        total = term if total is None else total + term
    assert total is not None
    return total


def table_F(spec: Any, table: Any, stol: torch.Tensor) -> torch.Tensor:
    """F at each sin(theta)/lambda (quirk stol_table_end_points: legacy through the far
    points as the original's walk finds them, corrected held at the end rows)."""
    xs, ys = table.stol_per_m, table.F
    n = xs.shape[0]
    below = torch.searchsorted(xs, stol.contiguous(), right=True) - 1
    if spec.c_parity:
        first = torch.clamp(below, 1, n - 3) - 1
    else:
        first = torch.clamp(below - 1, 0, n - 4)
    F = _lagrange4(xs, ys, first, stol)
    if not spec.c_parity:
        F = torch.where(stol > xs[0], F, ys[0])
        F = torch.where(stol < xs[n - 1], F, ys[n - 1])
    return F


def _block(spec: Any, sources: Any, table: Any, rows: torch.Tensor,
           at: Placement) -> tuple[torch.Tensor, torch.Tensor]:
    """(values, solid angles summed over each pixel's sub-pixels), each (rows, fpixels),
    of a block of rows."""
    os_ = int(spec.oversample)
    pixel = float(spec.pixel_size_m)
    sub = pixel / os_
    fpix = torch.arange(int(spec.fpixels), device=at.device, dtype=at.dtype)
    subs = torch.arange(os_, device=at.device, dtype=at.dtype)
    # (rows, subS, fpixels, subF)
    Sdet = sub * (rows[:, None, None, None] * os_ + subs[None, :, None, None]) + sub / 2.0
    Fdet = sub * (fpix[None, None, :, None] * os_ + subs[None, None, None, :]) + sub / 2.0
    shape = (rows.shape[0], os_, fpix.shape[0], os_)
    Sdet, Fdet = Sdet.expand(shape), Fdet.expand(shape)
    pos = Fdet[..., None] * spec.fdet + Sdet[..., None] * spec.sdet + spec.pix0_m
    if spec.curved_detector:
        # quirk curved_detector_lab_axes: legacy turns the beam point by the lab y and z
        # coordinates over the distance; corrected by the offsets from the beam centre
        if spec.c_parity:
            about_s, about_f = pos[..., 1] / spec.distance_m, pos[..., 2] / spec.distance_m
        else:
            about_s = (Fdet - spec.Fbeam_m) / spec.distance_m
            about_f = -(Sdet - spec.Sbeam_m) / spec.distance_m
        centre = (spec.distance_m * spec.beam).expand_as(pos)
        turned = rotate_axis(centre, spec.sdet, about_s)
        pos = rotate_axis(turned, spec.fdet, about_f)
    diffracted, airpath = unitize(pos)
    omega = pixel * pixel / airpath / airpath * spec.close_distance_m / airpath
    if spec.point_pixel:
        omega = 1.0 / airpath / airpath
    incident = -sources.direction  # (S, 3)
    d = diffracted[..., None, :]
    scattering = (d - incident) / sources.wavelength_m[:, None]
    stol = 0.5 * torch.sqrt(dot(scattering, scattering))
    F = table_F(spec, table, stol.to(torch.float64)).to(stol.dtype)
    sign = torch.where(F < 0.0, -1.0, 1.0).to(F.dtype)
    if spec.nopolar:
        polar = torch.ones_like(stol)
    else:
        polar = kahn_polarization(float(spec.polarization), incident.expand_as(scattering),
                              d.expand_as(scattering), spec.polar)
    terms = sign * F * F * polar * omega[..., None] * sources.weight
    if spec.Fmap:
        return F[:, -1, :, -1, -1], omega.sum(dim=(1, 3))
    total = terms.sum(dim=(1, 3, 4))
    steps = sources.direction.shape[0] * os_ * os_
    value = total * spec.r_e_sqr_m2 * spec.fluence_per_m2 * spec.molecules / steps
    return value, omega.sum(dim=(1, 3))


def amorphous(spec: AmorphousSpec, sources: Any, table: StolTable,
              progress: Progress | None = None, *, at: Placement) -> AmorphousImage:
    spec, sources = (to_torch(item, at) for item in (spec, sources))
    # the table and its interpolation stay in float64: the legacy far points (1e99) do
    # not fit in float32
    table = to_torch(table, Placement(at.device, torch.float64))
    xs = table.stol_per_m
    if spec.c_parity and xs.shape[0] > 1 and not bool((xs[1:] > xs[:-1]).all()):
        raise ValueError("stol table: sin(theta)/lambda does not rise strictly; with "
                         "c_parity the original's F then depends on the pixel order, which "
                         "only the C engine reproduces (backend='c')")
    fpixels, spixels, os_ = int(spec.fpixels), int(spec.spixels), int(spec.oversample)
    per_row = max(fpixels * os_ * os_ * int(sources.direction.shape[0]), 1)
    block = max(TERMS_PER_BLOCK // per_row, 1)
    values, omegas = [], []
    for start in range(0, spixels, block):
        rows = torch.arange(start, min(start + block, spixels), device=at.device,
                            dtype=at.dtype)
        value, omega = _block(spec, sources, table, rows, at)
        values.append(value)
        omegas.append(omega)
        if progress is not None:
            # a false answer (None excepted) cancels, as in the C engine
            answer = progress(int(rows[-1].item()) + 1, spixels)
            if answer is not None and not answer:
                raise RuntimeError("amorphous cancelled by the progress callback")
    if not values:
        empty = torch.zeros((0, fpixels), device=at.device, dtype=at.dtype)
        values, omegas = [empty], [empty]
    s = torch.arange(spixels, device=at.device)[:, None]
    f = torch.arange(fpixels, device=at.device)[None, :]
    inside = ((f >= spec.roi_xmin) & (f <= spec.roi_xmax) & (s >= spec.roi_ymin)
              & (s <= spec.roi_ymax))
    zero = torch.zeros((), device=at.device, dtype=at.dtype)
    image = torch.where(inside, torch.cat(values), zero)
    omega_sum = float(torch.where(inside, torch.cat(omegas), zero).detach().sum())
    return AmorphousImage(image=image, omega_sum_sr=omega_sum,
                          steps=int(sources.direction.shape[0]) * os_ * os_)
