"""Reader for text HKL files (structure-factor amplitudes ``h k l F``).

Units: ``h k l`` are Miller indices (dimensionless integers), ``F`` is a structure-factor
amplitude in electrons (whatever the file holds; it is not rescaled).

Two reading modes are offered.

``c_parity=False`` (default, line based)
    Every non-blank line must start with at least four numbers ``h k l F``; further
    columns are ignored (so ``h k l F phase sigma`` files work as intended).  A line with
    fewer than four fields, or a field among the first four that is not a number, raises
    :class:`~nanobragg.io.FormatError` naming the line.  A non-integer index warns
    (:class:`~nanobragg.io.HKLWarning`) and is rounded to the nearest integer, halves away
    from zero; an index that is not finite is an error.  A reflection listed twice keeps
    its last value.

``c_parity=True`` (reproduces the original program exactly)
    The original ignores line structure.  A counting pass reads the file as a stream of
    numbers four at a time with ``fscanf("%lg%lg%lg%lg")`` until a group is incomplete;
    ``count`` is the number of complete groups and the index ranges are the minimum and
    maximum of the first three numbers of each group, stored into C ``int`` variables
    (truncation toward zero, and INT_MIN for NaN or out-of-range values as on x86-64;
    the comparisons are done in double precision, the running minimum starts at 1e9 and
    the maximum at -1e9).  Ranges that come out empty (the original's "not enough HKL
    indices") or larger than ``max_cells`` raise :class:`~nanobragg.io.FormatError`;
    the original would wrap around in 32-bit arithmetic instead.  A second pass re-reads
    the file with ``fscanf("%d%d%d%lg")`` and stores each ``F`` at its ``(h, k, l)``; it
    stops at the first group that does not convert completely.  ``%d`` stops in front of a ``.``, so
    ``12.5`` in an index position leaves ``.5`` behind: if the next conversion is another
    ``%d`` it fails and the pass ends there; if it is the ``%lg`` of ``F`` it reads 0.5 and
    the rest of the stream is read out of step.  Cells never stored keep ``default_F``.
    Stores that fall outside the grid (only possible when the two passes disagree; the C
    code would write out of bounds or into the padding slots of its arrays) are ignored.
    Non-integer indices in the counting pass are reported through ``warn`` with the
    original's message text, ``WARNING: non-integer value for h (-141.9) at line 1``,
    where the "line" is the 0-based group number (the original's counter).  The number
    syntax follows glibc's ``scanf`` exactly; see :mod:`nanobragg.io._cscan`.

What the original did with a six-column file (golden case ``hkl_extra_columns``, input
``phases.hkl`` with ``h k l F phase sigma`` on 125 lines, ``-default_F 20``): the 750
numbers form 187 complete groups of four (the last two numbers are dropped), so the
original reports "187 initialized hkls".  Group 1 is the first reflection, group 2 is
``phase sigma h k`` (line 1, then line 2), group 3 is ``l F phase sigma`` of line 2, and
the pattern repeats every two lines.  Phases, sigmas and amplitudes thus all enter the
index ranges, which become h -168..172, k -2..29, l -177..177 (341 x 32 x 355 cells;
fractional values truncate toward zero).  The counting pass prints 234 non-integer
warnings, identical to the golden stdout.  The second pass stores the first reflection
(-2, -2, -2) = 2.04, then reads the phase ``-141.9`` as ``%d`` = -141, fails on ``.9``
and stops: only one cell is stored, every other cell holds ``default_F`` = 20.  (The
line-based mode reads the same file as 125 reflections with h, k, l in -2..2.)
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ._cscan import c_double_to_int, scan_group, scan_int
from ._files import PathLike, read_bytes
from .errors import FormatError, HKLWarning

__all__ = ["DEFAULT_MAX_CELLS", "StructureFactors", "read_hkl"]

#: Largest grid (``h_range * k_range * l_range`` cells, 8 bytes each) a reader allocates.
DEFAULT_MAX_CELLS = 512**3

WarnFunc = Callable[[str], object]

_NUMBER = re.compile(
    rb"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf(?:inity)?|nan)",
    re.IGNORECASE,
)
_AXES = ("h", "k", "l")


@dataclass(frozen=True, eq=False)
class StructureFactors:
    """Structure-factor amplitudes on a dense ``h, k, l`` grid.

    ``values[h - h_min, k - k_min, l - l_min]`` is the amplitude of reflection
    ``(h, k, l)`` (electrons); the array is float64, C-contiguous, of shape
    ``(h_max - h_min + 1, k_max - k_min + 1, l_max - l_min + 1)`` and holds no padding.
    ``count`` is the number of entries read from the file (the original's ``hkls``;
    ``h_range * k_range * l_range`` for a grid read back from an Fdump file).
    """

    hkl_min: tuple[int, int, int]
    hkl_max: tuple[int, int, int]
    values: np.ndarray
    count: int

    def __post_init__(self) -> None:
        lo = _indices("hkl_min", self.hkl_min)
        hi = _indices("hkl_max", self.hkl_max)
        shape = tuple(b - a + 1 for a, b in zip(lo, hi, strict=True))
        if min(shape) < 1:
            raise ValueError(f"empty index range: hkl_min={lo}, hkl_max={hi}")
        values = np.ascontiguousarray(self.values, dtype=np.float64)
        if values.shape != shape:
            raise ValueError(f"values has shape {values.shape}, the index ranges need {shape}")
        object.__setattr__(self, "hkl_min", lo)
        object.__setattr__(self, "hkl_max", hi)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "count", _whole("count", self.count, self.count))

    @property
    def ranges(self) -> tuple[int, int, int]:
        """``(h_range, k_range, l_range)``: the number of grid cells along each axis."""
        shape = self.values.shape
        return (shape[0], shape[1], shape[2])

    def contains(self, h: int, k: int, l: int) -> bool:  # noqa: E741
        """Whether ``(h, k, l)`` lies on the grid."""
        index = (h, k, l)
        return all(a <= v <= b for a, v, b in zip(self.hkl_min, index, self.hkl_max, strict=True))

    def get(self, h: int, k: int, l: int, default: float = 0.0) -> float:  # noqa: E741
        """Amplitude of ``(h, k, l)``, or ``default`` when it lies off the grid."""
        if not self.contains(h, k, l):
            return default
        h0, k0, l0 = self.hkl_min
        return float(self.values[h - h0, k - k0, l - l0])


def _whole(name: str, item: object, shown: object, expected: str = "a whole number") -> int:
    """A whole number (an int, numpy integer or float with a whole value) as an int;
    ``shown``: what the message shows (the sequence the item is in)."""
    if isinstance(item, bool) or not isinstance(item, int | float | np.integer | np.floating):
        raise TypeError(f"{name}: expected {expected}, got {shown!r}")
    if isinstance(item, float | np.floating) and not (math.isfinite(item)
                                                       and float(item).is_integer()):
        raise ValueError(f"{name}: expected {expected}, got {shown!r}")
    return int(item)


def _indices(name: str, value: object) -> tuple[int, int, int]:
    """Three Miller indices (a sequence or 1-D array of whole numbers) as ints."""
    items = value.tolist() if isinstance(value, np.ndarray) and value.ndim == 1 else value
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        raise TypeError(f"{name}: expected three whole numbers, got {value!r}")
    if len(items) != 3:
        raise ValueError(f"{name}: expected three whole numbers, got {value!r}")
    h, k, l = (_whole(name, item, value, "three whole numbers") for item in items)  # noqa: E741
    return h, k, l


def read_hkl(
    path: PathLike,
    *,
    default_F: float = 0.0,
    c_parity: bool = False,
    warn: WarnFunc | None = None,
    max_cells: int = DEFAULT_MAX_CELLS,
) -> StructureFactors:
    """Read an ``h k l F`` text file into a dense grid (see the module docstring).

    Parameters
    ----------
    path:
        The HKL file.  A missing file raises :class:`FileNotFoundError`.
    default_F:
        Amplitude (electrons) of grid cells the file does not list.
    c_parity:
        Reproduce the original program's stream reading exactly instead of reading lines.
    warn:
        Called with each warning message; when None the messages are issued with
        :func:`warnings.warn` as :class:`~nanobragg.io.HKLWarning`.
    max_cells:
        Refuse (:class:`~nanobragg.io.FormatError`) grids with more cells than this
        before allocating them.
    """
    data = read_bytes(path)
    # quirk hkl_stream_of_fours: the original reads a stream of numbers four at a time;
    # corrected, one reflection per line
    if c_parity:
        return _read_parity(path, data, float(default_F), warn, max_cells)
    return _read_lines(path, data, float(default_F), warn, max_cells)


def _emit(message: str, warn: WarnFunc | None) -> None:
    if warn is None:
        warnings.warn(message, HKLWarning, stacklevel=4)
    else:
        warn(message)


def _check_grid(
    path: PathLike, lo: tuple[int, int, int], hi: tuple[int, int, int], max_cells: int
) -> tuple[int, int, int]:
    shape = (hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1)
    desc = ", ".join(f"{a} {b}..{c}" for a, b, c in zip(_AXES, lo, hi, strict=True))
    if min(shape) < 1:
        raise FormatError(path, f"not enough HKL indices: empty index range ({desc})")
    cells = shape[0] * shape[1] * shape[2]
    if cells > max_cells:
        raise FormatError(
            path,
            f"index ranges {desc} need {cells} grid cells, more than the limit of {max_cells}",
        )
    return shape


def _c_g(value: float) -> str:
    """C ``printf("%g")`` of a double."""
    if math.isnan(value):
        return "-nan" if math.copysign(1.0, value) < 0 else "nan"
    return f"{value:g}"


# A file made only of plain decimal numbers separated by whitespace: there every number
# is a whole token for %lg, which allows a vectorised path with identical results.
_CLEAN_STREAM = re.compile(
    rb"(?:[ \t\n\v\f\r]*+"
    rb"(?>[+-]?+(?:[0-9]++(?:\.[0-9]*+)?+|\.[0-9]++)(?:[eE][+-]?+[0-9]++)?+)"
    rb"(?![^ \t\n\v\f\r]))*+[ \t\n\v\f\r]*+"
)
_TOKEN = re.compile(rb"[^ \t\n\v\f\r]+")
_INT_RANGE = 2.0**31


def _parity_warnings(indices: np.ndarray, warn: WarnFunc | None) -> None:
    """The original's ``v != ceil(v - 0.4)`` test on every h, k, l, in reading order."""
    with np.errstate(invalid="ignore"):
        flagged = (indices != np.ceil(indices - 0.4)) | np.isnan(indices)
    for group, axis in np.argwhere(flagged):
        value = float(indices[group, axis])
        _emit(f"WARNING: non-integer value for {_AXES[axis]} ({_c_g(value)}) at line {group}", warn)


def _parity_bounds(indices: np.ndarray) -> tuple[list[int], list[int]]:
    """Index ranges as the original's running ``int`` minimum and maximum compute them."""
    lo = [1_000_000_000] * 3
    hi = [-1_000_000_000] * 3
    if indices.size and np.all(np.abs(indices) < _INT_RANGE):
        # with every value convertible, truncation is monotonic and the running
        # minimum ends as the truncated minimum (likewise for the maximum)
        for axis in range(3):
            least = float(indices[:, axis].min())
            most = float(indices[:, axis].max())
            if lo[axis] > least:
                lo[axis] = int(least)
            if hi[axis] < most:
                hi[axis] = int(most)
        return lo, hi
    for row in indices.tolist():
        for axis in range(3):
            if lo[axis] > row[axis]:
                lo[axis] = c_double_to_int(row[axis])
        for axis in range(3):
            if hi[axis] < row[axis]:
                hi[axis] = c_double_to_int(row[axis])
    return lo, hi


def _int_tokens(tokens: list[bytes]) -> np.ndarray:
    """``%d`` values of whole-integer tokens (strtol saturation, then 32-bit wrap)."""
    if all(len(t) <= 18 for t in tokens):
        wide = np.array([int(t) for t in tokens], dtype=np.int64)
        return (wide + 2**31) % 2**32 - 2**31
    values = []
    for token in tokens:
        got = scan_int(token, 0)
        values.append(0 if got is None else got[0])  # never None for these tokens
    return np.array(values, dtype=np.int64)


def _store(values: np.ndarray, lo: list[int], hkl: np.ndarray, amplitudes: np.ndarray) -> None:
    """``values[h - h_min, k - k_min, l - l_min] = F`` in order, skipping off-grid entries."""
    if not len(amplitudes):
        return
    offsets = hkl - np.array(lo, dtype=np.int64)
    shape = np.array(values.shape, dtype=np.int64)
    inside = np.all((offsets >= 0) & (offsets < shape), axis=1)
    offsets, amplitudes = offsets[inside], amplitudes[inside]
    flat = np.ravel_multi_index((offsets[:, 0], offsets[:, 1], offsets[:, 2]), values.shape)
    # a reflection stored twice keeps the later value, as sequential stores would
    _, last_reversed = np.unique(flat[::-1], return_index=True)
    keep = len(flat) - 1 - last_reversed
    values.reshape(-1)[flat[keep]] = amplitudes[keep]


def _read_parity(
    path: PathLike,
    data: bytes,
    default_F: float,
    warn: WarnFunc | None,
    max_cells: int,
    *,
    fast: bool = True,
) -> StructureFactors:
    tokens = data.split() if fast and _CLEAN_STREAM.fullmatch(data) is not None else None
    # quirk hkl_stream_of_fours: line breaks mean nothing; the counting pass takes
    # fscanf("%lg%lg%lg%lg") groups until one is incomplete
    if tokens is not None:
        count = len(tokens) // 4
        groups = np.array([float(t) for t in tokens[: 4 * count]], dtype=np.float64)
    else:
        numbers: list[float | int] = []
        pos = 0
        while (got := scan_group(data, pos, "gggg")) is not None:
            numbers.extend(got[0])
            pos = got[1]
        count = len(numbers) // 4
        groups = np.array(numbers, dtype=np.float64)
    groups = groups.reshape(count, 4)
    if count == 0:
        raise FormatError(path, "not enough HKL indices: no complete 'h k l F' group of numbers")
    _parity_warnings(groups[:, :3], warn)
    lo, hi = _parity_bounds(groups[:, :3])
    hkl_min = (lo[0], lo[1], lo[2])
    hkl_max = (hi[0], hi[1], hi[2])
    shape = _check_grid(path, hkl_min, hkl_max, max_cells)
    values = np.full(shape, default_F, dtype=np.float64)
    # second pass: fscanf("%d%d%d%lg") until a group does not convert completely
    pos = 0
    if tokens is not None:
        columns = [tokens[axis : 4 * count : 4] for axis in range(4)]
        whole = count
        for column in columns[:3]:
            whole = next(
                (g for g, t in enumerate(column[:whole]) if not t.lstrip(b"+-").isdigit()), whole
            )
        if whole:
            hkl = np.stack([_int_tokens(column[:whole]) for column in columns[:3]], axis=1)
            amplitudes = np.array([float(t) for t in columns[3][:whole]], dtype=np.float64)
            _store(values, lo, hkl, amplitudes)
        if whole == count:
            return StructureFactors(hkl_min, hkl_max, values, count)
        # group `whole` has an index with a fraction or exponent: scan exactly from it
        match = next(m for g, m in enumerate(_TOKEN.finditer(data)) if g == 4 * whole)
        pos = match.start()
    while (got := scan_group(data, pos, "dddg")) is not None:
        (h, k, l_, f_cell), pos = got
        i, j, m = int(h) - lo[0], int(k) - lo[1], int(l_) - lo[2]
        if 0 <= i < shape[0] and 0 <= j < shape[1] and 0 <= m < shape[2]:
            values[i, j, m] = f_cell
    return StructureFactors(hkl_min, hkl_max, values, count)


def _show(token: bytes) -> str:
    text = token.decode("latin-1")
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _round_half_away(value: float) -> int:
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def _read_lines(
    path: PathLike, data: bytes, default_F: float, warn: WarnFunc | None, max_cells: int
) -> StructureFactors:
    table: dict[tuple[int, int, int], float] = {}
    count = 0
    for lineno, line in enumerate(data.split(b"\n"), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 4:
            raise FormatError(
                path,
                f"expected at least 4 numbers 'h k l F', found {len(fields)} field(s)",
                line=lineno,
            )
        numbers: list[float] = []
        for name, token in zip((*_AXES, "F"), fields[:4], strict=True):
            if _NUMBER.fullmatch(token) is None:
                raise FormatError(
                    path, f"expected a number for {name}, found {_show(token)}", line=lineno
                )
            numbers.append(float(token))
        index: list[int] = []
        for name, value in zip(_AXES, numbers[:3], strict=True):
            if not math.isfinite(value):
                raise FormatError(
                    path,
                    f"expected a finite Miller index {name}, found {_c_g(value)}",
                    line=lineno,
                )
            rounded = _round_half_away(value)
            if rounded != value:
                _emit(
                    f"{path}: line {lineno}: non-integer {name} index {value!r} "
                    f"rounded to {rounded}",
                    warn,
                )
            index.append(rounded)
        table[(index[0], index[1], index[2])] = numbers[3]
        count += 1
    if count == 0:
        raise FormatError(path, "no reflections: expected lines of 'h k l F'")
    keys = np.array(list(table.keys()), dtype=object)
    hkl_min = (int(keys[:, 0].min()), int(keys[:, 1].min()), int(keys[:, 2].min()))
    hkl_max = (int(keys[:, 0].max()), int(keys[:, 1].max()), int(keys[:, 2].max()))
    shape = _check_grid(path, hkl_min, hkl_max, max_cells)
    values = np.full(shape, default_F, dtype=np.float64)
    offsets = (keys - np.array(hkl_min, dtype=object)).astype(np.int64)
    values[offsets[:, 0], offsets[:, 1], offsets[:, 2]] = np.fromiter(
        table.values(), dtype=np.float64, count=len(table)
    )
    return StructureFactors(hkl_min, hkl_max, values, count)
