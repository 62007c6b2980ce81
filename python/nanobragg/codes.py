"""The whole-number codes both engines share: detector conventions, pivots and crystal
shapes, with the values of the C engine's enums (``csrc/engine/nanobragg.h``; a test
checks them against ``nanobragg._core.CODES``)."""

from __future__ import annotations

from enum import IntEnum


class Convention(IntEnum):
    """The axes and beam-centre rules of a detector convention."""

    CUSTOM = 0
    ADXV = 1
    MOSFLM = 2
    XDS = 3
    DIALS = 4
    DENZO = 5


class Pivot(IntEnum):
    """What stays put when the detector rotates: the beam spot or the point nearest the
    sample.  AUTO takes the convention's own."""

    AUTO = -1
    SAMPLE = 0
    BEAM = 1


class CrystalShape(IntEnum):
    """The crystal's outline, which sets the lattice (shape) factor."""

    SQUARE = 0
    ROUND = 1
    GAUSS = 2
    TOPHAT = 3


def convention_code(name: str) -> Convention:
    return Convention[name.upper()]


def pivot_code(name: str | None) -> Pivot:
    return Pivot.AUTO if name is None else Pivot[name.upper()]


def shape_code(name: str) -> CrystalShape:
    return CrystalShape[name.upper()]


class Psf(IntEnum):
    """The point-spread function of a detector response."""

    NONE = 0
    GAUSS = 1
    FIBER = 2
