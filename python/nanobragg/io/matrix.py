"""Reader for MOSFLM-style orientation matrix files (``-mat A.mat``).

A MOSFLM ``A`` matrix holds the reciprocal cell vectors multiplied by the wavelength:
line *i* (i = 1..3) holds the *i*-th Cartesian component (x, y, z) of a*, b* and c*, in
units of wavelength / Angstrom (dimensionless: 1/A times A).  The original reads the
first nine numbers of the file with three ``fscanf("%lg%lg%lg")`` calls, ignoring line
structure and anything after the ninth number (MOSFLM's missetting angles, cell, ...),
and then divides them by the wavelength in force.
"""

from __future__ import annotations

import numpy as np

from ._cscan import scan_double, skip_space
from ._files import PathLike, read_bytes
from .errors import FormatError

__all__ = ["read_mosflm_matrix"]


def read_mosflm_matrix(path: PathLike) -> np.ndarray:
    """Return the first nine numbers of ``path`` as a (3, 3) float64 matrix.

    ``m[i, j]`` is Cartesian component ``i`` of reciprocal vector ``j``: the columns are
    a*, b*, c*.  The numbers are returned raw, still multiplied by the wavelength (divide
    by the wavelength in Angstrom to get a*, b*, c* in 1/Angstrom).  Numbers are read as
    C ``%lg`` does (see :mod:`nanobragg.io._cscan`); fewer than nine readable numbers
    raise :class:`~nanobragg.io.FormatError`.
    """
    data = read_bytes(path)
    numbers: list[float] = []
    pos = 0
    while len(numbers) < 9:
        got = scan_double(data, pos)
        if got is None:
            raise FormatError(
                path,
                f"expected 9 numbers (a*, b*, c* components), could read only {len(numbers)}",
                offset=skip_space(data, pos),
            )
        numbers.append(got[0])
        pos = got[1]
    return np.array(numbers, dtype=np.float64).reshape(3, 3)
