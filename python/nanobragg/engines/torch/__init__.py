"""The torch engine: the stages of a simulation as vectorised PyTorch, on any device
and dtype, differentiable with respect to the continuous parameters.

One module per stage, with the C engine's names (``csrc/engine/``): geometry, crystal,
sources (and mosaic_rotations), the render split as scene, subpixel, corrected, legacy
and render (the pass driver), lattice, noise and trace."""

from nanobragg.engines.torch.engine import TorchEngine

__all__ = ["TorchEngine"]
