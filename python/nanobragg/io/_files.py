"""Small helpers shared by the format modules: whole-file reads, atomic writes, pixel arrays."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

import numpy as np

__all__ = ["PathLike", "atomic_write", "pixel_array", "read_bytes"]

PathLike = str | os.PathLike[str]


def read_bytes(path: PathLike) -> bytes:
    """Return the whole content of ``path``.

    A missing file raises :class:`FileNotFoundError` carrying the path (an ``OSError``).
    """
    with open(path, "rb") as handle:
        return handle.read()


def atomic_write(path: PathLike, chunks: Iterable[bytes]) -> None:
    """Write ``chunks`` to ``path`` without ever leaving a partial file there.

    The bytes go to a new file in the same folder, which then replaces ``path`` with
    :func:`os.replace`; on any error the temporary file is removed and ``path`` is left
    as it was.  The new file gets the usual ``0o666 & ~umask`` permissions.
    """
    target = Path(path)
    folder = target.parent
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = folder / f".{target.name[:200]}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
        break
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def pixel_array(data: np.ndarray, dtype: str | type, maximum: int) -> np.ndarray:
    """A 2-D (slow, fast) integer pixel array as ``dtype``, refusing values out of range."""
    array = np.asarray(data)
    if array.ndim != 2:
        raise ValueError(f"expected a 2-D (slow, fast) pixel array, got {array.ndim}-D")
    if array.dtype != np.dtype(dtype):
        if not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"expected {np.dtype(dtype).name} pixels, got {array.dtype}")
        if array.size and (array.min() < 0 or array.max() > maximum):
            raise ValueError(f"pixel values outside 0..{maximum}")
    return array.astype(dtype, copy=False)
