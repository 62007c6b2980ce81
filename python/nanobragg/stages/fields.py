"""What stage data is made of, and its conversion between the two engines' forms.

Stage data are frozen dataclasses whose field names carry their units (``distance_m``,
``phi0_rad``, ``a_star_per_A``).  A field holds a number, a whole number or flag, or an
array: a numpy float64 array for the C engine, a tensor for the torch engine (which
keeps an autograd graph through it).  Each engine takes stage data in either form;
:func:`to_numpy` and :func:`to_torch` convert any of it (and dicts, tuples and lists
of it) explicitly.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

from nanobragg.config import is_tensor

if TYPE_CHECKING:
    import numpy.typing as npt
    import torch

    from nanobragg.engines.torch.vectors import Placement

    Array: TypeAlias = npt.NDArray[np.float64] | torch.Tensor
    """A numpy float64 array (C engine) or a tensor (torch engine)."""
    Real: TypeAlias = float | torch.Tensor
    """A number, or a 0-d tensor that may carry a graph."""


def to_numpy(value: Any) -> Any:
    """Stage data as numbers and numpy arrays (tensors detached onto the CPU)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _replace_fields(value, to_numpy)
    if isinstance(value, dict):
        return {key: to_numpy(item) for key, item in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(to_numpy(item) for item in value)
    if is_tensor(value):
        array = value.detach().cpu().numpy()
        return float(array) if array.ndim == 0 else array
    return value


def to_torch(value: Any, at: Placement) -> Any:
    """Stage data as tensors at ``at`` (a torch engine Placement): float arrays and
    tensors are moved there; numbers, whole numbers and flags stay as they are."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _replace_fields(value, lambda item: to_torch(item, at))
    if isinstance(value, dict):
        return {key: to_torch(item, at) for key, item in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(to_torch(item, at) for item in value)
    if is_tensor(value) or (isinstance(value, np.ndarray) and value.dtype.kind == "f"):
        return at.tensor(value)
    return value


def _replace_fields(data: Any, convert: Any) -> Any:
    changes = {field.name: convert(getattr(data, field.name))
               for field in dataclasses.fields(data)}
    return dataclasses.replace(data, **changes)


def vector(values: Any, n: int = 3, *, pad: float | None = None) -> Any:
    """n numbers: a float64 numpy array, or a float64 tensor when any of them is a tensor
    (its graph kept).  With ``pad``, missing numbers are that value."""
    items: list[Any]
    if is_tensor(values):
        items = list(values.reshape(-1).unbind())
    elif isinstance(values, (list, tuple)):
        items = list(values)
    else:
        items = list(np.asarray(values, dtype=np.float64).reshape(-1))
    if pad is not None:
        items = items[:n] + [pad] * (n - len(items))
    tensors = [item for item in items if is_tensor(item)]
    if tensors:
        import torch

        device = tensors[0].device
        return torch.stack([torch.as_tensor(item, dtype=torch.float64, device=device)
                            for item in items])
    return np.asarray([float(item) for item in items], dtype=np.float64)


def scaled(value: Any, divisor: float) -> Any:
    """A number, array or tensor divided by ``divisor`` in float64 (a tensor keeps its
    graph and device), as the engines convert units."""
    if is_tensor(value):
        import torch

        return value.to(torch.float64) / divisor
    if isinstance(value, np.ndarray):
        return np.asarray(value, dtype=np.float64) / divisor
    return float(value) / divisor


def optional_scaled(value: Any, divisor: float) -> Any:
    return None if value is None else scaled(value, divisor)
