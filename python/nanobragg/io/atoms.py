"""Atom lists for the point-scatterer stage: one scatterer a line, x y z in Angstrom,
then optionally occupancy, B (square Angstrom) and phase (degrees).

:func:`read_atoms` reads as the original nearBragg reads (``c_parity=True``) or strictly.
Both return an (n, 6) float64 table, missing columns at their defaults."""

from __future__ import annotations

import re

import numpy as np

from ._cscan import atof
from ._files import PathLike, read_bytes
from .errors import FormatError
from .sourcefile import _fgets_lines

__all__ = ["read_atoms"]

_DELIMITERS = re.compile(rb"[ \t\r,;:!]*")
_NOT_DELIMITERS = re.compile(rb"[^ \t\r,;:!]*")
_NUMBERSTUFF = re.compile(rb"[0-9+\-.EGeg]*")
_STRICT_SPLIT = re.compile(r"[\s,;]+")


def _span(pattern: re.Pattern[bytes], text: bytes, pos: int) -> int:
    m = pattern.match(text, pos)
    return pos if m is None else m.end()


def _read_legacy(data: bytes) -> np.ndarray:
    """quirk near_atom_reader: every line that is not blank is a scatterer, its numbers
    read with atof after delimiters; a word reads as 0 and skipping it runs past the end
    of the line, so the later columns read as 0 too (a comment line is a scatterer of
    occupancy 0 at the origin), as do the missing columns of a last line without a
    newline; a missing phase is -90 degrees."""
    rows = []
    for line in _fgets_lines(data):
        pos = _span(_DELIMITERS, line, 0)
        if line[pos:] == b"\n":
            continue
        row = [0.0, 0.0, 0.0, 1.0, 0.0, -90.0]
        for column in range(6):
            row[column] = atof(line, pos)
            if column == 5:
                break
            pos = _span(_NUMBERSTUFF, line, pos)
            if line[pos:] == b"\n":
                break
            pos = _span(_NOT_DELIMITERS, line, pos)
            pos = _span(_DELIMITERS, line, pos)
            if line[pos:] == b"\n":
                break
        rows.append(row)
    return np.array(rows, dtype=np.float64).reshape(len(rows), 6)


def _read_strict(path: PathLike, data: bytes) -> np.ndarray:
    rows = []
    for number, raw in enumerate(data.decode("latin-1").splitlines(), start=1):
        text = raw.split("#", 1)[0].strip()
        if not text:
            continue
        tokens = [t for t in _STRICT_SPLIT.split(text) if t]
        if not 3 <= len(tokens) <= 6:
            raise FormatError(path, f"line {number}: {len(tokens)} columns; expected 3 to 6 "
                              "(x y z [occupancy [B [phase]]])")
        try:
            values = [float(t) for t in tokens]
        except ValueError:
            raise FormatError(path, f"line {number}: {text!r} is not 3 to 6 numbers") from None
        if not all(np.isfinite(values)):
            raise FormatError(path, f"line {number}: {text!r} holds a value that is not finite")
        rows.append(values + [1.0, 0.0, 0.0][len(values) - 3:])
    if not rows:
        raise FormatError(path, "no atoms: expected lines of x y z [occupancy [B [phase]]]")
    return np.array(rows, dtype=np.float64)


def read_atoms(path: PathLike, *, c_parity: bool) -> np.ndarray:
    """The (n, 6) table x y z occupancy B phase of an atom list (see the module text)."""
    data = read_bytes(path)
    return _read_legacy(data) if c_parity else _read_strict(path, data)
