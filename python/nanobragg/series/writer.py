"""The interface every series writer has (NeXus, CBF, SMV)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from nanobragg.series.frame import Frame


class SeriesWriter(Protocol):
    """Writes the frames of one series under one output directory.

    A per-image format (CBF, SMV) writes each frame to its own file and may be used by
    many processes at once; a stack format (NeXus) is used by one process that writes the
    frames in any order and publishes the file under its final name in :meth:`close`.
    No file is ever visible under a final name before its content is complete.
    """

    def final_paths(self, index: int) -> list[Path]:
        """The files that hold frame ``index`` once written (a per-image file, or the
        stack file)."""
        ...

    def write(self, frame: Frame) -> None:
        """Write one frame; a frame already written is replaced."""
        ...

    def close(self, *, complete: bool) -> None:
        """Flush; with ``complete=True`` (every frame written) publish stack files
        under their final names. A per-image writer has nothing to do."""
        ...
