"""The torch engine: the stages of a simulation as vectorised PyTorch, on any
device and dtype, differentiable with respect to the continuous parameters.

Each stage has the C engine's name and returns the same quantities, as tensors
(see :mod:`nanobragg.engines.c` for units)."""

from nanobragg.engines.torch.crystal import crystal_vectors
from nanobragg.engines.torch.geometry import detector_geometry
from nanobragg.engines.torch.noise import add_noise
from nanobragg.engines.torch.render import DEFAULT_MEMORY_BUDGET, render
from nanobragg.engines.torch.sources import mosaic_rotations, sources
from nanobragg.engines.torch.trace import trace_pixel
from nanobragg.engines.torch.vectors import FLOAT64, Placement, placement

__all__ = ["DEFAULT_MEMORY_BUDGET", "FLOAT64", "Placement", "add_noise", "crystal_vectors",
           "detector_geometry", "mosaic_rotations", "placement", "render", "sources",
           "trace_pixel"]
