"""SMV (ADSC) images: unsigned 16-bit pixels after an ASCII ``{KEY=VALUE;...}`` header.

Writing produces exactly the original's layout::

    {\\nHEADER_BYTES=512;\\nDIM=2;\\nBYTE_ORDER=little_endian;\\nTYPE=unsigned_short;\\n
    KEY=VALUE;\\n ... }\\f<spaces up to byte 512><little-endian uint16 pixels>

with the pixels in the order of the float image (fast index varying fastest).  The
original writes the keys SIZE1, SIZE2 (pixels), PIXEL_SIZE, DISTANCE (mm), WAVELENGTH
(Angstrom), BEAM_CENTER_X/Y, ADXV_CENTER_X/Y, MOSFLM_CENTER_X/Y, DENZO_X/Y_BEAM (mm),
``DIALS_ORIGIN=x,y,z`` (mm, a line *without* the trailing ``;``), XDS_ORGX/ORGY
(pixels), CLOSE_DISTANCE (mm), PHI, OSC_START, OSC_RANGE, TWOTHETA (degrees),
DETECTOR_SN and BEAMLINE, every number formatted with C ``%g``.

Reading follows the original's ``GetFrame``/``ValueOf``: the first 12 bytes must be
``{\\nHEADER_BYT``; the value of ``HEADER_BYTES`` is the header length; keys are found as
*substrings* of the header (a C string: it ends at the first NUL byte) and the *last*
occurrence wins, so ``DISTANCE`` also matches inside ``CLOSE_DISTANCE``; the value is C
``atof`` of what follows the first ``=`` after the key.  Differences from the original,
which would read garbage or crash instead: a file shorter than 512 bytes, than its
header, or than its header plus ``2 * SIZE1 * SIZE2`` bytes of pixels, a header without
``BYTE_ORDER=`` and sizes that are missing or not positive raise
:class:`~nanobragg.io.FormatError`.  The original computes whether bytes need swapping
but never swaps; we do swap to native order when ``BYTE_ORDER`` names the other order
(the original's masks only test for zero, which swapping preserves).  Like the
original, the pixels start at byte ``2 * (HEADER_BYTES // 2)``.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._cscan import atof
from ._files import PathLike, pixel_array
from .errors import FormatError
from .outputs import atomic_write

__all__ = [
    "SMV_HEADER_BYTES",
    "SMVImage",
    "format_smv_header",
    "header_value",
    "read_smv",
    "smv_bytes",
    "write_smv",
]

SMV_HEADER_BYTES = 512
_MAGIC = b"{\nHEADER_BYT"
_PREAMBLE = "{\nHEADER_BYTES=512;\nDIM=2;\nBYTE_ORDER=little_endian;\nTYPE=unsigned_short;\n"
_TRAILER = "}\f"
_NATIVE_ORDER = "little_endian" if sys.byteorder == "little" else "big_endian"

#: A header field: ``(key, value)`` is written ``KEY=VALUE;``; a plain string is written
#: as a raw line as it is (e.g. ``"DIALS_ORIGIN=-4.9,4.9,-70"``, no ``;``).
SMVField = tuple[str, str] | str


@dataclass
class SMVImage:
    """An SMV image as read by :func:`read_smv`.

    ``header_text`` is the whole header (``header_bytes`` bytes, decoded as Latin-1);
    ``width`` is SIZE1 (fast axis, pixels), ``height`` is SIZE2 (slow axis, pixels);
    ``data`` is the uint16 pixel array of shape ``(height, width)`` in native byte order,
    or None when read with ``with_data=False``.
    """

    header_text: str
    header_bytes: int
    width: int
    height: int
    data: np.ndarray | None

    def value(self, key: str) -> float | None:
        """:func:`header_value` of this image's header."""
        return header_value(self.header_text, key)


def _c_string(text: str) -> str:
    nul = text.find("\0")
    return text if nul < 0 else text[:nul]


def _last_occurrence_end(text: str, key: str) -> int | None:
    """End of the last non-overlapping occurrence of ``key``, scanning left to right."""
    end = None
    pos = text.find(key)
    while pos >= 0:
        end = pos + len(key)
        pos = text.find(key, end)
    return end


def header_value(header_text: str, key: str) -> float | None:
    """The original's ``ValueOf``: the number after the last occurrence of ``key``.

    The header is taken as a C string (up to its first NUL).  The *last* occurrence of
    ``key`` as a substring is found (occurrences are searched left to right without
    overlapping), then the first ``=`` after it; the result is C ``atof`` of the text
    after that ``=`` (0.0 when it is not a number, and also when no ``=`` follows).
    Returns None when ``key`` never occurs (the original returns NaN).  Units are those of
    the header (mm, Angstrom, degrees, pixels).
    """
    if not key:
        raise ValueError("key must not be empty")
    text = _c_string(header_text)
    end = _last_occurrence_end(text, key)
    if end is None:
        return None
    equals = text.find("=", end)
    if equals < 0:
        return 0.0
    return atof(text[equals + 1 :].encode("latin-1", errors="replace"))


def _c_int(value: float | None) -> int | None:
    """C ``(int)`` of a ``ValueOf`` result; None where C would be undefined."""
    if value is None or not math.isfinite(value) or abs(value) >= 2.0**31:
        return None
    return int(value)


def read_smv(path: PathLike, *, with_data: bool = True) -> SMVImage:
    """Read an SMV image (see the module docstring for the exact rules).

    Raises :class:`FileNotFoundError` for a missing file and
    :class:`~nanobragg.io.FormatError` for content that is not a complete SMV image.
    """
    with open(path, "rb") as handle:
        file_size = os.fstat(handle.fileno()).st_size
        if file_size < SMV_HEADER_BYTES:
            raise FormatError(
                path,
                f"truncated: expected at least {SMV_HEADER_BYTES} bytes of header, "
                f"the file has {file_size}",
                offset=file_size,
            )
        first = handle.read(SMV_HEADER_BYTES)
        if first[: len(_MAGIC)] != _MAGIC:
            raise FormatError(
                path, f"not an SMV (ADSC) image: expected it to start with {_MAGIC!r}", offset=0
            )
        header_size = _c_int(header_value(first.decode("latin-1"), "HEADER_BYTES"))
        if header_size is None or header_size <= 0:
            raise FormatError(path, "expected a positive HEADER_BYTES value", offset=0)
        if header_size > file_size:
            raise FormatError(
                path,
                f"truncated: HEADER_BYTES={header_size} but the file has {file_size} bytes",
                offset=file_size,
            )
        if header_size == SMV_HEADER_BYTES:
            header = first
        else:
            handle.seek(0)
            header = handle.read(header_size)
        header_text = header.decode("latin-1")
        c_header = _c_string(header_text)
        order_at = _last_occurrence_end(c_header, "BYTE_ORDER=")
        if order_at is None:
            raise FormatError(path, "no BYTE_ORDER= in the header", offset=0)
        swap = c_header[order_at : order_at + 10] != _NATIVE_ORDER[:10]
        width = _c_int(header_value(header_text, "SIZE1"))
        height = _c_int(header_value(header_text, "SIZE2"))
        if width == 0:
            width = height = _c_int(header_value(header_text, "DETECTOR_DIMENSIONS"))
        if width is None or height is None or width <= 0 or height <= 0:
            raise FormatError(
                path,
                f"expected positive SIZE1 and SIZE2 in the header, got {width} x {height}",
                offset=0,
            )
        data_offset = 2 * (header_size // 2)
        data_bytes = 2 * width * height
        if file_size < data_offset + data_bytes:
            raise FormatError(
                path,
                f"truncated: {width} x {height} pixels after a {header_size}-byte header "
                f"need {data_offset + data_bytes} bytes, the file has {file_size}",
                offset=file_size,
            )
        pixels = None
        if with_data:
            handle.seek(data_offset)
            raw = handle.read(data_bytes)
            if len(raw) != data_bytes:
                raise FormatError(path, "truncated pixel data", offset=data_offset + len(raw))
            pixels = np.frombuffer(raw, dtype=np.uint16).reshape(height, width)
            pixels = pixels.byteswap() if swap else pixels.copy()
    return SMVImage(header_text, header_size, width, height, pixels)


def format_smv_header(fields: Sequence[SMVField], *, pixel_type: str = "unsigned_short") -> bytes:
    """The 512-byte header the original writes, with ``fields`` after the fixed lines.

    The fixed lines are ``HEADER_BYTES=512``, ``DIM=2``, ``BYTE_ORDER=little_endian`` and
    ``TYPE=unsigned_short`` (``pixel_type``: another TYPE).  Each ``(key, value)`` field
    becomes ``KEY=VALUE;\n``; a plain string field is written as a raw line followed by
    ``\n`` (the original's ``DIALS_ORIGIN=x,y,z`` has no ``;``).  Values are used as
    given (format numbers with C ``%g``, e.g. ``"%g" % x``).  Then ``}\f`` and spaces up
    to 512 bytes.  Raises
    ValueError when the text is not ASCII or does not fit in 512 bytes.
    """
    parts = [_PREAMBLE.replace("TYPE=unsigned_short", f"TYPE={pixel_type}")]
    for field in fields:
        if isinstance(field, str):
            parts.append(f"{field}\n")
        else:
            key, value = field
            parts.append(f"{key}={value};\n")
    parts.append(_TRAILER)
    text = "".join(parts).encode("ascii")
    if len(text) > SMV_HEADER_BYTES:
        longest = max(parts[1:-1], key=len, default="").strip()
        raise ValueError(
            f"SMV header needs {len(text)} bytes, more than the {SMV_HEADER_BYTES} available "
            f"(longest line: {longest})"
        )
    return text + b" " * (SMV_HEADER_BYTES - len(text))


def _field_key_value(field: SMVField) -> tuple[str, str]:
    if isinstance(field, str):
        key, _, value = field.partition("=")
        return key, value
    return field[0], field[1]


def _as_uint16(data: np.ndarray) -> np.ndarray:
    return pixel_array(data, "<u2", 65535)


def smv_bytes(data: np.ndarray, fields: Sequence[SMVField]) -> bytes:
    """The complete SMV file for ``data`` (uint16, shape ``(slow, fast)``) and ``fields``.

    SIZE1 and SIZE2 are inserted first when ``fields`` lacks them; when present they
    must agree with the array shape.
    """
    pixels = _as_uint16(data)
    height, width = pixels.shape
    fields = list(fields)
    given = dict(_field_key_value(f) for f in fields)
    missing: list[SMVField] = []
    for key, size in (("SIZE1", width), ("SIZE2", height)):
        text = given.get(key)
        if text is None:
            missing.append((key, str(size)))
        elif atof(text.encode("latin-1", errors="replace")) != size:
            raise ValueError(f"{key}={text} disagrees with the pixel array's shape {pixels.shape}")
    return format_smv_header(missing + fields) + pixels.tobytes()


def write_smv(path: PathLike, data_uint16_2d: np.ndarray, fields: Sequence[SMVField]) -> None:
    """Write an SMV image (header as :func:`format_smv_header`, little-endian uint16 pixels).

    ``data_uint16_2d`` has shape ``(slow, fast)`` = ``(SIZE2, SIZE1)``; any integer array
    with values in 0..65535 is accepted.  The file is replaced atomically.
    """
    atomic_write(path, [smv_bytes(data_uint16_2d, fields)])
