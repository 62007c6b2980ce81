"""sources and mosaic_rotations: incident directions, wavelengths and weights
from divergence and dispersion or a source table; mosaic domain rotations from
the legacy generator's draws."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from nanobragg import _core
from nanobragg.engines.torch.vectors import Placement, rotate_axis, unitize
from nanobragg.sampling import Sampling

SOURCE_DISTANCE_M = 10.0


def _divergence_points(sampling: Sampling, round_div: bool) -> np.ndarray:
    """(n, 2) hdiv, vdiv of the divergence grid points inside the divergence ellipse,
    horizontal index major, evaluated in IEEE arithmetic as in C (a zero range makes
    the test NaN, which keeps the point)."""
    h, v = sampling.hdiv, sampling.vdiv
    hdiv = h.step * np.arange(h.steps, dtype=np.float64) - h.range / 2.0
    vdiv = v.step * np.arange(v.steps, dtype=np.float64) - v.range / 2.0
    hdiv, vdiv = (a.reshape(-1) for a in np.meshgrid(hdiv, vdiv, indexing="ij"))
    with np.errstate(divide="ignore", invalid="ignore"):
        test = ((hdiv * hdiv - h.step * h.step / 4.0 * (1 - h.steps % 2))
                / np.float64(h.range) / np.float64(h.range))
        test = test + ((vdiv * vdiv - v.step * v.step / 4.0 * (1 - v.steps % 2))
                       / np.float64(v.range) / np.float64(v.range))
        keep = ~(round_div & (test * 4.0 > 1.1))
    return np.stack((hdiv[keep], vdiv[keep]), axis=-1)


def sources(sampling: Sampling, geometry: dict[str, Any], *, lambda0: Any, round_div: bool,
            table: np.ndarray | None, at: Placement) -> dict[str, Any]:
    """Unit directions towards each source (n, 3), wavelengths (m) and weights."""
    beam = geometry["beam"]
    lambda0 = at.tensor(lambda0)
    if table is not None:
        rows = at.tensor(table)
        default = -SOURCE_DISTANCE_M * beam
        position = torch.where(torch.isnan(rows[:, :3]), default, rows[:, :3])
        weight = torch.where(torch.isnan(rows[:, 3]), torch.ones_like(rows[:, 3]), rows[:, 3])
        wavelength = torch.where(torch.isnan(rows[:, 4]), lambda0, rows[:, 4])
        return {"direction": unitize(position)[0], "wavelength": wavelength, "weight": weight,
                "divergence_steps": 0}
    points = at.tensor(_divergence_points(sampling, round_div))
    disp = sampling.dispersion
    n = points.shape[0] * disp.steps
    position = (-SOURCE_DISTANCE_M * beam).expand(points.shape[0], 3)
    # vertical divergence about the E vector, then horizontal about its normal
    position = rotate_axis(rotate_axis(position, geometry["polar"], points[:, 1]),
                           geometry["vert"], points[:, 0])
    direction = unitize(position)[0].repeat_interleave(disp.steps, dim=0)
    # the relative wavelength 1 + step d - range / 2, summed in the C engine's order
    relative = at.tensor((1.0 + disp.step * np.arange(disp.steps, dtype=np.float64))
                         - disp.range / 2.0)
    wavelength = (lambda0 * relative).repeat(points.shape[0])
    weight = torch.full((n,), 1.0 / n, dtype=at.dtype, device=at.device)
    return {"direction": direction, "wavelength": wavelength, "weight": weight,
            "divergence_steps": points.shape[0]}


def axis_angle_matrices(axes: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Row-major rotation matrices (n, 3, 3) by angles about unit axes."""
    v1, v2, v3 = axes[:, 0], axes[:, 1], axes[:, 2]
    c, s = torch.cos(angles), torch.sin(angles)
    omc = 1.0 - c
    rows = (c + omc * (v1 * v1), (omc * v1) * v2 - s * v3, (omc * v1) * v3 + s * v2,
            (omc * v1) * v2 + s * v3, c + omc * (v2 * v2), omc * v2 * v3 - s * v1,
            (omc * v1) * v3 - s * v2, omc * v2 * v3 + s * v1, c + omc * (v3 * v3))
    return torch.stack(rows, dim=-1).reshape(-1, 3, 3)


def mosaic_rotations(sampling: Sampling, *, seed: int, rng: Any, at: Placement,
                     spread: Any = None) -> torch.Tensor:
    """(domains, 3, 3) rotations; the first is the identity.  The axes and angles
    come from the legacy generator; a spread given as a tensor scales the angles
    so that the image is differentiable with respect to it."""
    axes, angles = _core.mosaic_axes(sampling.mosaic_spread, sampling.mosaic_domains, seed, rng)
    angles_t = at.tensor(angles)
    if spread is not None and sampling.mosaic_spread > 0:
        angles_t = angles_t * (at.tensor(spread) / sampling.mosaic_spread)
    umats = axis_angle_matrices(at.tensor(axes), angles_t)
    identity = torch.eye(3, dtype=at.dtype, device=at.device)
    return torch.cat((identity[None], umats[1:]), dim=0)
