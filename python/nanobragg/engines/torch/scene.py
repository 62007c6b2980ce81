"""The render's scene: what every pixel shares, on one device and dtype (as
``nb_scene.c``): the crystal axes at every (phi step, mosaic domain), including the
tables the phi_carryover quirk needs, the source factors, the lattice and the
structure-factor grid.  :class:`ChunkResult` is what a chunk of pixels reports."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from nanobragg.codes import CrystalShape
from nanobragg.engines.torch.lattice import Lattice, StructureFactorGrid
from nanobragg.engines.torch.vectors import Placement, rotate_axis, rotate_umat, unitize
from nanobragg.stages import RenderInputs, RenderParams


@dataclass
class Scene:
    """Everything the pixel loop needs, on one device and dtype: the render's parameters
    as given (``p``: the kernels read its numbers, flags and counts by their names) and,
    under the same names, the tensors made from them."""

    at: Placement
    p: RenderParams
    fdet: torch.Tensor
    sdet: torch.Tensor
    odet: torch.Tensor
    pix0_m: torch.Tensor
    beam: torch.Tensor
    distance_m: torch.Tensor
    close_distance_m: torch.Tensor
    water_background_per_sr: torch.Tensor
    polar_axis: torch.Tensor
    """The unit polarization axis."""
    incident: torch.Tensor
    """(sources, 3) unit vectors along each source's beam."""
    wavelength_m: torch.Tensor
    source_factor: torch.Tensor
    """(sources,) weight * n / total weight (all 1 when the weights sum to nothing)."""
    axes: dict[str, torch.Tensor]
    """(terms, 3, 3) crystal axes per (phi step, domain): 'rotated', and with c_parity
    'carried' and 'entry' (phi_carryover)."""
    lattice: Lattice
    grid: StructureFactorGrid
    interpolate: bool
    """Interpolation asked for, and a grid to interpolate."""
    scale: torch.Tensor
    """r_e^2 x fluence."""
    steps: int
    """Terms each pixel's sum is divided by: sources x domains x phi steps x sub-pixels."""


@dataclass
class ChunkResult:
    """Per pixel of a chunk: its value, whether it ran the phi loop (rotated the
    crystal), whether an interpolation stencil left the grid, the solid angles summed."""

    values: torch.Tensor
    executed: torch.Tensor
    left_grid: torch.Tensor
    omega_sum: torch.Tensor


def axes_tables(p: RenderParams, umats: torch.Tensor, at: Placement) -> dict[str, torch.Tensor]:
    """Crystal axes at every (phi step, domain) for each starting state the run needs."""
    unrotated = torch.stack([at.tensor(v) for v in (p.a_m, p.b_m, p.c_m)])
    spindle = at.tensor(p.spindle)
    phi0, phistep, steps = at.tensor(p.phi0_rad), float(p.phi_step_rad), int(p.phi_steps)
    phis = phi0 + phistep * torch.arange(steps, dtype=at.dtype, device=at.device)
    at_phi = rotate_axis(unrotated[None], spindle, phis[:, None])

    def with_domains(states: torch.Tensor) -> torch.Tensor:
        if float(p.mosaic_spread_rad) > 0.0:
            table = rotate_umat(states[:, None, :, :], umats[None, :, None, :, :])
        else:
            table = states[:, None].expand(steps, umats.shape[0], 3, 3)
        return table.reshape(-1, 3, 3)

    tables = {"rotated": with_domains(at_phi)}
    if p.c_parity:
        # quirk phi_carryover: a step at exactly phi = 0 keeps the rotation left before
        # it, from the previous pixel's loop (carried) or, for the run's very first loop,
        # the unrotated crystal (entry).  states[0] is unrotated, states[k + 1] step k.
        step = torch.arange(steps, device=at.device)
        latest = torch.where(phis != 0, step, torch.full_like(step, -1))
        latest = torch.cummax(latest, dim=0).values
        last = latest[-1]
        states = torch.cat((unrotated[None], at_phi))
        tables["carried"] = with_domains(states[torch.where(latest >= 0, latest, last) + 1])
        tables["entry"] = with_domains(states[latest + 1])
    return tables


def _source_factor(weight: torch.Tensor) -> torch.Tensor:
    """Each source's weight * n / total (all 1 when the weights sum to nothing)."""
    total = weight.sum()
    return torch.where(total > 0, weight * weight.shape[0] / torch.where(total > 0, total, 1.0),
                       torch.ones_like(weight))


def _chebyshev_orders(N: torch.Tensor) -> tuple[int | None, int | None, int | None]:
    if N.requires_grad:
        return (None, None, None)
    values = [float(v) for v in N.detach().cpu()]
    a, b, c = (int(v) if v.is_integer() and v <= 64 else None for v in values)
    return (a, b, c)


def _plain_numbers(p: RenderParams) -> RenderParams:
    """The parameters with numpy scalars as Python numbers (tensors and arrays kept), so
    that the kernels' arithmetic with tensors stays in torch."""
    changes = {field.name: getattr(p, field.name).item()
               for field in dataclasses.fields(p)
               if isinstance(getattr(p, field.name), np.generic)}
    return dataclasses.replace(p, **changes) if changes else p


def make_scene(inputs: RenderInputs, *, at: Placement) -> Scene:
    p = _plain_numbers(inputs.params)
    weight = at.tensor(inputs.sources.weight)
    umats = at.tensor(inputs.mosaic.umats)
    N = at.tensor(p.N_cells)
    reciprocal = torch.stack([at.tensor(v) for v in (p.a_star_per_A, p.b_star_per_A,
                                                     p.c_star_per_A)])
    sf = inputs.structure_factors
    values = None if sf is None else at.tensor(sf.values)
    grid = StructureFactorGrid(values, (0, 0, 0) if sf is None else sf.hkl_min,
                               float(p.default_F))
    return Scene(
        at=at, p=p, fdet=at.tensor(p.fdet), sdet=at.tensor(p.sdet), odet=at.tensor(p.odet),
        pix0_m=at.tensor(p.pix0_m), beam=at.tensor(p.beam),
        distance_m=at.tensor(p.distance_m), close_distance_m=at.tensor(p.close_distance_m),
        water_background_per_sr=at.tensor(p.water_background_per_sr),
        polar_axis=unitize(at.tensor(p.polar))[0],
        incident=-at.tensor(inputs.sources.direction),
        wavelength_m=at.tensor(inputs.sources.wavelength_m),
        source_factor=_source_factor(weight), axes=axes_tables(p, umats, at),
        lattice=Lattice(CrystalShape(p.shape), N, float(p.fudge), reciprocal,
                        bool(p.c_parity), chebyshev=_chebyshev_orders(N),
                        reduced=not p.c_parity or (at.dtype == torch.float32 and bool(
                            (N == torch.round(N)).all()))),
        grid=grid, interpolate=bool(p.interpolate) and values is not None,
        scale=at.tensor(p.r_e_sqr_m2) * at.tensor(p.fluence_per_m2),
        steps=(weight.shape[0] * umats.shape[0] * int(p.phi_steps) * int(p.oversample)
               * int(p.oversample)))
