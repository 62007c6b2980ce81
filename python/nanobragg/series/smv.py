"""Numbered SMV files, one per frame: ``image_00001.img`` for index 0.

Each file's header is nanoBragg's own for the base image (``SeriesGeometry.smv_fields``)
with PHI, OSC_START and OSC_RANGE set from the frame's scan point.  16-bit frames are
written as nanoBragg writes them (``TYPE=unsigned_short``); 32-bit frames as our noisify
writes 32-bit images (``TYPE=long_integer``, little-endian unsigned 32-bit pixels), so
their counts must not be negative, with the d*TREK key ``Data_type=unsigned long int``
that fabio needs to read them as 32-bit.  Each file is written to a temporary name in the same
folder and renamed, so it never appears half written.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike

from nanobragg.io.outputs import atomic_write
from nanobragg.io.smv import SMVField, format_smv_header, smv_bytes
from nanobragg.series.frame import Frame, ScanPoint, SeriesGeometry
from nanobragg.series.writer import SeriesLayout

SMV_DTYPES = (np.dtype(np.uint16), np.dtype(np.int32))
_SCAN_KEYS = ("PHI", "OSC_START", "OSC_RANGE")


def smv_header_fields(geometry: SeriesGeometry, scan: ScanPoint) -> list[SMVField]:
    """The base image's header fields with the scan keys of ``scan`` (numbers as C %g)."""
    values = {"PHI": "%g" % scan.phi_start_deg, "OSC_START": "%g" % scan.phi_start_deg,
              "OSC_RANGE": "%g" % scan.osc_deg}
    fields: list[SMVField] = []
    for field in geometry.smv_fields:
        if isinstance(field, tuple) and field[0] in values:
            fields.append((field[0], values.pop(field[0])))
        else:
            fields.append(field)
    fields.extend(values.items())
    return fields


class SMVWriter:
    """One SMV file per frame (a :class:`~nanobragg.series.writer.SeriesWriter`)."""

    def __init__(self, out_dir: str | os.PathLike[str], geometry: SeriesGeometry,
                 scan: Sequence[ScanPoint], dtype: DTypeLike) -> None:
        self._layout = SeriesLayout("smv", out_dir, geometry, scan, dtype, SMV_DTYPES)

    def final_paths(self, index: int) -> list[Path]:
        return [self._layout.image_path(index, ".img")]

    def written(self) -> frozenset[int]:
        return self._layout.images_written(".img")

    def write(self, frame: Frame) -> None:
        layout = self._layout
        layout.check(frame)
        fields = smv_header_fields(layout.geometry, frame.scan)
        if frame.data.dtype == np.uint16:
            content = smv_bytes(frame.data, fields)
        else:
            if frame.data.size and int(frame.data.min()) < 0:
                raise ValueError(f"Frame.data: frame {frame.index} has negative counts "
                                 f"({int(frame.data.min())}); 32-bit SMV pixels are unsigned")
            fields.append(("Data_type", "unsigned long int"))
            content = (format_smv_header(fields, pixel_type="long_integer")
                       + np.ascontiguousarray(frame.data).astype("<u4").tobytes())
        atomic_write(self.final_paths(frame.index)[0], [content])

    def close(self, *, complete: bool) -> None:
        """Nothing to flush: every file is complete once :meth:`write` returns."""
