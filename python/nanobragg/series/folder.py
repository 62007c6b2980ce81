"""The output folder of a series run: one run at a time, nothing of a killed run left
over, no files of something else taken for the series' own.

:func:`claim` opens (making it when missing) the folder a run writes, holds an exclusive
lock on it for the run (``flock`` on the folder itself, so no lock file is left behind,
and the lock goes when the process does, ``kill -9`` included), refuses a folder that
holds series file names without a manifest (files this command did not make), and
removes the temporaries a killed run left: per-image files and manifests being written
(``.NAME.<12 hex>.tmp``) and the CBF writer's staging folders (``.NAME.<random>``).
Where ``flock`` is missing (Windows) the folder is not locked.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from nanobragg.io.outputs import OutputError
from nanobragg.series.manifest import MANIFEST_NAME, SeriesMismatch
from nanobragg.series.writer import NEXUS_NAME, PART_SUFFIX

__all__ = ["FolderBusy", "OutputFolder", "claim"]

_IMAGE = r"image_\d{5,}\.(?:img|cbf)"
_SERIES_FILE = re.compile(rf"^(?:{_IMAGE}|{re.escape(NEXUS_NAME)}(?:{re.escape(PART_SUFFIX)})?)$")
"""The names a run writes under the folder (besides the manifest)."""
_TEMPORARY_FILE = re.compile(rf"^\.(?:{_IMAGE}|{re.escape(MANIFEST_NAME)})\.[0-9a-f]{{12}}\.tmp$")
"""A file being written (``nanobragg.io.outputs.atomic_write``'s temporary)."""
_STAGING_FOLDER = re.compile(r"^\.image_\d{5,}\.cbf\.[A-Za-z0-9_]+$")
"""A folder the CBF writer writes one file in before renaming it into place."""


class FolderBusy(OSError):
    """Another run is writing to the output folder."""


@dataclass(frozen=True)
class OutputFolder:
    """A folder claimed for one run."""

    path: Path
    made: bool
    """The folder did not exist before this run."""
    had_manifest: bool
    """It held a manifest (an earlier run of this series, or another's)."""


@contextlib.contextmanager
def claim(out_dir: str | os.PathLike[str]) -> Iterator[OutputFolder]:
    """The folder ``out_dir`` locked for this run (see the module).  OSError (one line,
    naming the folder) when it cannot be made or is not a folder, :class:`FolderBusy`
    when another run holds it, SeriesMismatch when it holds series files but no
    manifest."""
    folder = Path(out_dir).resolve()
    made = _make(folder, out_dir)
    try:
        with _locked(folder, out_dir):
            had_manifest = (folder / MANIFEST_NAME).exists()
            if not had_manifest:
                foreign = sorted(name for name in os.listdir(folder) if _SERIES_FILE.match(name))
                if foreign:
                    raise SeriesMismatch(
                        f"{out_dir}: holds {foreign[0]} but no {MANIFEST_NAME}, so its files "
                        "are not of a series run; write to another folder, or remove them")
            remove_temporaries(folder)
            yield OutputFolder(folder, made, had_manifest)
    except BaseException:
        if made:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def remove_temporaries(folder: Path) -> list[str]:
    """Remove what a killed run was writing; the names removed."""
    removed = []
    for entry in os.scandir(folder):
        if entry.is_file(follow_symlinks=False) and _TEMPORARY_FILE.match(entry.name):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
            removed.append(entry.name)
        elif entry.is_dir(follow_symlinks=False) and _STAGING_FOLDER.match(entry.name):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.name)
    return removed


def _make(folder: Path, given: str | os.PathLike[str]) -> bool:
    if folder.is_dir():
        if not os.access(folder, os.W_OK | os.X_OK):
            raise OutputError(given, "the folder cannot be written", errno.EACCES)
        return False
    if folder.exists() or folder.is_symlink():
        raise OutputError(given, "is a file, not a folder; give a folder for the series",
                          errno.ENOTDIR)
    try:
        folder.mkdir(parents=True)
    except FileExistsError:
        return _make(folder, given)
    except OSError as error:
        raise OutputError(given, f"the folder cannot be made ({error.strerror or error})",
                          error.errno) from None
    return True


@contextlib.contextmanager
def _locked(folder: Path, given: str | os.PathLike[str]) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # Windows: no flock; one run at a time is up to the user
        yield
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderBusy(f"{given}: another run is writing to this folder; wait for it "
                             "to end, or write to another folder") from None
        yield
    finally:
        os.close(descriptor)
