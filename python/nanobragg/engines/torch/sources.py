"""sources and mosaic_rotations: incident directions, wavelengths and weights
from divergence and dispersion or a source table; mosaic domain rotations from
the legacy generator's draws."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from nanobragg.engines.torch.vectors import Placement, rotate_axis, unitize
from nanobragg.legacy_random import mosaic_axes
from nanobragg.stages import MosaicRotations, MosaicSpec, Sources, SourceSpec, to_numpy


def _divergence_points(spec: SourceSpec) -> np.ndarray:
    """(n, 2) hdiv, vdiv of the divergence grid points inside the divergence ellipse,
    horizontal index major, evaluated in IEEE arithmetic as in C (a zero range makes
    the test NaN, which keeps the point)."""
    h_step, h_range, h_steps = spec.hdiv_step_rad, spec.hdiv_range_rad, spec.hdiv_steps
    v_step, v_range, v_steps = spec.vdiv_step_rad, spec.vdiv_range_rad, spec.vdiv_steps
    with np.errstate(all="ignore"):
        hdiv = h_step * np.arange(h_steps, dtype=np.float64) - h_range / 2.0
        vdiv = v_step * np.arange(v_steps, dtype=np.float64) - v_range / 2.0
        hdiv, vdiv = (a.reshape(-1) for a in np.meshgrid(hdiv, vdiv, indexing="ij"))
        test = ((hdiv * hdiv - h_step * h_step / 4.0 * (1 - h_steps % 2))
                / np.float64(h_range) / np.float64(h_range))
        test = test + ((vdiv * vdiv - v_step * v_step / 4.0 * (1 - v_steps % 2))
                       / np.float64(v_range) / np.float64(v_range))
        keep = ~(spec.round_div & (test * 4.0 > 1.1))
    return np.stack((hdiv[keep], vdiv[keep]), axis=-1)


def sources(spec: SourceSpec, table: np.ndarray | None, *, at: Placement) -> Sources:
    """Unit directions towards each source (n, 3), wavelengths (m) and weights."""
    beam = at.tensor(spec.beam)
    wavelength0 = at.tensor(spec.wavelength_m)
    if table is not None:
        rows = at.tensor(table)
        default = -spec.source_distance_m * beam
        position = torch.where(torch.isnan(rows[:, :3]), default, rows[:, :3])
        weight = torch.where(torch.isnan(rows[:, 3]), torch.ones_like(rows[:, 3]), rows[:, 3])
        wavelength = torch.where(torch.isnan(rows[:, 4]), wavelength0, rows[:, 4])
        return Sources(direction=unitize(position)[0], wavelength_m=wavelength, weight=weight,
                       divergence_steps=0)
    points = at.tensor(_divergence_points(spec))
    steps = spec.dispersion_steps
    n = points.shape[0] * steps
    position = (-spec.source_distance_m * beam).expand(points.shape[0], 3)
    # vertical divergence about the E vector, then horizontal about its normal
    position = rotate_axis(rotate_axis(position, at.tensor(spec.polar), points[:, 1]),
                           at.tensor(spec.vert), points[:, 0])
    direction = unitize(position)[0].repeat_interleave(steps, dim=0)
    # the relative wavelength 1 + step d - range / 2, summed in the C engine's order
    with np.errstate(all="ignore"):
        relative = at.tensor((1.0 + spec.dispersion_step * np.arange(steps, dtype=np.float64))
                             - spec.dispersion_range / 2.0)
    wavelength = (wavelength0 * relative).repeat(points.shape[0])
    # an empty grid makes no source, and needs no weight
    weight = torch.full((n,), 1.0 / max(n, 1), dtype=at.dtype, device=at.device)
    return Sources(direction=direction, wavelength_m=wavelength, weight=weight,
                   divergence_steps=points.shape[0])


def axis_angle_matrices(axes: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Row-major rotation matrices (n, 3, 3) by angles about unit axes."""
    v1, v2, v3 = axes[:, 0], axes[:, 1], axes[:, 2]
    c, s = torch.cos(angles), torch.sin(angles)
    omc = 1.0 - c
    rows = (c + omc * (v1 * v1), (omc * v1) * v2 - s * v3, (omc * v1) * v3 + s * v2,
            (omc * v1) * v2 + s * v3, c + omc * (v2 * v2), omc * v2 * v3 - s * v1,
            (omc * v1) * v3 - s * v2, omc * v2 * v3 + s * v1, c + omc * (v3 * v3))
    return torch.stack(rows, dim=-1).reshape(-1, 3, 3)


def mosaic_rotations(spec: MosaicSpec, rng: Any, *, at: Placement) -> MosaicRotations:
    """(domains, 3, 3) rotations; the first is the identity.  The axes and angles come
    from the legacy generator; a spread given as a tensor scales the angles so that the
    image is differentiable with respect to it."""
    plain = to_numpy(spec)
    axes, angles = mosaic_axes(plain, rng)
    angles_t = at.tensor(angles)
    if torch.is_tensor(spec.spread_rad):
        angles_t = angles_t * (at.tensor(spec.spread_rad) / plain.spread_rad)
    umats = axis_angle_matrices(at.tensor(axes), angles_t)
    identity = torch.eye(3, dtype=at.dtype, device=at.device)
    return MosaicRotations(torch.cat((identity[None], umats[1:]), dim=0))
