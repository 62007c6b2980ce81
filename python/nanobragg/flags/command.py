"""This program's command line: its own flags split off, the rest read as the original's.

``-backend``, ``-c_parity``, ``-device``, ``-dtype``, ``-trace_pixel`` and
``-h``/``-help``/``--help`` (:data:`~nanobragg.flags.table.PROGRAM_FLAGS`) belong to this
program; :func:`parse_command_line` removes them before the original's rules see the rest.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from nanobragg.config import Config
from nanobragg.engines import DTYPES, REGISTRY
from nanobragg.errors import UsageError
from nanobragg.flags.cnumbers import strict_float, strict_int
from nanobragg.flags.mapping import config_from_argv
from nanobragg.stages.render import DEFAULT_MAX_TERMS

__all__ = ["ParsedCommand", "parse_command_line"]


@dataclass
class ParsedCommand:
    """A command line of this program: the Config and the program's own choices."""

    config: Config
    backend: str = "c"
    c_parity: bool = False
    device: str | None = None
    dtype: str | None = None
    trace_pixel: tuple[int, int] | None = None
    """(slow, fast) pixel whose computation is traced."""
    max_terms: float = DEFAULT_MAX_TERMS
    """Most terms the render may evaluate (``-max_terms``)."""
    help: bool = False


_HELP_NAMES = ("-h", "-help", "--help")
_BACKENDS = tuple(REGISTRY)


def parse_command_line(argv: Sequence[str]) -> ParsedCommand:
    """Split off this program's flags, then read the rest with :func:`config_from_argv`.

    ``-backend``, ``-c_parity``, ``-device``, ``-dtype`` and ``-trace_pixel`` (exact
    spellings) are removed with their values before the original's rules see the rest;
    ``-c_parity`` selects the parity parse.  With ``-h``/``-help``/``--help`` nothing else
    is read and the Config is the default one.
    """
    argv = [os.fsdecode(arg) for arg in argv]
    if any(arg in _HELP_NAMES for arg in argv):
        return ParsedCommand(config=Config(), c_parity="-c_parity" in argv, help=True)
    command = ParsedCommand(config=Config())
    rest: list[str] = []
    i = 0
    n = len(argv)

    def values(flag: str, count: int) -> list[str]:
        if n - i - 1 < count:
            raise UsageError(f"{flag}: needs {count} value(s), the command line ends first")
        return argv[i + 1:i + 1 + count]

    while i < n:
        arg = argv[i]
        if arg == "-c_parity":
            command.c_parity = True
            i += 1
        elif arg == "-backend":
            (value,) = values(arg, 1)
            if value not in _BACKENDS:
                raise UsageError(f"-backend: expected one of {', '.join(_BACKENDS)}, "
                                 f"got {value!r}")
            command.backend = value
            i += 2
        elif arg == "-device":
            (command.device,) = values(arg, 1)
            i += 2
        elif arg == "-dtype":
            (value,) = values(arg, 1)
            if value not in DTYPES:
                raise UsageError(f"-dtype: expected one of {', '.join(DTYPES)}, got {value!r}")
            command.dtype = value
            i += 2
        elif arg == "-trace_pixel":
            slow, fast = values(arg, 2)
            command.trace_pixel = (strict_int(slow, arg), strict_int(fast, arg))
            i += 3
        elif arg == "-max_terms":
            (value,) = values(arg, 1)
            command.max_terms = strict_float(value, arg)
            if not command.max_terms > 0:
                raise UsageError(f"-max_terms: expected a number of terms > 0, got {value!r}")
            i += 2
        else:
            rest.append(arg)
            i += 1
    command.config = config_from_argv(rest, c_parity=command.c_parity)
    return command
