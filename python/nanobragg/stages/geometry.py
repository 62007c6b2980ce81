"""detector_geometry: where the detector is and how its pixels run.

``DetectorSpec`` is what the stage reads (from the Config, in SI units: metres and
radians), ``DetectorGeometry`` what it gives: the detector size in pixels, its unit
axes, the lab position of the corner of its first pixel (pix0) and the beam centre in
every convention's terms.  Mirrored by ``nb_detector_spec`` and ``nb_detector_geometry``
in ``csrc/engine/nanobragg.h``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from nanobragg.codes import Convention, Pivot, convention_code, pivot_code
from nanobragg.config import Config, as_float, as_floats
from nanobragg.sampling import RTD
from nanobragg.stages.fields import optional_scaled, scaled

if TYPE_CHECKING:
    from nanobragg.stages.fields import Array, Real


@dataclass(frozen=True)
class DetectorSpec:
    """The detector as the user describes it.  None: not given (the convention's or the
    original's choice applies)."""

    c_parity: bool
    convention: Convention
    pivot: Pivot
    pixel_size_m: float
    fpixels: int
    """Pixels along fast; 0: from the detector size."""
    spixels: int
    detsize_f_m: float
    detsize_s_m: float
    distance_m: Real
    close_distance_m: float | None
    Xbeam_m: Real | None
    """The direct-beam position in the convention's own axes (``-Xbeam``)."""
    Ybeam_m: Real | None
    Xclose_m: float | None
    Yclose_m: float | None
    ORGX_px: float | None
    ORGY_px: float | None
    rotx_rad: Real
    roty_rad: Real
    rotz_rad: Real
    twotheta_rad: Real
    fdet: Array
    """Unit vectors; used as given by the CUSTOM convention only (so are the next six)."""
    sdet: Array
    odet: Array
    beam: Array
    polar: Array
    spindle: Array
    twotheta_axis: Array
    pix0_m: Array | None


@dataclass(frozen=True)
class DetectorGeometry:
    """The detector as it finally stands, in lab coordinates."""

    fpixels: int
    spixels: int
    pixel_size_m: float
    detsize_f_m: float
    detsize_s_m: float
    pivot: int
    fdet: Array
    """Unit vector along the fast pixel index."""
    sdet: Array
    """Unit vector along the slow pixel index."""
    odet: Array
    """Unit normal of the detector, away from the sample."""
    pix0_m: Array
    """Lab position of the outer corner of pixel (0, 0)."""
    beam: Array
    """Unit vector of the incident beam."""
    polar: Array
    """Unit E vector of the polarization."""
    vert: Array
    """beam x polar: the axis of horizontal divergence."""
    spindle: Array
    distance_m: Real
    """Sample to detector plane along the beam."""
    close_distance_m: Real
    """Sample to detector plane along its normal."""
    Xbeam_m: Real
    Ybeam_m: Real
    Fbeam_m: Real
    """Where the beam meets the detector, along fast from pix0."""
    Sbeam_m: Real
    Xclose_m: Real
    Yclose_m: Real
    Fclose_m: Real
    """The point of the detector nearest the sample, along fast from pix0."""
    Sclose_m: Real
    ORGX_px: Real
    """XDS's ORGX: Fclose in pixels from the first pixel's centre."""
    ORGY_px: Real
    dials_origin_mm: Array
    """pix0 in DIALS's lab frame."""


def detector_spec(config: Config, *, c_parity: bool) -> DetectorSpec:
    det, beam = config.detector, config.beam
    return DetectorSpec(
        c_parity=c_parity,
        convention=convention_code(det.convention),
        pivot=pivot_code(det.pivot),
        pixel_size_m=float(det.pixel_size_mm) / 1000.0,
        fpixels=int(det.fpixels or 0),
        spixels=int(det.spixels or 0),
        detsize_f_m=float(det.detsize_f_mm) / 1000.0,
        detsize_s_m=float(det.detsize_s_mm) / 1000.0,
        distance_m=scaled(det.distance_mm, 1000.0),
        close_distance_m=_optional_plain_m(det.close_distance_mm),
        Xbeam_m=optional_scaled(det.beam_x_mm, 1000.0),
        Ybeam_m=optional_scaled(det.beam_y_mm, 1000.0),
        Xclose_m=_optional_plain_m(det.close_x_mm),
        Yclose_m=_optional_plain_m(det.close_y_mm),
        ORGX_px=None if det.orgx_px is None else float(det.orgx_px),
        ORGY_px=None if det.orgy_px is None else float(det.orgy_px),
        rotx_rad=scaled(det.rotx_deg, RTD),
        roty_rad=scaled(det.roty_deg, RTD),
        rotz_rad=scaled(det.rotz_deg, RTD),
        twotheta_rad=scaled(det.twotheta_deg, RTD),
        fdet=_direction(det.fdet_vector),
        sdet=_direction(det.sdet_vector),
        odet=_direction(det.odet_vector),
        beam=_direction(beam.beam_vector),
        polar=_direction(beam.polar_vector),
        spindle=_direction(config.crystal.spindle_axis),
        twotheta_axis=_direction(det.twotheta_axis),
        pix0_m=None if det.pix0_vector_m is None else _direction(det.pix0_vector_m),
    )


def _optional_plain_m(value_mm: object) -> float | None:
    """Millimetres as metres, a plain number: the close point is not a differentiable
    parameter."""
    return None if value_mm is None else as_float(value_mm) / 1000.0


def _direction(values: object) -> np.ndarray:
    """Vectors of the detector and beam are not differentiable parameters: plain numbers."""
    return np.asarray(as_floats(values, 3), dtype=np.float64)
