"""The ``nonBragg`` command's entry point (imports nothing heavy before :func:`main`)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from nanobragg.cli.main import command_main


def _run() -> Callable[[Sequence[str]], int]:
    from nanobragg.cli.nonbragg_command import run

    return run


def main(argv: Sequence[str] | None = None) -> int:
    return command_main("nonBragg", _run, argv)


if __name__ == "__main__":
    sys.exit(main())
