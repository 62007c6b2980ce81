"""The ``nearBragg`` command's entry point (point scatterers); like ``nanoBragg``'s, it
imports nothing heavy before :func:`main` runs."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from nanobragg.cli.main import command_main


def _run() -> Callable[[Sequence[str]], int]:
    from nanobragg.cli.nearbragg_command import run

    return run


def main(argv: Sequence[str] | None = None) -> int:
    return command_main("nearBragg", _run, argv,
                        usage='{error} ({program} -h lists the flags)')


if __name__ == "__main__":
    sys.exit(main())
