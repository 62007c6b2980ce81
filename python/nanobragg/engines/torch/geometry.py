"""detector_geometry: detector size, beam-centre conventions, pivots, rotations and the
derived centres every convention reports (see specs/engine.md).

The same four steps as the C engine's ``nb_geometry.c``: :func:`beam_centre`,
:func:`orientation_and_pivot`, :func:`detector_origin`, :func:`derived_centres`."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from nanobragg.codes import Convention, Pivot
from nanobragg.engines.torch.vectors import (
    DBL_MIN,
    Placement,
    cross,
    dot,
    rotate_axis,
    rotate_xyz,
    unitize,
)
from nanobragg.stages import DetectorGeometry, DetectorSpec

CONVENTION_AXES = {
    # beam, fdet, sdet, odet, twotheta axis, polar, spindle
    Convention.ADXV: ((0, 0, 1), (1, 0, 0), (0, -1, 0), (0, 0, 1), (-1, 0, 0), (1, 0, 0),
                      (1, 0, 0)),
    Convention.MOSFLM: ((1, 0, 0), (0, 0, 1), (0, -1, 0), (1, 0, 0), (0, 0, -1), (0, 0, 1),
                        (0, 0, 1)),
    Convention.DENZO: ((1, 0, 0), (0, 0, 1), (0, -1, 0), (1, 0, 0), (0, 0, -1), (0, 0, 1),
                       (0, 0, 1)),
    Convention.XDS: ((0, 0, 1), (1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 0, 0), (1, 0, 0),
                     (1, 0, 0)),
    Convention.DIALS: ((0, 0, 1), (1, 0, 0), (0, 1, 0), (0, 0, 1), (0, 1, 0), (0, 1, 0),
                       (0, 1, 0)),
}
CONVENTION_PIVOT = {Convention.XDS: Pivot.SAMPLE, Convention.DIALS: Pivot.SAMPLE}


@dataclass
class Centre:
    """The beam centre and the point nearest the sample, in detector coordinates (m)."""

    Fclose: torch.Tensor
    Sclose: torch.Tensor
    Xclose: float
    Yclose: float
    Xbeam: torch.Tensor
    Ybeam: torch.Tensor
    Fbeam: torch.Tensor
    Sbeam: torch.Tensor


@dataclass
class Orientation:
    """The unit axes before the detector rotations, and the pivot."""

    beam: torch.Tensor
    fdet: torch.Tensor
    sdet: torch.Tensor
    odet: torch.Tensor
    twotheta_axis: torch.Tensor
    polar: torch.Tensor
    spindle: torch.Tensor
    vert: torch.Tensor
    pivot: Pivot


def beam_centre(spec: DetectorSpec, detsize_f: float, detsize_s: float,
                at: Placement) -> Centre:
    """Fclose, Sclose from ORGX/ORGY or the detector's middle; the convention's beam
    centre (Xbeam, Ybeam) to where the beam meets the detector (Fbeam, Sbeam)."""
    pixel = spec.pixel_size_m
    Fclose = (spec.ORGX_px - 0.5) * pixel if spec.ORGX_px is not None else detsize_f / 2.0
    Sclose = (spec.ORGY_px - 0.5) * pixel if spec.ORGY_px is not None else detsize_s / 2.0
    Xclose = spec.Xclose_m if spec.Xclose_m is not None else Fclose
    Yclose = spec.Yclose_m if spec.Yclose_m is not None else Sclose
    Xbeam = None if spec.Xbeam_m is None else at.tensor(spec.Xbeam_m)
    Ybeam = None if spec.Ybeam_m is None else at.tensor(spec.Ybeam_m)
    F_close, S_close = at.scalar(Fclose), at.scalar(Sclose)
    convention = spec.convention
    if convention == Convention.ADXV:
        Xbeam = at.scalar((detsize_f + pixel) / 2.0) if Xbeam is None else Xbeam
        Ybeam = at.scalar((detsize_s - pixel) / 2.0) if Ybeam is None else Ybeam
        Fbeam, Sbeam = Xbeam, detsize_s - Ybeam
    elif convention in (Convention.MOSFLM, Convention.DENZO):
        Xbeam = at.scalar((detsize_s + pixel) / 2.0) if Xbeam is None else Xbeam
        Ybeam = at.scalar((detsize_f + pixel) / 2.0) if Ybeam is None else Ybeam
        shift = 0.5 * pixel if convention == Convention.MOSFLM else 0.0 * pixel
        Fbeam, Sbeam = Ybeam + shift, Xbeam + shift
    else:
        Xbeam = at.scalar(Xclose) if Xbeam is None else Xbeam
        Ybeam = at.scalar(Yclose) if Ybeam is None else Ybeam
        Fbeam, Sbeam = Xbeam, Ybeam
        if convention == Convention.CUSTOM:
            F_close, S_close = Xbeam, Ybeam
    return Centre(F_close, S_close, Xclose, Yclose, Xbeam, Ybeam, Fbeam, Sbeam)


def orientation_and_pivot(spec: DetectorSpec, at: Placement) -> Orientation:
    """The convention's axes (CUSTOM: the given ones), made unit, and the pivot."""
    convention = spec.convention
    if convention in CONVENTION_AXES:
        beam, fdet, sdet, odet, twotheta_axis, polar, spindle = (
            at.tensor(v) for v in CONVENTION_AXES[convention])
    else:
        beam, fdet, sdet, odet, twotheta_axis, polar, spindle = (at.tensor(v) for v in (
            spec.beam, spec.fdet, spec.sdet, spec.odet, spec.twotheta_axis, spec.polar,
            spec.spindle))
    # quirk pivot_forced_by_convention: the original ignores the requested pivot for every
    # named convention
    if convention != Convention.CUSTOM and (spec.c_parity or spec.pivot == Pivot.AUTO):
        pivot = CONVENTION_PIVOT.get(convention, Pivot.BEAM)
    else:
        pivot = Pivot.BEAM if spec.pivot == Pivot.AUTO else spec.pivot
    beam, _ = unitize(beam)
    fdet, _ = unitize(fdet)
    sdet, _ = unitize(sdet)
    odet_unit, odet_length = unitize(odet)
    # quirk odet_replaced_when_not_unit: the original replaces a given odet whose length is
    # not exactly 1 by fdet x sdet; corrected, only a zero odet is
    replace = bool(odet_length != 1.0) if spec.c_parity else bool(odet_length == 0.0)
    odet = unitize(cross(fdet, sdet))[0] if replace else odet_unit
    if not spec.c_parity:
        # quirk polar_vector_not_orthogonalised: the E vector must lie across the beam
        polar = polar - dot(polar, beam) * beam
    polar, _ = unitize(polar)
    spindle, _ = unitize(spindle)
    vert, _ = unitize(cross(beam, polar))
    return Orientation(beam, fdet, sdet, odet, twotheta_axis, polar, spindle, vert, pivot)


def detector_origin(spec: DetectorSpec, centre: Centre, axes: Orientation,
                    at: Placement) -> tuple[torch.Tensor, Orientation, torch.Tensor]:
    """pix0 about the pivot, the axes after the detector rotations and two-theta, and the
    obliquity (beam . normal) before the two-theta swing."""
    rotx, roty, rotz, twotheta = (at.tensor(v) for v in (
        spec.rotx_rad, spec.roty_rad, spec.rotz_rad, spec.twotheta_rad))
    ratio = dot(axes.beam, rotate_xyz(axes.odet, rotx, roty, rotz))
    ratio = torch.where(ratio == 0, torch.full_like(ratio, DBL_MIN), ratio)
    distance = at.tensor(spec.distance_m)
    if spec.close_distance_m is not None:
        close_distance = at.scalar(spec.close_distance_m)
    else:
        close_distance = torch.abs(ratio * distance)
    distance = close_distance / ratio

    def rotated(v: torch.Tensor) -> torch.Tensor:
        return rotate_axis(rotate_xyz(v, rotx, roty, rotz), axes.twotheta_axis, twotheta)

    # quirk pix0_vector_ignored: the original recomputes pix0 about the pivot even when one
    # was given; corrected, a given pix0 is the origin
    given = spec.pix0_m is not None
    if not spec.c_parity and given:
        pix0 = at.tensor(spec.pix0_m)
    elif axes.pivot == Pivot.SAMPLE:
        pix0 = rotated(-centre.Fclose * axes.fdet - centre.Sclose * axes.sdet
                       + close_distance * axes.odet)
    fdet, sdet, odet = (rotated(v) for v in (axes.fdet, axes.sdet, axes.odet))
    if (spec.c_parity or not given) and axes.pivot == Pivot.BEAM:
        pix0 = -centre.Fbeam * fdet - centre.Sbeam * sdet + distance * axes.beam
    final = Orientation(axes.beam, fdet, sdet, odet, axes.twotheta_axis, axes.polar,
                        axes.spindle, axes.vert, axes.pivot)
    return pix0, final, ratio


def derived_centres(spec: DetectorSpec, pix0: torch.Tensor, axes: Orientation,
                    ratio: torch.Tensor, centre: Centre, detsize: tuple[float, float],
                    sizes: tuple[int, int], at: Placement) -> DetectorGeometry:
    """The close point, distances and beam centre as the detector finally stands."""
    Fclose = -dot(pix0, axes.fdet)
    Sclose = -dot(pix0, axes.sdet)
    close_distance = dot(pix0, axes.odet)
    if not spec.c_parity:
        # quirk distance_ratio_before_twotheta: the beam meets the detector plane as it
        # finally stands, two-theta included
        ratio = dot(axes.beam, axes.odet)
        ratio = torch.where(ratio == 0, torch.full_like(ratio, DBL_MIN), ratio)
    impact = (close_distance / ratio) * axes.beam - pix0
    lab = at.tensor(((0.0, 0.0, 1.0), (0.0, 1.0, 0.0), (-1.0, 0.0, 0.0)))
    pixel = spec.pixel_size_m
    return DetectorGeometry(
        fpixels=sizes[0], spixels=sizes[1], pixel_size_m=pixel,
        detsize_f_m=detsize[0], detsize_s_m=detsize[1], pivot=int(axes.pivot),
        fdet=axes.fdet, sdet=axes.sdet, odet=axes.odet, pix0_m=pix0,
        beam=axes.beam, polar=axes.polar, vert=axes.vert, spindle=axes.spindle,
        distance_m=close_distance / ratio, close_distance_m=close_distance,
        Xbeam_m=centre.Xbeam, Ybeam_m=centre.Ybeam,
        Fbeam_m=dot(axes.fdet, impact), Sbeam_m=dot(axes.sdet, impact),
        Xclose_m=at.scalar(centre.Xclose), Yclose_m=at.scalar(centre.Yclose),
        Fclose_m=Fclose, Sclose_m=Sclose,
        ORGX_px=Fclose / pixel + 0.5, ORGY_px=Sclose / pixel + 0.5,
        dials_origin_mm=1000.0 * (lab @ pix0),
    )


def detector_geometry(spec: DetectorSpec, *, at: Placement) -> DetectorGeometry:
    pixel = spec.pixel_size_m
    detsize_f = pixel * spec.fpixels if spec.fpixels else spec.detsize_f_m
    detsize_s = pixel * spec.spixels if spec.spixels else spec.detsize_s_m
    sizes = (math.ceil(detsize_f / pixel - 0.5), math.ceil(detsize_s / pixel - 0.5))
    centre = beam_centre(spec, detsize_f, detsize_s, at)
    pix0, axes, ratio = detector_origin(spec, centre, orientation_and_pivot(spec, at), at)
    return derived_centres(spec, pix0, axes, ratio, centre, (detsize_f, detsize_s), sizes, at)
