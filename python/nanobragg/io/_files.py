"""Small helpers shared by the format modules: whole-file reads, pixel arrays."""

from __future__ import annotations

import os

import numpy as np

__all__ = ["PathLike", "pixel_array", "read_bytes"]

PathLike = str | os.PathLike[str]


def read_bytes(path: PathLike) -> bytes:
    """Return the whole content of ``path``.

    A missing file raises :class:`FileNotFoundError` carrying the path (an ``OSError``).
    """
    with open(path, "rb") as handle:
        return handle.read()


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
