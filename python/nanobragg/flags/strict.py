"""The ``c_parity=False`` parse: exact flag names, exact value counts, real numbers.

Each flag must be spelt exactly (one of the names or synonyms of
:data:`~nanobragg.flags.table.FLAGS`), consumes exactly its values (which are never tested
as flags) and numbers must be numbers.  The substring side effects of the original are
gone; what a flag does by itself stays (vectors still select the CUSTOM convention, now
with a :class:`~nanobragg.errors.ConventionWarning` when they replace a convention a
flag selected; ``-distance`` still selects the beam pivot...).  The headers of ``-mask``
and ``-img`` are read first, their TWOTHETA included, then the flags in order.
"""

from __future__ import annotations

from collections.abc import Sequence

from nanobragg.errors import UsageError
from nanobragg.flags.cnumbers import Conv
from nanobragg.flags.headers import ingest_headers
from nanobragg.flags.record import Record
from nanobragg.flags.table import FLAG_BY_NAME, Flag

__all__ = ["parse_strict"]

_RANDOM_WORDS = ("random", "rand")


def _strict_arity(flag: Flag, argv: Sequence[str], i: int) -> int:
    if flag.kind == "misset" and i + 1 < len(argv) and argv[i + 1] in _RANDOM_WORDS:
        return 1
    return flag.nvalues


def parse_strict(argv: Sequence[str]) -> Record:
    """Exact flag names, exact value counts, well-formed numbers: the record left."""
    n = len(argv)
    tokens: list[tuple[str, Flag, Sequence[str]]] = []
    i = 0
    while i < n:
        arg = argv[i]
        # quirk substring_flag_matching: a flag is its exact name, nothing it contains
        flag = FLAG_BY_NAME.get(arg)
        if flag is None:
            if arg.startswith("-"):
                raise UsageError(f"unknown flag {arg!r}")
            raise UsageError(f"unexpected argument {arg!r}: no flag takes it as a value")
        need = _strict_arity(flag, argv, i)
        if n - i - 1 < need:
            raise UsageError(f"{arg}: needs {need} value(s), the command line ends first")
        tokens.append((arg, flag, argv[i + 1:i + 1 + need]))
        i += 1 + need
    rec = Record()
    img_path = mask_path = None
    for _, flag, values in tokens:
        if flag.name == "-img":
            img_path = values[0]
        elif flag.name == "-mask":
            mask_path = values[0]
    ingest_headers(rec, mask_path, img_path, strict=True)
    given = {flag.name for _, flag, _ in tokens}
    if "-distance" in given and "-close_distance" not in given:
        # quirk header_close_distance_overrides: a header's CLOSE_DISTANCE would decide the
        # distance over an explicit -distance; the command line wins
        rec.close_distance = None
    for arg, flag, values in tokens:
        if flag.action is not None:
            flag.action(rec, values, Conv(arg, strict=True))
    return rec
