"""Loading the data a Config points to: structure factors, matrix, sources, mask."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from nanobragg.config import Config
from nanobragg.field_classes import shown
from nanobragg.io import StructureFactors, read_fdump, read_hkl, read_mosflm_matrix, read_smv
from nanobragg.io.sourcefile import read_source_file, read_text_columns
from nanobragg.validation import check_miller_range


class FdumpReuseWarning(UserWarning):
    """Structure factors were taken from a cache file left by an earlier run."""


@dataclass(frozen=True)
class Inputs:
    structure_factors: StructureFactors | None
    structure_factor_origin: str
    matrix: np.ndarray | None
    source_table: np.ndarray | None
    mask: np.ndarray | None


def load_structure_factors(config: Config, *,
                           c_parity: bool) -> tuple[StructureFactors | None, str]:
    """The grid of F, and where it came from ('memory', a path, or 'default_F')."""
    sf = config.structure_factors
    if sf.structure_factors is not None:
        return sf.structure_factors, "memory"
    if sf.hkl_path is not None:
        return (read_hkl(sf.hkl_path, default_F=sf.default_F, c_parity=c_parity),
                os.fspath(sf.hkl_path))
    if os.path.exists(sf.dump_path):
        if not c_parity:
            # quirk fdump_silent_reuse: the original gives no sign that it did this.
            warnings.warn(f"no HKL file given: reading structure factors from {sf.dump_path}",
                          FdumpReuseWarning, stacklevel=3)
        return read_fdump(sf.dump_path, c_parity=c_parity), os.fspath(sf.dump_path)
    if sf.default_F == 0.0:
        raise ValueError(
            "structure_factors: no HKL file, no in-memory grid, no "
            f"{sf.dump_path} and default_F is 0; give one of them")
    return None, "default_F"


def load_mask(config: Config) -> np.ndarray | None:
    det = config.detector
    if det.mask is not None:
        return np.asarray(det.mask)
    if det.mask_path is None:
        return None
    return read_smv(det.mask_path).data


def check_source_table(table: np.ndarray, origin: str) -> None:
    """Positions finite and not all zero, weights finite and >= 0, wavelengths > 0 (NaN
    stands for "the default")."""
    if len(table) == 0:
        raise ValueError(f"{origin}: no sources")
    given = ~np.isnan(table)
    position = np.where(given[:, :3], table[:, :3], 1.0)
    if not np.isfinite(position).all() or not np.any(position != 0.0, axis=1).all():
        raise ValueError(f"{origin}: source positions must be finite and not at the sample")
    weight, wavelength = table[:, 3][given[:, 3]], table[:, 4][given[:, 4]]
    if not (np.isfinite(weight).all() and (weight >= 0).all()):
        raise ValueError(f"{origin}: source weights must be finite and >= 0")
    bad = ~(np.isfinite(wavelength) & (wavelength > 0))
    if bad.any():
        raise ValueError(f"{origin}: source wavelengths must be finite and > 0 (metres), "
                         f"got {shown(wavelength[bad][:3])}")


def load_inputs(config: Config, *, c_parity: bool) -> Inputs:
    structure_factors, origin = load_structure_factors(config, c_parity=c_parity)
    if structure_factors is not None:
        check_miller_range(origin, structure_factors)
    crystal, beam = config.crystal, config.beam
    matrix: Any = crystal.mosflm_matrix
    if matrix is None and crystal.matrix_path is not None:
        matrix = read_mosflm_matrix(crystal.matrix_path)
    if config.structure_factors.stol_path is not None:
        if not c_parity:
            # quirk stol_file_unused: the original reads the file and never uses it
            raise ValueError(
                f"structure_factors.stol_path: {config.structure_factors.stol_path!r} is not "
                "simulated: nanoBragg reads an -stol file but renders no background from it "
                "(use beam.water_um for a water background); leave it unset, or use "
                "c_parity=True to reproduce the original, which ignores it")
        # the original insists on a readable, non-empty file
        read_text_columns(config.structure_factors.stol_path, 2)
    table, origin = beam.sources, "beam.sources"
    if table is None and beam.source_path is not None:
        table, origin = read_source_file(beam.source_path), os.fspath(beam.source_path)
    if table is not None:
        check_source_table(np.asarray(table, dtype=float).reshape(-1, 5), origin)
    return Inputs(
        structure_factors=structure_factors,
        structure_factor_origin=origin,
        matrix=None if matrix is None else np.asarray(matrix, dtype=float).reshape(3, 3),
        source_table=None if table is None else np.asarray(table, dtype=float).reshape(-1, 5),
        mask=load_mask(config),
    )
