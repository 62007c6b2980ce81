"""The ``noisify`` command's entry point: the original program's flags, our engines.

It imports nothing heavy before :func:`main` runs (see :mod:`nanobragg.cli.main`)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from nanobragg.cli.main import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, caused_by_interrupt


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if list(argv) in (["-h"], ["--help"]):
        from nanobragg.flags.noisify import usage

        sys.stdout.write(usage())
        return 0
    try:
        from nanobragg.cli.noisify_command import run
        from nanobragg.errors import UsageError

        try:
            return run(argv)
        except UsageError as error:
            sys.stderr.write(f"noisify: {error}\n(noisify -h lists the flags)\n")
            return EXIT_USAGE
        except (ValueError, OSError) as error:
            sys.stderr.write(f"noisify: {error}\n")
            return EXIT_FAILED
        except MemoryError as error:
            detail = f": {error}" if str(error) else ""
            sys.stderr.write(f"noisify: out of memory{detail}\n")
            return EXIT_FAILED
    except KeyboardInterrupt:
        sys.stderr.write("noisify: interrupted\n")
        return EXIT_INTERRUPTED
    except ImportError as error:
        if not caused_by_interrupt(error):
            raise
        sys.stderr.write("noisify: interrupted\n")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
