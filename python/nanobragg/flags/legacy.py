"""The ``c_parity=True`` parse: the original's own argument loop, quirks included.

Every argument that starts with ``-`` is tested against every rule of
:data:`~nanobragg.flags.table.FLAGS`, in the table's order, by *substring*
(``-twotheta_axis`` also contains ``-twotheta``, so it also sets the two-theta angle);
some rules ask for the whole argument instead (``-phi``, ``-polar``, ``-detsize``...), a
few stop the later rules from seeing the argument, values are read with C
``atof``/``atoi`` (``"abc"`` reads as 0, ``"3.7"`` as the integer 3), and a value is
taken from the next arguments whether or not it looks like a flag.  The headers of
``-mask`` and ``-img`` (found by substring too) are read first.  Unlike the original,
unknown flags, stray arguments and missing values raise :class:`UsageError`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from nanobragg.errors import ParityWarning, UsageError
from nanobragg.flags.cnumbers import Conv, c_atof
from nanobragg.flags.headers import ingest_headers
from nanobragg.flags.record import Record
from nanobragg.flags.table import FLAG_BY_NAME, FLAGS, Flag

__all__ = ["parse_parity"]

_FIRED, _STOP, _SHORT = "fired", "stop", "short"


def _parity_arity(flag: Flag, argv: Sequence[str], i: int) -> int:
    """Values the exactly-spelt flag needs before the end (for the missing-value check)."""
    n = len(argv)
    if flag.kind == "misset" and i + 1 < n and "rand" in argv[i + 1]:
        return 1
    if flag.kind == "cell":
        # the original stops at a value starting with '-': only running out counts
        k = 0
        while k < 6 and i + 1 + k < n and not argv[i + 1 + k].startswith("-"):
            k += 1
        return 6 if i + 1 + k >= n else 0
    return flag.nvalues


def _apply_parity(flag: Flag, rec: Record, argv: Sequence[str], i: int,
                  consumed: set[int]) -> str:
    """Apply one rule of the original to ``argv[i]`` (which it matches)."""
    n = len(argv)
    after = n - i - 1
    arg = argv[i]
    if flag.prescan_only:
        if after < 1:
            return _SHORT
        consumed.add(i + 1)
        return _FIRED
    if flag.kind == "cell":
        if after < 1:
            return _SHORT
        rec.user_cell = True
        for k in range(6):
            j = i + 1 + k
            if j >= n or argv[j].startswith("-"):
                return _STOP
            rec.cell[k] = c_atof(argv[j])
            consumed.add(j)
        return _FIRED
    if flag.kind == "misset":
        # two rules: the word "rand" anywhere in the next argument, then three angles
        if after >= 1 and "rand" in argv[i + 1]:
            rec.misset_state = -1
            consumed.add(i + 1)
            return _STOP
        if after >= 3:
            rec.misset_state = 1
            rec.misset = [c_atof(argv[i + k]) for k in (1, 2, 3)]
            consumed.update((i + 1, i + 2, i + 3))
            return _FIRED
        return _SHORT
    if flag.c_unchecked:
        if after < 1:
            raise UsageError(f"{arg}: missing value at the end of the command line "
                             "(the original would crash)")
    elif after < flag.need:
        return _SHORT
    values = argv[i + 1:i + 1 + flag.nvalues]
    consumed.update(range(i + 1, i + 1 + flag.nvalues))
    assert flag.action is not None
    flag.action(rec, values, Conv(arg, strict=False))
    return _STOP if flag.c_stop else _FIRED


def parse_parity(argv: Sequence[str]) -> Record:
    """The original's loop over ``argv``: the record it leaves (see the module text)."""
    n = len(argv)
    rec = Record()
    # the original first scans for -img and -mask (substring rule, last one wins)
    img_path = mask_path = None
    for i, arg in enumerate(argv):
        if arg.startswith("-") and i + 1 < n:
            if "-img" in arg:
                img_path = argv[i + 1]
            if "-mask" in arg:
                mask_path = argv[i + 1]
    ingest_headers(rec, mask_path, img_path, strict=False)

    consumed: set[int] = set()
    for i, arg in enumerate(argv):
        free = i not in consumed
        if not arg.startswith("-"):
            if free:
                raise UsageError(f"unexpected argument {arg!r}: no flag takes it as a value")
            continue
        exact = FLAG_BY_NAME.get(arg)
        if free and exact is not None:
            need = _parity_arity(exact, argv, i)
            if n - i - 1 < need:
                raise UsageError(f"{arg}: needs {need} value(s), the command line ends first")
        matched = fired = False
        short: list[Flag] = []
        # quirk substring_flag_matching: every rule whose name the argument contains
        # fires, in the table's order, until one stops the others
        for flag in FLAGS:
            if not flag.c_matches(arg):
                continue
            matched = True
            outcome = _apply_parity(flag, rec, argv, i, consumed)
            if outcome == _SHORT:
                short.append(flag)
                continue
            fired = True
            if outcome == _STOP:
                break
        if not free:
            continue
        if not matched:
            raise UsageError(f"unknown flag {arg!r}")
        lacking = [flag for flag in short if flag.nvalues > 0]
        if lacking and not fired:
            need = max(flag.need for flag in lacking)
            raise UsageError(f"{arg}: needs {need} value(s), the command line ends first")
        for flag in short:
            if flag.nvalues == 0:
                warnings.warn(f"{arg} as the last argument is ignored by the original "
                              "(c_parity)", ParityWarning, stacklevel=3)
    return rec
