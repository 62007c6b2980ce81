"""The NeXus NXmx stack: every frame of a series in one HDF5 file, ``DIR/series.nxs``.

Frames go to ``/entry/data/data`` (N, slow, fast), one chunk per frame, compressed with
bitshuffle/LZ4 as pixel-array detectors write them (hdf5plugin).  The geometry is NXmx's:
the detector as an NXdetector_module whose ``module_offset`` and pixel directions follow
a ``depends_on`` chain to the detector's translation along the beam, the goniometer as
the sample's ``phi`` rotation with one start angle per frame (``phi_end``,
``phi_increment_set``), all vectors in the McStas frame, lengths in mm, angles in
degrees.  ``specs/series.md`` lists every path.

The file is written as ``series.nxs.part`` and renamed ``series.nxs`` by
``close(complete=True)``; frames may come in any order, and each is flushed to the file
with its flag in ``/entry/nanobragg/frame_written`` before :meth:`NexusWriter.write`
returns, so a writer opened again on the same part file (a resumed run) keeps them.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import hdf5plugin
import numpy as np
from numpy.typing import DTypeLike

from nanobragg.series.frame import Frame, ScanPoint, SeriesGeometry
from nanobragg.series.writer import NEXUS_NAME, PART_SUFFIX, SeriesLayout

DATA = "/entry/data/data"
DETECTOR = "/entry/instrument/detector"
DETECTOR_TRANSLATION = f"{DETECTOR}/transformations/translation"
MODULE = f"{DETECTOR}/module"
PHI = "/entry/sample/transformations/phi"
WRITTEN = "/entry/nanobragg/frame_written"
MISSET = "/entry/nanobragg/misset_deg"


class NexusWriter:
    """The frames of a series in one NXmx file (a
    :class:`~nanobragg.series.writer.SeriesWriter`); for one process at a time."""

    def __init__(self, out_dir: str | os.PathLike[str], geometry: SeriesGeometry,
                 scan: Sequence[ScanPoint], dtype: DTypeLike) -> None:
        self._layout = layout = SeriesLayout("nexus", out_dir, geometry, scan, dtype)
        self.path = layout.out_dir / NEXUS_NAME
        self.part_path = layout.out_dir / (NEXUS_NAME + PART_SUFFIX)
        self._file: Any = _reopen(self.part_path, layout)
        if self._file is None:
            self._file = _create(self.part_path, layout)

    def final_paths(self, index: int) -> list[Path]:
        self._layout.image_path(index, "")
        return [self.path]

    def written(self) -> frozenset[int]:
        """The frames in the file (those of an earlier run on the same part file too)."""
        flags = self._open()[WRITTEN][()]
        return frozenset(int(i) for i in np.flatnonzero(flags))

    def write(self, frame: Frame) -> None:
        self._layout.check(frame)
        file = self._open()
        file[WRITTEN][frame.index] = 0
        file[DATA][frame.index] = frame.data
        file.flush()
        file[WRITTEN][frame.index] = 1
        file.flush()

    def close(self, *, complete: bool) -> None:
        """Flush and close; with ``complete=True`` publish the file as ``series.nxs``
        (ValueError, the part file kept, when a frame is missing)."""
        if self._file is None:
            return
        if complete:
            missing = len(self._layout.scan) - len(self.written())
            if missing:
                raise ValueError(f"{self.part_path}: {missing} of {len(self._layout.scan)} "
                                 "frames are not written yet; the file stays a part file")
            entry = self._file["/entry"]
            if "end_time" in entry:  # a part file published once already (a resumed run)
                del entry["end_time"]
            entry["end_time"] = _now()
        self._file.close()
        self._file = None
        if complete:
            os.replace(self.part_path, self.path)

    def _open(self) -> Any:
        if self._file is None:
            raise ValueError(f"{self.part_path}: the writer is closed")
        return self._file


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")


def _reopen(part: Path, layout: SeriesLayout) -> Any:
    """The part file of an earlier run of the same series, open for writing; None (the
    stale file removed) when there is none, or it is of another series or unreadable."""
    if not part.exists():
        return None
    file = None
    try:
        file = h5py.File(part, "r+")
        data = file[DATA]
        same = (data.shape == (len(layout.scan), *layout.shape) and data.dtype == layout.dtype
                and np.array_equal(file[PHI][()], [p.phi_start_deg for p in layout.scan])
                and np.array_equal(file[f"{PHI}_end"][()], _phi_end(layout.scan))
                and _same_misset(file, layout.scan))
    except (OSError, KeyError, ValueError):
        same = False
    if same:
        return file
    if file is not None:
        file.close()
    part.unlink()
    return None


def _same_misset(file: Any, scan: Sequence[ScanPoint]) -> bool:
    stored = file[MISSET][()] if MISSET in file else None
    wanted = _misset(scan)
    if stored is None or wanted is None:
        return stored is None and wanted is None
    return bool(np.array_equal(stored, wanted, equal_nan=True))


def _phi_end(scan: Sequence[ScanPoint]) -> np.ndarray:
    return np.array([p.phi_start_deg + p.osc_deg for p in scan], dtype=np.float64)


def _misset(scan: Sequence[ScanPoint]) -> np.ndarray | None:
    """(N, 3) misset angles, NaN for a frame without one; None when no frame has one."""
    if all(p.misset_deg is None for p in scan):
        return None
    return np.array([(np.nan,) * 3 if p.misset_deg is None else p.misset_deg for p in scan],
                    dtype=np.float64)


def _group(parent: Any, name: str, nx_class: str) -> Any:
    group = parent.create_group(name)
    group.attrs["NX_class"] = nx_class
    return group


def _field(group: Any, name: str, value: Any, units: str | None = None) -> Any:
    dataset = group.create_dataset(name, data=value)
    if units is not None:
        dataset.attrs["units"] = units
    return dataset


def _axis(group: Any, name: str, value: Any, *, kind: str, vector: np.ndarray,
          depends_on: str, units: str) -> Any:
    """An NXtransformations axis: a rotation or translation along ``vector``."""
    dataset = _field(group, name, value, units)
    dataset.attrs["transformation_type"] = kind
    dataset.attrs["vector"] = np.asarray(vector, dtype=np.float64)
    dataset.attrs["offset"] = np.zeros(3)
    dataset.attrs["offset_units"] = "mm"
    dataset.attrs["depends_on"] = depends_on
    return dataset


def _stokes(g: SeriesGeometry) -> np.ndarray:
    """Stokes (I, Q, U, V) of the beam: degree 2f - 1 of linear polarization with the E
    vector at angle chi from McStas x toward y."""
    degree = 2.0 * g.polarization_fraction - 1.0
    chi = np.arctan2(g.polarization_axis[1], g.polarization_axis[0])
    return np.array([1.0, degree * np.cos(2 * chi), degree * np.sin(2 * chi), 0.0])


def _create(part: Path, layout: SeriesLayout) -> Any:
    g, scan = layout.geometry, layout.scan
    n = len(scan)
    file = h5py.File(part, "w")
    try:
        file.attrs["default"] = "entry"
        entry = _group(file, "entry", "NXentry")
        entry.attrs["default"] = "data"
        _field(entry, "definition", "NXmx")
        _field(entry, "start_time", _now())

        data = _group(entry, "data", "NXdata")
        data.attrs["signal"] = "data"
        frames = data.create_dataset("data", shape=(n, *layout.shape), dtype=layout.dtype,
                                     chunks=(1, *layout.shape),
                                     **hdf5plugin.Bitshuffle(cname="lz4"))
        _source_and_beam(entry, g)
        _detector(entry["instrument"], g, frames)
        _sample(entry, g, scan)
        ours = _group(entry, "nanobragg", "NXcollection")
        _field(ours, "frame_written", np.zeros(n, dtype=np.uint8))
        misset = _misset(scan)
        if misset is not None:
            _field(ours, "misset_deg", misset, "deg")
            _field(ours, "lab_axes", g.lab_rotation.T)
        file.flush()
    except BaseException:
        file.close()
        with contextlib.suppress(OSError):
            part.unlink()
        raise
    return file


def _source_and_beam(entry: Any, g: SeriesGeometry) -> None:
    source = _group(entry, "source", "NXsource")
    _field(source, "name", "nanoBragg simulation")
    instrument = _group(entry, "instrument", "NXinstrument")
    _field(instrument, "name", "nanoBragg simulation")
    beam = _group(instrument, "beam", "NXbeam")
    _field(beam, "incident_wavelength", g.wavelength_A, "angstrom")
    _field(beam, "incident_polarization_stokes", _stokes(g))


def _detector(instrument: Any, g: SeriesGeometry, frames: Any) -> None:
    detector = _group(instrument, "detector", "NXdetector")
    detector["data"] = frames
    _field(detector, "depends_on", DETECTOR_TRANSLATION)
    _field(detector, "description", "nanoBragg simulated pixel-array detector")
    _field(detector, "type", "pixel")
    _field(detector, "sensor_material", "Silicon")
    _field(detector, "sensor_thickness", g.sensor_thickness_mm, "mm")
    _field(detector, "distance", g.distance_mm, "mm")
    _field(detector, "beam_center_x", g.beam_center_fast_px, "pixel")
    _field(detector, "beam_center_y", g.beam_center_slow_px, "pixel")
    _field(detector, "x_pixel_size", g.pixel_size_mm, "mm")
    _field(detector, "y_pixel_size", g.pixel_size_mm, "mm")
    _field(detector, "count_time", g.exposure_s, "s")
    _field(detector, "frame_time", g.exposure_s, "s")
    if g.saturation_value is not None:
        _field(detector, "saturation_value", np.int64(g.saturation_value))
    _field(detector, "underload_value", np.int64(g.underload_value))

    transformations = _group(detector, "transformations", "NXtransformations")
    _axis(transformations, "translation", g.distance_mm, kind="translation",
          vector=g.beam_direction, depends_on=".", units="mm")

    module = _group(detector, "module", "NXdetector_module")
    _field(module, "data_origin", np.array([0, 0], dtype=np.int32))
    _field(module, "data_size", np.array([g.spixels, g.fpixels], dtype=np.int32))
    _field(module, "data_stride", np.array([1, 1], dtype=np.int32))
    # from the beam centre on the detector to the outer corner of the first pixel
    offset = g.origin_mm - g.distance_mm * g.beam_direction
    length = float(np.linalg.norm(offset))
    direction = offset / length if length > 0.0 else g.fast_axis
    _axis(module, "module_offset", length, kind="translation", vector=direction,
          depends_on=DETECTOR_TRANSLATION, units="mm")
    for name, axis in (("fast_pixel_direction", g.fast_axis),
                       ("slow_pixel_direction", g.slow_axis)):
        _axis(module, name, g.pixel_size_mm, kind="translation", vector=axis,
              depends_on=f"{MODULE}/module_offset", units="mm")


def _sample(entry: Any, g: SeriesGeometry, scan: Sequence[ScanPoint]) -> None:
    sample = _group(entry, "sample", "NXsample")
    _field(sample, "name", "simulated crystal")
    _field(sample, "depends_on", PHI)
    sample["beam"] = entry["instrument/beam"]
    transformations = _group(sample, "transformations", "NXtransformations")
    starts = np.array([p.phi_start_deg for p in scan], dtype=np.float64)
    _axis(transformations, "phi", starts, kind="rotation", vector=g.spindle_axis,
          depends_on=".", units="deg")
    _field(transformations, "phi_end", _phi_end(scan), "deg")
    _field(transformations, "phi_increment_set",
           float(np.mean([p.osc_deg for p in scan])), "deg")
