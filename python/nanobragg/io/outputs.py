"""Output files written all together or not at all.

An :class:`OutputSet` holds the files one command writes.  :meth:`~OutputSet.check`
says before the expensive work whether each can be written: its folder exists (or, with
``make_folders``, can be made) and is writable, it is not a folder, and no two outputs
name the same file.  :meth:`~OutputSet.commit` writes every file to a temporary beside
its target and, only once all are written, renames them into place.  On any failure,
Ctrl-C included, every temporary is removed and every target is left as it was: a file
that existed keeps its old content, a file that did not exist is not created.  Errors
name the path as the caller gave it, never a temporary.

An existing target that is not a regular file (``/dev/null``, a pipe) cannot be replaced
by a rename; it is written in place, after every temporary is written, and cannot be
restored when a later step fails.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import BinaryIO

from ._files import PathLike

__all__ = ["Content", "OutputError", "OutputSet", "atomic_write"]

Content = bytes | Iterable[bytes]
"""A file's bytes, whole or as chunks written one after another."""


class OutputError(OSError):
    """An output file cannot be written.

    ``filename`` is the path as the caller gave it, ``strerror`` the reason, ``errno``
    the error code when there is one (``ENOENT`` for a missing folder, ``ENOTDIR`` for a
    file where a folder should be, ``EISDIR`` for a folder as the target, ``EACCES`` for
    a folder that cannot be written), ``label`` what the path is to the user (a flag:
    ``-intfile``).  ``str()`` is ``"LABEL PATH: reason"``.
    """

    def __init__(self, path: PathLike, reason: str, code: int | None = None,
                 label: str | None = None) -> None:
        super().__init__(code, reason, os.fspath(path))
        self.label = label

    def __str__(self) -> str:
        return f"{_where(self.label, self.filename)}: {self.strerror}"

    def __reduce__(self) -> tuple[type[OutputError], tuple[object, ...]]:
        return (type(self), (self.filename, self.strerror, self.errno, self.label))


def _where(label: str | None, path: object) -> str:
    return f"{path}" if label is None else f"{label} {path}"


@dataclass
class _Output:
    path: str
    """As the caller gave it, for messages."""
    target: Path
    label: str | None
    optional: bool
    content: Content | None = None
    remove: bool = False

    def error(self, reason: str, code: int | None) -> OutputError:
        return OutputError(self.path, reason, code, self.label)


class OutputSet:
    """Files written together or not at all (see the module docstring).

    ``add`` names an output (with its content, or without it until ``put``), ``remove``
    asks the commit to remove a file instead (for instance one an earlier run left that
    this run does not write), ``check`` checks, ``commit`` writes.  An *optional* output
    never makes the set fail: one that cannot be written is left out, and ``check`` and
    ``commit`` return why; one given no content is not written.  With ``make_folders``
    missing folders are made by the commit (and removed again when it fails).
    """

    def __init__(self, *, make_folders: bool = False) -> None:
        self.make_folders = make_folders
        self._outputs: dict[str, _Output] = {}

    def add(self, path: PathLike, content: Content | None = None, *, label: str | None = None,
            optional: bool = False) -> None:
        """Add ``path`` to the set; ValueError when another output names the same file."""
        key = _identity(path)
        other = self._outputs.get(key)
        if other is not None:
            raise ValueError(f"{_where(label, os.fspath(path))} and "
                             f"{_where(other.label, other.path)} name the same file")
        self._outputs[key] = _Output(os.fspath(path), Path(path), label, optional, content)

    def put(self, path: PathLike, content: Content) -> None:
        """The content of an added output."""
        output = self._outputs[_identity(path)]
        output.content, output.remove = content, False

    def remove(self, path: PathLike) -> None:
        """The commit removes this added output's file, if there is one, instead of writing it."""
        output = self._outputs[_identity(path)]
        output.content, output.remove = None, True

    def check(self) -> list[OutputError]:
        """Raise :class:`OutputError` for the first output that cannot be written; return
        the optional outputs that cannot be, which are left out of the set from now on."""
        left_out = []
        for key, output in list(self._outputs.items()):
            problem = _problem(output, make_folders=self.make_folders)
            if problem is None:
                continue
            if not output.optional:
                raise problem
            left_out.append(problem)
            del self._outputs[key]
        return left_out

    def commit(self) -> list[OutputError]:
        """Check again, then write every output (see the module docstring); return the
        optional outputs left out.  Raises :class:`OutputError` (an OSError) when a file
        cannot be written and ValueError when an output that is not optional has no
        content; a KeyboardInterrupt goes through, the targets as they were."""
        left_out = self.check()
        writes: list[tuple[_Output, Content]] = []
        for output in self._outputs.values():
            if output.content is not None:
                writes.append((output, output.content))
            elif not (output.remove or output.optional):
                raise ValueError(f"{_where(output.label, output.path)}: no content given")
        # every temporary is written before anything is written in place
        writes.sort(key=lambda item: _in_place(item[0].target))
        created: list[Path] = []
        staged: list[tuple[Path, _Output]] = []
        """(temporary, output) pairs."""
        try:
            for output, content in writes:
                in_place = _in_place(output.target)
                self._write(output, content, left_out, created, None if in_place else staged)
            _place(staged, [o for o in self._outputs.values() if o.remove])
        except BaseException:
            for temporary, _ in staged:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
            for folder in reversed(created):
                with contextlib.suppress(OSError):
                    os.rmdir(folder)
            raise
        return left_out

    def _write(self, output: _Output, content: Content, left_out: list[OutputError],
               created: list[Path], staged: list[tuple[Path, _Output]] | None) -> None:
        """Write ``content`` to a new temporary noted in ``staged``, or in place when
        ``staged`` is None; an optional output that fails goes to ``left_out``."""
        mark = 0 if staged is None else len(staged)
        try:
            self._make_folders(output.target.parent, created)
            handle: BinaryIO
            if staged is None:
                handle = open(output.target, "wb")  # noqa: SIM115 (closed by the with below)
            else:
                handle = _new_temporary(output, staged)
            with handle:
                if isinstance(content, (bytes, bytearray, memoryview)):
                    handle.write(content)
                else:
                    for chunk in content:
                        handle.write(chunk)
        except OSError as error:
            problem = output.error(error.strerror or str(error), error.errno)
            if not output.optional:
                raise problem from error
            left_out.append(problem)
            if staged is not None:
                for temporary, _ in staged[mark:]:
                    with contextlib.suppress(OSError):
                        os.unlink(temporary)
                del staged[mark:]

    def _make_folders(self, folder: Path, created: list[Path]) -> None:
        if not self.make_folders or folder.is_dir():
            return
        self._make_folders(folder.parent, created)
        # noted before it exists, so that an interrupt cannot leave it behind
        created.append(folder)
        try:
            os.mkdir(folder)
        except FileExistsError:
            created.pop()


def atomic_write(path: PathLike, chunks: Content) -> None:
    """Write ``chunks`` to ``path`` without ever leaving a partial file there: a set of
    one output.  The new file gets the usual ``0o666 & ~umask`` permissions."""
    outputs = OutputSet()
    outputs.add(path, chunks)
    outputs.commit()


def _identity(path: PathLike) -> str:
    """What names one file: the real folder (links resolved) and the name in it (a link
    there is replaced, not followed)."""
    target = Path(path)
    return os.path.normcase(os.path.join(os.path.realpath(target.parent), target.name))


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _in_place(target: Path) -> bool:
    """Whether ``target`` is an existing file that is not a regular one."""
    status = _stat(target)
    return status is not None and not stat.S_ISREG(status.st_mode)


def _problem(output: _Output, *, make_folders: bool) -> OutputError | None:
    """Why ``output`` cannot be written (or removed), or None."""
    target = output.target
    status = _stat(target)
    if status is not None and stat.S_ISDIR(status.st_mode):
        return output.error("is a folder", errno.EISDIR)
    if status is not None and not stat.S_ISREG(status.st_mode):
        if output.remove or not os.access(target, os.W_OK):
            return output.error("cannot be written (not a regular file)", errno.EACCES)
        return None
    folder = target.parent
    # up to the nearest folder that exists (stat also fails below a file)
    while (found := _stat(folder)) is None and folder.parent != folder:
        folder = folder.parent
    if found is None:
        return output.error(f"the folder {folder} cannot be read", errno.ENOENT)
    if not stat.S_ISDIR(found.st_mode):
        return output.error(f"{folder} is a file, not a folder", errno.ENOTDIR)
    if folder != target.parent and not make_folders:
        return output.error(f"the folder {target.parent} does not exist", errno.ENOENT)
    if not os.access(folder, os.W_OK | os.X_OK):
        return output.error(f"no permission to write in the folder {folder}", errno.EACCES)
    return None


def _temporary_name(target: Path) -> Path:
    # 12 random hex digits, as secrets.token_hex(6) gives, without loading secrets' hashing
    return target.parent / f".{target.name[:200]}.{os.urandom(6).hex()}.tmp"


def _new_temporary(output: _Output, staged: list[tuple[Path, _Output]]) -> BinaryIO:
    """A new empty file beside ``output``'s target, open for writing, noted in ``staged``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temporary = _temporary_name(output.target)
        # noted before it exists, so that an interrupt cannot leave it behind
        staged.append((temporary, output))
        try:
            return os.fdopen(os.open(temporary, flags, 0o666), "wb")
        except FileExistsError:
            staged.pop()


def _place(staged: list[tuple[Path, _Output]], removals: list[_Output]) -> None:
    """Rename every temporary onto its target and remove the files of ``removals``: all
    of it, or, when a step fails, none (the earlier files, set aside, are put back).
    Ctrl-C waits until this is done or undone."""
    undo: list[tuple[Path, Path | None]] = []
    """(target, where its earlier file is kept, or None when there was none)."""
    with _interrupts_held() as interrupted:
        try:
            steps: list[tuple[Path | None, _Output]] = [*staged]
            steps += [(None, output) for output in removals if os.path.lexists(output.target)]
            for temporary, output in steps:
                try:
                    # one by one: undo must hold each step done when the next fails
                    undo.append((output.target, _set_aside(output.target,
                                                           keep=temporary is not None)))
                    if temporary is not None:
                        os.replace(temporary, output.target)
                except OSError as error:
                    raise output.error(error.strerror or str(error), error.errno) from error
            if interrupted:
                raise KeyboardInterrupt
        except BaseException:
            for target, earlier in reversed(undo):
                with contextlib.suppress(OSError):
                    if earlier is None:
                        os.unlink(target)
                    else:
                        os.replace(earlier, target)
                if earlier is not None:
                    # a rename between two links of one file does nothing
                    with contextlib.suppress(OSError):
                        os.unlink(earlier)
            raise
    for _, earlier in undo:
        if earlier is not None:
            with contextlib.suppress(OSError):
                os.unlink(earlier)


def _set_aside(target: Path, *, keep: bool) -> Path | None:
    """Keep the file at ``target`` under a temporary name, for undoing: as a second link
    (the file staying where it is) when ``keep`` and the file system allows it, moved
    there otherwise.  None when there is no file."""
    if not os.path.lexists(target):
        return None
    earlier = _temporary_name(target)
    if keep:
        with contextlib.suppress(OSError, NotImplementedError):
            os.link(target, earlier, follow_symlinks=False)
            return earlier
    os.replace(target, earlier)
    return earlier


@contextlib.contextmanager
def _interrupts_held() -> Iterator[list[int]]:
    """Ctrl-C in the block is noted in the list it gets, not raised; one that comes too
    late for the block to see is raised at its end.  Only where Python's own SIGINT
    handler is in force, in the main thread (elsewhere no KeyboardInterrupt comes)."""
    received: list[int] = []

    def note(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    held = signal.getsignal(signal.SIGINT) is signal.default_int_handler
    if held:
        try:
            signal.signal(signal.SIGINT, note)
        except ValueError:  # not the main thread
            held = False
    if not held:
        yield received
        return
    try:
        yield received
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if received:
        raise KeyboardInterrupt
