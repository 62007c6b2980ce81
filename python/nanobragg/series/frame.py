"""What a series hands its writers: one finished image with its scan point, and the
geometry every image of the series shares.

Vectors are in the NeXus/McStas lab frame (z along the beam, y up, x = y cross z), which
is how NXmx, DIALS and miniCBF readers state geometry; nanoBragg's own lab frame (x
along the beam, y up, z = x cross y, in the MOSFLM, DENZO and ADXV conventions) maps to
it by ``(x, y, z)_mcstas = (-z, y, x)_nb`` (:func:`to_mcstas`).  The XDS and DIALS
conventions (and CUSTOM ones) put the beam along another axis of the same lab frame;
:func:`mcstas_rotation` gives the rotation that takes any beam to McStas z and the
spindle to McStas -x (the standard single-axis goniometer: +x in DIALS's frame), which
for the MOSFLM conventions is the mapping above.  Lengths are in millimetres, angles in
degrees.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from nanobragg.io.smv import SMVField

FRAME_DTYPES = (np.dtype(np.uint16), np.dtype(np.int32), np.dtype(np.float32))
"""Pixel types a frame may hold: detector counts (16 or 32 bit) or photons (float)."""

NB_TO_MCSTAS = np.array([[0.0, 0.0, -1.0],
                         [0.0, 1.0, 0.0],
                         [1.0, 0.0, 0.0]])
"""The rotation taking nanoBragg lab vectors to McStas lab vectors."""


def mcstas_rotation(beam_nb: np.ndarray, spindle_nb: np.ndarray | None = None) -> np.ndarray:
    """The rotation taking nanoBragg lab vectors to McStas ones for a beam along
    ``beam_nb``: the beam goes to +z and the spindle (its part across the beam) to -x;
    without a spindle, or one along the beam, nanoBragg's +y (its part across the beam;
    +z when the beam runs along y) goes to +y.  :data:`NB_TO_MCSTAS` for the MOSFLM
    beam (+x) and spindle (+z)."""
    z = _unit(np.asarray(beam_nb, dtype=np.float64))
    spindle = np.zeros(3) if spindle_nb is None else np.asarray(spindle_nb, dtype=np.float64)
    across = spindle - np.dot(spindle, z) * z
    if np.linalg.norm(across) > 1e-9 * np.linalg.norm(spindle):
        x = -_unit(across)
        y = np.cross(z, x)
    else:
        up = np.array([0.0, 1.0, 0.0])
        if abs(float(np.dot(up, z))) > 1.0 - 1e-9:
            up = np.array([0.0, 0.0, 1.0])
        y = _unit(up - np.dot(up, z) * z)
        x = np.cross(y, z)
    rotation: np.ndarray = np.stack([x, y, z])
    return rotation


def _unit(vector: np.ndarray) -> np.ndarray:
    unit: np.ndarray = vector / np.linalg.norm(vector)
    return unit


def to_mcstas(vector_nb: np.ndarray, rotation: np.ndarray = NB_TO_MCSTAS) -> np.ndarray:
    """A nanoBragg lab-frame vector (or rows of vectors) in the McStas frame
    (``rotation``: :func:`mcstas_rotation` of the beam; the default for a beam along +x)."""
    vectors: np.ndarray = np.asarray(vector_nb, dtype=np.float64) @ np.asarray(rotation).T
    return vectors


@dataclass(frozen=True)
class ScanPoint:
    """Where one image sits in its series."""

    phi_start_deg: float
    """Spindle angle at the start of the exposure."""
    osc_deg: float
    """Spindle rotation during the exposure (0 for a still)."""
    misset_deg: tuple[float, float, float] | None = None
    """A still's crystal orientation (misset angles about x, y, z); None for a sweep."""


@dataclass(frozen=True)
class Frame:
    """One finished image of a series."""

    index: int
    """0-based position in the series; files are numbered from 1 (index + 1)."""
    data: np.ndarray
    """(slow, fast) pixels, C-contiguous, of one of :data:`FRAME_DTYPES`."""
    scan: ScanPoint

    def __post_init__(self) -> None:
        if self.index < 0:
            raise ValueError(f"Frame.index: {self.index} is negative")
        if self.data.ndim != 2 or self.data.dtype not in FRAME_DTYPES:
            raise ValueError(f"Frame.data: a 2-D array of uint16, int32 or float32 is "
                             f"needed, got {self.data.dtype} of shape {self.data.shape}")

    @property
    def checksum(self) -> str:
        """SHA-256 of the pixel bytes (little-endian), as the manifest records it."""
        data = np.ascontiguousarray(self.data)
        return hashlib.sha256(data.astype(data.dtype.newbyteorder("<")).tobytes()).hexdigest()


@dataclass(frozen=True)
class SeriesGeometry:
    """What every image of a series shares, in the McStas frame (see the module)."""

    fpixels: int
    spixels: int
    pixel_size_mm: float
    distance_mm: float
    """Sample to detector plane along the beam."""
    beam_center_fast_px: float
    """Where the beam meets the detector plane, in pixels along fast from the first
    pixel's outer corner (so pixel i's centre is at i + 0.5)."""
    beam_center_slow_px: float
    fast_axis: np.ndarray
    """Unit vector along increasing fast index."""
    slow_axis: np.ndarray
    normal: np.ndarray
    """Unit normal of the detector, away from the sample."""
    origin_mm: np.ndarray
    """Lab position of the outer corner of pixel (0, 0)."""
    beam_direction: np.ndarray
    """Unit vector of the incident beam: (0, 0, 1), as series_geometry rotates the lab."""
    polarization_axis: np.ndarray
    """Unit E vector of the polarization."""
    polarization_fraction: float
    """The fraction of the beam's intensity with its E vector along
    ``polarization_axis``: ``(1 + K) / 2`` of nanoBragg's Kahn factor K (``-polar``), 0.5
    unpolarised (and with ``-nopolar``)."""
    wavelength_A: float
    spindle_axis: np.ndarray
    """Unit rotation axis of the goniometer (right-handed rotation by phi)."""
    exposure_s: float
    sensor_thickness_mm: float
    """0 for an ideal (infinitely thin) sensor."""
    saturation_value: int | None
    """Counts at which a pixel overloads (None for float photon frames)."""
    underload_value: int
    """Counts below which a pixel reads as bad (the ADC offset level's floor, 0 usually)."""
    smv_fields: tuple[SMVField, ...]
    """The SMV header nanoBragg writes for the base image; an SMV writer replaces PHI,
    OSC_START and OSC_RANGE with each frame's scan point."""
    lab_rotation: np.ndarray = field(default_factory=NB_TO_MCSTAS.copy)
    """The rotation that took nanoBragg's lab vectors to these (:func:`mcstas_rotation`
    of the beam): its columns are nanoBragg's x, y, z, the axes of a still's misset."""
