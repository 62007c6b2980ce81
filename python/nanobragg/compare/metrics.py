"""How image b differs from image a: correlation, RMSE, largest absolute and
relative differences, sum ratio and matched peak positions."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nanobragg.compare.runners import ShapeMismatch

REL_FLOOR = 1e-6
"""Relative differences are taken where max(|a|, |b|) exceeds this fraction of its maximum."""
PEAK_FLOOR = 1e-3
"""Peaks are local maxima above this fraction of their image's maximum."""


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation over all pixels.

    1 when both images are constant and equal; 0 when only one of them is constant, or
    both are constant with different values (no linear relation can be measured).
    """
    a_constant, b_constant = bool(np.ptp(a) == 0), bool(np.ptp(b) == 0)
    if a_constant or b_constant:
        return 1.0 if a_constant and b_constant and a.flat[0] == b.flat[0] else 0.0
    da, db = _unit_peak(a - a.mean()), _unit_peak(b - b.mean())
    return max(-1.0, min(1.0, float(da @ db) / math.sqrt(float(da @ da) * float(db @ db))))


def _unit_peak(deviations: np.ndarray) -> np.ndarray:
    """Deviations scaled to a largest magnitude of 1, so that no sum of squares under- or
    overflows (and identical images correlate to exactly 1)."""
    unit: np.ndarray = (deviations / np.abs(deviations).max()).ravel()
    return unit


def _pixel(index: np.intp, shape: tuple[int, ...]) -> tuple[int, int]:
    slow, fast = np.unravel_index(int(index), shape)
    return int(slow), int(fast)


def max_rel_diff(a: np.ndarray, b: np.ndarray,
                 floor: float = REL_FLOOR) -> tuple[float, tuple[int, int] | None, float]:
    """Largest |b - a| / max(|a|, |b|) over pixels where max(|a|, |b|) exceeds ``floor``
    times its maximum: (value, its (slow, fast) pixel, the absolute floor).  0 and no
    pixel when no pixel exceeds the floor."""
    magnitude = np.maximum(np.abs(a), np.abs(b))
    absolute_floor = floor * float(magnitude.max())
    considered = magnitude > absolute_floor
    if not considered.any():
        return 0.0, None, absolute_floor
    relative = np.zeros_like(magnitude)
    np.divide(np.abs(b - a), magnitude, out=relative, where=considered)
    index = np.argmax(relative)
    return float(relative.flat[index]), _pixel(index, a.shape), absolute_floor


_BEFORE = ((-1, -1), (-1, 0), (-1, 1), (0, -1))
_AFTER = ((0, 1), (1, -1), (1, 0), (1, 1))


def find_peaks(image: np.ndarray, floor: float = PEAK_FLOOR) -> np.ndarray:
    """Local maxima over the 3x3 neighbourhood above ``floor`` times the image's maximum,
    highest first: an (n, 2) array of (slow, fast).

    A pixel must exceed the neighbours before it in raster order and equal or exceed those
    after it, so a flat top counts once.
    """
    image = np.asarray(image, dtype=np.float64)
    top = float(image.max()) if image.size else 0.0
    if top <= 0.0:
        return np.empty((0, 2), dtype=np.intp)
    slow, fast = image.shape
    padded = np.pad(image, 1, constant_values=-np.inf)

    def neighbour(ds: int, df: int) -> np.ndarray:
        return padded[1 + ds:1 + ds + slow, 1 + df:1 + df + fast]

    peak = image > floor * top
    for ds, df in _BEFORE:
        peak &= image > neighbour(ds, df)
    for ds, df in _AFTER:
        peak &= image >= neighbour(ds, df)
    rows, cols = np.nonzero(peak)
    order = np.argsort(-image[rows, cols], kind="stable")
    return np.stack([rows[order], cols[order]], axis=1)


@dataclass(frozen=True)
class PeakMatch:
    """A peak of image a and the nearest peak of image b (None when b has none)."""

    a: tuple[int, int]
    a_height: float
    b: tuple[int, int] | None
    b_height: float | None
    distance: float | None
    """In pixels."""


def match_peaks(a: np.ndarray, b: np.ndarray, count: int) -> tuple[PeakMatch, ...]:
    """The ``count`` highest peaks of a, each with the nearest of all peaks of b."""
    ours, theirs = find_peaks(a)[:count], find_peaks(b)
    matches = []
    for slow, fast in ours:
        here = (int(slow), int(fast))
        if len(theirs) == 0:
            matches.append(PeakMatch(here, float(a[here]), None, None, None))
            continue
        distances = np.hypot(theirs[:, 0] - slow, theirs[:, 1] - fast)
        nearest = int(np.argmin(distances))
        there = (int(theirs[nearest, 0]), int(theirs[nearest, 1]))
        matches.append(PeakMatch(here, float(a[here]), there, float(b[there]),
                                 float(distances[nearest])))
    return tuple(matches)


@dataclass(frozen=True)
class Comparison:
    """How image b differs from image a."""

    correlation: float
    rmse: float
    max_abs_diff: float
    max_abs_diff_pixel: tuple[int, int]
    max_rel_diff: float
    max_rel_diff_pixel: tuple[int, int] | None
    rel_floor: float
    """The absolute floor of the relative difference (REL_FLOOR x max(|a|, |b|))."""
    sum_ratio: float | None
    """sum(b) / sum(a); 1 when both sums are 0, None when only sum(a) is."""
    peaks: tuple[PeakMatch, ...]

    @property
    def peak_distances(self) -> list[float]:
        return [match.distance for match in self.peaks if match.distance is not None]

    @property
    def mean_peak_distance(self) -> float | None:
        distances = self.peak_distances
        return sum(distances) / len(distances) if distances else None

    @property
    def max_peak_distance(self) -> float | None:
        return max(self.peak_distances, default=None)


def compare_images(a: np.ndarray, b: np.ndarray, *, peaks: int = 10) -> Comparison:
    """Every metric of b against a (same shape, else :class:`ShapeMismatch`)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ShapeMismatch(f"image a is {shape_text(a.shape)} pixels, image b "
                            f"{shape_text(b.shape)}")
    difference = b - a
    index = np.argmax(np.abs(difference))
    rel, rel_pixel, rel_floor = max_rel_diff(a, b)
    sum_a, sum_b = float(a.sum()), float(b.sum())
    if sum_a != 0.0:
        sum_ratio: float | None = sum_b / sum_a
    else:
        sum_ratio = 1.0 if sum_b == 0.0 else None
    return Comparison(
        correlation=correlation(a, b),
        rmse=math.sqrt(float(np.mean(difference * difference))),
        max_abs_diff=float(abs(difference.flat[index])),
        max_abs_diff_pixel=_pixel(index, a.shape),
        max_rel_diff=rel, max_rel_diff_pixel=rel_pixel, rel_floor=rel_floor,
        sum_ratio=sum_ratio, peaks=match_peaks(a, b, peaks))


def shape_text(shape: tuple[int, ...]) -> str:
    return " x ".join(str(n) for n in shape)
