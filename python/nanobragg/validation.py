"""Checks run on a Config before any engine sees it.

First every field on its own, by its class (:data:`FIELDS`, one entry per field of every
group; :mod:`nanobragg.field_classes` says what each class accepts), then the rules
that tie fields together.  A value of the wrong type raises TypeError, a wrong value
ValueError; each names the field, shows the value and says what would be accepted.
The engines assume a Config that passed these checks.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from nanobragg.config import (
    CONVENTIONS,
    CRYSTAL_SHAPES,
    PIVOTS,
    BeamConfig,
    Config,
    CrystalConfig,
    DetectorConfig,
    OutputConfig,
    SamplingConfig,
    StructureFactorConfig,
    as_float,
    as_floats,
    is_tensor,
)
from nanobragg.field_classes import (
    Array,
    Choice,
    Count,
    FieldClass,
    Flag,
    Grid,
    Path,
    Real,
    Seed,
    Vector,
    WholeNumbers,
    fail,
    shown,
)

MAX_PIXELS = 1 << 28
"""Largest detector we allocate (268 million pixels, 1 GiB of float32)."""
MAX_STEPS = 1 << 31
MAX_SOURCES = 1 << 20
"""The most sources (divergence x wavelength x depth points) a nonBragg or nearBragg run
builds: its grids are made point by point before any work limit could refuse them."""
"""Most terms per pixel (sources x domains x phi steps x sub-pixels x sensor layers)."""
MAX_MILLER = 1 << 20
"""Largest |h|, |k|, |l| of a structure-factor grid (keeps every index an int)."""

DIFFERENTIABLE = Real(differentiable=True)
NUMBER = Real()
OPTIONAL_NUMBER = Real(optional=True)
DIRECTION = Vector(3)

FIELDS: dict[str, FieldClass] = {
    "crystal.cell": Vector(6, fewest=1, differentiable=True, optional=True,
                           meaning="a b c in A, alpha beta gamma in degrees"),
    "crystal.matrix_path": Path(optional=True),
    "crystal.mosflm_matrix": Array(((3, 3), (9,)), "iuf", "9 finite numbers (3 x 3 or 9)"),
    "crystal.misset_deg": Vector(3, differentiable=True, optional=True),
    "crystal.misset_random": Flag(),
    "crystal.misset_seed": Seed(),
    "crystal.N_cells": Vector(3, differentiable=True, at_least=0.0),
    "crystal.size_mm": Vector(3, at_least=0.0),
    "crystal.shape": Choice(CRYSTAL_SHAPES),
    "crystal.fudge": Real(above=0.0),
    "crystal.mosaic_spread_deg": Real(differentiable=True, optional=True),
    "crystal.mosaic_domains": Count(),
    "crystal.mosaic_seed": Seed(optional=False),
    "crystal.phi_deg": DIFFERENTIABLE,
    "crystal.osc_deg": OPTIONAL_NUMBER,
    "crystal.phi_step_deg": OPTIONAL_NUMBER,
    "crystal.phi_steps": Count(),
    "crystal.spindle_axis": DIRECTION,

    "structure_factors.hkl_path": Path(optional=True),
    "structure_factors.structure_factors": Grid(),
    "structure_factors.default_F": NUMBER,
    "structure_factors.dump_path": Path(),
    "structure_factors.interpolate": Flag(optional=True),
    "structure_factors.dmin_A": Real(at_least=0.0),
    "structure_factors.stol_path": Path(optional=True),

    "beam.wavelength_A": Real(differentiable=True, above=0.0),
    "beam.dispersion_pct": Real(at_least=0.0),
    "beam.dispersion_steps": Count(),
    "beam.hdiv_range_mrad": OPTIONAL_NUMBER,
    "beam.vdiv_range_mrad": OPTIONAL_NUMBER,
    "beam.hdiv_step_mrad": OPTIONAL_NUMBER,
    "beam.vdiv_step_mrad": OPTIONAL_NUMBER,
    "beam.hdiv_steps": Count(),
    "beam.vdiv_steps": Count(),
    "beam.round_div": Flag(),
    "beam.fluence": Real(differentiable=True, at_least=0.0),
    "beam.flux": Real(at_least=0.0),
    "beam.exposure_s": NUMBER,
    "beam.beamsize_mm": NUMBER,
    "beam.polarization": NUMBER,
    "beam.nopolar": Flag(),
    "beam.beam_vector": DIRECTION,
    "beam.polar_vector": DIRECTION,
    "beam.source_path": Path(optional=True),
    # NaN stands for "the default" in a source table; the values are checked with a
    # file's (nanobragg.inputs.check_source_table)
    "beam.sources": Array(((-1, 5),), "iuf", "an (n, 5) array X Y Z weight wavelength_m",
                          finite=False),
    "beam.water_um": Real(at_least=0.0),

    "detector.distance_mm": Real(differentiable=True, above=0.0),
    "detector.close_distance_mm": Real(optional=True, above=0.0),
    "detector.pixel_size_mm": Real(above=0.0),
    # > 0 where they set the pixel counts (a rule below)
    "detector.detsize_f_mm": NUMBER,
    "detector.detsize_s_mm": NUMBER,
    "detector.fpixels": Count(MAX_PIXELS),
    "detector.spixels": Count(MAX_PIXELS),
    "detector.beam_x_mm": Real(differentiable=True, optional=True),
    "detector.beam_y_mm": Real(differentiable=True, optional=True),
    "detector.close_x_mm": OPTIONAL_NUMBER,
    "detector.close_y_mm": OPTIONAL_NUMBER,
    "detector.orgx_px": OPTIONAL_NUMBER,
    "detector.orgy_px": OPTIONAL_NUMBER,
    "detector.convention": Choice(CONVENTIONS),
    "detector.pivot": Choice(PIVOTS, optional=True),
    "detector.rotx_deg": DIFFERENTIABLE,
    "detector.roty_deg": DIFFERENTIABLE,
    "detector.rotz_deg": DIFFERENTIABLE,
    "detector.twotheta_deg": DIFFERENTIABLE,
    "detector.fdet_vector": DIRECTION,
    "detector.sdet_vector": DIRECTION,
    "detector.odet_vector": DIRECTION,
    "detector.twotheta_axis": DIRECTION,
    "detector.pix0_vector_m": Vector(3, optional=True),
    "detector.curved": Flag(),
    "detector.point_pixel": Flag(),
    "detector.thickness_um": Real(at_least=0.0),
    "detector.attenuation_length_um": Real(optional=True, at_least=0.0, infinite=True),
    "detector.thickness_steps": Count(),
    "detector.mask_path": Path(optional=True),
    "detector.mask": Array(((-1, -1),), "biuf",
                           "a 2-D (slow, fast) array of numbers or bools (0: not rendered)"),

    "sampling.oversample": Count(),
    "sampling.oversample_thick": Flag(),
    "sampling.oversample_polar": Flag(),
    "sampling.oversample_omega": Flag(),
    "sampling.roi": WholeNumbers(4, "xmin xmax ymin ymax"),

    "output.seed": Seed(),
    "output.adc_offset": NUMBER,
    "output.int_scale": NUMBER,
    "output.pgm_scale": NUMBER,
    "output.floatfile": Path(),
    "output.intfile": Path(),
    "output.noisefile": Path(),
    "output.pgmfile": Path(),
    "output.write_pgm": Flag(),
    "output.write_noise": Flag(),
    "output.progress": Flag(),
    "output.printout": Flag(),
    "output.printout_pixel": WholeNumbers(2, "fast slow"),
}
"""The class of every field of every Config group, by its dotted name."""

GROUPS: dict[str, type] = {
    "crystal": CrystalConfig,
    "structure_factors": StructureFactorConfig,
    "beam": BeamConfig,
    "detector": DetectorConfig,
    "sampling": SamplingConfig,
    "output": OutputConfig,
}


def validate_fields(config: Config) -> None:
    """Every field on its own, by its class."""
    for group in dataclasses.fields(config):
        value = getattr(config, group.name)
        kind = GROUPS[group.name]
        if not isinstance(value, kind):
            fail(group.name, value, f"a nanobragg.config.{kind.__name__}", TypeError)
    for name, field_class in FIELDS.items():
        group_name, field_name = name.split(".")
        field_class.check(name, getattr(getattr(config, group_name), field_name))


def validate_crystal(config: Config) -> None:
    crystal = config.crystal
    if crystal.cell is None and crystal.matrix_path is None and crystal.mosflm_matrix is None:
        raise ValueError("crystal.cell: no unit cell; give crystal.cell (a b c alpha beta gamma) "
                         "or an orientation matrix (crystal.matrix_path / mosflm_matrix)")
    if crystal.cell is not None:
        cell = as_floats(crystal.cell, len(crystal.cell))
        if cell[0] <= 0.0:
            fail("crystal.cell", crystal.cell, "a positive length a")
        if any(v < 0.0 for v in cell):
            fail("crystal.cell", crystal.cell, "no negative lengths or angles")
        if any(v >= 180.0 for v in cell[3:]):
            fail("crystal.cell", crystal.cell, "angles below 180 degrees")


def validate_beam(config: Config) -> None:
    beam = config.beam
    if as_float(beam.flux) != 0.0 and as_float(beam.exposure_s) > 0.0:
        if as_float(beam.beamsize_mm) == 0.0:
            fail("beam.beamsize_mm", beam.beamsize_mm,
                 "a size > 0 when a flux is given (the fluence is flux x exposure / size^2)")
        if is_tensor(beam.fluence):
            fail("beam.fluence", beam.fluence, "a number when a flux is given (the flux "
                 "replaces it); set beam.flux = 0 to use a fluence tensor")
    b = as_floats(beam.beam_vector, 3)
    if not any(b):
        fail("beam.beam_vector", beam.beam_vector, "a non-zero vector")
    if config.detector.convention == "custom":
        e = as_floats(beam.polar_vector, 3)
        cross = (b[1] * e[2] - b[2] * e[1], b[2] * e[0] - b[0] * e[2], b[0] * e[1] - b[1] * e[0])
        if not any(cross):
            fail("beam.polar_vector", beam.polar_vector,
                 f"a direction not parallel to the beam {shown(beam.beam_vector)}")


def validate_detector(config: Config) -> None:
    """The detector's size: > 0 and within what we allocate."""
    det = config.detector
    pixel = as_float(det.pixel_size_mm)
    width = int(det.fpixels or 0) * pixel or _size("detector.detsize_f_mm", det.detsize_f_mm)
    height = int(det.spixels or 0) * pixel or _size("detector.detsize_s_mm", det.detsize_s_mm)
    counts = (width / pixel - 0.5, height / pixel - 0.5)
    if not all(math.isfinite(v) and v < MAX_PIXELS for v in counts):
        raise ValueError(f"detector: {width!r} x {height!r} mm in pixels of {pixel!r} mm is too "
                         f"many pixels; the limit is {MAX_PIXELS} pixels")
    fpixels, spixels = (math.ceil(v) for v in counts)
    if fpixels < 1 or spixels < 1:
        fail("detector size", (width, height), "at least one pixel each way")
    if fpixels * spixels > MAX_PIXELS:
        raise ValueError(f"detector: {fpixels} x {spixels} pixels is too large to allocate; "
                         f"the limit is {MAX_PIXELS} pixels")


def _size(field: str, value: Any) -> float:
    size = as_float(value)
    if size <= 0.0:
        fail(field, value, "a finite number > 0 (the pixel counts are not given)")
    return size


def validate_structure_factors(config: Config) -> None:
    sf = config.structure_factors
    if sf.structure_factors is not None:
        check_miller_range("structure_factors.structure_factors", sf.structure_factors)


def check_miller_range(origin: str, grid: Any) -> None:
    """A grid whose indices would not fit the engines' whole-number arithmetic."""
    bounds = tuple(int(v) for v in (*grid.hkl_min, *grid.hkl_max))
    if not all(abs(v) <= MAX_MILLER for v in bounds):
        raise ValueError(f"{origin}: Miller indices {bounds} reach beyond +-{MAX_MILLER}; "
                         "expected a grid within that range")


def validate_config(config: Config) -> None:
    validate_fields(config)
    validate_crystal(config)
    validate_beam(config)
    validate_detector(config)
    validate_structure_factors(config)

