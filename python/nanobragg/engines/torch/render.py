"""render: the float image, pixels in chunks, every other loop of the original
(sensor layers, sub-pixels, sources, phi steps, mosaic domains) a tensor dimension.

Corrected mode evaluates each factor per term.  c_parity reproduces the
original's pixel: factors held from the first sub-pixel or source
(factors_from_first_subpixel), running-sum factors (running_sum_factors), and,
with extra passes as in the C engine, the two quirks that carry state from pixel
to pixel (phi_carryover, interpolation_switch_off)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.checkpoint import checkpoint

from nanobragg.engines.c import SHAPE_CODES
from nanobragg.engines.torch.allocator import prepare_for_render
from nanobragg.engines.torch.lattice import (
    Lattice,
    StructureFactorGrid,
    chebyshev_of_cosine,
    interference,
    lattice_factor,
    nearest_F,
    stencil_outside,
    tricubic_F,
)
from nanobragg.engines.torch.vectors import (
    PI,
    Placement,
    cross,
    dot,
    rotate_axis,
    rotate_umat,
    unitize,
)

SHAPE_NAMES = {code: name for name, code in SHAPE_CODES.items()}
DEFAULT_MEMORY_BUDGET = 1 << 30
"""Bytes of working tensors per chunk of pixels."""
CPU_CHUNK_BYTES = 128 << 20
"""On the CPU, smaller chunks are faster: more of each elementwise pass runs from the
cache (on a 2-core EPYC with a 32 MiB L3, B2 in float64 renders 1.5x faster than
with 1 GiB chunks, and about equally fast from 32 to 512 MiB)."""
_WORDS_PER_TERM = 40
_WORDS_PER_INTERPOLATED_TERM = 240


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


def _axes_tables(p: dict, umats: torch.Tensor, at: Placement, c_parity: bool):
    """Crystal axes at every (phi step, domain) for each starting state the run needs."""
    unrotated = torch.stack([at.tensor(p[k]) for k in ("a0", "b0", "c0")])
    spindle = at.tensor(p["spindle"])
    phi0, phistep, steps = at.tensor(p["phi0"]), float(p["phistep"]), int(p["phisteps"])
    phis = phi0 + phistep * torch.arange(steps, dtype=at.dtype, device=at.device)
    at_phi = rotate_axis(unrotated[None], spindle, phis[:, None])

    def with_domains(states: torch.Tensor) -> torch.Tensor:
        if float(p["mosaic_spread"]) > 0.0:
            table = rotate_umat(states[:, None, :, :], umats[None, :, None, :, :])
        else:
            table = states[:, None].expand(steps, umats.shape[0], 3, 3)
        return table.reshape(-1, 3, 3)

    tables = {"rotated": with_domains(at_phi)}
    if c_parity:
        # phi_carryover: a step at exactly phi = 0 keeps the rotation left before it,
        # from the previous pixel's loop (carried) or, for the run's very first loop,
        # the unrotated crystal (entry).  states[0] is unrotated, states[k + 1] step k.
        step = torch.arange(steps, device=at.device)
        latest = torch.where(phis != 0, step, torch.full_like(step, -1))
        latest = torch.cummax(latest, dim=0).values
        last = latest[-1]
        states = torch.cat((unrotated[None], at_phi))
        tables["carried"] = with_domains(states[torch.where(latest >= 0, latest, last) + 1])
        tables["entry"] = with_domains(states[latest + 1])
    return tables


def make_scene(p: dict, sources: dict, umats: Any, Fhkl: Any, *, at: Placement) -> Scene:
    c_parity = bool(p["c_parity"])
    weight = at.tensor(sources["weight"])
    n = weight.shape[0]
    total = weight.sum()
    source_factor = torch.where(total > 0, weight * n / torch.where(total > 0, total, 1.0),
                                torch.ones_like(weight))
    N = torch.stack([at.tensor(p[k]) for k in ("Na", "Nb", "Nc")])
    reciprocal = torch.stack([at.tensor(p[k]) for k in ("a_star", "b_star", "c_star")])
    values = None if Fhkl is None else at.tensor(Fhkl)
    grid = StructureFactorGrid(
        values, (int(p.get("h_min", 0)), int(p.get("k_min", 0)), int(p.get("l_min", 0))),
        float(p["default_F"]))
    interpolate = bool(p["interpolate"]) and values is not None
    shape = SHAPE_NAMES[int(p["shape"])]
    oversample = int(p["oversample"])
    return Scene(
        at=at, c_parity=c_parity, fpixels=int(p["fpixels"]), spixels=int(p["spixels"]),
        oversample=oversample, pixel_size=float(p["pixel_size"]),
        fdet=at.tensor(p["fdet"]), sdet=at.tensor(p["sdet"]), odet=at.tensor(p["odet"]),
        pix0=at.tensor(p["pix0"]), beam=at.tensor(p["beam"]),
        distance=at.tensor(p["distance"]), close_distance=at.tensor(p["close_distance"]),
        curved=bool(p["curved_detector"]), point_pixel=bool(p["point_pixel"]),
        nopolar=bool(p["nopolar"]), polarization=float(p["polarization"]),
        polar_axis=unitize(at.tensor(p["polar_vector"]))[0],
        thicksteps=int(p["thicksteps"]), thickstep=float(p["thickstep"]),
        thick=float(p["thick"]), mu=float(p["mu"]),
        oversample_thick=bool(p["oversample_thick"]),
        oversample_polar=bool(p["oversample_polar"]),
        oversample_omega=bool(p["oversample_omega"]),
        incident=-at.tensor(sources["direction"]), wavelength=at.tensor(sources["wavelength"]),
        source_factor=source_factor, axes=_axes_tables(p, at.tensor(umats), at, c_parity),
        lattice=Lattice(shape, N, float(p["fudge"]), reciprocal, c_parity,
                        chebyshev=_chebyshev_orders(N),
                        reduced=not c_parity or (at.dtype == torch.float32 and bool(
                            (N == torch.round(N)).all()))),
        grid=grid, interpolate=interpolate, dmin=float(p["dmin"]),
        water_size=float(p["water_size"]),
        scale=at.tensor(p["r_e_sqr"]) * at.tensor(p["fluence"]), I_bg=at.tensor(p["I_bg"]),
        steps=n * umats.shape[0] * int(p["phisteps"]) * oversample * oversample)


def _chebyshev_orders(N: torch.Tensor) -> tuple[int | None, int | None, int | None]:
    if N.requires_grad:
        return (None, None, None)
    values = [float(v) for v in N.detach().cpu()]
    return tuple(int(v) if v == int(v) and v <= 64 else None for v in values)


def polarization_factor(kahn: float, incident: torch.Tensor, diffracted: torch.Tensor,
                        axis: torch.Tensor) -> torch.Tensor:
    """Kahn polarization factor for unit incident and diffracted directions."""
    incident, _ = unitize(incident)
    diffracted, _ = unitize(diffracted)
    axis, _ = unitize(axis)
    cos2theta = dot(incident, diffracted)
    cos2theta_sqr = cos2theta * cos2theta
    sin2theta_sqr = 1 - cos2theta_sqr
    if kahn == 0.0:
        return 0.5 * (1.0 + cos2theta_sqr)
    B_in, _ = unitize(cross(axis.expand_as(incident), incident))
    E_in, _ = unitize(cross(incident, B_in))
    psi = -torch.atan2(dot(diffracted, B_in), dot(diffracted, E_in))
    return 0.5 * (1.0 + cos2theta_sqr - kahn * torch.cos(2 * psi) * sin2theta_sqr)


@dataclass
class Subpixels:
    """Per (pixel, layer, slow sub-pixel, fast sub-pixel): position, direction, solid
    angle, capture fraction."""

    position: torch.Tensor
    diffracted: torch.Tensor
    omega: torch.Tensor
    capture: torch.Tensor


def subpixels(sc: Scene, fast: torch.Tensor, slow: torch.Tensor) -> Subpixels:
    at, n = sc.at, sc.oversample
    sub = sc.pixel_size / n
    steps = torch.arange(n, device=at.device)
    F_det = sub * (fast[:, None] * n + steps).to(at.dtype) + sub / 2.0
    S_det = sub * (slow[:, None] * n + steps).to(at.dtype) + sub / 2.0
    layers = torch.arange(sc.thicksteps, device=at.device).to(at.dtype)
    O_det = layers * sc.thickstep
    position = ((F_det[:, None, None, :, None] * sc.fdet + S_det[:, None, :, None, None] * sc.sdet)
                + O_det[None, :, None, None, None] * sc.odet) + sc.pix0
    if sc.curved and sc.c_parity:
        # every pixel at the same distance; curved_detector_lab_axes: the lab y and z
        # coordinates of the flat pixel act as the angles about sdet and fdet
        start = sc.beam * sc.distance
        turned = rotate_axis(start, sc.sdet, position[..., 1] / sc.distance)
        position = rotate_axis(turned, sc.fdet, position[..., 2] / sc.distance)
    elif sc.curved:
        # the pixel's fast and slow offsets from the beam centre, over the distance, are
        # the angles that carry the beam point onto it (sensor layers deeper out)
        impact = sc.distance * sc.beam - sc.pix0
        start = (sc.distance + O_det)[:, None] * sc.beam
        turned = rotate_axis(start[None, :, None, None, :], sc.sdet,
                             ((F_det - dot(impact, sc.fdet)) / sc.distance)[:, None, None, :])
        position = rotate_axis(turned, sc.fdet,
                               (-(S_det - dot(impact, sc.sdet)) / sc.distance)[:, None, :, None])
        position = position.expand(fast.shape[0], sc.thicksteps, n, n, 3)
    diffracted, airpath = unitize(position)
    if sc.point_pixel:
        omega = 1.0 / airpath / airpath
    else:
        omega = sc.pixel_size * sc.pixel_size / airpath / airpath * sc.close_distance / airpath
    if sc.c_parity or sc.thick > 0.0:
        parallax = dot(diffracted, sc.odet)
        depth = layers[None, :, None, None]
        capture = (torch.exp(-depth * sc.thickstep * sc.mu / parallax)
                   - torch.exp(-(depth + 1) * sc.thickstep * sc.mu / parallax))
    else:
        capture = torch.ones_like(omega)
    return Subpixels(position, diffracted, omega, capture)


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


@dataclass
class ChunkResult:
    values: torch.Tensor
    executed: torch.Tensor
    left_grid: torch.Tensor
    omega_sum: torch.Tensor


def _first_nonzero(values: torch.Tensor, usable: torch.Tensor) -> torch.Tensor:
    """Per row of (rows, n): the first usable nonzero value, or 0."""
    found = usable & (values != 0)
    index = torch.argmax(found.to(torch.uint8), dim=1)
    first = torch.gather(values, 1, index[:, None])[:, 0]
    return torch.where(found.any(dim=1), first, torch.zeros_like(first))


def render_corrected(sc: Scene, fast: torch.Tensor, slow: torch.Tensor,
                     record: dict | None = None) -> ChunkResult:
    """The corrected pixels.  record: a dict that receives every intermediate tensor
    (for traces; the square-crystal shortcut is then not taken)."""
    sp = subpixels(sc, fast, slow)
    scattering = (sp.diffracted[..., None, :] - sc.incident) / sc.wavelength[:, None]
    if sc.nopolar:
        polar = torch.ones(scattering.shape[:-1], dtype=sc.at.dtype, device=sc.at.device)
    else:
        polar = polarization_factor(sc.polarization, sc.incident,
                                    sp.diffracted[..., None, :].expand_as(scattering),
                                    sc.polar_axis)
    factor = polar * sp.omega[..., None] * sp.capture[..., None] * sc.source_factor
    passes = _passes_dmin(sc, scattering)
    if sc.lattice.shape == "square" and not sc.interpolate and record is None:
        terms = _square_bragg_sum(sc, scattering)
    else:
        hkl = miller_indices(sc.axes["rotated"], scattering)
        hkl0 = torch.ceil(hkl - 0.5)
        F_latt = lattice_factor(sc.lattice, hkl, hkl0)
        F_cell = nearest_F(sc.grid, hkl0)
        if sc.interpolate:
            usable = ~stencil_outside(sc.grid, hkl)
            F_cell = torch.where(usable, tricubic_F(sc.grid, hkl, usable), F_cell)
        each = F_cell * F_cell * F_latt * F_latt
        terms = each.sum(dim=-1)
        if record is not None:
            record.update(axes=sc.axes["rotated"], hkl=hkl, hkl0=hkl0, F_latt=F_latt,
                          F_cell=F_cell, terms=each)
    bragg = torch.where(passes, terms * factor, torch.zeros_like(factor)).flatten(1).sum(dim=1)
    background = factor.flatten(1).sum(dim=1)
    per_pixel = sc.oversample * sc.oversample * sc.incident.shape[0]
    values = sc.scale * bragg / sc.steps + sc.I_bg * background / per_pixel
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
    lattice, whole = None, []
    for i in range(3):
        h = dots(flat, axes[:, i, :])
        h0 = torch.ceil(h - 0.5)
        factor = interference(sc.lattice, i, h, h0)
        lattice = factor if lattice is None else lattice * factor
        whole.append(h0)
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
    lattice = None
    scaled = sc.axes["rotated"] * PI
    for i, n in enumerate(sc.lattice.chebyshev):
        if n == 1:
            continue
        # doubled in place: cos keeps its input, not its output, for the backward pass
        c2 = torch.cos(dots(flat, scaled[:, i, :])).mul_(2.0)
        factor = chebyshev_of_cosine(c2, n, signed=False)
        lattice = factor if lattice is None else lattice * factor
    if lattice is None:
        return torch.full(flat.shape[:1], float(sc.axes["rotated"].shape[0]),
                          dtype=flat.dtype, device=flat.device) * sc.grid.default_F ** 2
    return torch.linalg.vecdot(lattice, lattice) * (sc.grid.default_F * sc.grid.default_F)


def _passes_dmin(sc: Scene, scattering: torch.Tensor) -> torch.Tensor:
    stol = 0.5 * torch.sqrt((scattering * scattering).sum(dim=-1))
    if sc.dmin <= 0.0:
        return torch.ones(stol.shape, dtype=torch.bool, device=stol.device)
    return ~((stol > 0.0) & (sc.dmin > 0.5 / stol))


def render_legacy(sc: Scene, fast: torch.Tensor, slow: torch.Tensor, *, interpolate: bool,
                  entry: bool = False, record: dict | None = None) -> ChunkResult:
    """The original's pixel, quirks included.  entry: the first source to pass the
    resolution cut uses the crystal as the run started (phi_carryover).  record: a
    dict that receives every intermediate tensor (for traces)."""
    sp = subpixels(sc, fast, slow)
    P = fast.shape[0]
    scattering = (sp.diffracted[..., None, :] - sc.incident) / sc.wavelength[:, None]
    passes = _passes_dmin(sc, scattering)
    hkl = miller_indices(sc.axes["carried"], scattering)
    if entry:
        flat = passes.flatten(1)
        first = torch.zeros_like(flat)
        first[torch.arange(P, device=flat.device), torch.argmax(flat.to(torch.uint8), dim=1)] = True
        first = (first & flat).reshape(passes.shape)
        hkl = torch.where(first[..., None, None], miller_indices(sc.axes["entry"], scattering),
                          hkl)
        if record is not None:
            record.update(entry_axes=sc.axes["entry"], first=first)
    hkl0 = torch.ceil(hkl - 0.5)
    F_latt = lattice_factor(sc.lattice, hkl, hkl0)
    skip = ~passes[..., None]
    if sc.water_size == 0.0:
        skip = skip | (F_latt == 0)
    F_cell = nearest_F(sc.grid, hkl0)
    left = torch.zeros(P, dtype=torch.bool, device=fast.device)
    if interpolate:
        # interpolation_switch_off: from the first term whose stencil leaves the grid on
        off_grid = stencil_outside(sc.grid, hkl)
        outside = off_grid & ~skip
        active = (torch.cumsum(outside.flatten(1).to(torch.int32), dim=1) == 0)
        active = active.reshape(outside.shape)
        # skipped terms leave the switch alone but must not reach the stencil either
        usable = active & ~off_grid
        F_cell = torch.where(usable, tricubic_F(sc.grid, hkl, usable), F_cell)
        left = outside.flatten(1).any(dim=1)
    terms = torch.where(skip, torch.zeros_like(F_latt), F_cell * F_cell * F_latt * F_latt)

    if sc.nopolar and not sc.oversample_polar:
        polar = torch.ones(passes.shape, dtype=sc.at.dtype, device=sc.at.device)
    else:
        polar = polarization_factor(sc.polarization, sc.incident,
                                    sp.diffracted[..., None, :].expand_as(scattering),
                                    sc.polar_axis)
    running = []
    if sc.oversample_thick:
        running.append(sp.capture[..., None, None])
    if sc.oversample_polar:
        running.append(polar[..., None])
    if sc.oversample_omega:
        running.append(sp.omega[..., None, None])
    if running:
        # running_sum_factors: I = (I + term) * factor at every term, from I_bg
        factor = running[0]
        for more in running[1:]:
            factor = factor * more
        factor = torch.where(skip, torch.ones_like(terms), factor.expand_as(terms)).flatten(1)
        if record is not None:
            record["running_factor"] = factor
        suffix = torch.flip(torch.cumprod(torch.flip(factor, (1,)), dim=1), (1,))
        intensity = sc.I_bg * suffix[:, 0] + (terms.flatten(1) * suffix).sum(dim=1)
    else:
        intensity = sc.I_bg + terms.flatten(1).sum(dim=1)

    # factors_from_first_subpixel
    omega_flat = sp.omega.flatten(1)
    omega_held = _first_nonzero(omega_flat, torch.ones_like(omega_flat, dtype=torch.bool))
    value = sc.scale * intensity / sc.steps
    if not sc.oversample_thick:
        if sc.thick == 0.0:
            capture = torch.ones_like(value)
        else:
            last = sp.capture[:, -1].flatten(1)
            capture = _first_nonzero(last, torch.ones_like(last, dtype=torch.bool))
        value = value * capture
    if not sc.oversample_polar:
        if not sc.nopolar:
            value = value * _first_nonzero(polar.flatten(1), passes.flatten(1))
    if not sc.oversample_omega:
        value = value * omega_held
        omega_sum = omega_held * omega_flat.shape[1]
    else:
        omega_sum = omega_flat.sum(dim=1)
    if record is not None:
        record.update(subpixels=sp, scattering=scattering, passes=passes,
                      axes=sc.axes["carried"], hkl=hkl, hkl0=hkl0,
                      F_latt=F_latt, F_cell=F_cell, skip=skip, terms=terms, polar=polar,
                      intensity=intensity, values=value)
    return ChunkResult(value, passes.flatten(1).any(dim=1), left, omega_sum)


def _chunk_pixels(sc: Scene, budget: int, grad: bool) -> int:
    if sc.at.device.type == "cpu":
        budget = min(budget, CPU_CHUNK_BYTES)
    terms = (sc.thicksteps * sc.oversample * sc.oversample * sc.incident.shape[0]
             * sc.axes["rotated"].shape[0])
    words = _WORDS_PER_INTERPOLATED_TERM if sc.interpolate else _WORDS_PER_TERM
    per_pixel = terms * words * sc.at.dtype.itemsize * (2 if grad else 1)
    return max(1, int(budget // per_pixel))


_COMPILED: dict[str, Callable] = {}


def _pixel_functions(compile_: bool) -> tuple[Callable, Callable]:
    """The chunk renderers, eager or compiled by torch.compile (once per process)."""
    if not compile_:
        return render_corrected, render_legacy
    if not _COMPILED:
        _COMPILED["corrected"] = torch.compile(render_corrected, dynamic=True)
        _COMPILED["legacy"] = torch.compile(render_legacy, dynamic=True)
    return _COMPILED["corrected"], _COMPILED["legacy"]


def render(params: dict, sources: dict, mosaic_umats: Any, Fhkl: Any, mask: Any,
           progress: Callable[[int, int], Any] | None = None, *, at: Placement,
           memory_budget: int = DEFAULT_MEMORY_BUDGET,
           compiled: bool = False) -> tuple[torch.Tensor, dict]:
    """The float image (spixels, fpixels) in photons per pixel, and render facts.
    compiled: run the chunk renderers through torch.compile (slow to start, then faster).
    Under autograd each chunk is checkpointed: the backward pass renders it again, so
    memory stays bounded by the chunk size plus one value per pixel."""
    sc = make_scene(params, sources, mosaic_umats, Fhkl, at=at)
    corrected, legacy = _pixel_functions(compiled)
    info = {"steps": sc.steps, "omega_sum": 0.0, "interpolation_switched_off": False,
            "first_executed": -1, "switch_pixel": -1}
    S, F = sc.spixels, sc.fpixels
    image = torch.zeros(S * F, dtype=at.dtype, device=at.device)
    if S * F == 0:
        return image.reshape(S, F), info
    slow, fast = torch.meshgrid(torch.arange(S, device=at.device),
                                torch.arange(F, device=at.device), indexing="ij")
    rendered = ((fast >= params["roi_xmin"]) & (fast <= params["roi_xmax"])
                & (slow >= params["roi_ymin"]) & (slow <= params["roi_ymax"]))
    if mask is not None:
        rendered &= torch.as_tensor(mask, device=at.device) != 0
    pixels = torch.nonzero(rendered.reshape(-1))[:, 0]
    grad = torch.is_grad_enabled() and _needs_grad(sc)
    chunk = _chunk_pixels(sc, memory_budget, grad)
    if at.device.type == "cpu":
        prepare_for_render(with_graph=grad)

    def run(selection: torch.Tensor, kind: str, first_pixel: int) -> ChunkResult:
        """Render the selected pixels; progress counts rows from first_pixel's row on,
        as the C engine counts each pass."""
        n = selection.shape[0]
        # Per-pixel results go into arrays allocated before the first chunk: small
        # tensors kept from every chunk would pin the heap between the chunks' large
        # temporaries, and glibc's allocator would then grow without bound.
        out = ChunkResult(torch.zeros(0 if grad else n, dtype=at.dtype, device=at.device),
                          torch.zeros(n, dtype=torch.bool, device=at.device),
                          torch.zeros(n, dtype=torch.bool, device=at.device),
                          torch.zeros(n, dtype=at.dtype, device=at.device))
        first_row = first_pixel // F
        parts = []
        for start in range(0, n, chunk):
            idx = selection[start:start + chunk]
            stop = start + idx.shape[0]
            s, f = idx // F, idx % F
            renderer = (corrected if kind == "corrected"
                        else functools.partial(legacy, interpolate=kind == "interpolate"))
            if grad:
                # keep only the chunk's inputs and outputs for the backward pass, which
                # renders the chunk again: memory stays bounded by the chunk size
                part = checkpoint(renderer, sc, f, s, use_reentrant=False)
            else:
                part = renderer(sc, f, s)
            if grad:
                parts.append(part.values)
            else:
                out.values[start:stop] = part.values
            out.executed[start:stop] = part.executed
            out.left_grid[start:stop] = part.left_grid
            out.omega_sum[start:stop] = part.omega_sum.detach()
            del part
            if progress is not None and stop < n:
                _report(progress, int(idx[-1]) // F + 1 - first_row, S - first_row)
        if progress is not None:
            _report(progress, S - first_row, S - first_row)
        if grad:
            out.values = torch.cat(parts) if parts else torch.zeros(0, dtype=at.dtype,
                                                                   device=at.device)
        return out

    if not sc.c_parity:
        result = run(pixels, "corrected", 0)
        image = image.index_put((pixels,), result.values)
    else:
        result = run(pixels, "interpolate" if sc.interpolate else "plain", 0)
        image = image.index_put((pixels,), result.values)
        image, first_executed, switch_pixel = _legacy_passes(sc, pixels, result, image, run)
        info.update(interpolation_switched_off=switch_pixel >= 0, first_executed=first_executed,
                    switch_pixel=switch_pixel)
    info["omega_sum"] = float(result.omega_sum.detach().sum())
    return image.reshape(S, F), info


def _report(progress: Callable[[int, int], Any], done: int, total: int) -> None:
    """A false answer (None excepted) cancels, as in the C engine."""
    answer = progress(done, total)
    if answer is not None and not answer:
        raise RuntimeError("render cancelled by the progress callback")


def _needs_grad(sc: Scene) -> bool:
    return any(t.requires_grad for t in (sc.pix0, sc.fdet, sc.scale, sc.wavelength,
                                         sc.axes["rotated"], sc.lattice.N, sc.distance))


def _first_index(flags: torch.Tensor, pixels: torch.Tensor, after: int = -1) -> int:
    selected = flags & (pixels > after)
    if not bool(selected.any()):
        return -1
    return int(pixels[torch.argmax(selected.to(torch.uint8))])


def _legacy_passes(sc: Scene, pixels, result: ChunkResult, image, run):
    """phi_carryover and interpolation_switch_off, as the C engine applies them.
    Returns the image, the pixel that started from the unrotated crystal and the
    last pixel rendered with interpolation (-1 for none)."""
    first_executed = _first_index(result.executed, pixels)
    switch_pixel = _first_index(result.left_grid, pixels) if sc.interpolate else -1
    F = sc.fpixels
    if first_executed >= 0:
        interpolating = sc.interpolate and (switch_pixel < 0 or switch_pixel >= first_executed)
        one = torch.tensor([first_executed], device=pixels.device)
        entry = render_legacy(sc, one % F, one // F, interpolate=interpolating, entry=True)
        image = image.index_put((one,), entry.values)
        if sc.interpolate and switch_pixel == first_executed and not bool(entry.left_grid[0]):
            switch_pixel = _first_index(result.left_grid, pixels, first_executed)
        if interpolating and bool(entry.left_grid[0]):
            switch_pixel = first_executed
    if switch_pixel < 0:
        return image, first_executed, switch_pixel
    later = pixels[pixels > switch_pixel]
    if later.numel():
        image = image.index_put((later,), run(later, "plain", switch_pixel + 1).values)
    return image, first_executed, switch_pixel
