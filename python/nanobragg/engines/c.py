"""The C engine: each stage of a simulation as a call into ``nanobragg._core``.

Stage outputs are plain dicts of numbers and numpy arrays in SI units (metres,
radians; reciprocal vectors in 1/Angstrom), so that any stage can be handed to
the other engine.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from nanobragg import _core
from nanobragg.config import Config, as_float, as_floats
from nanobragg.sampling import RTD, Sampling
from nanobragg.stages import to_numpy

CONVENTION_CODES = {"custom": 0, "adxv": 1, "mosflm": 2, "xds": 3, "dials": 4, "denzo": 5}
PIVOT_CODES = {None: -1, "sample": 0, "beam": 1}
SHAPE_CODES = {"square": 0, "round": 1, "gauss": 2, "tophat": 3}
SOURCE_DISTANCE_M = 10.0

LegacyRandom = _core.LegacyRandom


def _mm(value: Any) -> float:
    return math.nan if value is None else as_float(value) / 1000.0


def _vector(value: Any) -> list[float]:
    return list(as_floats(value, 3))


def detector_geometry(config: Config, *, c_parity: bool) -> dict[str, Any]:
    """Detector size, orientation, origin (pix0) and beam centres in every convention."""
    det, beam = config.detector, config.beam
    pix0 = det.pix0_vector_m
    params = {
        "c_parity": int(c_parity),
        "convention": CONVENTION_CODES[det.convention],
        "pivot": PIVOT_CODES[det.pivot],
        "pixel_size": float(det.pixel_size_mm) / 1000.0,
        "fpixels": int(det.fpixels or 0),
        "spixels": int(det.spixels or 0),
        "detsize_f": float(det.detsize_f_mm) / 1000.0,
        "detsize_s": float(det.detsize_s_mm) / 1000.0,
        "distance": as_float(det.distance_mm) / 1000.0,
        "close_distance": _mm(det.close_distance_mm),
        "Xbeam": _mm(det.beam_x_mm),
        "Ybeam": _mm(det.beam_y_mm),
        "Xclose": _mm(det.close_x_mm),
        "Yclose": _mm(det.close_y_mm),
        "ORGX": math.nan if det.orgx_px is None else float(det.orgx_px),
        "ORGY": math.nan if det.orgy_px is None else float(det.orgy_px),
        "rotx": as_float(det.rotx_deg) / RTD,
        "roty": as_float(det.roty_deg) / RTD,
        "rotz": as_float(det.rotz_deg) / RTD,
        "twotheta": as_float(det.twotheta_deg) / RTD,
        "fdet": _vector(det.fdet_vector),
        "sdet": _vector(det.sdet_vector),
        "odet": _vector(det.odet_vector),
        "beam": _vector(beam.beam_vector),
        "polar": _vector(beam.polar_vector),
        "spindle": _vector(config.crystal.spindle_axis),
        "twotheta_axis": _vector(det.twotheta_axis),
        "has_pix0": int(pix0 is not None),
        "pix0": _vector(pix0) if pix0 is not None else [0.0, 0.0, 0.0],
    }
    geometry = _core.detector_geometry(params)
    for key in ("fdet", "sdet", "odet", "pix0", "beam", "polar", "vert", "spindle",
                "dials_origin_mm"):
        geometry[key] = np.array(geometry[key])
    return geometry


def crystal_vectors(config: Config, rng: LegacyRandom, *, c_parity: bool, lambda0: float,
                    matrix: Any, misset_seed: int) -> dict[str, Any]:
    """Real (metres) and reciprocal (1/Angstrom) cell vectors at phi = 0, and N."""
    crystal = config.crystal
    cell = [0.0] * 6
    if crystal.cell is not None:
        values = list(as_floats(crystal.cell, len(crystal.cell)))
        for i, value in enumerate(values[:6]):
            cell[i] = value if i < 3 else value / RTD
    sample = [float(v) / 1000.0 for v in crystal.size_mm]
    params = {
        "c_parity": int(c_parity),
        "has_cell": int(crystal.cell is not None),
        "cell": cell,
        "has_matrix": int(matrix is not None),
        "matrix": list(np.asarray(matrix, dtype=float).reshape(9)) if matrix is not None
        else [0.0] * 9,
        "lambda0": lambda0,
        "has_misset": int(crystal.misset_deg is not None),
        "misset": [v / RTD for v in as_floats(crystal.misset_deg, 3)]
        if crystal.misset_deg is not None else [0.0, 0.0, 0.0],
        "misset_random": int(crystal.misset_random),
        "misset_seed": misset_seed,
        "sample_size": sample,
        "N": list(as_floats(crystal.N_cells, 3)),
    }
    vectors = _core.crystal_vectors(params, rng)
    for key in ("a", "b", "c", "a_star", "b_star", "c_star", "misset", "N", "size"):
        vectors[key] = np.array(vectors[key])
    return vectors


def sources(sampling: Sampling, geometry: dict[str, Any], *, lambda0: float, round_div: bool,
            table: np.ndarray | None) -> dict[str, Any]:
    """Unit directions towards each source (n, 3), wavelengths (m) and weights."""
    params = {
        "lambda0": lambda0,
        "beam": list(geometry["beam"]),
        "polar": list(geometry["polar"]),
        "vert": list(geometry["vert"]),
        "hdivsteps": sampling.hdiv.steps,
        "vdivsteps": sampling.vdiv.steps,
        "dispsteps": sampling.dispersion.steps,
        "hdivrange": sampling.hdiv.range,
        "hdivstep": sampling.hdiv.step,
        "vdivrange": sampling.vdiv.range,
        "vdivstep": sampling.vdiv.step,
        "dispersion": sampling.dispersion.range,
        "dispstep": sampling.dispersion.step,
        "round_div": int(round_div),
        "source_distance": SOURCE_DISTANCE_M,
    }
    return _core.sources(params, table)


def mosaic_rotations(sampling: Sampling, *, seed: int, rng: LegacyRandom) -> np.ndarray:
    """(domains, 3, 3) rotations; the first is the identity."""
    return _core.mosaic_rotations(sampling.mosaic_spread, sampling.mosaic_domains, seed, rng)


def render(params: dict[str, Any], sources: dict[str, Any], mosaic_umats: np.ndarray,
           Fhkl: np.ndarray | None, mask: np.ndarray | None,
           progress: Callable[[int, int], Any] | None = None) -> tuple[np.ndarray, dict]:
    """The float image (spixels, fpixels) in photons per pixel, and render facts."""
    params = {key: _number(value) for key, value in to_numpy(params).items()}
    return _core.render(params, sources["direction"], sources["wavelength"], sources["weight"],
                        mosaic_umats, Fhkl, mask, progress)


def trace_pixel(params: dict[str, Any], sources: dict[str, Any], mosaic_umats: np.ndarray,
                Fhkl: np.ndarray | None, mask: np.ndarray | None, fpixel: int, spixel: int, *,
                entry: bool, interpolate: bool) -> dict[str, Any]:
    """Every term of one pixel, as columns, and the final scaling (see
    :func:`nanobragg.trace.trace_pixel`)."""
    params = {key: _number(value) for key, value in to_numpy(params).items()}
    params.setdefault("threads", 0)
    return _core.trace_pixel(params, sources["direction"], sources["wavelength"],
                             sources["weight"], mosaic_umats, Fhkl, mask, fpixel, spixel, entry,
                             interpolate)


def _number(value: Any) -> Any:
    """Numbers and vectors as the bindings take them (lists of floats)."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return [float(v) for v in value]
    return value


def add_noise(image: np.ndarray, roi: tuple[int, int, int, int], *, adc_offset: float, seed: int,
              rng: LegacyRandom) -> tuple[np.ndarray, float, int]:
    """Poisson-noise image (uint16) with the legacy generator, photons, overloads."""
    return _core.add_noise(np.asarray(image, dtype=np.float32), list(roi), adc_offset, seed, rng)
