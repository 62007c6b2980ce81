"""A Result as the original's files: raw float, SMV (noiseless and noisy), PGM.

``*_bytes`` give a file's content (the command writes them all together, with
:class:`nanobragg.io.OutputSet`), ``write_*`` write one file atomically.
"""

from __future__ import annotations

import numpy as np

from nanobragg.config import Config, PathName, as_float
from nanobragg.io import float_image_bytes, pgm_bytes, smv_bytes
from nanobragg.io.outputs import atomic_write
from nanobragg.io.smv import SMVField
from nanobragg.result import Result
from nanobragg.sampling import RTD, Sampling
from nanobragg.stages import DetectorGeometry
from nanobragg.stages.sources import wavelength_m


def smv_fields(config: Config, g: DetectorGeometry, sampling: Sampling) -> list[SMVField]:
    """The original's SMV header keys (values as C ``%g``) for a run of ``config``, its
    detector geometry (numpy) and its sampling: a Result's ``config``, ``geometry`` and
    ``sampling``, or the same before the render."""
    pixel = g.pixel_size_m
    phi0_deg = sampling.phi0 * RTD
    twotheta = as_float(config.detector.twotheta_deg) / RTD * RTD
    origin = g.dials_origin_mm
    return [
        ("SIZE1", "%d" % g.fpixels),
        ("SIZE2", "%d" % g.spixels),
        ("PIXEL_SIZE", "%g" % (pixel * 1000.0)),
        ("DISTANCE", "%g" % (g.distance_m * 1000.0)),
        ("WAVELENGTH", "%g" % (as_float(wavelength_m(config)) * 1e10)),
        ("BEAM_CENTER_X", "%g" % (g.Xbeam_m * 1000.0)),
        ("BEAM_CENTER_Y", "%g" % (g.Ybeam_m * 1000)),
        ("ADXV_CENTER_X", "%g" % (g.Fbeam_m * 1000.0)),
        ("ADXV_CENTER_Y", "%g" % ((g.detsize_s_m - g.Sbeam_m) * 1000)),
        ("MOSFLM_CENTER_X", "%g" % ((g.Sbeam_m - 0.5 * pixel) * 1000.0)),
        ("MOSFLM_CENTER_Y", "%g" % ((g.Fbeam_m - 0.5 * pixel) * 1000)),
        ("DENZO_X_BEAM", "%g" % (g.Sbeam_m * 1000.0)),
        ("DENZO_Y_BEAM", "%g" % (g.Fbeam_m * 1000)),
        "DIALS_ORIGIN=%g,%g,%g" % (origin[0], origin[1], origin[2]),
        ("XDS_ORGX", "%g" % g.ORGX_px),
        ("XDS_ORGY", "%g" % g.ORGY_px),
        ("CLOSE_DISTANCE", "%g" % (g.close_distance_m * 1000.0)),
        ("PHI", "%g" % phi0_deg),
        ("OSC_START", "%g" % phi0_deg),
        ("OSC_RANGE", "%g" % (sampling.phi.range * RTD)),
        ("TWOTHETA", "%g" % twotheta),
        ("DETECTOR_SN", "000"),
        ("BEAMLINE", "fake"),
    ]


def float_bytes(result: Result) -> bytes:
    return float_image_bytes(result.image)


def int_image_bytes(result: Result) -> bytes:
    return smv_bytes(result.int_image(), smv_fields(result.config, result.geometry,
                                                     result.sampling))


def noise_image_bytes(result: Result, noise: np.ndarray) -> bytes:
    return smv_bytes(noise, smv_fields(result.config, result.geometry, result.sampling))


def pgm_image_bytes(result: Result) -> bytes:
    return pgm_bytes(result.pgm_image(), result.pgm_scale())


def write_float(result: Result, path: PathName) -> None:
    atomic_write(path, [float_bytes(result)])


def write_int_image(result: Result, path: PathName) -> None:
    atomic_write(path, [int_image_bytes(result)])


def write_noise_image(result: Result, path: PathName, noise: np.ndarray) -> None:
    atomic_write(path, [noise_image_bytes(result, noise)])


def write_pgm_image(result: Result, path: PathName) -> None:
    atomic_write(path, [pgm_image_bytes(result)])
