"""Datasets of many images: rotation sweeps and stills, their NeXus, CBF and SMV files,
in process or on a Dask cluster (``nb-series``).

A :class:`~nanobragg.series.frame.Frame` is one finished image of a series with its scan
point; a :class:`~nanobragg.series.frame.SeriesGeometry` is what every frame of a series
shares (detector, beam, goniometer), in the lab frame of the file formats.  Writers take
the two; the series description and the runner make them.  ``specs/series.md`` is the
contract between the parts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nanobragg import _load_public

if TYPE_CHECKING:
    from nanobragg.series.description import (
        ImageSeeds,
        Series,
        Stills,
        Sweep,
        background_from_flags,
        response_from_flags,
    )
    from nanobragg.series.manifest import ImageRecord, SeriesMismatch
    from nanobragg.series.render import render_frame, scan_points
    from nanobragg.series.runner import SeriesReport, run_series

_PUBLIC = {
    "ImageSeeds": "nanobragg.series.description",
    "Series": "nanobragg.series.description",
    "Stills": "nanobragg.series.description",
    "Sweep": "nanobragg.series.description",
    "background_from_flags": "nanobragg.series.description",
    "response_from_flags": "nanobragg.series.description",
    "ImageRecord": "nanobragg.series.manifest",
    "SeriesMismatch": "nanobragg.series.manifest",
    "render_frame": "nanobragg.series.render",
    "scan_points": "nanobragg.series.render",
    "SeriesReport": "nanobragg.series.runner",
    "run_series": "nanobragg.series.runner",
}

__all__ = [
    "ImageRecord",
    "ImageSeeds",
    "Series",
    "SeriesMismatch",
    "SeriesReport",
    "Stills",
    "Sweep",
    "background_from_flags",
    "render_frame",
    "response_from_flags",
    "run_series",
    "scan_points",
]


def __getattr__(name: str) -> Any:
    return _load_public(__name__, _PUBLIC, globals(), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})
