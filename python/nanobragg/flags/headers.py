"""Header ingestion: the SMV headers of ``-mask`` and ``-img``, read before any flag.

The original reads the headers of the files named by ``-mask`` and ``-img`` before its
argument loop, so that flags given on the command line win over them.  Which keys are
read, and how, is described in ``specs/flags.md`` ("Headers").
"""

from __future__ import annotations

import math

from nanobragg.flags.record import Record
from nanobragg.io.smv import header_value, read_smv

__all__ = ["ingest_headers"]


def _mm_for_metres(metres: float) -> float:
    """A millimetre value that gives back exactly ``metres`` when divided by 1000.0.

    The engines convert with ``mm / 1000.0``, as the original converts its flags; header
    values the original computes in metres are stored so that they come back bit for bit.
    """
    first = metres * 1000.0
    up = down = first
    for _ in range(8):
        for candidate in (up, down):
            if candidate / 1000.0 == metres:
                return candidate
        up = math.nextafter(up, math.inf)
        down = math.nextafter(down, -math.inf)
    return first


def _ingest_header(rec: Record, path: str, *, mask: bool, strict: bool) -> None:
    """Apply an SMV header the way the original does before its argument loop."""
    image = read_smv(path, with_data=False)
    text = image.header_text

    def get(key: str) -> float | None:
        value = header_value(text, key)
        return None if value is None or math.isnan(value) else value

    rec.pixels = [image.width, image.height]
    value = get("PIXEL_SIZE")
    if value is not None:
        rec.pixel = value
        rec.pixel_m = value / 1000.0
    rec.detsize = [_mm_for_metres(rec.pixel_m * image.width),
                   _mm_for_metres(rec.pixel_m * image.height)]
    if (value := get("DISTANCE")) is not None:
        rec.distance = value
    # quirk header_close_distance_overrides: the original lets this decide the distance
    # over an explicit -distance; parse_strict drops it then
    if (value := get("CLOSE_DISTANCE")) is not None:
        rec.close_distance = value
    if (value := get("WAVELENGTH")) is not None:
        rec.lambda0 = value
    if (value := get("BEAM_CENTER_X")) is not None:
        rec.Xbeam = value
    if (value := get("BEAM_CENTER_Y")) is not None:
        if mask:
            # a mask's Y is measured from the other edge of the detector
            rec.Ybeam = _mm_for_metres(rec.pixel_m * image.height - value / 1000.0)
        else:
            rec.Ybeam = value
    if (value := get("ORGX")) is not None:
        rec.ORGX = value
    if (value := get("ORGY")) is not None:
        rec.ORGY = value
    if (value := get("PHI")) is not None:
        rec.phi0 = value
    if (value := get("OSC_RANGE")) is not None:
        rec.osc = value
    if (value := get("TWOTHETA")) is not None:
        # quirk twotheta_header_ignored: the original stores it in a variable it never
        # reads, no effect; strict mode applies it, without touching the pivot
        rec.header_twotheta = value
        if strict:
            rec.twotheta = value
    if mask:
        rec.mask = path


def ingest_headers(rec: Record, mask_path: str | None, img_path: str | None, *,
                   strict: bool) -> None:
    """Apply the ``-mask`` header, then the ``-img`` header (so the image's values win).

    ``strict`` (``c_parity=False``) also applies the header's TWOTHETA, which the
    original reads and never uses.
    """
    if mask_path is not None:
        _ingest_header(rec, mask_path, mask=True, strict=strict)
    if img_path is not None:
        _ingest_header(rec, img_path, mask=False, strict=strict)
