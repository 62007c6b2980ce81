"""Which engine runs each stage of a simulation, and the hand-over between them.

``simulate(config, stages={"detector_geometry": "c", "render": "torch"})`` runs
each named stage on the engine given and the others on ``backend``.  A stage's
output is converted at the seam: numpy arrays become tensors on the torch
engine's device for a torch stage, and tensors become numbers and numpy arrays
for a C stage.  Only torch stages carry an autograd graph, so a gradient flows
through a parameter only when every stage that uses it runs on torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from nanobragg.config import is_tensor

STAGES = ("detector_geometry", "crystal_vectors", "sources", "mosaic_rotations", "render",
          "add_noise")
ENGINES = ("c", "torch")


def resolve_stages(backend: str, stages: Mapping[str, str] | None) -> dict[str, str]:
    """The engine of every stage: those named in ``stages``, the rest on ``backend``."""
    if backend not in ENGINES:
        raise ValueError(f"backend: {backend!r} is not one of {', '.join(ENGINES)}")
    route = dict.fromkeys(STAGES, backend)
    if stages is None:
        return route
    if not isinstance(stages, Mapping):
        raise ValueError(f"stages: {stages!r} is not a mapping of stage name to engine")
    for name, engine in stages.items():
        if name not in route:
            raise ValueError(f"stages: {name!r} is not a stage; the stages are "
                             f"{', '.join(STAGES)}")
        if engine not in ENGINES:
            raise ValueError(f"stages[{name!r}]: {engine!r} is not one of {', '.join(ENGINES)}")
        route[name] = engine
    return route


def to_numpy(value: Any) -> Any:
    """Stage outputs as numbers and numpy arrays (tensors detached onto the CPU)."""
    if isinstance(value, dict):
        return {key: to_numpy(item) for key, item in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(to_numpy(item) for item in value)
    if is_tensor(value):
        array = value.detach().cpu().numpy()
        return float(array) if array.ndim == 0 else array
    return value


def to_torch(value: Any, at: Any) -> Any:
    """Stage outputs as tensors at ``at`` (a torch engine Placement): numpy float
    arrays and tensors are moved there; whole numbers stay numbers."""
    if isinstance(value, dict):
        return {key: to_torch(item, at) for key, item in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(to_torch(item, at) for item in value)
    if is_tensor(value) or (isinstance(value, np.ndarray) and value.dtype.kind == "f"):
        return at.tensor(value)
    return value


def for_stage(value: Any, engine: str, at: Any) -> Any:
    """An earlier stage's output in the form the engine of the next stage takes."""
    return to_torch(value, at) if engine == "torch" else to_numpy(value)
