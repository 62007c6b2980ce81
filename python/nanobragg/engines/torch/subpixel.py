"""Per sub-pixel geometry and factors (as ``nb_subpixel.h``): the lab position and
direction of every sub-pixel of a chunk of pixels, its solid angle and sensor capture
fraction, the Kahn polarization factor and the resolution (dmin) cut."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from nanobragg.engines.torch.scene import Scene
from nanobragg.engines.torch.vectors import cross, dot, rotate_axis, unitize


@dataclass
class Subpixels:
    """Per (pixel, layer, slow sub-pixel, fast sub-pixel): position, direction, solid
    angle, capture fraction."""

    position: torch.Tensor
    diffracted: torch.Tensor
    omega: torch.Tensor
    capture: torch.Tensor


def subpixels(sc: Scene, fast: torch.Tensor, slow: torch.Tensor) -> Subpixels:
    at, n = sc.at, sc.p.oversample
    sub = sc.p.pixel_size_m / n
    steps = torch.arange(n, device=at.device)
    F_det = sub * (fast[:, None] * n + steps).to(at.dtype) + sub / 2.0
    S_det = sub * (slow[:, None] * n + steps).to(at.dtype) + sub / 2.0
    layers = torch.arange(sc.p.thickness_steps, device=at.device).to(at.dtype)
    O_det = layers * sc.p.thickness_step_m
    position = ((F_det[:, None, None, :, None] * sc.fdet + S_det[:, None, :, None, None] * sc.sdet)
                + O_det[None, :, None, None, None] * sc.odet) + sc.pix0_m
    if sc.p.curved_detector and sc.p.c_parity:
        # every pixel at the same distance; quirk curved_detector_lab_axes: the lab y and
        # z coordinates of the flat pixel act as the angles about sdet and fdet
        start = sc.beam * sc.distance_m
        turned = rotate_axis(start, sc.sdet, position[..., 1] / sc.distance_m)
        position = rotate_axis(turned, sc.fdet, position[..., 2] / sc.distance_m)
    elif sc.p.curved_detector:
        # the pixel's fast and slow offsets from the beam centre, over the distance, are
        # the angles that carry the beam point onto it (sensor layers deeper out)
        impact = sc.distance_m * sc.beam - sc.pix0_m
        start = (sc.distance_m + O_det)[:, None] * sc.beam
        turned = rotate_axis(start[None, :, None, None, :], sc.sdet,
                             ((F_det - dot(impact, sc.fdet)) / sc.distance_m)[:, None, None, :])
        position = rotate_axis(turned, sc.fdet,
                               (-(S_det - dot(impact, sc.sdet)) / sc.distance_m)[:, None, :, None])
        position = position.expand(fast.shape[0], sc.p.thickness_steps, n, n, 3)
    diffracted, airpath = unitize(position)
    if sc.p.point_pixel:
        omega = 1.0 / airpath / airpath
    else:
        pixel = sc.p.pixel_size_m
        omega = pixel * pixel / airpath / airpath * sc.close_distance_m / airpath
    # quirk oversample_thick_without_thickness: the original evaluates the capture fraction
    # without a sensor too (0 there); corrected, no sensor captures every photon
    if sc.p.c_parity or sc.p.thickness_m > 0.0:
        parallax = dot(diffracted, sc.odet)
        depth = layers[None, :, None, None]
        capture = (torch.exp(-depth * sc.p.thickness_step_m * sc.p.mu_per_m / parallax)
                   - torch.exp(-(depth + 1) * sc.p.thickness_step_m * sc.p.mu_per_m / parallax))
    else:
        capture = torch.ones_like(omega)
    return Subpixels(position, diffracted, omega, capture)


def kahn_polarization(kahn: float, incident: torch.Tensor, diffracted: torch.Tensor,
                      axis: torch.Tensor) -> torch.Tensor:
    """Kahn polarization factor of unit incident and diffracted directions about the
    unit E vector ``axis`` (the C engine's kahn_polarization, shared by the render and
    the amorphous stage)."""
    cos2theta = dot(incident, diffracted)
    cos2theta_sqr = cos2theta * cos2theta
    sin2theta_sqr = 1 - cos2theta_sqr
    if kahn == 0.0:
        return 0.5 * (1.0 + cos2theta_sqr)
    B_in, _ = unitize(cross(axis.expand_as(incident), incident))
    E_in, _ = unitize(cross(incident, B_in))
    psi = -torch.atan2(dot(diffracted, B_in), dot(diffracted, E_in))
    return 0.5 * (1.0 + cos2theta_sqr - kahn * torch.cos(2 * psi) * sin2theta_sqr)


def polarization_factor(kahn: float, incident: torch.Tensor, diffracted: torch.Tensor,
                        axis: torch.Tensor) -> torch.Tensor:
    """Kahn polarization factor, the directions normalised first (as the original
    renormalises them in place)."""
    return kahn_polarization(kahn, unitize(incident)[0], unitize(diffracted)[0],
                             unitize(axis)[0])


def scattering_vectors(sc: Scene, sp: Subpixels) -> torch.Tensor:
    """(pixels, layers, sub, sub, sources, 3) (diffracted - incident) / wavelength."""
    return (sp.diffracted[..., None, :] - sc.incident) / sc.wavelength_m[:, None]


def polarization(sc: Scene, sp: Subpixels, scattering: torch.Tensor) -> torch.Tensor:
    """The polarization factor of every sub-pixel and source."""
    return polarization_factor(sc.p.polarization, sc.incident,
                               sp.diffracted[..., None, :].expand_as(scattering), sc.polar_axis)


def beyond_dmin(sc: Scene, scattering: torch.Tensor) -> torch.Tensor:
    """Whether each scattering vector reaches past the resolution limit (its source then
    adds no Bragg term)."""
    if sc.p.dmin_m <= 0.0:
        return torch.zeros(scattering.shape[:-1], dtype=torch.bool, device=scattering.device)
    stol = 0.5 * torch.sqrt((scattering * scattering).sum(dim=-1))
    return (stol > 0.0) & (sc.p.dmin_m > 0.5 / stol)
