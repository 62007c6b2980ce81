"""The C engine's passes over the image (statistics, SMV integers) give numpy's bits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nanobragg.result import image_statistics


def reference(image: np.ndarray, rendered: np.ndarray, roi: np.ndarray) -> tuple[
        float, float, float, int | None, float]:
    """mean, rms, rmsd, flat index and value of the brightest pixel, by numpy cumsum."""
    values = image[rendered]
    count = values.size
    with np.errstate(over="ignore", invalid="ignore"):
        total = float(np.cumsum(values.astype(np.float64))[-1]) if count else 0.0
        squares = float(np.cumsum((values * values).astype(np.float64))[-1]) if count else 0.0
        mean = total / max(count, 1)
        deviations = image[roi].astype(np.float64) - mean
        rmsd = math.sqrt(float(np.cumsum(deviations * deviations)[-1])
                         / (max(deviations.size, 2) - 1)) if deviations.size else 0.0
    rms = math.sqrt(squares / (max(count, 2) - 1))
    index, value = None, 0.0
    if count and float(values.max()) > 0.0:
        flat = np.where(rendered, image, 0.0).reshape(-1)
        index = int(np.argmax(flat))
        value = float(flat[index])
    return mean, rms, rmsd, index, value


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@pytest.mark.parametrize("case", ["plain", "masked", "ties", "nan", "inf", "huge", "empty",
                                  "negative", "zero"])
def test_sums_match_sequential_numpy(case: str) -> None:
    rng = np.random.default_rng(11)
    image = (rng.random((37, 53)) * 1e3).astype(np.float32)
    rendered = np.ones(image.shape, dtype=bool)
    roi = np.ones(image.shape, dtype=bool)
    if case == "masked":
        roi[:, :5] = False
        rendered = roi & (rng.random(image.shape) > 0.3)
    elif case == "ties":
        image[3, 4] = image[20, 1] = 5e3
    elif case == "nan":
        image[7, 7] = np.nan
    elif case == "inf":
        image[9, 2] = np.inf
    elif case == "huge":
        image[1, 1] = 3e30  # its float32 square is inf
    elif case == "empty":
        rendered[:] = False
        roi[:] = False
    elif case == "negative":
        image -= 2e3
    elif case == "zero":
        image[:] = -0.0
    stats = image_statistics(image, rendered, roi, 1e-4, 2)
    mean, rms, rmsd, index, value = reference(image, rendered, roi)
    assert same(stats.mean, mean)
    assert same(stats.rms, rms)
    assert same(stats.rmsd, rmsd)
    assert stats.pixels == int(rendered.sum())
    assert stats.max_I == value
    if index is None:
        assert stats.max_I_pixel is None
    else:
        assert stats.max_I_pixel == divmod(index, image.shape[1])


@pytest.mark.parametrize("scale", [1.0, 37.5, 1e30, 0.0])
def test_int_image_matches_numpy(scale: float) -> None:
    from nanobragg._core import int_image

    rng = np.random.default_rng(5)
    image = ((rng.random((29, 31)) - 0.2) * 3e3).astype(np.float32)
    image[12, 3], image[4, 5], image[6, 7] = np.nan, np.inf, -np.inf
    image[8, 9] = np.float32(1747.5) / np.float32(37.5)
    roi = np.ones(image.shape, dtype=bool)
    roi[:4, :] = False
    roi[10, 2] = True
    with np.errstate(invalid="ignore"):
        value = np.clip(image.astype(np.float64) * scale + 40.0, 0.0, 65535.0)
        rounded = np.floor((value + 0.5).astype(np.float32)).astype(np.uint16)
    expected = np.where(roi, rounded, np.uint16(0))
    np.testing.assert_array_equal(int_image(image, roi, scale, 40.0), expected)
