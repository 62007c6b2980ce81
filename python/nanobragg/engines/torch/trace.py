"""trace_pixel on the torch engine: one pixel rendered by the engine's own chunk
renderer, which records its intermediate tensors, laid out as the C engine's
trace lays out its rows (layer, sub-pixel slow, fast, source, phi step, domain).

The renderer evaluates each term's factors and sums them without ever holding the
running sum, or (with c_parity) the factor the original holds at each term: those
columns are rebuilt here from the recorded tensors, by the rules the C engine's loop
follows.  The final sum and value are the renderer's own."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from nanobragg.engines.torch.render import make_scene, render_corrected, render_legacy
from nanobragg.engines.torch.vectors import Placement


def _numpy(value: Any) -> np.ndarray:
    return value.detach().to(device="cpu", dtype=torch.float64).numpy()


def trace_pixel(params: dict, sources: dict, mosaic_umats: Any, Fhkl: Any, mask: Any,
                fpixel: int, spixel: int, *, entry: bool, interpolate: bool,
                at: Placement) -> dict[str, Any]:
    """Every term of one pixel, as columns, and the final scaling (see
    :func:`nanobragg.trace.trace_pixel`)."""
    sc = make_scene(params, sources, mosaic_umats, Fhkl, at=at)
    fast = torch.tensor([fpixel], device=at.device)
    slow = torch.tensor([spixel], device=at.device)
    record: dict[str, Any] = {}
    with torch.no_grad():
        if sc.c_parity:
            render_legacy(sc, fast, slow, interpolate=interpolate and sc.interpolate,
                          entry=entry, record=record)
        else:
            render_corrected(sc, fast, slow, record=record)
    sp = record["subpixels"]
    layers, sub_s, sub_f = sp.omega.shape[1:]
    n_sources = sc.incident.shape[0]
    phisteps = int(params["phisteps"])
    domains = sc.axes["rotated"].shape[0] // phisteps
    shape = (layers, sub_s, sub_f, n_sources, phisteps * domains)

    def per_row(value: Any, kept_dims: int) -> np.ndarray:
        """A per-sub-pixel (3 dims), per-source (4) or per-term (5) array as rows."""
        array = _numpy(value)[0] if torch.is_tensor(value) else np.asarray(value)
        vector = array.shape[kept_dims:]
        full = array.reshape(array.shape[:kept_dims] + (1,) * (5 - kept_dims) + vector)
        return np.broadcast_to(full, shape + vector).reshape((-1, *vector)).copy()

    passes = per_row(record["passes"], 4) != 0
    index = np.indices((layers, sub_s, sub_f, n_sources, phisteps, domains)).reshape(6, -1)
    terms = {name: index[i].astype(np.int32) for i, name in enumerate(
        ("layer", "subS", "subF", "source", "phi_step", "domain"))}
    terms["position"] = per_row(sp.position, 3)
    terms["diffracted"] = per_row(sp.diffracted, 3)
    terms["scattering"] = per_row(record["scattering"], 4)
    axes = _numpy(record["axes"]).reshape(1, -1, 9)
    if "first" in record:
        # phi_carryover: the pixel's first source to pass the cut starts unrotated
        first = per_row(record["first"], 4) != 0
        entry = _numpy(record["entry_axes"]).reshape(1, -1, 9)
        axes = np.where(first.reshape(-1, shape[-1])[..., None], entry, axes)
    terms["axes"] = np.broadcast_to(axes, (passes.size // shape[-1], shape[-1], 9)).reshape(
        -1, 3, 3).copy()
    terms["hkl"] = per_row(record["hkl"], 5)
    terms["hkl0"] = per_row(record["hkl0"], 5) + 0.0  # ceil gives -0.0; C's whole numbers do not
    terms["F_latt"] = per_row(record["F_latt"], 5)
    terms["F_cell"] = per_row(record["F_cell"], 5)
    counted = passes & (terms["F_latt"] != 0)
    if sc.c_parity and sc.water_size != 0.0:
        counted = passes
    for name in ("axes", "hkl", "hkl0"):
        terms[name][~passes] = np.nan
    terms["F_latt"][~passes] = np.nan
    terms["F_cell"][~counted] = np.nan
    contribution = np.where(counted, per_row(record["terms"], 5), 0.0)
    final = {"scale": float(_numpy(sc.scale)), "steps": sc.steps,
             "value": float(_numpy(record["values"])[0])}
    if sc.c_parity:
        _legacy_factors(sc, record, terms, contribution, final, per_row, shape)
    else:
        _corrected_factors(sc, record, terms, contribution, final, per_row, shape)
    return {"terms": terms, "final": final}


def _corrected_factors(sc, record, terms, contribution, final, per_row, shape) -> None:
    """Each factor where it belongs; the running sum as the C engine accumulates it:
    the sum so far of each source's terms times its factor, after the earlier sources."""
    sp = record["subpixels"]
    terms["omega"] = per_row(sp.omega, 3)
    terms["polar"] = per_row(record["polar"], 4)
    terms["capture"] = per_row(sp.capture, 3)
    factor = per_row(record["factor"], 4).reshape(-1, shape[-1])
    within = np.cumsum(contribution.reshape(-1, shape[-1]), axis=1) * factor
    before = np.concatenate(([0.0], np.cumsum(within[:, -1])[:-1]))
    terms["I"] = (before[:, None] + within).reshape(-1)
    final.update(I=float(_numpy(record["bragg"])[0]),
                 background=float(_numpy(record["background"])[0]),
                 omega=np.nan, polar=np.nan, capture=np.nan)


def _legacy_factors(sc, record, terms, contribution, final, per_row, shape) -> None:
    """The factors as the original holds them from one term to the next, and its
    running sum (with the running-sum factors applied at each counted term)."""
    sp = record["subpixels"]
    omega = _numpy(sp.omega)[0].reshape(-1)
    capture = _numpy(sp.capture)[0].reshape(shape[0], -1)
    polar = _numpy(record["polar"])[0].reshape(-1)
    passes = _numpy(record["passes"])[0].reshape(-1) != 0
    per_group = shape[-1]
    groups = polar.shape[0]
    held = np.empty((3, groups))
    held_omega = held_capture = 0.0
    held_polar = 1.0 if sc.nopolar else 0.0
    subs_per_layer = capture.shape[1]
    n_sources = shape[3]
    for g in range(groups):
        sub = g // n_sources
        layer, within_layer = divmod(sub, subs_per_layer)
        if g % n_sources == 0:
            if held_omega == 0.0 or sc.oversample_omega:
                held_omega = omega[sub]
            if within_layer == 0:
                held_capture = 1.0 if sc.thick == 0.0 else 0.0
            if held_capture == 0.0 or sc.oversample_thick:
                held_capture = capture[layer, within_layer]
        if passes[g] and (held_polar == 0.0 or sc.oversample_polar):
            held_polar = polar[g]
        held[:, g] = (held_omega, held_polar, held_capture)
    for i, name in enumerate(("omega", "polar", "capture")):
        terms[name] = np.repeat(held[i], per_group)
    if "running_factor" in record:
        factor = _numpy(record["running_factor"])[0]
        running = np.empty_like(contribution)
        total = float(_numpy(sc.I_bg))
        for k in range(contribution.shape[0]):
            total = (total + contribution[k]) * factor[k]
            running[k] = total
    else:
        running = float(_numpy(sc.I_bg)) + np.cumsum(contribution)
    terms["I"] = running
    final.update(I=float(_numpy(record["intensity"])[0]), background=np.nan,
                 omega=np.nan if sc.oversample_omega else held_omega,
                 polar=np.nan if sc.oversample_polar else held_polar,
                 capture=np.nan if sc.oversample_thick else held_capture)
