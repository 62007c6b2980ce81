"""Reader for source-definition text files (``-sourcefile``).

One source per line, columns ``X Y Z weight wavelength``: X, Y, Z give the position of
the source in metres (any length; the incident direction is minus its unit vector), the
weight is relative (read but unused by the original), the wavelength is in metres.
Columns a line does not provide come back as NaN; the caller applies the defaults.

The reading reproduces the original's ``read_text_file`` exactly:

* the file is read with ``fgets`` into a 10240-byte buffer, so a line longer than 10239
  bytes is handled as several lines, and a line is only read up to a NUL byte;
* separators are space, tab and ``, ; : !``; a line that is nothing but separators
  before its newline is skipped (blank); every other line is a source, even one with no
  number in it;
* each field is converted with C ``atof`` (0.0 when it is not a number); the reader then
  steps over the characters ``0123456789-+.EGeg``, then over anything up to the next
  separator, then over the separators; reaching exactly ``"\\n"`` ends the line, and
  fields beyond the fifth are ignored;
* a line that does not end in exactly ``"\\n"`` (the last line without a newline, a
  ``"\\r\\n"`` line ending, stray characters after the last field) never reaches that end
  condition, so its missing trailing columns are filled with ``atof("") = 0.0`` instead
  of staying NaN.  That is why every line must end with a newline.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

import numpy as np

from ._cscan import atof
from ._files import PathLike, read_bytes
from .errors import FormatError

__all__ = ["read_source_file", "read_text_columns"]

_FGETS_BUFFER = 10240
_DELIMITERS = re.compile(rb"[ \t,;:!]*")
_NOT_DELIMITERS = re.compile(rb"[^ \t,;:!]*")
_NUMBERSTUFF = re.compile(rb"[0-9+\-.EGeg]*")


def _fgets_lines(data: bytes) -> Iterator[bytes]:
    """The successive ``fgets`` results, each cut at its first NUL (C string view)."""
    limit = _FGETS_BUFFER - 1
    pos = 0
    n = len(data)
    while pos < n:
        newline = data.find(b"\n", pos, pos + limit)
        end = newline + 1 if newline >= 0 else min(pos + limit, n)
        chunk = data[pos:end]
        nul = chunk.find(b"\0")
        yield chunk if nul < 0 else chunk[:nul]
        pos = end


def _span(pattern: re.Pattern[bytes], text: bytes, pos: int) -> int:
    m = pattern.match(text, pos)
    return pos if m is None else m.end()


def read_text_columns(path: PathLike, ncolumns: int) -> np.ndarray:
    """Read a separator-delimited text table the way the original's ``read_text_file`` does.

    Returns an ``(nlines, ncolumns)`` float64 array, NaN where a line has no value for a
    column (see the module docstring for the exact rules).  Raises
    :class:`~nanobragg.io.FormatError` when the file holds no non-blank line.
    """
    if ncolumns < 1:
        raise ValueError("ncolumns must be at least 1")
    data = read_bytes(path)
    rows: list[list[float]] = []
    for line in _fgets_lines(data):
        pos = _span(_DELIMITERS, line, 0)
        if line[pos:] == b"\n":
            continue
        row = [math.nan] * ncolumns
        column = 0
        while True:
            row[column] = atof(line, pos)
            pos = _span(_NUMBERSTUFF, line, pos)
            if line[pos:] == b"\n":
                break
            pos = _span(_NOT_DELIMITERS, line, pos)
            pos = _span(_DELIMITERS, line, pos)
            if line[pos:] == b"\n":
                break
            column += 1
            if column >= ncolumns:
                break
        rows.append(row)
    if not rows:
        raise FormatError(path, "no lines: expected at least one non-blank line")
    return np.array(rows, dtype=np.float64).reshape(len(rows), ncolumns)


def read_source_file(path: PathLike) -> np.ndarray:
    """Read a source file into an ``(n, 5)`` float64 array.

    Columns: X, Y, Z (source position, metres), weight (relative), wavelength (metres);
    NaN marks a column the line did not provide (the caller applies the defaults).
    A file without any non-blank line raises :class:`~nanobragg.io.FormatError`.
    """
    return read_text_columns(path, 5)
