"""The ``noisify`` command's entry point: the original program's flags, our engines.

It imports nothing heavy before :func:`main` runs (see :mod:`nanobragg.cli.main`)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from nanobragg.cli.main import command_main


def _run() -> Callable[[Sequence[str]], int]:
    from nanobragg.cli.noisify_command import run

    return run


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if list(argv) in (["-h"], ["--help"]):
        from nanobragg.flags.noisify import usage

        sys.stdout.write(usage())
        return 0
    return command_main("noisify", _run, argv)


if __name__ == "__main__":
    sys.exit(main())
