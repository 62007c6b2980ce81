"""trace_pixel on the torch engine (as ``nb_trace.c``): one pixel rendered by the
engine's own chunk renderer, which records its intermediate tensors, laid out as the C
engine's trace lays out its rows (layer, sub-pixel slow, fast, source, phi step, domain).

Every column is a tensor the renderer computed: with c_parity the factors are the
values the original's variables hold at each term (the renderer's held factors) and the
running sum is the renderer's own when the running-sum factors apply.  Only the
corrected running sum, which the vectorised renderer never forms term by term, is
summed here in the C engine's order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from nanobragg.engines.torch.corrected import render_corrected
from nanobragg.engines.torch.legacy import HeldFactors, render_legacy
from nanobragg.engines.torch.scene import Scene, make_scene
from nanobragg.engines.torch.vectors import Placement
from nanobragg.stages import PixelRecord, PixelState, RenderInputs

Rows = Callable[[Any, int], np.ndarray]


def _numpy(value: Any) -> np.ndarray:
    array: np.ndarray = value.detach().to(device="cpu", dtype=torch.float64).numpy()
    return array


def trace_pixel(inputs: RenderInputs, slow: int, fast: int, state: PixelState, *,
                at: Placement) -> PixelRecord:
    """Every term of one pixel, as columns, and the final scaling (see
    :func:`nanobragg.trace.trace_pixel`)."""
    sc = make_scene(inputs, at=at)
    record: dict[str, Any] = {}
    with torch.no_grad():
        fast_t = torch.tensor([fast], device=at.device)
        slow_t = torch.tensor([slow], device=at.device)
        # quirk phi_carryover, quirk interpolation_switch_off: the pixel starts from the
        # state the render's passes leave it in (unrotated entry, interpolation on or off)
        if sc.p.c_parity:
            render_legacy(sc, fast_t, slow_t, interpolate=state.interpolate and sc.interpolate,
                          entry=state.entry, record=record)
        else:
            render_corrected(sc, fast_t, slow_t, record=record)
    sp = record["subpixels"]
    layers, sub_s, sub_f = sp.omega.shape[1:]
    n_sources = sc.incident.shape[0]
    phisteps = int(inputs.params.phi_steps)
    domains = sc.axes["rotated"].shape[0] // phisteps
    shape = (layers, sub_s, sub_f, n_sources, phisteps * domains)

    def per_row(value: Any, kept_dims: int) -> np.ndarray:
        """A per-sub-pixel (3 dims), per-source (4) or per-term (5) array as rows."""
        array = _numpy(value)[0] if torch.is_tensor(value) else np.asarray(value)
        vector = array.shape[kept_dims:]
        full = array.reshape(array.shape[:kept_dims] + (1,) * (5 - kept_dims) + vector)
        return np.broadcast_to(full, shape + vector).reshape((-1, *vector)).copy()

    terms = _term_columns(sc, record, per_row, shape, (layers, sub_s, sub_f, n_sources,
                                                       phisteps, domains))
    passes = per_row(record["passes"], 4) != 0
    counted = passes & (terms["F_latt"] != 0)
    if sc.p.c_parity and sc.p.water_size_m != 0.0:
        counted = passes
    terms["F_cell"][~counted] = np.nan
    contribution = np.where(counted, per_row(record["terms"], 5), 0.0)
    final = {"scale": float(_numpy(sc.scale)), "steps": sc.steps,
             "value": float(_numpy(record["values"])[0])}
    # the running sums in the C engine's IEEE arithmetic: an infinite or NaN term carries
    # on into the sums, without a warning
    with np.errstate(all="ignore"):
        if sc.p.c_parity:
            _legacy_factors(sc, record, terms, contribution, final, per_row)
        else:
            _corrected_factors(record, terms, contribution, final, per_row, shape)
    return PixelRecord(terms=terms, final=final)


def _term_columns(sc: Scene, record: dict[str, Any], per_row: Rows, shape: tuple[int, ...],
                  loops: tuple[int, ...]) -> dict[str, np.ndarray]:
    """The loop indices, vectors, axes, Miller indices and both F of every term; NaN
    where a term did not evaluate them (its source beyond the dmin cut)."""
    sp = record["subpixels"]
    passes = per_row(record["passes"], 4) != 0
    index = np.indices(loops).reshape(6, -1)
    terms = {name: index[i].astype(np.int32) for i, name in enumerate(
        ("layer", "subS", "subF", "source", "phi_step", "domain"))}
    terms["position"] = per_row(sp.position, 3)
    terms["diffracted"] = per_row(sp.diffracted, 3)
    terms["scattering"] = per_row(record["scattering"], 4)
    axes = _numpy(record["axes"]).reshape(1, -1, 9)
    if "first" in record:
        # quirk phi_carryover: the pixel's first source to pass the cut starts unrotated
        first = per_row(record["first"], 4) != 0
        entry = _numpy(record["entry_axes"]).reshape(1, -1, 9)
        axes = np.where(first.reshape(-1, shape[-1])[..., None], entry, axes)
    terms["axes"] = np.broadcast_to(axes, (passes.size // shape[-1], shape[-1], 9)).reshape(
        -1, 3, 3).copy()
    terms["hkl"] = per_row(record["hkl"], 5)
    terms["hkl0"] = per_row(record["hkl0"], 5) + 0.0  # ceil gives -0.0; C's whole numbers do not
    terms["F_latt"] = per_row(record["F_latt"], 5)
    terms["F_cell"] = per_row(record["F_cell"], 5)
    for name in ("axes", "hkl", "hkl0", "F_latt"):
        terms[name][~passes] = np.nan
    return terms


def _corrected_factors(record: dict[str, Any], terms: dict[str, np.ndarray],
                       contribution: np.ndarray, final: dict[str, Any], per_row: Rows,
                       shape: tuple[int, ...]) -> None:
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


def _legacy_factors(sc: Scene, record: dict[str, Any], terms: dict[str, np.ndarray],
                    contribution: np.ndarray, final: dict[str, Any], per_row: Rows) -> None:
    """The factors the original holds at each term and its running sum, as the
    renderer computed them."""
    held: HeldFactors = record["held"]
    terms["omega"] = per_row(held.omega, 3)
    terms["polar"] = per_row(held.polar, 4)
    terms["capture"] = per_row(held.capture, 3)
    running = record["running"]
    if running is None:
        terms["I"] = float(_numpy(sc.water_background_per_sr)) + np.cumsum(contribution)
    else:
        terms["I"] = _numpy(running)[0]
    omega, capture, polar = (float(v[0]) for v in (_numpy(t) for t in held.at_end()))
    final.update(I=float(_numpy(record["intensity"])[0]), background=np.nan,
                 omega=np.nan if sc.p.oversample_omega else omega,
                 polar=np.nan if sc.p.oversample_polar else polar,
                 capture=np.nan if sc.p.oversample_thick else capture)
