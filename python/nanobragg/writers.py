"""Writing a Result as the original's files: raw float, SMV (noiseless and noisy), PGM."""

from __future__ import annotations

import numpy as np

from nanobragg.config import PathName, as_float
from nanobragg.io import write_float_image, write_pgm, write_smv
from nanobragg.io.smv import SMVField
from nanobragg.result import Result
from nanobragg.sampling import RTD
from nanobragg.stages.sources import wavelength_m


def smv_fields(result: Result) -> list[SMVField]:
    """The original's SMV header keys for this result (values as C ``%g``)."""
    g = result.geometry
    pixel = g.pixel_size_m
    phi0_deg = result.sampling.phi0 * RTD
    twotheta = as_float(result.config.detector.twotheta_deg) / RTD * RTD
    origin = g.dials_origin_mm
    return [
        ("SIZE1", "%d" % g.fpixels),
        ("SIZE2", "%d" % g.spixels),
        ("PIXEL_SIZE", "%g" % (pixel * 1000.0)),
        ("DISTANCE", "%g" % (g.distance_m * 1000.0)),
        ("WAVELENGTH", "%g" % (as_float(wavelength_m(result.config)) * 1e10)),
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
        ("OSC_RANGE", "%g" % (result.sampling.phi.range * RTD)),
        ("TWOTHETA", "%g" % twotheta),
        ("DETECTOR_SN", "000"),
        ("BEAMLINE", "fake"),
    ]


def write_float(result: Result, path: PathName) -> None:
    write_float_image(path, result.image)


def write_int_image(result: Result, path: PathName) -> None:
    write_smv(path, result.int_image(), smv_fields(result))


def write_noise_image(result: Result, path: PathName, noise: np.ndarray) -> None:
    write_smv(path, noise, smv_fields(result))


def write_pgm_image(result: Result, path: PathName) -> None:
    write_pgm(path, result.pgm_image(), result.pgm_scale())
