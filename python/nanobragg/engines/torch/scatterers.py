"""point_scatterers on tensors: pixels in chunks; sub-pixels, sources and atoms as tensor
dimensions.  With c_parity in float64 each term is the original's arithmetic (paths and
phases in float64, square roots rounded as C's); otherwise the phases are split into
parts exact to the dtype (scatterer_waves.py)."""

from __future__ import annotations

import math
from typing import Any

import torch

from nanobragg.engines.base import Progress
from nanobragg.engines.torch.scatterer_waves import (
    WaveTable,
    norm,
    source_paths,
    wave_sums,
    wave_tables,
)
from nanobragg.engines.torch.vectors import FLOAT64, Placement
from nanobragg.stages.scatterers import ScattererInputs, ScattererOutput

R_E_SQR_M2 = 7.94079248018965e-30
LEGACY_TWO_PI = 6.28318530717959
CHUNK_TERMS = 1 << 18
"""Terms (pixel x sub-pixel x source x atom) per chunk of pixels."""


def _subpixel_positions(p: Any, fast: torch.Tensor, slow: torch.Tensor,
                        at: Placement) -> torch.Tensor:
    """(pixels, sub-pixels, 3) positions of the sub-pixels of the pixels (fast, slow)."""
    n = int(p.oversample)
    sub = p.pixel_size_m / n
    offsets = torch.arange(n, device=at.device, dtype=torch.long)
    subz = offsets.repeat(n)          # fast sub-pixel, inner loop
    suby = offsets.repeat_interleave(n)
    X = sub * (fast[:, None] * n + subz[None, :]).to(FLOAT64) + sub / 2.0
    Y = sub * (slow[:, None] * n + suby[None, :]).to(FLOAT64) + sub / 2.0
    fdet, sdet, pix0 = (at.tensor(v) for v in (p.fdet, p.sdet, p.pix0_m))
    pos: torch.Tensor = X[..., None] * fdet + Y[..., None] * sdet + pix0
    if p.curved_detector:
        # quirk near_curved_detector_mirrored (see nb_scatterers.c: subpixel_position)
        d = p.distance_m
        ay = pos[..., 2] / d if p.c_parity else -pos[..., 2] / d
        az = pos[..., 1] / d
        x = d * torch.cos(ay)
        pos = torch.stack((x * torch.cos(az), x * torch.sin(az), d * -torch.sin(ay)), dim=-1)
    return pos


def _solid_angle_R2(p: Any, pos: torch.Tensor, airpath: torch.Tensor,
                    at: Placement) -> torch.Tensor:
    """quirk near_solid_angle_ignores_tilt (see nb_scatterers.c: solid_angle_R2)."""
    pixel = p.pixel_size_m
    if p.point_pixel:
        return torch.ones_like(airpath)
    if p.curved_detector and not p.c_parity:
        return torch.full_like(airpath, pixel * pixel)
    obliquity = p.distance_m if p.c_parity else torch.abs(pos @ at.tensor(p.odet))
    result: torch.Tensor = pixel * pixel * obliquity / airpath
    return result


def _legacy_waves(inputs: ScattererInputs, pos: torch.Tensor,
                  at64: Placement) -> tuple[torch.Tensor, torch.Tensor]:
    """Re and Im of the summed atoms' waves in the original's float64 arithmetic:
    (pixels, sub-pixels, sources) each."""
    atoms, sources = inputs.atoms, inputs.sources
    xyz = at64.tensor(atoms.position_m)                      # (N, 3)
    src = at64.tensor(sources.position_m)                    # (M, 3)
    lam = at64.tensor(sources.wavelength_m)                  # (M,)
    in_path, S0 = source_paths(inputs.params, xyz, src, at64.tensor(sources.direction), at64)
    out = pos[:, :, None, :] - xyz[None, None, :, :]         # (P, S, N, 3)
    out_path = norm(out)                                     # (P, S, N)
    # quirk near_truncated_pi
    phase = (LEGACY_TWO_PI * (in_path[None, None] + out_path[:, :, None, :]) / lam[:, None]
             + at64.tensor(atoms.phase_rad))                 # (P, S, M, N)
    S = out / out_path[..., None]                            # (P, S, N, 3)
    q = (S[:, :, None] - S0[None, None]) / (lam[:, None, None] * 1e10)
    stol = norm(q) / 2.0
    B = at64.tensor(atoms.B_A2)
    DWF = at64.tensor(atoms.occupancy) * torch.where(B != 0.0, torch.exp(-B * stol * stol),
                                                     torch.ones_like(stol))
    # quirk near_source_inverse_square (see nb_scatterers.c: wave_tables)
    if inputs.params.far_source:
        amplitude = DWF / out_path[:, :, None, :]
    else:
        amplitude = DWF / in_path / out_path[:, :, None, :]
    return (amplitude * torch.cos(phase)).sum(-1), (amplitude * torch.sin(phase)).sum(-1)


def _chunk(inputs: ScattererInputs, table: WaveTable | None, fast: torch.Tensor,
           slow: torch.Tensor, at: Placement, at64: Placement) -> tuple[torch.Tensor, ...]:
    """(value, real, imag, omega sum) of a chunk of pixels (the legacy float64 sums
    without a table)."""
    p = inputs.params
    n = int(p.oversample)
    steps = len(inputs.sources.wavelength_m) * n * n
    pos = _subpixel_positions(p, fast, slow, at64)
    airpath = norm(pos)
    omega = _solid_angle_R2(p, pos, airpath, at64)          # (P, S)
    if table is None:
        Fa, Fb = _legacy_waves(inputs, pos, at64)            # (P, S, M)
    else:
        Fa, Fb = wave_sums(table, pos.reshape(-1, 3), airpath.reshape(-1), at.dtype)
        Fa, Fb = Fa.reshape(*pos.shape[:2], -1), Fb.reshape(*pos.shape[:2], -1)
    real = imag = torch.zeros(len(fast), dtype=at.dtype, device=at.device)
    if p.coherent:
        j = slow * int(p.fpixels) + fast
        re_in = _initial(inputs.real, j, at)
        im_in = _initial(inputs.imag, j, at)
        A = Fa.sum((1, 2)) + re_in * steps
        Bm = Fb.sum((1, 2)) + im_in * steps
        real, imag = A / steps, Bm / steps
        intensity = (A * A + Bm * Bm) / steps
        factor = omega[:, -1] if p.c_parity else omega.mean(1)
        value = intensity / steps * factor.to(at.dtype)
    else:
        group = torch.as_tensor(inputs.sources.group, device=at.device, dtype=torch.long)
        groups = int(group.max()) + 1 if len(group) else 0
        shape = (*Fa.shape[:2], groups)
        Ga = torch.zeros(shape, dtype=at.dtype, device=at.device).index_add(2, group, Fa)
        Gb = torch.zeros(shape, dtype=at.dtype, device=at.device).index_add(2, group, Fb)
        per_sub = (Ga * Ga + Gb * Gb).sum(-1)                # (P, S)
        # quirk near_solid_angle_last_subpixel (see nb_scatterers.c: scatter_pixel)
        if p.c_parity:
            value = per_sub.sum(1) / steps * omega[:, -1].to(at.dtype)
        else:
            value = (per_sub * omega.to(at.dtype)).sum(1) / steps
    value = value * (p.fluence_per_m2 * R_E_SQR_M2)
    return value, real, imag, omega.sum(1)


def _initial(image: Any, j: torch.Tensor, at: Placement) -> torch.Tensor:
    if image is None:
        return torch.zeros(len(j), dtype=at.dtype, device=at.device)
    return at.tensor(image).reshape(-1)[j]


def point_scatterers(inputs: ScattererInputs, progress: Progress | None, *,
                     at: Placement) -> ScattererOutput:
    p = inputs.params
    at64 = Placement(at.device, FLOAT64)
    fp, sp = int(p.fpixels), int(p.spixels)
    xmin, xmax = max(int(p.roi_xmin), 0), min(int(p.roi_xmax), fp - 1)
    ymin, ymax = max(int(p.roi_ymin), 0), min(int(p.roi_ymax), sp - 1)
    image = _start(inputs.image, sp, fp, at)
    real = _start(inputs.real, sp, fp, at)
    imag = _start(inputs.imag, sp, fp, at)
    omega = torch.zeros(sp * fp, dtype=FLOAT64, device=at.device)
    steps = len(inputs.sources.wavelength_m) * int(p.oversample) ** 2
    if xmax >= xmin and ymax >= ymin:
        ys, xs = torch.meshgrid(torch.arange(ymin, ymax + 1, device=at.device),
                                torch.arange(xmin, xmax + 1, device=at.device), indexing="ij")
        slow, fast = ys.reshape(-1), xs.reshape(-1)
        per_pixel = max(1, steps * max(1, len(inputs.atoms.occupancy)))
        size = max(1, CHUNK_TERMS // per_pixel)
        # quirk near_truncated_pi: the original's phases use its 15-digit 2 pi
        table = None if p.c_parity and at.dtype == FLOAT64 else \
            wave_tables(inputs, LEGACY_TWO_PI if p.c_parity else 2.0 * math.pi, at)
        values, reals, imags = [], [], []
        for start in range(0, len(fast), size):
            f, s = fast[start:start + size], slow[start:start + size]
            value, re, im, om = _chunk(inputs, table, f, s, at, at64)
            values.append(value)
            reals.append(re)
            imags.append(im)
            omega[s * fp + f] = om
            if progress is not None:
                # a false answer (None excepted) cancels, as in the C engine
                answer = progress(min(start + size, len(fast)), len(fast))
                if answer is not None and not answer:
                    raise RuntimeError("point_scatterers cancelled by the progress callback")
        j = slow * fp + fast
        image = image.index_add(0, j, torch.cat(values))
        if p.coherent:
            real = real.index_copy(0, j, torch.cat(reals))
            imag = imag.index_copy(0, j, torch.cat(imags))
    return ScattererOutput(image=image.reshape(sp, fp), real=real.reshape(sp, fp),
                           imag=imag.reshape(sp, fp), omega=omega.reshape(sp, fp),
                           steps=steps)


def _start(image: Any, sp: int, fp: int, at: Placement) -> torch.Tensor:
    if image is None:
        return torch.zeros(sp * fp, dtype=at.dtype, device=at.device)
    return at.tensor(image).reshape(-1)
