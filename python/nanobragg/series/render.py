"""One image of a series: spots, background and detector response, as a
:class:`~nanobragg.series.frame.Frame`.

What a frame holds (the choice, in this order):

- with a detector response (``Series.response``): the counts it records of the photons
  (spots + background): its noise image, or its noiseless one when the response has
  ``noise=False``; ``uint16`` for 16 bits, ``int32`` for 32 (clipped at 2^31 - 1);
- without one, when the base Config writes a noise image (nanoBragg's default): that
  image, Poisson counts plus the ADC offset in ``uint16`` (the ``-noisefile`` nanoBragg
  writes, with the background added to the photons first);
- without one, under ``-nonoise``: the photons themselves, ``float32`` (NeXus only: CBF
  and SMV need counts).

The background (``Series.background``, nonBragg's amorphous scattering) must describe
the same detector (pixels, pixel size, distance): its image is added to the spots'
photons pixel by pixel.  It has no random part, so it is rendered once a process and
reused for every image.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np

from nanobragg.series.description import Series, Stills, Sweep, fields_table
from nanobragg.series.frame import Frame, ScanPoint

__all__ = ["frame_dtype", "render_frame", "scan_point", "scan_points"]

_BACKGROUNDS: dict[str, np.ndarray] = {}
"""Rendered backgrounds of this process, by their description."""


def frame_dtype(series: Series) -> np.dtype[Any]:
    """The pixel type of the series' frames (see the module)."""
    if series.response is not None:
        return np.dtype(np.uint16 if series.response.bits == 16 else np.int32)
    if series.config.output.write_noise:
        return np.dtype(np.uint16)
    return np.dtype(np.float32)


def scan_point(series: Series, index: int) -> ScanPoint:
    """Where image ``index`` sits in the series."""
    scan = series.scan
    if isinstance(scan, Sweep):
        series._check_index(index)
        return ScanPoint(phi_start_deg=scan.phi_start_deg(index), osc_deg=scan.osc_deg)
    assert isinstance(scan, Stills)
    config = series.image_config(index)
    misset = config.crystal.misset_deg
    return ScanPoint(phi_start_deg=float(config.crystal.phi_deg), osc_deg=0.0,
                     misset_deg=None if misset is None
                     else (float(misset[0]), float(misset[1]), float(misset[2])))


def scan_points(series: Series) -> list[ScanPoint]:
    """Every image's scan point, in index order (what the writers are opened with)."""
    return [scan_point(series, index) for index in range(series.images)]


def render_frame(series: Series, index: int, *, threads: int | None = None) -> Frame:
    """Render image ``index`` of ``series`` (``threads``: the C engine's thread count,
    default all cores; images do not depend on it)."""
    from nanobragg.simulation import simulate

    config = series.image_config(index)
    torch_options: dict[str, Any] = {"device": series.device, "dtype": series.dtype}
    options = {"threads": threads} if series.backend == "c" else torch_options
    result = simulate(config, series.backend, series.c_parity, progress=None, **options)
    photons = result.image_float64
    background = None
    if series.background is not None:
        background = _background(series, threads)
        if background.shape != photons.shape:
            raise ValueError(f"background: its detector is {background.shape[1]} x "
                             f"{background.shape[0]} pixels, the series' "
                             f"{photons.shape[1]} x {photons.shape[0]} (fast x slow); give "
                             "the background the same detector")
        photons = photons + background
    if series.response is not None:
        data = _response_counts(series, index, photons.astype(np.float32), threads)
    elif config.output.write_noise:
        if background is not None:
            result = dataclasses.replace(result, image_float64=photons,
                                         image_tensor=_with_background(result.image_tensor,
                                                                       background))
        data = result.noise_image()[0]
    else:
        data = photons.astype(np.float32)
    return Frame(index=index, data=np.ascontiguousarray(data), scan=scan_point(series, index))


def _with_background(image_tensor: Any, background: np.ndarray) -> Any:
    if image_tensor is None:
        return None
    import torch

    image = image_tensor.detach()
    return image + torch.as_tensor(background, dtype=image.dtype, device=image.device)


def _background(series: Series, threads: int | None) -> np.ndarray:
    from nanobragg.amorphous_scattering import amorphous

    assert series.background is not None
    key = json.dumps([fields_table(series.background, "background"), series.backend,
                      series.c_parity, series.device, series.dtype], sort_keys=True)
    image = _BACKGROUNDS.get(key)
    if image is None:
        options: dict[str, Any] = ({"threads": threads} if series.backend == "c"
                                   else {"device": series.device, "dtype": series.dtype})
        result = amorphous(series.background, backend=series.backend,
                           c_parity=series.c_parity, **options)
        image = np.asarray(result.image, dtype=np.float64)
        if len(_BACKGROUNDS) >= 4:
            _BACKGROUNDS.clear()
        _BACKGROUNDS[key] = image
    return image


def _response_counts(series: Series, index: int, photons: np.ndarray,
                     threads: int | None) -> np.ndarray:
    from nanobragg.response import detector_response

    assert series.response is not None
    config = series.response.replace(seed=series.image_seeds(index).response)
    options: dict[str, Any] = ({"threads": threads} if series.backend == "c"
                               else {"device": series.device})
    response = detector_response(photons, config, backend=series.backend,
                                 c_parity=series.c_parity, **options)
    counts = response.noisy if response.noisy is not None else response.expected
    if config.bits == 16:
        return np.asarray(counts, dtype=np.uint16)
    clipped: np.ndarray = np.minimum(np.asarray(counts, dtype=np.int64),
                                     2**31 - 1).astype(np.int32)
    return clipped
