"""Emulation of the C library's number parsing, as the original program used it.

The original nanoBragg reads its text inputs with ``fscanf`` (``%lg`` and ``%d``
conversions) and ``atof``.  Bit-exact parity needs the same characters to be consumed
and the same values to come out, including for odd input.  The behaviour modelled here
is that of GNU libc (2.36, the version the golden corpus was made with) in the "C"
locale, which is what the original runs under (it never calls ``setlocale``):

* whitespace is exactly the six C ``isspace`` characters (space, ``\\t \\n \\v \\f \\r``);
* ``strtod``/``atof`` accept an optional sign and then a decimal number with an optional
  exponent, a hexadecimal number (``0x...`` with an optional ``p`` exponent),
  ``inf``/``infinity`` or ``nan``/``nan(chars)`` (case-insensitive); no conversion gives
  0.0 and leaves the position unchanged;
* ``%lg`` first *collects* characters by a fixed set of rules (digits, at most one
  ``.``, one exponent letter after a digit, a sign only right after the exponent letter;
  ``nan``, ``inf`` and ``infinity`` spelled out completely) and then converts the
  collected text with ``strtod``.  The conversion succeeds when ``strtod`` uses at least
  one character of it, even if not all: ``1e+`` reads as 1.0 and the ``e+`` is consumed.
  A lone sign, a lone ``.``, a bare ``0x`` or a misspelled ``nan``/``inf`` fail;
* ``%d`` reads an optional sign and at least one decimal digit; the value goes through
  ``strtol`` (saturating at the 64-bit ``long`` range) and is then cut to 32 bits, as the
  conversion to ``int`` does on x86-64.

Everything works on ``bytes`` and byte offsets; callers pass the whole file content.
:func:`atof` and :func:`atoi` are also what :mod:`nanobragg.flags.cnumbers` reads
command-line values with (``c_parity`` mode).
Each ``scan_*`` function returns ``None`` on an input failure (end of data) or a
matching failure; once a ``fscanf`` call fails the original stops reading, so where the
C stream would be left after a failure never matters.
"""

from __future__ import annotations

import math
import re

__all__ = [
    "C_WHITESPACE",
    "INT_MAX",
    "INT_MIN",
    "atof",
    "atoi",
    "c_double_to_int",
    "scan_double",
    "scan_group",
    "scan_int",
    "skip_space",
    "strtod",
]

C_WHITESPACE = b" \t\n\v\f\r"
INT_MIN = -(2**31)
INT_MAX = 2**31 - 1
_LONG_MIN = -(2**63)
_LONG_MAX = 2**63 - 1

_SPACE_RE = re.compile(rb"[ \t\n\v\f\r]*")

# strtod grammar pieces (applied after the sign).
_STRTOD_HEX = re.compile(
    rb"0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?"
)
_STRTOD_DEC = re.compile(rb"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_STRTOD_INF = re.compile(rb"[iI][nN][fF](?:[iI][nN][iI][tT][yY])?")
_STRTOD_NAN = re.compile(rb"[nN][aA][nN](?:\([0-9A-Za-z_]*\))?")

# scanf "%lg" collection rules (after the sign and the nan/inf/0x checks).
_COLLECT_DEC = re.compile(rb"[0-9]*(?:\.[0-9]*)?")
_COLLECT_DEC_EXP = re.compile(rb"(?:[eE][+-]?[0-9]*)?")
_COLLECT_HEX = re.compile(rb"[0-9a-fA-F]*(?:\.[0-9a-fA-F]*)?")
_COLLECT_HEX_EXP = re.compile(rb"(?:[pP][+-]?[0-9]*)?")
_DIGITS = re.compile(rb"[0-9]*")
_HAS_DIGIT = re.compile(rb"[0-9]")
_HAS_XDIGIT = re.compile(rb"[0-9a-fA-F]")


def skip_space(buf: bytes, pos: int) -> int:
    """Return the first position at or after ``pos`` that is not C whitespace."""
    m = _SPACE_RE.match(buf, pos)
    return pos if m is None else m.end()


def _signed(value: float, negative: bool) -> float:
    return -value if negative else value


def strtod(buf: bytes, pos: int = 0) -> tuple[float, int]:
    """C ``strtod`` on ``buf`` starting at ``pos``: return ``(value, end)``.

    ``end == pos`` means no conversion (and the value is 0.0).  Out-of-range values give
    ``inf``/0.0 like the C function (``errno`` is not modelled).  ``buf`` is taken as a C
    string: callers cut it at a NUL byte where that matters.
    """
    p = skip_space(buf, pos)
    negative = False
    if p < len(buf) and buf[p] in b"+-":
        negative = buf[p] == 0x2D
        p += 1
    m = _STRTOD_HEX.match(buf, p)
    if m is not None:
        text = m.group().decode("ascii")
        try:
            value = float.fromhex(text)
        except OverflowError:
            value = math.inf
        return _signed(value, negative), m.end()
    m = _STRTOD_DEC.match(buf, p)
    if m is not None:
        return _signed(float(m.group()), negative), m.end()
    m = _STRTOD_INF.match(buf, p)
    if m is not None:
        return _signed(math.inf, negative), m.end()
    m = _STRTOD_NAN.match(buf, p)
    if m is not None:
        return math.copysign(math.nan, -1.0 if negative else 1.0), m.end()
    return 0.0, pos


def atof(buf: bytes, pos: int = 0) -> float:
    """C ``atof``: the value of :func:`strtod`, 0.0 when nothing converts."""
    return strtod(buf, pos)[0]


def atoi(buf: bytes, pos: int = 0) -> int:
    """C ``atoi`` as glibc has it, ``(int) strtol(buf, NULL, 10)``: 0 when nothing converts.

    Leading C whitespace, an optional sign, then decimal digits (``b"3.7"`` -> 3,
    ``b"12abc"`` -> 12, ``b"abc"`` -> 0); ``strtol`` saturates at the 64-bit range and the
    conversion to ``int`` keeps the low 32 bits, exactly as :func:`scan_int` reads.
    """
    got = scan_int(buf, pos)
    return 0 if got is None else got[0]


def _lower_at(buf: bytes, pos: int, length: int) -> bytes:
    return buf[pos : pos + length].lower()


def scan_double(buf: bytes, pos: int) -> tuple[float, int] | None:
    """One glibc ``fscanf`` ``%lg`` conversion at ``pos``: ``(value, new_pos)`` or None."""
    n = len(buf)
    p = skip_space(buf, pos)
    if p >= n:
        return None  # input failure (EOF)
    start = p
    negative = False
    if buf[p] in b"+-":
        negative = buf[p] == 0x2D
        p += 1
        if p >= n:
            return None
    c = buf[p]
    if c in b"nN":
        if _lower_at(buf, p, 3) != b"nan":
            return None
        return math.copysign(math.nan, -1.0 if negative else 1.0), p + 3
    if c in b"iI":
        if _lower_at(buf, p, 3) != b"inf":
            return None
        p += 3
        if p < n and buf[p] in b"iI":
            if _lower_at(buf, p, 5) != b"inity":
                return None
            p += 5
        return _signed(math.inf, negative), p
    if c == 0x30 and p + 1 < n and buf[p + 1] in b"xX":
        m = _COLLECT_HEX.match(buf, p + 2)
        end = m.end() if m is not None else p + 2
        if _HAS_XDIGIT.search(buf, p + 2, end) is not None:
            e = _COLLECT_HEX_EXP.match(buf, end)
            end = e.end() if e is not None else end
        elif end == p + 2:
            return None  # only "0x" was collected
    else:
        m = _COLLECT_DEC.match(buf, p)
        end = m.end() if m is not None else p
        if end == p:
            return None  # nothing but (maybe) a sign
        if _HAS_DIGIT.search(buf, p, end) is not None:
            e = _COLLECT_DEC_EXP.match(buf, end)
            end = e.end() if e is not None else end
    collected = buf[start:end]
    value, used = strtod(collected, 0)
    if used == 0:
        return None
    return value, end


def scan_int(buf: bytes, pos: int) -> tuple[int, int] | None:
    """One glibc ``fscanf`` ``%d`` conversion at ``pos``: ``(value, new_pos)`` or None."""
    n = len(buf)
    p = skip_space(buf, pos)
    if p >= n:
        return None
    negative = False
    if buf[p] in b"+-":
        negative = buf[p] == 0x2D
        p += 1
    m = _DIGITS.match(buf, p)
    end = m.end() if m is not None else p
    if end == p:
        return None
    digits = buf[p:end].lstrip(b"0")
    # strtol saturates; more than 19 significant digits is always out of range
    value = _LONG_MAX + 1 if len(digits) > 19 else int(digits or b"0")
    if negative:
        value = -value
    value = min(max(value, _LONG_MIN), _LONG_MAX)
    # (int) of a long keeps the low 32 bits (two's complement)
    value = (value - INT_MIN) % 2**32 + INT_MIN
    return value, end


def scan_group(buf: bytes, pos: int, kinds: str) -> tuple[list[float | int], int] | None:
    """One ``fscanf`` call whose format is a run of ``%d`` (``d``) and ``%lg`` (``g``).

    Returns the converted values and the new position when every conversion succeeds,
    else None (the original treats any shortfall as the end of its reading loop).
    """
    values: list[float | int] = []
    for kind in kinds:
        got: tuple[float, int] | tuple[int, int] | None
        got = scan_int(buf, pos) if kind == "d" else scan_double(buf, pos)
        if got is None:
            return None
        values.append(got[0])
        pos = got[1]
    return values, pos


def c_double_to_int(x: float) -> int:
    """C conversion of a double to a 32-bit ``int`` as x86-64 does it.

    The fractional part is truncated; NaN and values whose truncation does not fit
    (undefined behaviour in C) give ``INT_MIN`` like the ``cvttsd2si`` instruction.
    """
    if math.isnan(x) or not (-2147483649.0 < x < 2147483648.0):
        return INT_MIN
    return int(x)
