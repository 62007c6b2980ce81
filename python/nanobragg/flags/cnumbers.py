"""Numbers on the command line: C ``atof``/``atoi`` (``c_parity``) and strict numbers.

The C semantics themselves (glibc, "C" locale) live in :mod:`nanobragg.io._cscan`, which
the file readers share; here they are applied to command-line strings.
"""

from __future__ import annotations

import re

from nanobragg.errors import UsageError
from nanobragg.io._cscan import INT_MAX, INT_MIN, atof, atoi

__all__ = ["Conv", "c_atof", "c_atoi", "strict_float", "strict_int"]


def _c_string(text: str) -> bytes:
    """``text`` as the bytes C sees.  Only ASCII characters take part in a number, so any
    encoding that keeps ASCII as is and never makes ASCII of anything else will do; this
    one also takes the lone surrogates of ``os.fsdecode``."""
    return text.encode("utf-8", "surrogatepass")


def c_atof(text: str) -> float:
    """C ``atof``: the longest leading number (after C whitespace), 0.0 when there is none.

    Decimal and hexadecimal (``0x1p3``) numbers, ``inf``/``infinity`` and ``nan`` are
    read like glibc's ``strtod`` reads them; what follows is ignored (``"1e5x"`` ->
    100000.0, ``"1e"`` -> 1.0, ``"abc"`` -> 0.0).
    """
    return atof(_c_string(text))


def c_atoi(text: str) -> int:
    """C ``atoi`` as glibc has it: ``(int) strtol(text, NULL, 10)``.

    Leading C whitespace, an optional sign, then decimal digits; anything else ends the
    number (``"3.7"`` -> 3, ``"12abc"`` -> 12, ``"abc"`` -> 0).  ``strtol`` saturates at
    the 64-bit range and the conversion to ``int`` keeps the low 32 bits.
    """
    return atoi(_c_string(text))


_STRICT_FLOAT_RE = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)",
    re.IGNORECASE,
)
_STRICT_INT_RE = re.compile(r"[+-]?[0-9]+")


def strict_float(text: str, flag: str) -> float:
    """A well-formed decimal number (or ``inf``/``nan``), else :class:`UsageError`."""
    if _STRICT_FLOAT_RE.fullmatch(text) is None:
        raise UsageError(f"{flag}: expected a number, got {text!r}")
    return float(text)


def strict_int(text: str, flag: str) -> int:
    """A whole decimal number within the C ``int`` range, else :class:`UsageError`."""
    if _STRICT_INT_RE.fullmatch(text) is None:
        raise UsageError(f"{flag}: expected a whole number, got {text!r}")
    value = int(text)
    if not INT_MIN <= value <= INT_MAX:
        raise UsageError(f"{flag}: {text} is outside the range of a C int")
    return value


class Conv:
    """Reads the values of one flag: C ``atof``/``atoi``, or strict numbers."""

    def __init__(self, flag: str, strict: bool) -> None:
        self.flag = flag
        self.strict = strict

    def f(self, text: str) -> float:
        return strict_float(text, self.flag) if self.strict else c_atof(text)

    def i(self, text: str) -> int:
        return strict_int(text, self.flag) if self.strict else c_atoi(text)
