"""The ``nonBragg`` command's entry point (imports nothing heavy before :func:`main`)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from nanobragg.cli.main import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, caused_by_interrupt


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        from nanobragg.errors import UsageError

        try:
            from nanobragg.cli.nonbragg_command import run

            return run(argv)
        except UsageError as error:
            sys.stderr.write(f"nonBragg: {error}\n(nonBragg -h lists the flags)\n")
            return EXIT_USAGE
        except (ValueError, OSError, NotImplementedError) as error:
            sys.stderr.write(f"nonBragg: {error}\n")
            return EXIT_FAILED
        except MemoryError as error:
            detail = f": {error}" if str(error) else ""
            sys.stderr.write(f"nonBragg: out of memory{detail}\n")
            return EXIT_FAILED
    except KeyboardInterrupt:
        sys.stderr.write("nonBragg: interrupted\n")
        return EXIT_INTERRUPTED
    except ImportError as error:
        if not caused_by_interrupt(error):
            raise
        sys.stderr.write("nonBragg: interrupted\n")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
