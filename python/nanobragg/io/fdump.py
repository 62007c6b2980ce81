"""Reader and writer of ``Fdump.bin``, the original program's structure-factor cache.

Layout (byte-identical to what the original writes):

* an ASCII line ``"h_min h_max k_min k_max l_min l_max\\n"`` followed by a form feed
  ``"\\f"``;
* ``(h_range + 1) * (k_range + 1) * (l_range + 1)`` little-endian float64 amplitudes
  (electrons), ``l`` varying fastest, where ``x_range = x_max - x_min + 1``.  Each axis
  has one extra padding slot at its end (index ``x_range``); the original leaves those
  slots at 0.0.  :class:`~nanobragg.io.StructureFactors` holds no padding: the writer adds
  zero padding and the reader drops whatever the padding slots contain.

The original reads the header with ``fscanf("%d%d%d%d%d%d\\n\\f")`` and the numbers with
``fread``.  The two whitespace directives skip *every* whitespace byte after the sixth
integer, not just ``\\n\\f``; so when the first amplitude's lowest byte happens to be a
whitespace byte (0x09-0x0d or 0x20, as for 1.000000000000002, bits 0x3FF0000000000009)
the original skips it too and reads all the numbers shifted by that many bytes, a quirk
:func:`read_fdump` reproduces by default (``c_parity=True``); the bytes then missing at
the end of the file (normally padding slots) read as zeros, as the
original's zeroed arrays do.
``c_parity=False`` instead requires exactly ``"\\n\\f"`` after the header and reads the
numbers from there, the exact inverse of :func:`write_fdump`.
"""

from __future__ import annotations

import numpy as np

from ._cscan import scan_int, skip_space
from ._files import PathLike, read_bytes
from .errors import FormatError
from .hkl import DEFAULT_MAX_CELLS, StructureFactors
from .outputs import atomic_write

__all__ = ["fdump_bytes", "read_fdump", "write_fdump"]

_HEADER_NAMES = ("h_min", "h_max", "k_min", "k_max", "l_min", "l_max")


def read_fdump(
    path: PathLike, *, c_parity: bool = True, max_cells: int = DEFAULT_MAX_CELLS
) -> StructureFactors:
    """Read an Fdump file into :class:`~nanobragg.io.StructureFactors` (amplitudes in electrons).

    ``count`` of the result is ``h_range * k_range * l_range`` like the original's
    ``hkls``.  Raises :class:`~nanobragg.io.FormatError` for a malformed header, an empty
    index range, a grid over ``max_cells`` cells or a file too short for its grid.
    """
    data = read_bytes(path)
    pos = 0
    bounds: list[int] = []
    for name in _HEADER_NAMES:
        got = scan_int(data, pos)
        if got is None:
            raise FormatError(
                path,
                f"expected the integer {name} in the header 'h_min h_max k_min k_max l_min l_max'",
                offset=skip_space(data, pos),
            )
        bounds.append(got[0])
        pos = got[1]
    hkl_min = (bounds[0], bounds[2], bounds[4])
    hkl_max = (bounds[1], bounds[3], bounds[5])
    ranges = tuple(b - a + 1 for a, b in zip(hkl_min, hkl_max, strict=True))
    desc = ", ".join(f"{axis} {a}..{b}" for axis, a, b in zip("hkl", hkl_min, hkl_max, strict=True))
    if min(ranges) < 1:
        raise FormatError(path, f"empty index range in the header ({desc})", offset=0)
    cells = ranges[0] * ranges[1] * ranges[2]
    if cells > max_cells:
        raise FormatError(
            path,
            f"index ranges {desc} need {cells} grid cells, more than the limit of {max_cells}",
            offset=0,
        )
    if c_parity:
        start = skip_space(data, pos)
        # quirk fdump_header_whitespace: whitespace skipped beyond the writer's own
        # "\n\f" was data: the numbers are read shifted and the bytes missing at the end
        # read as zeros
        separator = 2 if data[pos : pos + 2] == b"\n\f" else min(1, start - pos)
        tolerated = max(0, start - pos - separator)
    else:
        if data[pos : pos + 2] != b"\n\f":
            raise FormatError(path, "expected '\\n\\f' after the header integers", offset=pos)
        start = pos + 2
        tolerated = 0
    padded = (ranges[0] + 1, ranges[1] + 1, ranges[2] + 1)
    need = 8 * padded[0] * padded[1] * padded[2]
    have = len(data) - start
    if need - have > tolerated:
        raise FormatError(
            path,
            f"truncated: the header's grid needs {need} bytes of float64 data "
            f"from offset {start}, the file has {max(have, 0)}",
            offset=len(data),
        )
    raw = data[start : start + need]
    if len(raw) < need:
        raw = raw + bytes(need - len(raw))
    grid = np.frombuffer(raw, dtype="<f8").reshape(padded)
    values = np.ascontiguousarray(grid[: ranges[0], : ranges[1], : ranges[2]], dtype=np.float64)
    return StructureFactors(hkl_min, hkl_max, values, cells)


def fdump_bytes(sf: StructureFactors) -> bytes:
    """The complete content of the Fdump file for ``sf`` (see the module docstring)."""
    (h_min, k_min, l_min), (h_max, k_max, l_max) = sf.hkl_min, sf.hkl_max
    header = f"{h_min} {h_max} {k_min} {k_max} {l_min} {l_max}\n\f".encode("ascii")
    hr, kr, lr = sf.ranges
    grid = np.zeros((hr + 1, kr + 1, lr + 1), dtype="<f8")
    grid[:hr, :kr, :lr] = sf.values
    return header + grid.tobytes()


def write_fdump(path: PathLike, sf: StructureFactors) -> None:
    """Write ``sf`` to ``path`` in the original's Fdump layout, atomically."""
    atomic_write(path, [fdump_bytes(sf)])
