"""Raw float images (``-floatfile``): little-endian float32 pixels, no header.

``value[slow, fast] = data[slow * fpixels + fast]`` (fast index varying fastest).  The
values are whatever the caller stores, for the original the simulated intensity in
photons per pixel.
"""

from __future__ import annotations

import numpy as np

from ._files import PathLike, read_bytes
from .errors import FormatError
from .outputs import atomic_write

__all__ = ["float_image_bytes", "read_float_image", "write_float_image"]


def float_image_bytes(image_float32_2d: np.ndarray) -> bytes:
    """The raw float file of a 2-D ``(slow, fast)`` image: little-endian float32.

    Floating-point arrays of another precision are converted to float32 (C ``(float)``
    rounding); anything else raises ValueError.
    """
    image = np.asarray(image_float32_2d)
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D (slow, fast) image, got {image.ndim}-D")
    if not np.issubdtype(image.dtype, np.floating):
        raise ValueError(f"expected a floating-point image, got {image.dtype}")
    return np.ascontiguousarray(image, dtype="<f4").tobytes()


def write_float_image(path: PathLike, image_float32_2d: np.ndarray) -> None:
    """Write :func:`float_image_bytes` of the image to ``path``, atomically."""
    atomic_write(path, [float_image_bytes(image_float32_2d)])


def read_float_image(path: PathLike, shape: tuple[int, int]) -> np.ndarray:
    """Read a raw float image of ``shape = (slow, fast)`` pixels as a native float32 array.

    The file must hold exactly ``4 * slow * fast`` bytes; any other size raises
    :class:`~nanobragg.io.FormatError`.
    """
    slow, fast = (int(v) for v in shape)
    if slow < 0 or fast < 0:
        raise ValueError(f"negative image shape {shape}")
    data = read_bytes(path)
    need = 4 * slow * fast
    if len(data) != need:
        what = "truncated" if len(data) < need else "too long"
        raise FormatError(
            path,
            f"{what}: a {slow} x {fast} float32 image needs {need} bytes, the file has {len(data)}",
            offset=min(len(data), need),
        )
    return np.frombuffer(data, dtype="<f4").reshape(slow, fast).astype(np.float32)
