"""The interface every series writer has (NeXus, CBF, SMV), and :func:`open_writer`."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import DTypeLike

from nanobragg.series.frame import FRAME_DTYPES, Frame, ScanPoint, SeriesGeometry

FORMATS = ("nexus", "cbf", "smv")
"""The formats :func:`open_writer` knows."""
NEXUS_NAME = "series.nxs"
"""The NeXus stack's file, written as ``NEXUS_NAME + PART_SUFFIX`` until complete."""
PART_SUFFIX = ".part"


class SeriesWriter(Protocol):
    """Writes the frames of one series under one output directory.

    A per-image format (CBF, SMV) writes each frame to its own file and may be used by
    many processes at once; a stack format (NeXus) is used by one process that writes the
    frames in any order and publishes the file under its final name in :meth:`close`.
    No file is ever visible under a final name before its content is complete.
    """

    def final_paths(self, index: int) -> list[Path]:
        """The files that hold frame ``index`` once written (a per-image file, or the
        stack file)."""
        ...

    def written(self) -> frozenset[int]:
        """The indices of the frames in place under this writer's files, those an
        earlier run left included (per-image: the file exists; NeXus: the frame's flag
        is set in the part file)."""
        ...

    def write(self, frame: Frame) -> None:
        """Write one frame; a frame already written is replaced."""
        ...

    def close(self, *, complete: bool) -> None:
        """Flush; with ``complete=True`` (every frame written) publish stack files
        under their final names. A per-image writer has nothing to do."""
        ...


def open_writer(format: str, out_dir: str | os.PathLike[str], geometry: SeriesGeometry,
                scan: Sequence[ScanPoint], dtype: DTypeLike) -> SeriesWriter:
    """The writer of ``format`` (one of :data:`FORMATS`) for a series of ``len(scan)``
    frames of pixel type ``dtype`` under ``out_dir`` (made when missing)."""
    if format == "smv":
        from nanobragg.series.smv import SMVWriter

        return SMVWriter(out_dir, geometry, scan, dtype)
    if format == "cbf":
        from nanobragg.series.cbf import CBFWriter

        return CBFWriter(out_dir, geometry, scan, dtype)
    if format == "nexus":
        from nanobragg.series.nexus import NexusWriter

        return NexusWriter(out_dir, geometry, scan, dtype)
    raise ValueError(f"format: {format!r} is not a series format; the formats are "
                     f"{', '.join(FORMATS)}")


class SeriesLayout:
    """What every writer checks: the series' frames, their shape and pixel type, and the
    output directory (made when missing)."""

    def __init__(self, format: str, out_dir: str | os.PathLike[str],
                 geometry: SeriesGeometry, scan: Sequence[ScanPoint], dtype: DTypeLike,
                 dtypes: Sequence[np.dtype] = FRAME_DTYPES) -> None:
        try:
            self.dtype = np.dtype(dtype)
        except TypeError:
            raise ValueError(f"dtype: {dtype!r} is not a pixel type") from None
        if self.dtype not in dtypes:
            raise ValueError(f"dtype: {format} frames of {self.dtype} cannot be written; "
                             f"{format} takes {', '.join(d.name for d in dtypes)}")
        self.scan = tuple(scan)
        if not self.scan or not all(isinstance(p, ScanPoint) for p in self.scan):
            raise ValueError("scan: a series needs one ScanPoint per frame, at least one")
        for index, point in enumerate(self.scan):
            numbers = [point.phi_start_deg, point.osc_deg, *(point.misset_deg or ())]
            if (point.misset_deg is not None and len(point.misset_deg) != 3) or not all(
                    isinstance(v, (int, float, np.floating, np.integer))
                    and math.isfinite(v) for v in numbers):
                raise ValueError(f"scan[{index}]: {point} needs finite angles (and three "
                                 "misset angles or None)")
        self.geometry = geometry
        self.shape = (geometry.spixels, geometry.fpixels)
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)

    def check(self, frame: Frame) -> None:
        """ValueError when ``frame`` is not one of this series' frames."""
        n = len(self.scan)
        if frame.index >= n:
            raise ValueError(f"Frame.index: {frame.index} is past the series' last frame "
                             f"({n - 1})")
        if frame.data.shape != self.shape or frame.data.dtype != self.dtype:
            raise ValueError(f"Frame.data: frame {frame.index} is {frame.data.dtype} of shape "
                             f"{frame.data.shape}; the series' frames are {self.dtype} of "
                             f"shape {self.shape} (slow, fast)")
        if frame.scan != self.scan[frame.index]:
            raise ValueError(f"Frame.scan: frame {frame.index} has {frame.scan}; the series "
                             f"has {self.scan[frame.index]} there")

    def images_written(self, suffix: str) -> frozenset[int]:
        """The indices whose per-image file (``image_NNNNN`` + ``suffix``) exists."""
        found = set()
        for path in self.out_dir.glob(f"image_*{suffix}"):
            number = path.name[len("image_"):-len(suffix)]
            if number.isdigit() and 1 <= int(number) <= len(self.scan):
                found.add(int(number) - 1)
        return frozenset(found)

    def image_path(self, index: int, suffix: str) -> Path:
        """A per-image file: numbered from 1, ``image_00001.cbf`` for index 0."""
        if not 0 <= index < len(self.scan):
            raise ValueError(f"index: {index} is not a frame of this series "
                             f"(0 to {len(self.scan) - 1})")
        return self.out_dir / f"image_{index + 1:05d}{suffix}"
