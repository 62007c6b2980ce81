"""Crystal orientations of stills: uniform random rotations, and a rotation matrix as
nanoBragg's misset angles.

A misset (x, y, z angles) rotates the crystal about lab x, then y, then z, so its matrix
is ``Rz(z) @ Ry(y) @ Rx(x)``; :func:`matrix_to_misset_deg` inverts that.
"""

from __future__ import annotations

import math

import numpy as np


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A rotation matrix drawn uniformly over all rotations (a unit quaternion from four
    normal deviates: its direction is uniform on the 3-sphere)."""
    q = rng.standard_normal(4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def misset_matrix(misset_deg: tuple[float, float, float]) -> np.ndarray:
    """The rotation a misset applies: about x, then y, then z."""
    ax, ay, az = (math.radians(v) for v in misset_deg)
    rx = np.array([[1, 0, 0], [0, math.cos(ax), -math.sin(ax)], [0, math.sin(ax), math.cos(ax)]])
    ry = np.array([[math.cos(ay), 0, math.sin(ay)], [0, 1, 0], [-math.sin(ay), 0, math.cos(ay)]])
    rz = np.array([[math.cos(az), -math.sin(az), 0], [math.sin(az), math.cos(az), 0], [0, 0, 1]])
    matrix: np.ndarray = rz @ ry @ rx
    return matrix


def matrix_to_misset_deg(matrix: np.ndarray) -> tuple[float, float, float]:
    """The misset angles (degrees) whose rotation is ``matrix``."""
    r = np.asarray(matrix, dtype=np.float64)
    ay = math.atan2(-r[2, 0], math.hypot(r[2, 1], r[2, 2]))
    if math.hypot(r[2, 1], r[2, 2]) < 1e-12:
        # gimbal lock: y = +-90 degrees; the x and z rotations combine, put it all in z
        return (0.0, math.degrees(ay), math.degrees(math.atan2(-r[0, 1], r[1, 1])))
    ax = math.atan2(r[2, 1], r[2, 2])
    az = math.atan2(r[1, 0], r[0, 0])
    return (math.degrees(ax), math.degrees(ay), math.degrees(az))
