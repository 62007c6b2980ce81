"""Checks run on a Config before any engine sees it.

Each failure raises ValueError naming the field, the offending value and what
would be accepted.  The engines assume a Config that passed these checks.
"""

from __future__ import annotations

import math
from typing import Any, NoReturn

from nanobragg.config import (
    CONVENTIONS,
    CRYSTAL_SHAPES,
    PIVOTS,
    Config,
    as_float,
    as_floats,
    is_tensor,
)

MAX_PIXELS = 1 << 28
"""Largest detector we allocate (268 million pixels, 1 GiB of float32)."""
MAX_STEPS = 1 << 31
"""Most terms per pixel (sources x domains x phi steps x sub-pixels x sensor layers)."""
MAX_COUNT = 1 << 20
"""Largest step count, domain count or oversampling of any one sweep."""
MAX_SEED = (1 << 31) - 1
"""Seeds are negated and fed to a 32-bit style generator; larger ones overflow."""
MAX_MILLER = 1 << 20
"""Largest |h|, |k|, |l| of a structure-factor grid (keeps every index an int)."""


def _fail(field: str, value: Any, accepted: str) -> NoReturn:
    raise ValueError(f"{field}: {value!r} is not valid; expected {accepted}")


def _number(field: str, value: Any, *, positive: bool = False, nonnegative: bool = False) -> float:
    try:
        number = as_float(value)
    except (TypeError, ValueError):
        _fail(field, value, "a number")
    if not math.isfinite(number):
        _fail(field, value, "a finite number")
    if positive and number <= 0.0:
        _fail(field, value, "a number > 0")
    if nonnegative and number < 0.0:
        _fail(field, value, "a number >= 0")
    return number


def _numbers(field: str, value: Any, n: int) -> tuple[float, ...]:
    try:
        numbers = as_floats(value, n)
    except (TypeError, ValueError):
        _fail(field, value, f"{n} numbers")
    if not all(math.isfinite(v) for v in numbers):
        _fail(field, value, f"{n} finite numbers")
    return numbers


def _count(field: str, value: Any, *, minimum: int = 0, maximum: int = MAX_COUNT) -> None:
    if value is None:
        return
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not math.isfinite(value) or value != int(value)):
        _fail(field, value, "a whole number or None")
    if not minimum <= value <= maximum:
        _fail(field, value, f"a whole number from {minimum} to {maximum}, or None")


def _seed(field: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_SEED:
        _fail(field, value, f"a whole number from -{MAX_SEED} to {MAX_SEED}, or None")


def _optional(field: str, value: Any, **kw: bool) -> None:
    if value is not None:
        _number(field, value, **kw)


def validate_crystal(config: Config) -> None:
    crystal = config.crystal
    if crystal.cell is None and crystal.matrix_path is None and crystal.mosflm_matrix is None:
        raise ValueError("crystal.cell: no unit cell; give crystal.cell (a b c alpha beta gamma) "
                         "or an orientation matrix (crystal.matrix_path / mosflm_matrix)")
    if crystal.cell is not None:
        n = len(crystal.cell)
        if not 1 <= n <= 6:
            _fail("crystal.cell", crystal.cell, "1 to 6 numbers: a b c (A) alpha beta gamma (deg)")
        cell = _numbers("crystal.cell", crystal.cell, n)
        if cell[0] <= 0.0:
            _fail("crystal.cell", crystal.cell, "a positive length a")
        if any(v < 0.0 for v in cell):
            _fail("crystal.cell", crystal.cell, "no negative lengths or angles")
        if any(v >= 180.0 for v in cell[3:]):
            _fail("crystal.cell", crystal.cell, "angles below 180 degrees")
    if crystal.mosflm_matrix is not None:
        _numbers("crystal.mosflm_matrix", crystal.mosflm_matrix, 9)
    if crystal.misset_deg is not None:
        _numbers("crystal.misset_deg", crystal.misset_deg, 3)
    N = _numbers("crystal.N_cells", crystal.N_cells, 3)
    if any(v < 0.0 for v in N):
        _fail("crystal.N_cells", crystal.N_cells, "numbers of cells >= 0")
    size = _numbers("crystal.size_mm", crystal.size_mm, 3)
    if any(v < 0.0 for v in size):
        _fail("crystal.size_mm", crystal.size_mm, "sizes >= 0")
    if crystal.shape not in CRYSTAL_SHAPES:
        _fail("crystal.shape", crystal.shape, " / ".join(CRYSTAL_SHAPES))
    _number("crystal.fudge", crystal.fudge, positive=True)
    _optional("crystal.mosaic_spread_deg", crystal.mosaic_spread_deg)
    _count("crystal.mosaic_domains", crystal.mosaic_domains)
    _number("crystal.phi_deg", crystal.phi_deg)
    _optional("crystal.osc_deg", crystal.osc_deg)
    _optional("crystal.phi_step_deg", crystal.phi_step_deg)
    _count("crystal.phi_steps", crystal.phi_steps)
    _numbers("crystal.spindle_axis", crystal.spindle_axis, 3)


def validate_beam(config: Config) -> None:
    beam = config.beam
    _number("beam.wavelength_A", beam.wavelength_A, positive=True)
    _number("beam.dispersion_pct", beam.dispersion_pct, nonnegative=True)
    for name in ("hdiv_range_mrad", "vdiv_range_mrad", "hdiv_step_mrad", "vdiv_step_mrad"):
        _optional(f"beam.{name}", getattr(beam, name))
    for name in ("dispersion_steps", "hdiv_steps", "vdiv_steps"):
        _count(f"beam.{name}", getattr(beam, name))
    _number("beam.fluence", beam.fluence, nonnegative=True)
    _number("beam.flux", beam.flux, nonnegative=True)
    _number("beam.exposure_s", beam.exposure_s)
    _number("beam.beamsize_mm", beam.beamsize_mm)
    _number("beam.polarization", beam.polarization)
    _numbers("beam.beam_vector", beam.beam_vector, 3)
    _numbers("beam.polar_vector", beam.polar_vector, 3)
    _number("beam.water_um", beam.water_um, nonnegative=True)
    if beam.flux != 0.0 and beam.exposure_s > 0.0:
        if float(beam.beamsize_mm) == 0.0:
            _fail("beam.beamsize_mm", beam.beamsize_mm,
                  "a size > 0 when a flux is given (the fluence is flux x exposure / size^2)")
        if is_tensor(beam.fluence):
            _fail("beam.fluence", beam.fluence, "a number when a flux is given (the flux "
                  "replaces it); set beam.flux = 0 to use a fluence tensor")
    if not any(_numbers("beam.beam_vector", beam.beam_vector, 3)):
        _fail("beam.beam_vector", beam.beam_vector, "a non-zero vector")
    if config.detector.convention == "custom":
        b = _numbers("beam.beam_vector", beam.beam_vector, 3)
        e = _numbers("beam.polar_vector", beam.polar_vector, 3)
        cross = (b[1] * e[2] - b[2] * e[1], b[2] * e[0] - b[0] * e[2], b[0] * e[1] - b[1] * e[0])
        if not any(cross):
            _fail("beam.polar_vector", beam.polar_vector,
                  f"a direction not parallel to the beam {beam.beam_vector!r}")


def validate_detector(config: Config) -> None:
    det = config.detector
    if det.convention not in CONVENTIONS:
        _fail("detector.convention", det.convention, " / ".join(CONVENTIONS))
    if det.pivot is not None and det.pivot not in PIVOTS:
        _fail("detector.pivot", det.pivot, "None, 'beam' or 'sample'")
    pixel = _number("detector.pixel_size_mm", det.pixel_size_mm, positive=True)
    _number("detector.distance_mm", det.distance_mm, positive=True)
    _optional("detector.close_distance_mm", det.close_distance_mm, positive=True)
    _count("detector.fpixels", det.fpixels, maximum=MAX_PIXELS)
    _count("detector.spixels", det.spixels, maximum=MAX_PIXELS)
    width = (det.fpixels or 0) * pixel or _number("detector.detsize_f_mm", det.detsize_f_mm,
                                                   positive=True)
    height = (det.spixels or 0) * pixel or _number("detector.detsize_s_mm", det.detsize_s_mm,
                                                    positive=True)
    counts = (width / pixel - 0.5, height / pixel - 0.5)
    if not all(math.isfinite(v) and v < MAX_PIXELS for v in counts):
        raise ValueError(f"detector: {width!r} x {height!r} mm in pixels of {pixel!r} mm is too "
                         f"many pixels; the limit is {MAX_PIXELS} pixels")
    fpixels, spixels = (math.ceil(v) for v in counts)
    if fpixels < 1 or spixels < 1:
        _fail("detector size", (width, height), "at least one pixel each way")
    if fpixels * spixels > MAX_PIXELS:
        raise ValueError(f"detector: {fpixels} x {spixels} pixels is too large to allocate; "
                         f"the limit is {MAX_PIXELS} pixels")
    for name in ("beam_x_mm", "beam_y_mm", "close_x_mm", "close_y_mm", "orgx_px", "orgy_px"):
        _optional(f"detector.{name}", getattr(det, name))
    for name in ("rotx_deg", "roty_deg", "rotz_deg", "twotheta_deg"):
        _number(f"detector.{name}", getattr(det, name))
    for name in ("fdet_vector", "sdet_vector", "odet_vector", "twotheta_axis"):
        _numbers(f"detector.{name}", getattr(det, name), 3)
    if det.pix0_vector_m is not None:
        _numbers("detector.pix0_vector_m", det.pix0_vector_m, 3)
    _number("detector.thickness_um", det.thickness_um, nonnegative=True)
    if det.attenuation_length_um is not None and not math.isinf(det.attenuation_length_um):
        _number("detector.attenuation_length_um", det.attenuation_length_um, nonnegative=True)
    _count("detector.thickness_steps", det.thickness_steps)


def validate_sampling(config: Config) -> None:
    sampling = config.sampling
    _count("sampling.oversample", sampling.oversample)
    if sampling.roi is not None:
        roi = list(sampling.roi)
        if len(roi) != 4 or any(isinstance(v, bool) or v != int(v) for v in roi):
            _fail("sampling.roi", sampling.roi, "four whole numbers xmin xmax ymin ymax")


def validate_structure_factors(config: Config) -> None:
    sf = config.structure_factors
    _number("structure_factors.default_F", sf.default_F)
    _number("structure_factors.dmin_A", sf.dmin_A, nonnegative=True)
    if sf.structure_factors is not None:
        check_miller_range("structure_factors.structure_factors", sf.structure_factors)


def check_miller_range(origin: str, grid: Any) -> None:
    """A grid whose indices would not fit the engines' whole-number arithmetic."""
    bounds = tuple(grid.hkl_min) + tuple(grid.hkl_max)
    if not all(abs(int(v)) <= MAX_MILLER for v in bounds):
        raise ValueError(f"{origin}: Miller indices {bounds} reach beyond +-{MAX_MILLER}; "
                         "expected a grid within that range")


def validate_output(config: Config) -> None:
    out = config.output
    _seed("output.seed", out.seed)
    _seed("crystal.misset_seed", config.crystal.misset_seed)
    _seed("crystal.mosaic_seed", config.crystal.mosaic_seed)
    _number("output.adc_offset", out.adc_offset)
    _number("output.int_scale", out.int_scale)
    _number("output.pgm_scale", out.pgm_scale)


def validate_config(config: Config) -> None:
    validate_crystal(config)
    validate_beam(config)
    validate_detector(config)
    validate_sampling(config)
    validate_structure_factors(config)
    validate_output(config)


def check_total_steps(sources: int, domains: int, phi_steps: int, oversample: int,
                      layers: int) -> None:
    """The number of terms per pixel, checked before any engine allocates for them."""
    total = sources * domains * phi_steps * oversample * oversample * layers
    if sources * domains * phi_steps * layers > MAX_STEPS or total > MAX_STEPS:
        raise ValueError(
            f"{sources} sources x {domains} mosaic domains x {phi_steps} phi steps x "
            f"{oversample}^2 sub-pixels x {layers} sensor layers = {total} terms per pixel; "
            f"the limit is {MAX_STEPS}")
