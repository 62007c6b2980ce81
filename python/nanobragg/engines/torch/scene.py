"""The render's scene: what every pixel shares, on one device and dtype (as
``nb_scene.c``): the crystal axes at every (phi step, mosaic domain), including the
tables the phi_carryover quirk needs, the source factors, the lattice and the
structure-factor grid.  :class:`ChunkResult` is what a chunk of pixels reports."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from nanobragg.codes import CrystalShape
from nanobragg.engines.torch.lattice import Lattice, StructureFactorGrid
from nanobragg.engines.torch.vectors import Placement, rotate_axis, rotate_umat, unitize
from nanobragg.stages import RenderInputs, RenderParams


@dataclass
class Scene:
    """Everything the pixel loop needs, on one device and dtype."""

    at: Placement
    c_parity: bool
    fpixels: int
    spixels: int
    oversample: int
    pixel_size: float
    fdet: torch.Tensor
    sdet: torch.Tensor
    odet: torch.Tensor
    pix0: torch.Tensor
    beam: torch.Tensor
    distance: torch.Tensor
    close_distance: torch.Tensor
    curved: bool
    point_pixel: bool
    nopolar: bool
    polarization: float
    polar_axis: torch.Tensor
    thicksteps: int
    thickstep: float
    thick: float
    mu: float
    oversample_thick: bool
    oversample_polar: bool
    oversample_omega: bool
    incident: torch.Tensor
    wavelength: torch.Tensor
    source_factor: torch.Tensor
    axes: dict[str, torch.Tensor]
    """(terms, 3, 3) crystal axes per (phi step, domain): 'rotated', and with c_parity
    'carried' and 'entry' (phi_carryover)."""
    lattice: Lattice
    grid: StructureFactorGrid
    interpolate: bool
    dmin: float
    water_size: float
    scale: torch.Tensor
    I_bg: torch.Tensor
    steps: int
    roi: tuple[int, int, int, int]


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
    a, b, c = (int(v) if v == int(v) and v <= 64 else None for v in values)
    return (a, b, c)


def make_scene(inputs: RenderInputs, *, at: Placement) -> Scene:
    p = inputs.params
    weight = at.tensor(inputs.sources.weight)
    umats = at.tensor(inputs.mosaic.umats)
    N = at.tensor(p.N_cells)
    reciprocal = torch.stack([at.tensor(v) for v in (p.a_star_per_A, p.b_star_per_A,
                                                     p.c_star_per_A)])
    sf = inputs.structure_factors
    values = None if sf is None else at.tensor(sf.values)
    grid = StructureFactorGrid(values, (0, 0, 0) if sf is None else sf.hkl_min,
                               float(p.default_F))
    oversample = int(p.oversample)
    return Scene(
        at=at, c_parity=bool(p.c_parity), fpixels=int(p.fpixels), spixels=int(p.spixels),
        oversample=oversample, pixel_size=float(p.pixel_size_m),
        fdet=at.tensor(p.fdet), sdet=at.tensor(p.sdet), odet=at.tensor(p.odet),
        pix0=at.tensor(p.pix0_m), beam=at.tensor(p.beam),
        distance=at.tensor(p.distance_m), close_distance=at.tensor(p.close_distance_m),
        curved=bool(p.curved_detector), point_pixel=bool(p.point_pixel),
        nopolar=bool(p.nopolar), polarization=float(p.polarization),
        polar_axis=unitize(at.tensor(p.polar))[0],
        thicksteps=int(p.thickness_steps), thickstep=float(p.thickness_step_m),
        thick=float(p.thickness_m), mu=float(p.mu_per_m),
        oversample_thick=bool(p.oversample_thick), oversample_polar=bool(p.oversample_polar),
        oversample_omega=bool(p.oversample_omega),
        incident=-at.tensor(inputs.sources.direction),
        wavelength=at.tensor(inputs.sources.wavelength_m),
        source_factor=_source_factor(weight), axes=axes_tables(p, umats, at),
        lattice=Lattice(CrystalShape(p.shape), N, float(p.fudge), reciprocal,
                        bool(p.c_parity), chebyshev=_chebyshev_orders(N),
                        reduced=not p.c_parity or (at.dtype == torch.float32 and bool(
                            (N == torch.round(N)).all()))),
        grid=grid, interpolate=bool(p.interpolate) and values is not None,
        dmin=float(p.dmin_m), water_size=float(p.water_size_m),
        scale=at.tensor(p.r_e_sqr_m2) * at.tensor(p.fluence_per_m2),
        I_bg=at.tensor(p.water_background_per_sr),
        steps=(weight.shape[0] * umats.shape[0] * int(p.phi_steps) * oversample * oversample),
        roi=(int(p.roi_xmin), int(p.roi_xmax), int(p.roi_ymin), int(p.roi_ymax)))
