"""Tensor helpers shared by the torch stages: conversion onto one device and
dtype, and 3-vector algebra on the last dimension in the C engine's order of
operations (so float64 results agree with it to rounding)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from nanobragg.config import is_tensor
from nanobragg.engines import REGISTRY

DTYPES = {name: getattr(torch, name) for name in REGISTRY["torch"].dtypes}
"""The torch dtype of each dtype name the registry lists for this engine."""
FLOAT64 = torch.float64


@dataclass(frozen=True)
class Placement:
    """Where the torch engine computes: a device and a floating dtype."""

    device: torch.device
    dtype: torch.dtype

    def tensor(self, value: Any) -> torch.Tensor:
        """value as a tensor here; a tensor keeps its autograd graph."""
        if is_tensor(value):
            return value.to(device=self.device, dtype=self.dtype)
        if isinstance(value, (list, tuple)) and any(is_tensor(v) for v in value):
            return torch.stack([self.tensor(v) for v in value])
        array = np.asarray(value, dtype=np.float64)
        if not array.flags.writeable:
            # a read-only array (a file's bytes, say) may not back a tensor: copy it
            array = array.copy()
        return torch.as_tensor(array, dtype=self.dtype, device=self.device)

    def scalar(self, value: float) -> torch.Tensor:
        return torch.tensor(value, dtype=self.dtype, device=self.device)


def devices() -> tuple[str, ...]:
    """The devices the torch engine can use here."""
    return ("cpu", *(f"cuda:{i}" for i in range(torch.cuda.device_count())))


def placement(device: Any = None, dtype: Any = None) -> Placement:
    """Check and resolve the device and dtype names a user gives."""
    if dtype is None:
        dtype = torch.float64
    elif isinstance(dtype, str):
        if dtype not in DTYPES:
            raise ValueError(f"dtype: {dtype!r} is not one of {', '.join(DTYPES)}")
        dtype = DTYPES[dtype]
    elif dtype not in DTYPES.values():
        raise ValueError(f"dtype: {dtype!r} is not one of {', '.join(DTYPES)}")
    unavailable = (f"device: {str(device)!r} is not available to the torch engine; "
                   f"available: {', '.join(devices())} (cuda means cuda:0)")
    try:
        device = torch.device("cpu" if device is None else device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(unavailable) from error
    if device.type == "cuda":
        if not torch.cuda.is_available() or (device.index is not None
                                             and device.index >= torch.cuda.device_count()):
            raise ValueError(unavailable)
    elif device.type != "cpu":
        raise ValueError(unavailable)
    return Placement(device, dtype)


def dot(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return x[..., 0] * y[..., 0] + x[..., 1] * y[..., 1] + x[..., 2] * y[..., 2]


def norm(v: torch.Tensor) -> torch.Tensor:
    return torch.sqrt(v[..., 0] * v[..., 0] + v[..., 1] * v[..., 1] + v[..., 2] * v[..., 2])


def cross(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.stack((x[..., 1] * y[..., 2] - x[..., 2] * y[..., 1],
                        x[..., 2] * y[..., 0] - x[..., 0] * y[..., 2],
                        x[..., 0] * y[..., 1] - x[..., 1] * y[..., 0]), dim=-1)


def unitize(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(v / |v|, |v|); a zero vector stays zero (and has zero gradient)."""
    length = norm(v)
    safe = torch.where(length != 0, length, torch.ones_like(length))
    unit = torch.where((length != 0)[..., None], v / safe[..., None], torch.zeros_like(v))
    return unit, length


def rescale(v: torch.Tensor, new_length: torch.Tensor) -> torch.Tensor:
    old = norm(v)
    old = torch.where(old <= 0, torch.ones_like(old), old)
    return (new_length / old)[..., None] * v


def rotate_xyz(v: torch.Tensor, rx: torch.Tensor, ry: torch.Tensor,
               rz: torch.Tensor) -> torch.Tensor:
    """Rotate about lab x, then y, then z.  The original skips an angle of exactly
    zero; rotating by it gives the same numbers and keeps the gradient there."""
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    c, s = torch.cos(rx), torch.sin(rx)
    y, z = y * c + z * (-s), y * s + z * c
    c, s = torch.cos(ry), torch.sin(ry)
    x, z = x * c + z * s, x * (-s) + z * c
    c, s = torch.cos(rz), torch.sin(rz)
    x, y = x * c + y * (-s), x * s + y * c
    return torch.stack((x, y, z), dim=-1)


def rotate_axis(v: torch.Tensor, axis: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
    """Rodrigues rotation of v by phi (radians) about the unit vector axis."""
    s, c = torch.sin(phi), torch.cos(phi)
    along = dot(axis, v) * (1.0 - c)
    a0, a1, a2 = axis[..., 0], axis[..., 1], axis[..., 2]
    v0, v1, v2 = v[..., 0], v[..., 1], v[..., 2]
    return torch.stack((a0 * along + v0 * c + (-a2 * v1 + a1 * v2) * s,
                        a1 * along + v1 * c + (a2 * v0 - a0 * v2) * s,
                        a2 * along + v2 * c + (-a1 * v0 + a0 * v1) * s), dim=-1)


def rotate_umat(v: torch.Tensor, umat: torch.Tensor) -> torch.Tensor:
    """U v for row-major 3x3 matrices (..., 3, 3)."""
    return torch.stack([umat[..., i, 0] * v[..., 0] + umat[..., i, 1] * v[..., 1]
                        + umat[..., i, 2] * v[..., 2] for i in range(3)], dim=-1)


PI = math.pi
DBL_MIN = 2.2250738585072014e-308
