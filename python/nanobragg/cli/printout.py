"""``-printout`` and ``-printout_pixel``: the original's per-pixel console block,
made from a pixel trace.  The original prints the loop variables as its last term
left them; a quantity that term did not evaluate (a source cut by dmin, a zero
lattice factor) is shown from the pixel's last term that did."""

from __future__ import annotations

import math

import numpy as np

from nanobragg.trace import Trace


def _last(values: np.ndarray) -> np.ndarray:
    """The last row with no NaN (the last row when every one has some)."""
    rows = values.reshape(values.shape[0], -1)
    finite = np.flatnonzero(~np.isnan(rows).any(axis=1))
    last: np.ndarray = values[finite[-1] if finite.size else -1]
    return last


def _factor(trace: Trace, name: str) -> float:
    value = trace.final[name]
    return float(trace.terms[name][-1]) if math.isnan(value) else value


def printout_block(trace: Trace, pixel_value: float, lambda0_m: float) -> list[str]:
    """The lines the original prints for one pixel with ``-printout``."""
    terms = trace.terms
    slow, fast = trace.pixel
    position = terms["position"][-1]
    # in the original's IEEE arithmetic: an overflow prints inf, it raises nothing
    with np.errstate(all="ignore"):
        stol = 0.5 * float(np.sqrt(np.sum(terms["scattering"][-1] ** 2)))
        twotheta = math.atan2(float(np.sqrt(np.float64(position[1]) ** 2
                                            + np.float64(position[2]) ** 2)), position[0])
        stol_from_angle = float(np.float64(math.sin(twotheta / 2.0))
                                / np.float64(lambda0_m * 1e10))
    hkl = tuple(_last(terms["hkl"]))
    hkl0 = tuple(int(v) for v in np.nan_to_num(_last(terms["hkl0"])))
    intensity = trace.final["I"]
    axes = _last(terms["axes"]) * 1e10
    lines = [
        "%4d %4d : stol = %g or %g" % (fast, slow, stol, stol_from_angle),
        "at %g %g %g" % tuple(position),
        "hkl= %f %f %f  hkl0= %d %d %d" % (hkl + hkl0),
        " F_cell=%g  F_latt=%g   I = %g" % (float(_last(terms["F_cell"])),
                                           float(_last(terms["F_latt"])), intensity),
        "I/steps %15.10g" % (intensity / trace.final["steps"]),
        "polar   %15.10g" % _factor(trace, "polar"),
        "omega   %15.10g" % _factor(trace, "omega"),
        "capfrac %15.10g" % _factor(trace, "capture"),
        "pixel   %15.10g" % pixel_value,
        "real-space cell vectors (Angstrom):",
        "     %-10s  %-10s  %-10s" % ("a", "b", "c"),
    ]
    lines += ["%s: %11.8f %11.8f %11.8f" % (axis, *axes[:, i]) for i, axis in enumerate("XYZ")]
    return lines
