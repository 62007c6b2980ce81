"""The SMV counts of a float image as the suite's programs write them (nonBragg and
nearBragg): the default scale that puts the brightest pixel at 55000 counts, and the
scaled image plus an ADC offset, clipped to 16 bits, outside the ROI 0."""

from __future__ import annotations

import numpy as np

__all__ = ["auto_int_scale", "smv_counts"]


def auto_int_scale(requested: float, max_I: float) -> float:
    """``requested`` when positive, else 55000 / max_I (1 for an image without a positive
    pixel)."""
    if requested > 0.0:
        return requested
    return 55000.0 / max_I if max_I > 0.0 else 1.0


def smv_counts(image: np.ndarray, inside: np.ndarray, scale: float, adc_offset: float, *,
               round_to_nearest: bool) -> np.ndarray:
    """uint16 counts of the float32 ``image``: value x scale + adc_offset clipped to [0,
    65535] (a NaN pixel is 0), rounded in single precision (nonBragg) or truncated
    (nearBragg); 0 where ``inside`` is False."""
    with np.errstate(all="ignore"):
        # IEEE arithmetic, as the originals' (an infinite pixel times 0 is NaN)
        value = image.astype(np.float64) * scale + adc_offset
        # a NaN pixel converts to 0, as the originals' conversions do on x86-64
        value = np.nan_to_num(np.clip(value, 0.0, 65535.0), nan=0.0)
        counts = (np.floor((value + 0.5).astype(np.float32)) if round_to_nearest
                  else value).astype(np.uint16)
    return np.where(inside, counts, np.uint16(0))
