"""The stage contract: the stages of a simulation and the typed data that flows
between them.

Each engine implements every stage (:class:`nanobragg.engines.base.Engine`); each stage
reads a spec built from the Config and the earlier stages' outputs and returns a frozen
dataclass whose field names carry their units.  The C engine's structs in
``csrc/engine/nanobragg.h`` mirror these dataclasses field for field (a test checks it),
and the torch engine reads and returns the same dataclasses with tensors in their array
fields, so the output of a stage on one engine can be fed to the next stage on the other
(``simulate(config, stages={"sources": "c", "render": "torch"})``).

==================  ================================  =========================
stage               reads                             gives
==================  ================================  =========================
detector_geometry   :class:`DetectorSpec`             :class:`DetectorGeometry`
crystal_vectors     :class:`CrystalSpec`              :class:`CrystalVectors`
sources             :class:`SourceSpec`, a table      :class:`Sources`
mosaic_rotations    :class:`MosaicSpec`               :class:`MosaicRotations`
render              :class:`RenderInputs`             :class:`RenderOutput`
add_noise           an image, :class:`NoiseSpec`      :class:`NoiseImage`
trace_pixel         :class:`RenderInputs`, a pixel    :class:`PixelRecord`
point_scatterers    ``ScattererInputs`` (nearBragg)   ``ScattererOutput``
==================  ================================  =========================
"""

from nanobragg.stages.crystal import CrystalSpec, CrystalVectors
from nanobragg.stages.fields import to_numpy, to_torch
from nanobragg.stages.geometry import DetectorGeometry, DetectorSpec
from nanobragg.stages.mosaic import MosaicRotations, MosaicSpec
from nanobragg.stages.noise import NoiseImage, NoiseSpec
from nanobragg.stages.render import RenderInputs, RenderOutput, RenderParams
from nanobragg.stages.sources import Sources, SourceSpec
from nanobragg.stages.trace import PixelRecord, PixelState

STAGES = ("detector_geometry", "crystal_vectors", "sources", "mosaic_rotations", "render",
          "add_noise")
"""The stages of an image, in the order they run (a pixel trace runs on the engine of
the render)."""

__all__ = ["STAGES", "CrystalSpec", "CrystalVectors", "DetectorGeometry", "DetectorSpec",
           "MosaicRotations", "MosaicSpec", "NoiseImage", "NoiseSpec", "PixelRecord",
           "PixelState", "RenderInputs", "RenderOutput", "RenderParams", "SourceSpec",
           "Sources", "to_numpy", "to_torch"]
