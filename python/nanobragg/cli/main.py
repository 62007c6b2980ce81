"""The ``nanoBragg`` command's entry point: the original program's flags, our engines.

It imports nothing heavy before :func:`main` runs, so that a Ctrl-C at any moment of a
run, the imports included, ends it with one line and exit status 130."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TextIO

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


def run(argv: Sequence[str], out: TextIO | None = None) -> int:
    """Run one command line, the log to ``out`` (default stdout); errors are raised."""
    from nanobragg.cli.nanobragg_command import run as run_command

    return run_command(argv, out)


def _load() -> Callable[[Sequence[str]], int]:
    from nanobragg.cli.nanobragg_command import run as run_command

    return run_command


def main(argv: Sequence[str] | None = None) -> int:
    return command_main("nanoBragg", _load, argv)


def command_main(program: str, load: Callable[[], Callable[[Sequence[str]], int]],
                 argv: Sequence[str] | None, *,
                 usage: str = "{error}\n({program} -h lists the flags)") -> int:
    """Every command's entry point: ``load()`` imports the command's ``run`` (inside, so a
    Ctrl-C during the imports is caught too), which runs ``argv`` (default the process's
    arguments).  A usage error is ``usage`` on stderr and exit status 2, a failure one line
    and 1, Ctrl-C one line and 130."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        from nanobragg.errors import UsageError

        try:
            with interrupts_deferred():
                command = load()
            return command(argv)
        except UsageError as error:
            sys.stderr.write(f"{program}: " + usage.format(error=error, program=program)
                             + "\n")
            return EXIT_USAGE
        except (ValueError, OSError, NotImplementedError) as error:
            sys.stderr.write(f"{program}: {error}\n")
            return EXIT_FAILED
        except MemoryError as error:
            # what could not be allocated, when the allocator says (numpy does)
            detail = f": {error}" if str(error) else ""
            sys.stderr.write(f"{program}: out of memory{detail}\n")
            return EXIT_FAILED
    except KeyboardInterrupt:
        sys.stderr.write(f"{program}: interrupted\n")
        return EXIT_INTERRUPTED
    except ImportError as error:
        # a Ctrl-C inside an extension module's import comes back as its ImportError
        if not caused_by_interrupt(error):
            raise
        sys.stderr.write(f"{program}: interrupted\n")
        return EXIT_INTERRUPTED


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold a Ctrl-C back until the block (a command's imports) is done, then raise it.

    A KeyboardInterrupt raised inside the import machinery can be swallowed there
    (CPython reports it as "Exception ignored" and carries on) or come back as another
    module's ImportError; held back, it always ends the command with its one line.  Off
    the main thread, or under a SIGINT handler of the caller's, the block runs as it is."""
    import signal

    interrupted: list[int] = []
    held = signal.getsignal(signal.SIGINT) is signal.default_int_handler
    if held:
        try:
            signal.signal(signal.SIGINT, lambda signum, frame: interrupted.append(signum))
        except ValueError:
            held = False
    try:
        yield
    finally:
        if held:
            signal.signal(signal.SIGINT, signal.default_int_handler)
    if interrupted:
        raise KeyboardInterrupt


def caused_by_interrupt(error: BaseException) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


if __name__ == "__main__":
    sys.exit(main())
