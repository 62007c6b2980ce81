"""point_scatterers on tensors: pixels in chunks; sub-pixels, sources and atoms as tensor
dimensions.  Paths and phases are computed in float64 whatever the dtype (a phase is
2 pi x 0.1 m / 1e-10 m, some 6e9 radians, which float32 cannot hold); the waves and
their sums in the chosen dtype."""

from __future__ import annotations

import math
from typing import Any

import torch

from nanobragg.engines.base import Progress
from nanobragg.engines.torch.vectors import FLOAT64, Placement
from nanobragg.stages.scatterers import ScattererInputs, ScattererOutput

R_E_SQR_M2 = 7.94079248018965e-30
LEGACY_TWO_PI = 6.28318530717959
CHUNK_TERMS = 1 << 20
"""Terms (pixel x sub-pixel x source x atom) per chunk of pixels."""


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


def _norm(v: torch.Tensor, exact: bool = True) -> torch.Tensor:
    """The length of vectors along the last dimension, summed as the C engine sums (and
    rounded as C's sqrt rounds, unless not ``exact``)."""
    squares = v[..., 0] * v[..., 0] + v[..., 1] * v[..., 1] + v[..., 2] * v[..., 2]
    return exact_sqrt(squares) if exact else torch.sqrt(squares)


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


def _waves(inputs: ScattererInputs, pos: torch.Tensor, at64: Placement,
           dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Re and Im of the summed atoms' waves: (pixels, sub-pixels, sources) each."""
    p, atoms, sources = inputs.params, inputs.atoms, inputs.sources
    xyz = at64.tensor(atoms.position_m)                      # (N, 3)
    src = at64.tensor(sources.position_m)                    # (M, 3)
    k = at64.tensor(sources.direction)                       # (M, 3)
    lam = at64.tensor(sources.wavelength_m)                  # (M,)
    two_pi = LEGACY_TWO_PI if p.c_parity else 2.0 * math.pi  # quirk near_truncated_pi
    # quirk near_far_source_ignores_divergence (see nb_scatterers.c: add_atoms)
    if p.far_source:
        in_path = (xyz[:, 0].expand(len(lam), -1) if p.c_parity else k @ xyz.T)  # (M, N)
        S0 = (torch.tensor([1.0, 0.0, 0.0], dtype=FLOAT64, device=at64.device)
              .expand(len(lam), xyz.shape[0], 3) if p.c_parity
              else k[:, None, :].expand(-1, xyz.shape[0], -1))
    else:
        delta = xyz[None, :, :] - src[:, None, :]            # (M, N, 3)
        in_path = _norm(delta)
        S0 = delta / in_path[..., None]
    out = pos[:, :, None, :] - xyz[None, None, :, :]         # (P, S, N, 3)
    # float32 waves do not need the last bit of a path (1e-6 radians of phase)
    out_path = _norm(out, exact=dtype == FLOAT64)            # (P, S, N)
    phase = (two_pi * (in_path[None, None] + out_path[:, :, None, :]) / lam[:, None]
             + at64.tensor(atoms.phase_rad))                 # (P, S, M, N)
    phase = torch.remainder(phase, 2.0 * math.pi) if dtype != FLOAT64 else phase
    S = out / out_path[..., None]                            # (P, S, N, 3)
    q = (S[:, :, None] - S0[None, None]) / (lam[:, None, None] * 1e10)
    stol = _norm(q, exact=dtype == FLOAT64) / 2.0
    B = at64.tensor(atoms.B_A2)
    DWF = at64.tensor(atoms.occupancy) * torch.where(B != 0.0, torch.exp(-B * stol * stol),
                                                     torch.ones_like(stol))
    # quirk near_source_inverse_square (see nb_scatterers.c: add_atoms)
    if p.far_source:
        amplitude = DWF / out_path[:, :, None, :]
    elif p.c_parity:
        amplitude = DWF / in_path / out_path[:, :, None, :]
    else:
        amplitude = DWF * _norm(src)[:, None] / in_path \
            / out_path[:, :, None, :]
    amplitude, phase = amplitude.to(dtype), phase.to(dtype)
    return (amplitude * torch.cos(phase)).sum(-1), (amplitude * torch.sin(phase)).sum(-1)


def _chunk(inputs: ScattererInputs, fast: torch.Tensor, slow: torch.Tensor,
           at: Placement, at64: Placement) -> tuple[torch.Tensor, ...]:
    """(value, real, imag, omega sum) of a chunk of pixels."""
    p = inputs.params
    n = int(p.oversample)
    steps = len(inputs.sources.wavelength_m) * n * n
    pos = _subpixel_positions(p, fast, slow, at64)
    airpath = _norm(pos)
    omega = _solid_angle_R2(p, pos, airpath, at64)          # (P, S)
    Fa, Fb = _waves(inputs, pos, at64, at.dtype)             # (P, S, M)
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
        values, reals, imags = [], [], []
        for start in range(0, len(fast), size):
            f, s = fast[start:start + size], slow[start:start + size]
            value, re, im, om = _chunk(inputs, f, s, at, at64)
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
