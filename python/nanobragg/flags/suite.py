"""What the nonBragg and nearBragg parsers share: the commands' own flags, taken out
before the original's are read, and the strict parse (each flag by an exact name, with
exactly its values)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from nanobragg.errors import UsageError
from nanobragg.flags.cnumbers import Conv

__all__ = ["ExactFlag", "parse_exact", "split_own_flags"]


class ExactFlag(Protocol):
    @property
    def nvalues(self) -> int: ...

    @property
    def action(self) -> Callable[[Any, Sequence[str], Conv], None]: ...


def split_own_flags(argv: Sequence[str], counts: Mapping[str, int]
                    ) -> tuple[list[str], dict[str, str | bool]]:
    """(the arguments left, {name without the dash: value, or True for a switch}) for
    the flags of ``counts`` (exact names, each taking 0 or 1 value)."""
    rest: list[str] = []
    own: dict[str, str | bool] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        count = counts.get(arg)
        if count is None:
            rest.append(arg)
            i += 1
            continue
        if i + count >= len(argv):
            raise UsageError(f"{arg}: needs {count} value(s), the command line ends first")
        own[arg[1:]] = argv[i + 1] if count else True
        i += 1 + count
    return rest, own


def parse_exact(by_name: Mapping[str, ExactFlag], target: Any, argv: Sequence[str]) -> None:
    """Apply each flag of ``argv`` to ``target``: an exact name of ``by_name`` and its
    values, the numbers well formed; anything else is a usage error."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        flag = by_name.get(arg)
        if flag is None:
            raise UsageError(f"unknown flag {arg!r}" if arg.startswith("-") else
                             f"unexpected argument {arg!r}: no flag takes it as a value")
        if len(argv) - i - 1 < flag.nvalues:
            raise UsageError(f"{arg}: needs {flag.nvalues} value(s), the command line ends "
                             "first")
        flag.action(target, argv[i + 1:i + 1 + flag.nvalues], Conv(arg, strict=True))
        i += 1 + flag.nvalues
