"""The geometry every image of a series shares, from the base image's configuration.

:func:`series_geometry` runs the ``detector_geometry`` stage of the C engine (no render)
and states its result in the McStas frame of the file formats (:mod:`.frame`), the lab
rotated so that the beam runs along +z and the spindle along -x whatever the
convention.  The beam centre and distance are where the beam line meets the detector
plane, computed here from the final vectors (so they hold for rotated and two-theta
detectors alike).
"""

from __future__ import annotations

import numpy as np

from nanobragg.config import Config, as_float
from nanobragg.engines import create
from nanobragg.sampling import resolve_sampling
from nanobragg.series.frame import SeriesGeometry, mcstas_rotation, to_mcstas
from nanobragg.stages import DetectorGeometry, to_numpy
from nanobragg.stages.geometry import detector_spec
from nanobragg.stages.sources import wavelength_m
from nanobragg.writers import smv_fields


def series_geometry(config: Config, *, c_parity: bool = False,
                    saturation_value: int | None = None,
                    underload_value: int = 0) -> SeriesGeometry:
    """The detector, beam and goniometer of ``config`` as every frame's writer needs them.

    ``saturation_value`` is the count at which a pixel overloads (65535 for 16-bit
    frames; None for photon frames), ``underload_value`` the count below which a pixel
    reads as bad.  Raises ValueError for an invalid config and for a detector whose
    plane the beam never meets in front of the sample (no beam centre).
    """
    config.validate()
    if saturation_value is not None and (isinstance(saturation_value, bool)
                                         or int(saturation_value) != saturation_value
                                         or saturation_value <= 0):
        raise ValueError(f"saturation_value: {saturation_value!r} is not a positive whole "
                         "number of counts (or None)")
    if isinstance(underload_value, bool) or int(underload_value) != underload_value:
        raise ValueError(f"underload_value: {underload_value!r} is not a whole number of counts")
    engine = create("c")
    g: DetectorGeometry = to_numpy(engine.detector_geometry(
        detector_spec(config, c_parity=c_parity)))
    sampling = resolve_sampling(config, c_parity=c_parity)
    fields = tuple(smv_fields(config, g, sampling))

    pixel_mm = float(g.pixel_size_m) * 1000.0
    rotation = mcstas_rotation(_array(g.beam), _array(g.spindle))

    def lab(vector: object) -> np.ndarray:
        return to_mcstas(_array(vector), rotation)

    fast, slow, normal = (_unit(lab(v)) for v in (g.fdet, g.sdet, g.odet))
    origin_mm = lab(g.pix0_m) * 1000.0
    beam = _unit(lab(g.beam))
    beam_fast_mm, beam_slow_mm, distance_mm = beam_intersection(origin_mm, fast, slow, beam)
    kahn = 0.0 if config.beam.nopolar else as_float(config.beam.polarization)
    return SeriesGeometry(
        fpixels=int(g.fpixels),
        spixels=int(g.spixels),
        pixel_size_mm=pixel_mm,
        distance_mm=distance_mm,
        beam_center_fast_px=beam_fast_mm / pixel_mm,
        beam_center_slow_px=beam_slow_mm / pixel_mm,
        fast_axis=fast,
        slow_axis=slow,
        normal=normal,
        origin_mm=origin_mm,
        beam_direction=beam,
        polarization_axis=_unit(lab(g.polar)),
        polarization_fraction=(1.0 + kahn) / 2.0,
        wavelength_A=as_float(wavelength_m(config)) * 1e10,
        spindle_axis=_unit(lab(g.spindle)),
        exposure_s=float(config.beam.exposure_s),
        sensor_thickness_mm=float(config.detector.thickness_um) / 1000.0,
        saturation_value=None if saturation_value is None else int(saturation_value),
        underload_value=int(underload_value),
        smv_fields=fields,
        lab_rotation=rotation,
    )


def beam_intersection(origin_mm: np.ndarray, fast: np.ndarray, slow: np.ndarray,
                      beam: np.ndarray) -> tuple[float, float, float]:
    """Where the beam line through the sample (the lab origin) meets the detector plane:
    (along fast, along slow from ``origin_mm``, distance along the beam), all in mm.

    Raises ValueError when the beam runs parallel to the plane or meets it behind the
    sample."""
    normal = np.cross(fast, slow)
    along = float(np.dot(beam, normal))
    if abs(along) < 1e-12:
        raise ValueError("detector: the beam runs parallel to the detector plane, so the "
                         "series has no beam centre; tilt the detector less than 90 degrees")
    distance_mm = float(np.dot(origin_mm, normal)) / along
    if distance_mm <= 0.0:
        raise ValueError(f"detector: the beam meets the detector plane {distance_mm:g} mm "
                         "behind the sample; a series needs the detector downstream")
    offset = distance_mm * beam - origin_mm
    # fast and slow may not be orthogonal (a CUSTOM detector): solve in the plane's basis
    basis = np.stack([fast, slow], axis=1)
    (f_mm, s_mm), *_ = np.linalg.lstsq(basis, offset, rcond=None)
    return float(f_mm), float(s_mm), distance_mm


def _array(value: object) -> np.ndarray:
    return np.asarray(value, dtype=np.float64)


def _unit(vector: np.ndarray) -> np.ndarray:
    unit: np.ndarray = vector / np.linalg.norm(vector)
    return unit
