"""The torch engine: each stage as vectorised PyTorch on one device."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from nanobragg.engines.base import Progress, TorchOptions
from nanobragg.engines.torch.amorphous import amorphous
from nanobragg.engines.torch.crystal import crystal_vectors
from nanobragg.engines.torch.geometry import detector_geometry
from nanobragg.engines.torch.noise import add_noise
from nanobragg.engines.torch.render import DEFAULT_MEMORY_BUDGET, render
from nanobragg.engines.torch.response import detector_response
from nanobragg.engines.torch.scatterers import point_scatterers
from nanobragg.engines.torch.sources import mosaic_rotations, sources
from nanobragg.engines.torch.trace import trace_pixel
from nanobragg.engines.torch.vectors import FLOAT64, Placement, placement
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
    to_torch,
)
from nanobragg.stages.amorphous import AmorphousImage, AmorphousSpec, StolTable
from nanobragg.stages.checks import checked
from nanobragg.stages.response import ResponseImage, ResponseSpec
from nanobragg.stages.scatterers import ScattererInputs, ScattererOutput


@contextlib.contextmanager
def _allocations() -> Iterator[None]:
    """torch's allocators report a failed allocation as a RuntimeError (the CPU's) or its
    subclass OutOfMemoryError (CUDA's): the caller gets the MemoryError that numpy and
    the C engine raise."""
    try:
        yield
    except RuntimeError as error:
        if isinstance(error, torch.OutOfMemoryError) or "can't allocate memory" in str(error):
            raise MemoryError(str(error)) from error
        raise


class TorchEngine:
    """The stages as tensors on ``options.device``.  The set-up stages compute in
    float64 (they decide whole numbers: N from the crystal size, sub-pixel counts); the
    render and the trace in ``options.dtype``."""

    name = "torch"

    def __init__(self, options: TorchOptions | None = None):
        self.options = options or TorchOptions()
        self.at = placement(self.options.device, self.options.dtype)
        self.at64 = Placement(self.at.device, FLOAT64)
        self.memory_budget = int(self.options.memory_budget or DEFAULT_MEMORY_BUDGET)

    @checked
    def detector_geometry(self, spec: DetectorSpec) -> DetectorGeometry:
        return detector_geometry(to_torch(spec, self.at64), at=self.at64)

    @checked
    def crystal_vectors(self, spec: CrystalSpec, rng: LegacyRandom) -> CrystalVectors:
        return crystal_vectors(to_torch(spec, self.at64), rng, at=self.at64)

    @checked
    def sources(self, spec: SourceSpec, table: np.ndarray | None = None) -> Sources:
        return sources(to_torch(spec, self.at64), table, at=self.at64)

    @checked
    def mosaic_rotations(self, spec: MosaicSpec, rng: LegacyRandom) -> MosaicRotations:
        return mosaic_rotations(spec, rng, at=self.at64)

    @checked
    def render(self, inputs: RenderInputs, progress: Progress | None = None) -> RenderOutput:
        with _allocations():
            return render(inputs, progress, at=self.at, memory_budget=self.memory_budget,
                          compiled=bool(self.options.compile))

    @checked
    def add_noise(self, image: Any, spec: NoiseSpec, rng: LegacyRandom) -> NoiseImage:
        return add_noise(to_torch(image, self.at64), spec, rng)

    @checked
    def detector_response(self, image: Any, spec: ResponseSpec,
                          rng: LegacyRandom) -> ResponseImage:
        return detector_response(to_torch(image, self.at64), spec, rng, at=self.at64)

    @checked
    def trace_pixel(self, inputs: RenderInputs, slow: int, fast: int,
                    state: PixelState) -> PixelRecord:
        with _allocations():
            return trace_pixel(inputs, slow, fast, state, at=self.at)

    @checked
    def point_scatterers(self, inputs: ScattererInputs,
                         progress: Progress | None = None) -> ScattererOutput:
        with _allocations():
            return point_scatterers(inputs, progress, at=self.at)

    @checked
    def amorphous(self, spec: AmorphousSpec, sources: Sources, table: StolTable,
                  progress: Progress | None = None) -> AmorphousImage:
        with _allocations():
            return amorphous(spec, sources, table, progress, at=self.at)
