"""Progress for the commands: a one-line bar on a terminal (stderr), and the original
programs' ``N% done`` log lines (stdout), which stay as they are whatever stderr is."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

__all__ = ["legacy_percentages", "progress_bar", "terminal_progress"]

BAR_WIDTH = 40


def progress_bar(stream: TextIO) -> Callable[[int, int], bool]:
    """A one-line progress bar written to ``stream``; returns the render callback
    ``(done, total) -> True`` (go on)."""
    def show(done: int, total: int) -> bool:
        filled = BAR_WIDTH * done // max(total, 1)
        stream.write("\r[%s%s] %3d%%" % ("#" * filled, "." * (BAR_WIDTH - filled),
                                         100 * done // max(total, 1)))
        if done >= total:
            stream.write("\n")
        stream.flush()
        return True

    return show


def terminal_progress(wanted: bool, stream: TextIO | None = None
                      ) -> Callable[[int, int], bool] | None:
    """The bar when ``wanted`` and ``stream`` (default stderr) is a terminal, else None."""
    stream = sys.stderr if stream is None else stream
    return progress_bar(stream) if wanted and stream.isatty() else None


def legacy_percentages(total: int, rendered: int) -> list[str]:
    """The original's ``N% done`` lines for the first ``rendered`` of ``total`` pixels:
    every 5%, and every 1% in the first and last tenth (none below 100 pixels)."""
    if total // 100 <= 0:
        return []
    return ["%d%% done" % (done * 100 // total) for done in range(rendered)
            if (done % (total // 20) == 0
                or ((10 * done < total or 10 * done > 9 * total)
                    and done % (total // 100) == 0))]
