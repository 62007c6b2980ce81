"""How glibc's allocator treats the chunks' large temporary arrays.

Rendering a chunk allocates and frees tens of arrays of several megabytes.  By
default glibc hands such blocks back to the kernel when they are freed and maps
fresh pages for the next ones, so every elementwise pass of every chunk starts
with page faults: the float64 render on the CPU ran 2.5 times slower for it.  A
plain render therefore raises glibc's mmap and trim thresholds, keeping freed
blocks in the heap for the next chunk; it allocates nothing per chunk that
outlives the chunk, so the heap does not grow.

A render under autograd keeps small objects from every chunk (its graph), which
would pin that heap between the large blocks and let it grow without bound (2 GiB
for a 256x256 B2 render).  It maps large blocks directly instead, which keeps the
memory bounded at the price of the page faults.

The settings are process-wide and made each time the torch engine renders on the
CPU; ``NANOBRAGG_KEEP_MALLOC=1`` leaves the allocator alone."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from collections.abc import Callable
from typing import Literal

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
KEEP_BYTES = 256 << 20
MAP_BYTES = 1 << 20

_mallopt: Callable[[int, int], object] | Literal[False] | None = None


def _load() -> Callable[[int, int], object] | Literal[False]:
    global _mallopt
    if _mallopt is None:
        _mallopt = False
        if sys.platform.startswith("linux") and not os.environ.get("NANOBRAGG_KEEP_MALLOC"):
            name = ctypes.util.find_library("c")
            try:
                _mallopt = ctypes.CDLL(name).mallopt if name else False
            except (OSError, AttributeError):
                _mallopt = False
    return _mallopt


def prepare_for_render(*, with_graph: bool) -> None:
    """Keep freed chunk memory for reuse, or (under autograd) map large blocks."""
    mallopt = _load()
    if not mallopt:
        return
    if with_graph:
        mallopt(M_MMAP_THRESHOLD, MAP_BYTES)
        mallopt(M_TRIM_THRESHOLD, MAP_BYTES)
    else:
        mallopt(M_MMAP_THRESHOLD, KEEP_BYTES)
        mallopt(M_TRIM_THRESHOLD, 2 * KEEP_BYTES)
