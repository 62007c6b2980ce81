"""The ``nearBragg`` command's entry point (point scatterers); like ``nanoBragg``'s, it
imports nothing heavy before :func:`main` runs."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from nanobragg.cli.main import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        from nanobragg.errors import UsageError

        try:
            from nanobragg.cli.nearbragg_command import run

            return run(argv)
        except UsageError as error:
            sys.stderr.write(f"nearBragg: {error} (nearBragg -h lists the flags)\n")
            return EXIT_USAGE
        except (ValueError, OSError) as error:
            sys.stderr.write(f"nearBragg: {error}\n")
            return EXIT_FAILED
        except MemoryError as error:
            detail = f": {error}" if str(error) else ""
            sys.stderr.write(f"nearBragg: out of memory{detail}\n")
            return EXIT_FAILED
    except KeyboardInterrupt:
        sys.stderr.write("nearBragg: interrupted\n")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
