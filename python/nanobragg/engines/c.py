"""The C engine: each stage a call into ``nanobragg._core``.

The bindings convert each stage's dataclass to its C struct field by field from the
struct's one field list (``csrc/engine/nanobragg.h``), and each C output back to a dict
of the same names, from which the dataclass is built here.  Inputs may come from either
engine: tensors are converted to numbers and numpy arrays first."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from nanobragg import _core
from nanobragg.engines.base import COptions, Progress
from nanobragg.legacy_random import LegacyRandom, poisson_noise
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
    to_numpy,
)
from nanobragg.stages.checks import checked

if TYPE_CHECKING:
    # the suite's stages are loaded when they run: an image needs none of them
    from nanobragg.stages.amorphous import AmorphousImage, AmorphousSpec, StolTable
    from nanobragg.stages.response import ResponseImage, ResponseSpec
    from nanobragg.stages.scatterers import ScattererInputs, ScattererOutput


class CEngine:
    """The stages in C, on the CPU, in float64; the render in parallel with OpenMP."""

    name = "c"

    def __init__(self, options: COptions | None = None):
        self.options = options or COptions()

    @checked
    def detector_geometry(self, spec: DetectorSpec) -> DetectorGeometry:
        return DetectorGeometry(**_core.detector_geometry(to_numpy(spec)))

    @checked
    def crystal_vectors(self, spec: CrystalSpec, rng: LegacyRandom) -> CrystalVectors:
        return CrystalVectors(**_core.crystal_vectors(to_numpy(spec), rng))

    @checked
    def sources(self, spec: SourceSpec, table: np.ndarray | None = None) -> Sources:
        return Sources(**_core.sources(to_numpy(spec), table))

    @checked
    def mosaic_rotations(self, spec: MosaicSpec, rng: LegacyRandom) -> MosaicRotations:
        return MosaicRotations(_core.mosaic_rotations(to_numpy(spec), rng))

    @checked
    def render(self, inputs: RenderInputs, progress: Progress | None = None) -> RenderOutput:
        plain = to_numpy(inputs)
        image, info = _core.render(plain.params, plain.sources, plain.mosaic,
                                   plain.structure_factors, plain.mask,
                                   int(self.options.threads or 0), progress)
        return RenderOutput(image=image, **info)

    @checked
    def add_noise(self, image: Any, spec: NoiseSpec, rng: LegacyRandom) -> NoiseImage:
        # the C engine counts photons with the legacy generator in both modes
        return poisson_noise(to_numpy(image), spec, rng)

    @checked
    def detector_response(self, image: Any, spec: ResponseSpec,
                          rng: LegacyRandom) -> ResponseImage:
        from nanobragg.stages.response import ResponseImage, ResponseInfo

        # the pixels come in the width of spec.bits
        expected, adu, noisy, info = _core.detector_response(
            np.asarray(to_numpy(image), np.float32), to_numpy(spec), rng,
            int(self.options.threads or 0))
        return ResponseImage(expected=expected, expected_adu=adu, noisy=noisy,
                             info=ResponseInfo(**info))

    @checked
    def trace_pixel(self, inputs: RenderInputs, slow: int, fast: int,
                    state: PixelState) -> PixelRecord:
        plain = to_numpy(inputs)
        record = _core.trace_pixel(plain.params, plain.sources, plain.mosaic,
                                   plain.structure_factors, plain.mask, fast, slow, state.entry,
                                   state.interpolate)
        return PixelRecord(terms=record["terms"], final=record["final"])

    @checked
    def point_scatterers(self, inputs: ScattererInputs,
                         progress: Progress | None = None) -> ScattererOutput:
        from nanobragg.stages.scatterers import ScattererOutput

        plain = to_numpy(inputs)
        out = _core.point_scatterers(plain.params, plain.atoms, plain.sources, plain.image,
                                     plain.real, plain.imag, int(self.options.threads or 0),
                                     progress)
        return ScattererOutput(**out)

    @checked
    def amorphous(self, spec: AmorphousSpec, sources: Sources, table: StolTable,
                  progress: Progress | None = None) -> AmorphousImage:
        from nanobragg.stages.amorphous import AmorphousImage

        image, info = _core.amorphous(to_numpy(spec), to_numpy(sources), to_numpy(table),
                                      int(self.options.threads or 0), progress)
        return AmorphousImage(image=image, **info)
