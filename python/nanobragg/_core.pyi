"""Type stub of the compiled C engine (csrc/bindings/module.cpp).  Private: use
nanobragg.simulate, or the C engine's stages (nanobragg.engines.c.CEngine).

Stage inputs (``spec``, ``params``) are any objects with the attributes that
``FIELDS`` names for their struct (the frozen stage dataclasses); None for a
number or vector means "not given" (NaN).  Stage outputs are dicts keyed by the
same names.  Lengths are in metres and angles in radians unless a name says
otherwise."""

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

has_openmp: bool
FIELDS: dict[str, tuple[str, ...]]
"""Field names of every struct, in declaration order, by struct name."""
CODES: dict[str, dict[str, int]]
"""The enum codes: convention, pivot and shape names to their C values."""

class _Sources(Protocol):
    direction: npt.ArrayLike  # (n, 3) unit vectors from the sample towards each source
    wavelength_m: npt.ArrayLike  # (n,)
    weight: npt.ArrayLike  # (n,)

class _Mosaic(Protocol):
    umats: npt.ArrayLike  # (m, 3, 3) row-major rotations, m >= 1

class _StructureFactors(Protocol):
    values: npt.ArrayLike  # dense (h, k, l) grid of F
    hkl_min: Sequence[int]  # Miller indices of values[0, 0, 0]
    count: int  # reflections read; 0 = default_F everywhere

class LegacyRandom:
    """The legacy generator's shared shuffle table and Gaussian spare."""

    def __init__(self) -> None: ...
    def copy(self) -> LegacyRandom: ...
    def uniform(self, seed: int, n: int) -> tuple[npt.NDArray[np.float64], int]: ...

def detector_geometry(spec: object) -> dict[str, Any]: ...
def crystal_vectors(spec: object, rng: LegacyRandom) -> dict[str, Any]: ...
def random_misset(c_parity: bool, seed: int, rng: LegacyRandom) -> npt.NDArray[np.float64]: ...
def sources(spec: object, table: npt.ArrayLike | None = None) -> dict[str, Any]: ...
def mosaic_rotations(spec: object, rng: LegacyRandom) -> npt.NDArray[np.float64]: ...
def mosaic_axes(spec: object,
                rng: LegacyRandom) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
def render(params: object, sources: _Sources, mosaic: _Mosaic,
           structure_factors: _StructureFactors | None, mask: npt.ArrayLike | None,
           threads: int = 0, progress: Callable[[int, int], object] | None = None
           ) -> tuple[npt.NDArray[np.float64], dict[str, Any]]: ...
def trace_pixel(params: object, sources: _Sources, mosaic: _Mosaic,
                structure_factors: _StructureFactors | None, mask: npt.ArrayLike | None,
                fpixel: int, spixel: int, entry: bool,
                interpolate: bool) -> dict[str, dict[str, Any]]: ...
def add_noise(image: npt.ArrayLike, spec: object,
              rng: LegacyRandom) -> tuple[npt.NDArray[np.uint16], float, int]: ...
def detector_response(image: npt.ArrayLike, spec: object, rng: LegacyRandom,
                      threads: int = 0) -> tuple[
    npt.NDArray[np.uint16 | np.uint32], npt.NDArray[np.float64] | None,
    npt.NDArray[np.uint16 | np.uint32] | None, dict[str, Any]]: ...
def response_shot_noise(photons: npt.ArrayLike, spec: object,
                        rng: LegacyRandom) -> tuple[npt.NDArray[np.float32], float, int]: ...
def response_readout_deviates(pixels: int, seed: int,
                              rng: LegacyRandom) -> npt.NDArray[np.float32]: ...
def point_scatterers(params: object, atoms: object, sources: object,
                     image: npt.ArrayLike | None = None, real: npt.ArrayLike | None = None,
                     imag: npt.ArrayLike | None = None, threads: int = 0,
                     progress: Callable[[int, int], object] | None = None) -> dict[str, Any]: ...
def image_sums(image: npt.ArrayLike, rendered: npt.ArrayLike,
               roi: npt.ArrayLike) -> dict[str, Any]: ...
def int_image(image: npt.ArrayLike, roi: npt.ArrayLike, scale: float,
              adc_offset: float) -> npt.NDArray[np.uint16]: ...
def amorphous(spec: object, sources: _Sources, table: object, threads: int = 0,
              progress: Callable[[int, int], object] | None = None
              ) -> tuple[npt.NDArray[np.float64], dict[str, Any]]: ...
