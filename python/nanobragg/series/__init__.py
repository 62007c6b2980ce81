"""Datasets of many images: rotation sweeps and stills, their NeXus, CBF and SMV files,
in process or on a Dask cluster (``nb-series``).

A :class:`~nanobragg.series.frame.Frame` is one finished image of a series with its scan
point; a :class:`~nanobragg.series.frame.SeriesGeometry` is what every frame of a series
shares (detector, beam, goniometer), in the lab frame of the file formats.  Writers take
the two; the series description and the runner make them.  ``specs/series.md`` is the
contract between the parts.
"""
