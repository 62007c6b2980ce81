"""Numbered miniCBF files, one per frame: ``image_00001.cbf`` for index 0.

The layout is a Pilatus detector's (``_array_data.header_convention PILATUS_1.2``):
signed 32-bit pixels compressed with CBF byte_offset (written by fabio), and in
``_array_data.header_contents`` the ``# Key value`` lines the Pilatus readers of
processing programs (dxtbx's FormatCBFMiniPilatus, XDS) parse for the geometry and the
scan: pixel size, sensor, exposure, count cutoff, wavelength, distance, beam centre,
start angle and increment.  Such a header has no detector orientation: its readers take
the detector normal to the beam with fast along imgCIF +x and slow along -y (McStas -x
and -y), and the spindle along imgCIF +x (McStas -x), so a series whose detector or
goniometer stands otherwise is refused (NeXus records any geometry).  16-bit frames are
widened to 32 bits; photon (float) frames are refused.  Each file is written in a
temporary folder beside it and renamed into place.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from fabio.cbfimage import CbfImage
from numpy.typing import DTypeLike

from nanobragg.series.frame import Frame, ScanPoint, SeriesGeometry
from nanobragg.series.writer import SeriesLayout

CBF_DTYPES = (np.dtype(np.uint16), np.dtype(np.int32))
STANDARD_FAST = np.array([-1.0, 0.0, 0.0])
STANDARD_SLOW = np.array([0.0, -1.0, 0.0])
STANDARD_SPINDLE = np.array([-1.0, 0.0, 0.0])
_EPOCH = datetime.datetime(1970, 1, 1)


def pilatus_header(geometry: SeriesGeometry, scan: ScanPoint, index: int) -> str:
    """The ``_array_data.header_contents`` lines of one frame.  The time stamp is the
    frame's start counted from 1970-01-01 (frames back to back), so a frame's file is the
    same whenever it is made."""
    g = geometry
    pixel_um = g.pixel_size_mm * 1000.0
    cutoff = g.saturation_value if g.saturation_value is not None else 2**31 - 1
    started = _EPOCH + datetime.timedelta(seconds=index * g.exposure_s)
    lines = [
        "Detector: nanoBragg simulation, S/N 0",
        started.isoformat(timespec="milliseconds"),
        f"Pixel_size {pixel_um:.10g}e-6 m x {pixel_um:.10g}e-6 m",
        f"Silicon sensor, thickness {g.sensor_thickness_mm / 1000.0:.10f} m",
        f"Exposure_time {g.exposure_s:.7f} s",
        f"Exposure_period {g.exposure_s:.7f} s",
        "Tau = 0 s",
        f"Count_cutoff {cutoff} counts",
        f"Wavelength {g.wavelength_A:.10g} A",
        f"Detector_distance {g.distance_mm / 1000.0:.10g} m",
        f"Beam_xy ({g.beam_center_fast_px:.10g}, {g.beam_center_slow_px:.10g}) pixels",
        f"Start_angle {scan.phi_start_deg:.10g} deg.",
        f"Angle_increment {scan.osc_deg:.10g} deg.",
        f"Polarization {g.polarization_fraction:.10g}",
        "Detector_2theta 0.0000 deg.",
        "Alpha 0.0000 deg.",
        "Kappa 0.0000 deg.",
        f"Phi {scan.phi_start_deg:.10g} deg.",
        f"Phi_increment {scan.osc_deg:.10g} deg.",
        "Chi 0.0000 deg.",
        "Chi_increment 0.0000 deg.",
        "Oscillation_axis X, CW",
        "N_oscillations 1",
    ]
    return "\r\n".join(f"# {line}" for line in lines)


def check_orientation(geometry: SeriesGeometry) -> None:
    """ValueError unless the detector and the spindle stand as miniCBF readers assume."""
    g = geometry
    if not np.allclose(g.spindle_axis, STANDARD_SPINDLE, atol=1e-9):
        spindle = np.array2string(np.asarray(g.spindle_axis), precision=4, suppress_small=True)
        raise ValueError(f"cbf: a miniCBF header cannot state this goniometer (spindle "
                         f"{spindle} in the McStas frame; its readers take "
                         f"{STANDARD_SPINDLE}, across the beam); write nexus")
    if not (np.allclose(g.fast_axis, STANDARD_FAST, atol=1e-9)
            and np.allclose(g.slow_axis, STANDARD_SLOW, atol=1e-9)):
        fast, slow = (np.array2string(np.asarray(v), precision=4, suppress_small=True)
                      for v in (g.fast_axis, g.slow_axis))
        raise ValueError(f"cbf: a miniCBF header cannot state this detector's orientation "
                         f"(fast {fast}, slow {slow} in the McStas frame; its readers take "
                         f"fast {STANDARD_FAST}, slow {STANDARD_SLOW}, normal to the beam); "
                         "write nexus, or use an untilted MOSFLM, DENZO or XDS detector")


class CBFWriter:
    """One miniCBF file per frame (a :class:`~nanobragg.series.writer.SeriesWriter`)."""

    def __init__(self, out_dir: str | os.PathLike[str], geometry: SeriesGeometry,
                 scan: Sequence[ScanPoint], dtype: DTypeLike) -> None:
        check_orientation(geometry)
        self._layout = SeriesLayout("cbf", out_dir, geometry, scan, dtype, CBF_DTYPES)

    def final_paths(self, index: int) -> list[Path]:
        return [self._layout.image_path(index, ".cbf")]

    def written(self) -> frozenset[int]:
        return self._layout.images_written(".cbf")

    def write(self, frame: Frame) -> None:
        layout = self._layout
        layout.check(frame)
        target = self.final_paths(frame.index)[0]
        image = CbfImage(data=np.ascontiguousarray(frame.data, dtype=np.int32), header={
            "_array_data.header_convention": "PILATUS_1.2",
            "_array_data.header_contents": pilatus_header(layout.geometry, frame.scan,
                                                          frame.index),
        })
        # fabio names the CIF data block after the file, so the temporary file has the
        # final name, in a folder of its own beside the target
        folder = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=layout.out_dir))
        try:
            staged = folder / target.name
            image.write(str(staged))
            os.replace(staged, target)
        finally:
            with contextlib.suppress(OSError):
                shutil.rmtree(folder)

    def close(self, *, complete: bool) -> None:
        """Nothing to flush: every file is complete once :meth:`write` returns."""
