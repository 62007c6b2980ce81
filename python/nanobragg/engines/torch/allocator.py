"""Keep freed chunk memory in the process on glibc.

Rendering a chunk allocates and frees tens of arrays of several megabytes.  By
default glibc hands such blocks back to the kernel when they are freed and maps
fresh pages for the next ones, so every elementwise pass of every chunk starts
with page faults: the float64 render on the CPU ran 2.5 times slower for it.
Raising glibc's mmap and trim thresholds (once, process-wide, the first time the
torch engine renders on the CPU) keeps up to a few hundred megabytes of freed
heap for reuse.  ``NANOBRAGG_KEEP_MALLOC=1`` leaves the allocator alone."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
THRESHOLD_BYTES = 256 << 20

_done = False


def keep_freed_memory() -> None:
    global _done
    if _done:
        return
    _done = True
    if not sys.platform.startswith("linux") or os.environ.get("NANOBRAGG_KEEP_MALLOC"):
        return
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = libc.mallopt if libc is not None else None
    except (OSError, AttributeError):
        return
    if mallopt is not None:
        mallopt(M_MMAP_THRESHOLD, THRESHOLD_BYTES)
        mallopt(M_TRIM_THRESHOLD, 2 * THRESHOLD_BYTES)
