"""The corrected pixel (as ``nb_render_corrected.c``): every factor evaluated where it
belongs, per sub-pixel and source, multiplying its own terms."""

from __future__ import annotations

from typing import Any

import torch

from nanobragg.codes import CrystalShape
from nanobragg.engines.torch.lattice import (
    chebyshev_of_cosine,
    dots,
    interference,
    lattice_factor,
    miller_indices,
    nearest_F,
    stencil_outside,
    tricubic_F,
)
from nanobragg.engines.torch.scene import ChunkResult, Scene
from nanobragg.engines.torch.subpixel import (
    beyond_dmin,
    polarization,
    scattering_vectors,
    subpixels,
)
from nanobragg.engines.torch.vectors import PI


def render_corrected(sc: Scene, fast: torch.Tensor, slow: torch.Tensor,
                     record: dict[str, Any] | None = None) -> ChunkResult:
    """The corrected pixels.  record: a dict that receives every intermediate tensor
    (for traces; the square-crystal shortcut is then not taken)."""
    sp = subpixels(sc, fast, slow)
    scattering = scattering_vectors(sc, sp)
    # quirk nopolar_overridden_by_oversample_polar: -nopolar means 1, whatever the
    # oversample flags
    if sc.p.nopolar:
        polar = torch.ones(scattering.shape[:-1], dtype=sc.at.dtype, device=sc.at.device)
    else:
        polar = polarization(sc, sp, scattering)
    # quirk factors_from_first_subpixel: each sub-pixel's solid angle and capture fraction
    # and each source's polarization scale only their own terms; quirk source_weight_unused:
    # each source's terms are weighted by w n / sum(w)
    factor = polar * sp.omega[..., None] * sp.capture[..., None] * sc.source_factor
    passes = ~beyond_dmin(sc, scattering)
    if sc.lattice.shape == CrystalShape.SQUARE and not sc.interpolate and record is None:
        terms = _square_bragg_sum(sc, scattering)
    else:
        hkl = miller_indices(sc.axes["rotated"], scattering)
        hkl0 = torch.ceil(hkl - 0.5)
        F_latt = lattice_factor(sc.lattice, hkl, hkl0)
        F_cell = nearest_F(sc.grid, hkl0)
        if sc.interpolate:
            # quirk interpolation_switch_off: a stencil off the grid takes the nearest F
            # for that term only
            usable = ~stencil_outside(sc.grid, hkl)
            F_cell = torch.where(usable, tricubic_F(sc.grid, hkl, usable), F_cell)
        each = F_cell * F_cell * F_latt * F_latt
        terms = each.sum(dim=-1)
        if record is not None:
            record.update(axes=sc.axes["rotated"], hkl=hkl, hkl0=hkl0, F_latt=F_latt,
                          F_cell=F_cell, terms=each)
    bragg = torch.where(passes, terms * factor, torch.zeros_like(factor)).flatten(1).sum(dim=1)
    # quirk dmin_kills_background: the background counts every source, cut or not
    background = factor.flatten(1).sum(dim=1)
    per_pixel = sc.p.oversample * sc.p.oversample * sc.incident.shape[0]
    # quirk water_background_scaling: I_bg times the mean of the factors over sub-pixels
    # and sources, scaled once and independent of the sampling
    values = sc.scale * bragg / sc.steps + sc.water_background_per_sr * background / per_pixel
    if record is not None:
        record.update(subpixels=sp, scattering=scattering, polar=polar, factor=factor,
                      passes=passes, bragg=bragg, background=background, values=values)
    # which pixels ran the phi loop or left the grid matters to the legacy passes only
    unused = torch.zeros(fast.shape, dtype=torch.bool, device=fast.device)
    return ChunkResult(values, unused, unused, sp.omega.flatten(1).sum(dim=1))


def _square_bragg_sum(sc: Scene, scattering: torch.Tensor) -> torch.Tensor:
    """Sum over phi steps and domains of |F_cell|^2 |F_latt|^2 for a square crystal
    without interpolation, one contiguous (vectors, terms) array per axis."""
    flat = scattering.reshape(-1, 3)
    axes = sc.axes["rotated"]
    if sc.grid.values is None and None not in sc.lattice.chebyshev:
        return _square_default_F_sum(sc, flat).reshape(scattering.shape[:-1])
    lattice: torch.Tensor | None = None
    whole = []
    for i in range(3):
        h = dots(flat, axes[:, i, :])
        h0 = torch.ceil(h - 0.5)
        factor = interference(sc.lattice, i, h, h0)
        lattice = factor if lattice is None else lattice * factor
        whole.append(h0)
    assert lattice is not None
    if sc.grid.values is None:
        sum_sqr = (lattice * lattice).sum(dim=-1) * (sc.grid.default_F * sc.grid.default_F)
    else:
        F_cell = nearest_F(sc.grid, torch.stack(whole, dim=-1))
        sum_sqr = (F_cell * F_cell * lattice * lattice).sum(dim=-1)
    return sum_sqr.reshape(scattering.shape[:-1])


def _square_default_F_sum(sc: Scene, flat: torch.Tensor) -> torch.Tensor:
    """The square crystal's sum when every F is default_F and every N whole (<= 64):
    no Miller index is needed.  cos(pi h) is cos(pi (h - h0)) times (-1)^h0, which turns
    U_{N-1} into (-1)^((N-1) h0) U_{N-1}: a sign that |F_latt|^2 cancels."""
    lattice: torch.Tensor | None = None
    scaled = sc.axes["rotated"] * PI
    for i, n in enumerate(sc.lattice.chebyshev):
        if n == 1 or n is None:
            continue
        # doubled in place: cos keeps its input, not its output, for the backward pass
        c2 = torch.cos(dots(flat, scaled[:, i, :])).mul_(2.0)
        factor = chebyshev_of_cosine(c2, n, signed=False)
        lattice = factor if lattice is None else lattice * factor
    if lattice is None:
        return torch.full(flat.shape[:1], float(sc.axes["rotated"].shape[0]),
                          dtype=flat.dtype, device=flat.device) * sc.grid.default_F ** 2
    # torch types torch.linalg.vecdot as Any
    lattice_sqr: torch.Tensor = torch.linalg.vecdot(lattice, lattice)
    return lattice_sqr * (sc.grid.default_F * sc.grid.default_F)
