"""detector_geometry: detector size, beam-centre conventions, pivots, rotations
and the derived centres every convention reports (see specs/engine.md)."""

from __future__ import annotations

import math
from typing import Any

import torch

from nanobragg.config import Config, as_floats
from nanobragg.engines.torch.vectors import (
    DBL_MIN,
    Placement,
    cross,
    dot,
    rotate_axis,
    rotate_xyz,
    unitize,
)
from nanobragg.sampling import RTD

CONVENTION_AXES = {
    # beam, fdet, sdet, odet, twotheta axis, polar, spindle
    "adxv": ((0, 0, 1), (1, 0, 0), (0, -1, 0), (0, 0, 1), (-1, 0, 0), (1, 0, 0), (1, 0, 0)),
    "mosflm": ((1, 0, 0), (0, 0, 1), (0, -1, 0), (1, 0, 0), (0, 0, -1), (0, 0, 1), (0, 0, 1)),
    "denzo": ((1, 0, 0), (0, 0, 1), (0, -1, 0), (1, 0, 0), (0, 0, -1), (0, 0, 1), (0, 0, 1)),
    "xds": ((0, 0, 1), (1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 0, 0), (1, 0, 0), (1, 0, 0)),
    "dials": ((0, 0, 1), (1, 0, 0), (0, 1, 0), (0, 0, 1), (0, 1, 0), (0, 1, 0), (0, 1, 0)),
}
CONVENTION_PIVOT = {"xds": "sample", "dials": "sample"}


def _metres(at: Placement, value_mm: Any) -> torch.Tensor | None:
    return None if value_mm is None else at.tensor(value_mm) / 1000.0


def detector_geometry(config: Config, *, c_parity: bool, at: Placement) -> dict[str, Any]:
    det, beam = config.detector, config.beam
    pixel = float(det.pixel_size_mm) / 1000.0
    detsize_f = float(det.detsize_f_mm) / 1000.0
    detsize_s = float(det.detsize_s_mm) / 1000.0
    if det.fpixels:
        detsize_f = pixel * int(det.fpixels)
    if det.spixels:
        detsize_s = pixel * int(det.spixels)
    fpixels = math.ceil(detsize_f / pixel - 0.5)
    spixels = math.ceil(detsize_s / pixel - 0.5)

    F_close = (float(det.orgx_px) - 0.5) * pixel if det.orgx_px is not None else detsize_f / 2.0
    S_close = (float(det.orgy_px) - 0.5) * pixel if det.orgy_px is not None else detsize_s / 2.0
    X_close = float(det.close_x_mm) / 1000.0 if det.close_x_mm is not None else F_close
    Y_close = float(det.close_y_mm) / 1000.0 if det.close_y_mm is not None else S_close
    X_beam = _metres(at, det.beam_x_mm)
    Y_beam = _metres(at, det.beam_y_mm)
    F_close, S_close = at.scalar(F_close), at.scalar(S_close)

    convention = det.convention
    if convention in CONVENTION_AXES:
        axes = [at.tensor(v) for v in CONVENTION_AXES[convention]]
        beam_v, fdet, sdet, odet, twotheta_axis, polar, spindle = axes
    else:
        beam_v, fdet, sdet, odet = (at.tensor(as_floats(v, 3)) for v in (
            beam.beam_vector, det.fdet_vector, det.sdet_vector, det.odet_vector))
        twotheta_axis, polar, spindle = (at.tensor(as_floats(v, 3)) for v in (
            det.twotheta_axis, beam.polar_vector, config.crystal.spindle_axis))

    if convention == "adxv":
        X_beam = at.scalar((detsize_f + pixel) / 2.0) if X_beam is None else X_beam
        Y_beam = at.scalar((detsize_s - pixel) / 2.0) if Y_beam is None else Y_beam
        F_beam, S_beam = X_beam, detsize_s - Y_beam
    elif convention in ("mosflm", "denzo"):
        X_beam = at.scalar((detsize_s + pixel) / 2.0) if X_beam is None else X_beam
        Y_beam = at.scalar((detsize_f + pixel) / 2.0) if Y_beam is None else Y_beam
        shift = 0.5 * pixel if convention == "mosflm" else 0.0 * pixel
        F_beam, S_beam = Y_beam + shift, X_beam + shift
    else:
        X_beam = at.scalar(X_close) if X_beam is None else X_beam
        Y_beam = at.scalar(Y_close) if Y_beam is None else Y_beam
        F_beam, S_beam = X_beam, Y_beam
        if convention == "custom":
            F_close, S_close = X_beam, Y_beam

    # detector_pivot_forced_by_convention
    if convention != "custom" and (c_parity or det.pivot is None):
        pivot = CONVENTION_PIVOT.get(convention, "beam")
    else:
        pivot = det.pivot or "beam"

    beam_v, _ = unitize(beam_v)
    fdet, _ = unitize(fdet)
    sdet, _ = unitize(sdet)
    odet_unit, odet_length = unitize(odet)
    # odet_replaced_when_not_unit
    replace = bool(odet_length != 1.0) if c_parity else bool(odet_length == 0.0)
    odet = unitize(cross(fdet, sdet))[0] if replace else odet_unit
    if not c_parity:
        # polar_vector_not_orthogonalised
        polar = polar - dot(polar, beam_v) * beam_v
    polar, _ = unitize(polar)
    spindle, _ = unitize(spindle)
    vert, _ = unitize(cross(beam_v, polar))

    rotx, roty, rotz, twotheta = (at.tensor(v) / RTD for v in (
        det.rotx_deg, det.roty_deg, det.rotz_deg, det.twotheta_deg))
    ratio = dot(beam_v, rotate_xyz(odet, rotx, roty, rotz))
    ratio = torch.where(ratio == 0, torch.full_like(ratio, DBL_MIN), ratio)
    distance = at.tensor(det.distance_mm) / 1000.0
    if det.close_distance_mm is not None:
        close_distance = at.scalar(float(det.close_distance_mm) / 1000.0)
    else:
        close_distance = torch.abs(ratio * distance)
    distance = close_distance / ratio

    has_pix0 = det.pix0_vector_m is not None
    if not c_parity and has_pix0:
        pix0 = at.tensor(as_floats(det.pix0_vector_m, 3))
    elif pivot == "sample":
        pix0 = -F_close * fdet - S_close * sdet + close_distance * odet
        pix0 = rotate_axis(rotate_xyz(pix0, rotx, roty, rotz), twotheta_axis, twotheta)
    fdet, sdet, odet = (rotate_axis(rotate_xyz(v, rotx, roty, rotz), twotheta_axis, twotheta)
                        for v in (fdet, sdet, odet))
    if (c_parity or not has_pix0) and pivot == "beam":
        pix0 = -F_beam * fdet - S_beam * sdet + distance * beam_v

    F_close = -dot(pix0, fdet)
    S_close = -dot(pix0, sdet)
    close_distance = dot(pix0, odet)
    if not c_parity:
        # distance_ratio_before_twotheta: the beam meets the detector plane as it
        # finally stands, two-theta included
        ratio = dot(beam_v, odet)
        ratio = torch.where(ratio == 0, torch.full_like(ratio, DBL_MIN), ratio)
    impact = (close_distance / ratio) * beam_v - pix0
    lab = at.tensor(((0.0, 0.0, 1.0), (0.0, 1.0, 0.0), (-1.0, 0.0, 0.0)))
    return {
        "fpixels": fpixels, "spixels": spixels, "pixel_size": pixel,
        "detsize_f": detsize_f, "detsize_s": detsize_s,
        "pivot": 0 if pivot == "sample" else 1,
        "fdet": fdet, "sdet": sdet, "odet": odet, "pix0": pix0,
        "beam": beam_v, "polar": polar, "vert": vert, "spindle": spindle,
        "distance": close_distance / ratio, "close_distance": close_distance,
        "Xbeam": X_beam, "Ybeam": Y_beam,
        "Fbeam": dot(fdet, impact), "Sbeam": dot(sdet, impact),
        "Xclose": at.scalar(X_close), "Yclose": at.scalar(Y_close),
        "Fclose": F_close, "Sclose": S_close,
        "ORGX": F_close / pixel + 0.5, "ORGY": S_close / pixel + 0.5,
        "dials_origin_mm": 1000.0 * (lab @ pix0),
    }
