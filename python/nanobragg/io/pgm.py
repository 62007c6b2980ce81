"""Binary PGM (``P5``) images, as the original's ``-pgmfile`` output.

The original writes ``P5\\n<fast> <slow>\\n# pixels scaled by <scale>\\n255\\n`` (the scale
with C ``%g``) followed by one byte per pixel, fast index varying fastest.  Pixel values
are ``min(255, float_value * scale)`` truncated; computing them is the caller's job.
"""

from __future__ import annotations

import re

import numpy as np

from ._files import PathLike, pixel_array, read_bytes
from .errors import FormatError
from .outputs import atomic_write

__all__ = ["pgm_bytes", "read_pgm", "write_pgm"]

_SPACE = re.compile(rb"(?:[ \t\n\v\f\r]|#[^\n\r]*)*")
_COMMENT = re.compile(rb"#([^\n\r]*)")
_NUMBER = re.compile(rb"[0-9]+")


def _as_uint8(data: np.ndarray) -> np.ndarray:
    return pixel_array(data, np.uint8, 255)


def pgm_bytes(data_uint8_2d: np.ndarray, scale: float) -> bytes:
    """The complete PGM file for ``data_uint8_2d`` (shape ``(slow, fast)``) and ``scale``."""
    pixels = _as_uint8(data_uint8_2d)
    height, width = pixels.shape
    header = f"P5\n{width} {height}\n# pixels scaled by {scale:g}\n255\n"
    return header.encode("ascii") + np.ascontiguousarray(pixels).tobytes()


def write_pgm(path: PathLike, data_uint8_2d: np.ndarray, scale: float) -> None:
    """Write a P5 PGM image with the original's header; ``scale`` (intensity units per
    grey level, dimensionless) is recorded in the comment line.  Replaces ``path`` atomically.
    """
    atomic_write(path, [pgm_bytes(data_uint8_2d, scale)])


def read_pgm(path: PathLike) -> tuple[np.ndarray, str]:
    """Read a binary (P5) PGM image.

    Returns ``(pixels, comment)``: ``pixels`` has shape ``(height, width)``, dtype uint8
    (uint16 when the maximum value exceeds 255); ``comment`` is the text of the header's
    comment lines without the ``#`` and surrounding blanks, joined by newlines (``""``
    when there is none), e.g. ``"pixels scaled by 3"``.
    """
    data = read_bytes(path)
    if data[:2] != b"P5":
        raise FormatError(path, "not a binary PGM image: expected it to start with 'P5'", offset=0)
    pos = 2
    numbers: list[int] = []
    comments: list[str] = []
    for name in ("width", "height", "maximum value"):
        m = _SPACE.match(data, pos)
        end = m.end() if m is not None else pos
        if end == pos:
            raise FormatError(path, f"expected whitespace before the {name}", offset=pos)
        comments.extend(
            c.group(1).decode("latin-1").strip() for c in _COMMENT.finditer(data, pos, end)
        )
        number = _NUMBER.match(data, end)
        if number is None:
            raise FormatError(path, f"expected the {name} (a decimal integer)", offset=end)
        numbers.append(int(number.group()) if len(number.group()) < 12 else -1)
        pos = number.end()
    width, height, maxval = numbers
    if width < 1 or height < 1 or not 1 <= maxval <= 65535:
        raise FormatError(
            path, f"bad size {width} x {height} or maximum value {maxval}", offset=pos
        )
    if pos >= len(data) or data[pos] not in b" \t\n\v\f\r":
        raise FormatError(path, "expected one whitespace byte after the header", offset=pos)
    pos += 1
    dtype = np.dtype(np.uint8) if maxval < 256 else np.dtype(">u2")
    need = width * height * dtype.itemsize
    if len(data) - pos < need:
        raise FormatError(
            path,
            f"truncated: {width} x {height} pixels need {need} bytes, "
            f"the file has {len(data) - pos} after the header",
            offset=len(data),
        )
    pixels = np.frombuffer(data, dtype=dtype, count=width * height, offset=pos)
    out = pixels.reshape(height, width).astype(np.uint8 if maxval < 256 else np.uint16)
    return out, "\n".join(comments)
