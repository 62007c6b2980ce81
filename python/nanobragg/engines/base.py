"""The interface both engines implement, stage for stage, and their options.

An engine is an object with one method per stage; each takes stage data in either
engine's form (numpy or tensors, see :mod:`nanobragg.stages.fields`) and returns its
own.  :mod:`nanobragg.engines` chooses and builds them; nothing else does."""

from __future__ import annotations

import numbers
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

    from nanobragg.legacy_random import LegacyRandom
    from nanobragg.stages import (
        CrystalSpec,
        CrystalVectors,
        DetectorGeometry,
        DetectorSpec,
        MosaicRotations,
        MosaicSpec,
        NoiseImage,
        NoiseSpec,
        PixelRecord,
        PixelState,
        RenderInputs,
        RenderOutput,
        Sources,
        SourceSpec,
    )
    from nanobragg.stages.amorphous import AmorphousImage, AmorphousSpec, StolTable
    from nanobragg.stages.response import ResponseImage, ResponseSpec
    from nanobragg.stages.scatterers import ScattererInputs, ScattererOutput


class Progress(Protocol):
    """Called as rows of the image finish; a false answer (None excepted) cancels."""

    def __call__(self, done: int, total: int, /) -> object: ...


class Engine(Protocol):
    name: str
    """The engine's name in the registry ("c", "torch")."""

    def detector_geometry(self, spec: DetectorSpec) -> DetectorGeometry:
        """The detector size, axes, origin and beam centres."""
        ...

    def crystal_vectors(self, spec: CrystalSpec, rng: LegacyRandom) -> CrystalVectors:
        """Real and reciprocal axes at phi = 0 and the size in cells; a random misset
        draws from ``rng``."""
        ...

    def sources(self, spec: SourceSpec, table: np.ndarray | None = None) -> Sources:
        """The incident directions, wavelengths and weights: the divergence and dispersion
        grid of ``spec``, or the rows of a source ``table`` ((n, 5): X Y Z weight
        wavelength, NaN for the default) when one is given."""
        ...

    def mosaic_rotations(self, spec: MosaicSpec, rng: LegacyRandom) -> MosaicRotations:
        """One rotation per mosaic domain, drawn from ``rng``."""
        ...

    def render(self, inputs: RenderInputs, progress: Progress | None = None) -> RenderOutput:
        """The float image in photons per pixel."""
        ...

    def add_noise(self, image: Any, spec: NoiseSpec, rng: LegacyRandom) -> NoiseImage:
        """Photon-counting noise on a float image (slow, fast)."""
        ...

    def trace_pixel(self, inputs: RenderInputs, slow: int, fast: int,
                    state: PixelState) -> PixelRecord:
        """Every term of pixel (slow, fast) as the render computes it."""
        ...

    def detector_response(self, image: Any, spec: ResponseSpec,
                          rng: LegacyRandom) -> ResponseImage:
        """The noiseless and noisy integer images a detector records of a float image
        (slow, fast): noise, PSF, gain, offset, pixel clipping."""
        ...

    def point_scatterers(self, inputs: ScattererInputs,
                         progress: Progress | None = None) -> ScattererOutput:
        """The waves of point scatterers summed at every pixel (nearBragg)."""
        ...

    def amorphous(self, spec: AmorphousSpec, sources: Sources, table: StolTable,
                  progress: Progress | None = None) -> AmorphousImage:
        """The amorphous sample's scattering in photons per pixel (nonBragg)."""
        ...


THREADS_PER_CPU = 4
"""Most OpenMP threads a C render is given per CPU of the machine: more only cost memory
for their stacks, and where thread creation fails OpenMP ends the whole process."""


def max_threads() -> int:
    return THREADS_PER_CPU * (os.cpu_count() or 1)


def _whole(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@dataclass(frozen=True)
class COptions:
    """How the C engine runs (never what it computes)."""

    threads: int | None = None
    """OpenMP threads for the render; None: all cores.  Images do not depend on it."""

    def __post_init__(self) -> None:
        if self.threads is not None and not (_whole(self.threads)
                                             and 1 <= int(self.threads) <= max_threads()):
            raise ValueError(f"threads: {self.threads!r} is not valid; expected a whole "
                             f"number from 1 to {max_threads()} ({THREADS_PER_CPU} per CPU "
                             "of this machine)")


@dataclass(frozen=True)
class TorchOptions:
    """How the torch engine runs."""

    device: Any = None
    """A torch device or its name (cpu, cuda, cuda:N); None: cpu."""
    dtype: Any = None
    """The render's dtype (float32, float64; None: float64).  The set-up stages always
    compute in float64: they decide whole numbers (N from the crystal size, sub-pixel
    counts)."""
    memory_budget: int | None = None
    """Bytes of working tensors per chunk of pixels; None: 1 GiB (at most 128 MiB on the
    CPU, where smaller chunks run faster)."""
    compile: bool = False
    """Run the chunk renderers through torch.compile (slow to start, then faster)."""

    def __post_init__(self) -> None:
        if self.memory_budget is not None and not (_whole(self.memory_budget)
                                                   and int(self.memory_budget) >= 1):
            raise ValueError(f"memory_budget: {self.memory_budget!r} is not valid; expected "
                             "a whole number of bytes >= 1")
        if not isinstance(self.compile, bool):
            raise ValueError(f"compile: {self.compile!r} is not valid; expected True or False")
