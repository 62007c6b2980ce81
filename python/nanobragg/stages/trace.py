"""trace_pixel: every intermediate quantity of one pixel, term by term.

The columns and final quantities are mirrored by ``nb_trace_term`` and ``nb_trace`` in
``csrc/engine/nanobragg.h``.  :mod:`nanobragg.trace` builds the user's
:class:`~nanobragg.trace.Trace` from a ``PixelRecord``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

INDEX_COLUMNS = ("layer", "subS", "subF", "source", "phi_step", "domain")
"""The loop indices of a term, outermost first."""
TERM_COLUMNS = (*INDEX_COLUMNS, "position", "diffracted", "scattering", "axes", "hkl", "hkl0",
                "F_latt", "F_cell", "omega", "polar", "capture", "I")
"""Every column of a trace's terms, in loop order of evaluation."""
FINAL_KEYS = ("I", "background", "omega", "polar", "capture", "scale", "steps", "value")
UNITS = {"position": "m", "diffracted": "unit", "scattering": "1/m", "axes": "m",
         "omega": "sr"}


@dataclass(frozen=True)
class PixelState:
    """What the run carries into a pixel; only c_parity runs carry anything."""

    entry: bool
    """The pixel is the run's first to rotate the crystal: it starts unrotated
    (phi_carryover)."""
    interpolate: bool
    """Interpolation is still on when the pixel starts (interpolation_switch_off)."""


CORRECTED_STATE = PixelState(entry=False, interpolate=True)
"""The corrected render carries nothing from pixel to pixel."""


@dataclass(frozen=True)
class PixelRecord:
    terms: dict[str, np.ndarray]
    """One array per column of TERM_COLUMNS, one row per term."""
    final: dict[str, Any]
    """One value per key of FINAL_KEYS."""
