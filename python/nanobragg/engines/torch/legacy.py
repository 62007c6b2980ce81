"""The original's pixel, quirks included (as ``nb_render_legacy.c``).

The original's loop holds its solid angle, polarization and capture fraction in
variables that it sets at the first sub-pixel or source reached and then keeps
(factors_from_first_subpixel); :func:`held_factors` computes, for every sub-pixel and
source, the value those variables hold there, and both the pixel's value and its trace
read them.  With ``-oversample_omega/_polar/_thick`` the factor multiplies the running
sum at every term (running_sum_factors); :func:`running_sum` is that recurrence, as a
scan over the pixel's terms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from nanobragg.engines.torch.lattice import (
    lattice_factor,
    miller_indices,
    nearest_F,
    stencil_outside,
    tricubic_F,
)
from nanobragg.engines.torch.scene import ChunkResult, Scene
from nanobragg.engines.torch.subpixel import (
    Subpixels,
    beyond_dmin,
    polarization,
    scattering_vectors,
    subpixels,
)


@dataclass
class HeldFactors:
    """What the original's factor variables hold at each sub-pixel (omega, capture:
    (pixels, layers, sub, sub)) and each sub-pixel and source (polar: one more dim).  A
    factor the render needs only at the pixel's end (neither traced nor oversampled)
    holds just that value, (pixels, 1)."""

    omega: torch.Tensor
    capture: torch.Tensor
    polar: torch.Tensor

    def at_end(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per pixel, the values left after its last term: they scale the whole pixel."""
        return (self.omega.flatten(1)[:, -1], self.capture.flatten(1)[:, -1],
                self.polar.flatten(1)[:, -1])


def _held_from_first_nonzero(values: torch.Tensor, usable: torch.Tensor, before: float, *,
                             every_term: bool) -> torch.Tensor:
    """Along the last dim: from the first usable nonzero value on, that value; before it,
    ``before``.  Without every_term, only the value held at the end (size 1)."""
    found = usable & (values != 0)
    first = torch.argmax(found.to(torch.uint8), dim=-1, keepdim=True)
    value = torch.gather(values, -1, first)
    any_found = found.any(dim=-1, keepdim=True)
    if not every_term:
        return torch.where(any_found, value, torch.full_like(value, before))
    index = torch.arange(values.shape[-1], device=values.device)
    return torch.where(any_found & (index >= first), value, torch.full_like(values, before))


def _held_from_last(values: torch.Tensor, usable: torch.Tensor, before: float) -> torch.Tensor:
    """Along the last dim: the last usable value so far; before the first, ``before``."""
    index = torch.arange(values.shape[-1], device=values.device).expand_as(values)
    latest = torch.cummax(torch.where(usable, index, torch.full_like(index, -1)), dim=-1).values
    taken = torch.gather(values, -1, latest.clamp(min=0))
    return torch.where(latest >= 0, taken, torch.full_like(values, before))


def held_factors(sc: Scene, sp: Subpixels, polar: torch.Tensor, passes: torch.Tensor, *,
                 every_term: bool = False) -> HeldFactors:
    """quirk factors_from_first_subpixel: each factor variable as the original's loop
    holds it.  The solid angle is set at the first sub-pixel (every sub-pixel with
    -oversample_omega); the capture fraction at each layer's first sub-pixel (every one
    with -oversample_thick), from 1 when the sensor has no thickness; the polarization at
    the first source that passes the dmin cut (every passing one with -oversample_polar),
    from 1 with -nopolar.  every_term: the values at every term (for traces), not just
    at the pixel's end where that is all the render needs."""
    shape = sp.omega.shape
    flat_omega = sp.omega.flatten(1)
    if sc.p.oversample_omega:
        omega = sp.omega
    else:
        omega = _held_from_first_nonzero(flat_omega, torch.ones_like(flat_omega, dtype=torch.bool),
                                         0.0, every_term=every_term)
        omega = omega.reshape(shape) if every_term else omega
    if sc.p.oversample_thick:
        # quirk oversample_thick_without_thickness: each sub-pixel's own capture fraction,
        # 0 where there is no sensor
        capture = sp.capture
    elif sc.p.thickness_m == 0.0:
        capture = torch.ones_like(sp.capture)
    else:
        # the capture fraction the pixel ends with is its last layer's
        per_layer = sp.capture.flatten(2) if every_term else sp.capture[:, -1:].flatten(2)
        capture = _held_from_first_nonzero(per_layer, torch.ones_like(per_layer, dtype=torch.bool),
                                           0.0, every_term=every_term)
        capture = capture.reshape(shape) if every_term else capture
    # quirk dmin_kills_background: until a source passes the cut the polarization is 0,
    # and where none does it zeroes the background too
    before = 1.0 if sc.p.nopolar else 0.0
    flat_polar, flat_passes = polar.flatten(1), passes.flatten(1)
    if sc.p.oversample_polar:
        # quirk nopolar_overridden_by_oversample_polar: recomputed at every passing source,
        # -nopolar or not
        held_polar = _held_from_last(flat_polar, flat_passes, before).reshape(polar.shape)
    elif sc.p.nopolar:
        held_polar = torch.ones_like(polar)
    else:
        held_polar = _held_from_first_nonzero(flat_polar, flat_passes, before,
                                              every_term=every_term)
        held_polar = held_polar.reshape(polar.shape) if every_term else held_polar
    return HeldFactors(omega, capture, held_polar)


def running_sum(sc: Scene, held: HeldFactors, terms: torch.Tensor, skip: torch.Tensor, *,
                every_term: bool = False) -> torch.Tensor | None:
    """quirk running_sum_factors: with -oversample_thick/_polar/_omega the original
    multiplies its running sum, from the water background on (quirk water_background_scaling),
    by the held factors after every counted term: I = (I + term) * factor.  The sum after
    the pixel's last term (pixels,), or with ``every_term`` after each term (pixels, terms)
    in loop order (for traces); None when no such flag is set.  The last sum takes one
    suffix product of the factors; the sums after each term, an inclusive scan of the maps
    I -> I a + b (log2(terms) passes)."""
    running = []
    if sc.p.oversample_thick:
        running.append(held.capture[..., None, None])
    if sc.p.oversample_polar:
        running.append(held.polar[..., None])
    if sc.p.oversample_omega:
        running.append(held.omega[..., None, None])
    if not running:
        return None
    factor = running[0]
    for more in running[1:]:
        factor = factor * more
    skip = skip.expand_as(terms)
    a = torch.where(skip, torch.ones_like(terms), factor.expand_as(terms)).flatten(1)
    if not every_term:
        after = torch.flip(torch.cumprod(torch.flip(a, (1,)), dim=1), (1,))
        return (sc.water_background_per_sr * after[:, 0]
                + (terms.flatten(1) * after).sum(dim=1))
    b = torch.where(skip, torch.zeros_like(terms), terms * factor).flatten(1)
    shift = 1
    while shift < a.shape[1]:
        b = torch.cat((b[:, :shift], b[:, :-shift] * a[:, shift:] + b[:, shift:]), dim=1)
        a = torch.cat((a[:, :shift], a[:, :-shift] * a[:, shift:]), dim=1)
        shift *= 2
    return sc.water_background_per_sr * a + b


def _entry_indices(sc: Scene, scattering: torch.Tensor, passes: torch.Tensor,
                   hkl: torch.Tensor, record: dict[str, Any] | None) -> torch.Tensor:
    """quirk phi_carryover: the run's first phi loop starts from the unrotated crystal:
    the pixel's first source to pass the dmin cut takes its Miller indices from it."""
    flat = passes.flatten(1)
    first = torch.zeros_like(flat)
    rows = torch.arange(flat.shape[0], device=flat.device)
    first[rows, torch.argmax(flat.to(torch.uint8), dim=1)] = True
    first = (first & flat).reshape(passes.shape)
    if record is not None:
        record.update(entry_axes=sc.axes["entry"], first=first)
    return torch.where(first[..., None, None], miller_indices(sc.axes["entry"], scattering), hkl)


def _interpolated_F(sc: Scene, hkl: torch.Tensor, F_cell: torch.Tensor,
                    skip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """quirk interpolation_switch_off: tricubic F until the first counted term whose
    stencil leaves the grid, the nearest F from there on (for the rest of the run: the
    pass driver renders the later pixels without interpolation).  Also, per pixel,
    whether a stencil left the grid."""
    off_grid = stencil_outside(sc.grid, hkl)
    outside = off_grid & ~skip
    active = (torch.cumsum(outside.flatten(1).to(torch.int32), dim=1) == 0)
    active = active.reshape(outside.shape)
    # skipped terms leave the switch alone but must not reach the stencil either
    usable = active & ~off_grid
    F_cell = torch.where(usable, tricubic_F(sc.grid, hkl, usable), F_cell)
    return F_cell, outside.flatten(1).any(dim=1)


def _pixel_value(sc: Scene, sp: Subpixels, held: HeldFactors,
                 intensity: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The pixel in photons and its solid-angle sum.  quirk factors_from_first_subpixel:
    the factors held after the last term scale the whole pixel (unless oversampled)."""
    omega_end, capture_end, polar_end = held.at_end()
    value = sc.scale * intensity / sc.steps
    if not sc.p.oversample_thick:
        value = value * capture_end
    if not sc.p.oversample_polar:
        value = value * polar_end
    if not sc.p.oversample_omega:
        return value * omega_end, omega_end * sp.omega[0].numel()
    return value, sp.omega.flatten(1).sum(dim=1)


def render_legacy(sc: Scene, fast: torch.Tensor, slow: torch.Tensor, *, interpolate: bool,
                  entry: bool = False, record: dict[str, Any] | None = None) -> ChunkResult:
    """The original's pixel, quirks included.  entry: the first source to pass the
    resolution cut uses the crystal as the run started (quirk phi_carryover).  record: a
    dict that receives every intermediate tensor (for traces)."""
    sp = subpixels(sc, fast, slow)
    scattering = scattering_vectors(sc, sp)
    passes = ~beyond_dmin(sc, scattering)
    hkl = miller_indices(sc.axes["carried"], scattering)
    if entry:
        hkl = _entry_indices(sc, scattering, passes, hkl, record)
    hkl0 = torch.ceil(hkl - 0.5)
    F_latt = lattice_factor(sc.lattice, hkl, hkl0)
    skip = ~passes[..., None]
    if sc.p.water_size_m == 0.0:
        skip = skip | (F_latt == 0)
    F_cell = nearest_F(sc.grid, hkl0)
    left = torch.zeros(fast.shape[0], dtype=torch.bool, device=fast.device)
    if interpolate:
        F_cell, left = _interpolated_F(sc, hkl, F_cell, skip)
    # quirk source_weight_unused: every source's terms count alike, whatever its weight
    terms = torch.where(skip, torch.zeros_like(F_latt), F_cell * F_cell * F_latt * F_latt)

    if sc.p.nopolar and not sc.p.oversample_polar:
        polar = torch.ones(passes.shape, dtype=sc.at.dtype, device=sc.at.device)
    else:
        # quirk nopolar_overridden_by_oversample_polar: -oversample_polar computes the
        # factor even with -nopolar
        polar = polarization(sc, sp, scattering)
    held = held_factors(sc, sp, polar, passes, every_term=record is not None)
    running = running_sum(sc, held, terms, skip, every_term=record is not None)
    # quirk water_background_scaling: the background starts the sum, so r_e^2 fluence /
    # steps (and the running-sum factors) scale it again with the Bragg terms
    if running is None:
        intensity = sc.water_background_per_sr + terms.flatten(1).sum(dim=1)
    else:
        intensity = running if record is None else running[:, -1]
    value, omega_sum = _pixel_value(sc, sp, held, intensity)
    if record is not None:
        record.update(subpixels=sp, scattering=scattering, passes=passes,
                      axes=sc.axes["carried"], hkl=hkl, hkl0=hkl0, F_latt=F_latt,
                      F_cell=F_cell, skip=skip, terms=terms, held=held, running=running,
                      intensity=intensity, values=value)
    return ChunkResult(value, passes.flatten(1).any(dim=1), left, omega_sum)
