"""render: the float image, pixels in chunks, every other loop of the original (sensor
layers, sub-pixels, sources, phi steps, mosaic domains) a tensor dimension (the pass
driver, as ``nb_render.c``).

The corrected mode renders every pixel with :func:`render_corrected`.  c_parity renders
with :func:`render_legacy`, then reproduces the two quirks that carry state from pixel
to pixel with extra passes, as the C engine does: the run's first pixel to rotate the
crystal again from the unrotated crystal (phi_carryover), and every pixel after the
first whose interpolation stencil left the grid again without interpolation
(interpolation_switch_off)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.checkpoint import checkpoint

from nanobragg.engines.base import Progress
from nanobragg.engines.torch.allocator import prepare_for_render
from nanobragg.engines.torch.corrected import render_corrected
from nanobragg.engines.torch.legacy import render_legacy
from nanobragg.engines.torch.scene import ChunkResult, Scene, make_scene
from nanobragg.engines.torch.vectors import Placement
from nanobragg.stages import RenderInputs, RenderOutput

DEFAULT_MEMORY_BUDGET = 1 << 30
"""Bytes of working tensors per chunk of pixels."""
CPU_CHUNK_BYTES = 128 << 20
"""On the CPU, smaller chunks are faster: more of each elementwise pass runs from the
cache (on a 2-core EPYC with a 32 MiB L3, B2 in float64 renders 1.5x faster than
with 1 GiB chunks, and about equally fast from 32 to 512 MiB)."""
_WORDS_PER_TERM = 40
_WORDS_PER_INTERPOLATED_TERM = 240


def _chunk_pixels(sc: Scene, budget: int, grad: bool) -> int:
    """Pixels per chunk: as many as the budget holds, at least one.  A pixel's terms are
    never split across chunks, so a single pixel that needs more memory than the device
    has free is refused before anything is allocated."""
    terms = (sc.p.thickness_steps * sc.p.oversample * sc.p.oversample * sc.incident.shape[0]
             * sc.axes["rotated"].shape[0])
    words = _WORDS_PER_INTERPOLATED_TERM if sc.interpolate else _WORDS_PER_TERM
    per_pixel = terms * words * sc.at.dtype.itemsize * (2 if grad else 1)
    free = _free_bytes(sc.at.device)
    if free is not None and per_pixel > free:
        raise ValueError(
            f"the torch engine needs {per_pixel / 2**30:.3g} GiB of working tensors for one "
            f"pixel ({terms} terms: {sc.p.oversample}^2 sub-pixels x {sc.p.thickness_steps} "
            f"layers x {sc.incident.shape[0]} sources x {sc.axes['rotated'].shape[0]} phi "
            f"steps and mosaic domains), more than the {free / 2**30:.3g} GiB free on "
            f"{sc.at.device}; use fewer sub-pixels (-oversample) or the C engine")
    if sc.at.device.type == "cpu":
        budget = min(budget, CPU_CHUNK_BYTES)
    return max(1, int(budget // per_pixel))


def _free_bytes(device: torch.device) -> int | None:
    """Memory free for tensors on the device (None where it cannot be told)."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


_COMPILED: dict[str, Callable[..., ChunkResult]] = {}


def _pixel_functions(compile_: bool) -> tuple[Callable[..., ChunkResult],
                                              Callable[..., ChunkResult]]:
    """The chunk renderers, eager or compiled by torch.compile (once per process)."""
    if not compile_:
        return render_corrected, render_legacy
    if not _COMPILED:
        _COMPILED["corrected"] = torch.compile(render_corrected, dynamic=True)
        _COMPILED["legacy"] = torch.compile(render_legacy, dynamic=True)
    return _COMPILED["corrected"], _COMPILED["legacy"]


class _Passes:
    """Renders selections of pixels in chunks, reporting progress as the C engine does."""

    def __init__(self, sc: Scene, progress: Progress | None, memory_budget: int,
                 compiled: bool):
        self.sc, self.progress = sc, progress
        self.grad = torch.is_grad_enabled() and _needs_grad(sc)
        self.chunk = _chunk_pixels(sc, memory_budget, self.grad)
        self.corrected, self.legacy = _pixel_functions(compiled)

    def run(self, selection: torch.Tensor, kind: str, first_pixel: int) -> ChunkResult:
        """Render the selected pixels; progress counts rows from first_pixel's row on,
        as the C engine counts each pass."""
        sc, at, grad = self.sc, self.sc.at, self.grad
        S, F = sc.p.spixels, sc.p.fpixels
        n = selection.shape[0]
        # Per-pixel results go into arrays allocated before the first chunk: small
        # tensors kept from every chunk would pin the heap between the chunks' large
        # temporaries, and glibc's allocator would then grow without bound.
        out = ChunkResult(torch.zeros(0 if grad else n, dtype=at.dtype, device=at.device),
                          torch.zeros(n, dtype=torch.bool, device=at.device),
                          torch.zeros(n, dtype=torch.bool, device=at.device),
                          torch.zeros(n, dtype=at.dtype, device=at.device))
        renderer = (self.corrected if kind == "corrected"
                    else functools.partial(self.legacy, interpolate=kind == "interpolate"))
        first_row = first_pixel // F
        parts = []
        for start in range(0, n, self.chunk):
            idx = selection[start:start + self.chunk]
            stop = start + idx.shape[0]
            s, f = idx // F, idx % F
            if grad:
                # keep only the chunk's inputs and outputs for the backward pass, which
                # renders the chunk again: memory stays bounded by the chunk size
                part = checkpoint(renderer, sc, f, s, use_reentrant=False)
                parts.append(part.values)
            else:
                part = renderer(sc, f, s)
                out.values[start:stop] = part.values
            out.executed[start:stop] = part.executed
            out.left_grid[start:stop] = part.left_grid
            out.omega_sum[start:stop] = part.omega_sum.detach()
            del part
            if self.progress is not None and stop < n:
                _report(self.progress, int(idx[-1]) // F + 1 - first_row, S - first_row)
        if self.progress is not None:
            _report(self.progress, S - first_row, S - first_row)
        if grad:
            out.values = torch.cat(parts) if parts else torch.zeros(0, dtype=at.dtype,
                                                                   device=at.device)
        return out


def render(inputs: RenderInputs, progress: Progress | None = None, *, at: Placement,
           memory_budget: int = DEFAULT_MEMORY_BUDGET, compiled: bool = False) -> RenderOutput:
    """The float image (spixels, fpixels) in photons per pixel, and render facts.
    compiled: run the chunk renderers through torch.compile (slow to start, then faster).
    Under autograd each chunk is checkpointed: the backward pass renders it again, so
    memory stays bounded by the chunk size plus one value per pixel."""
    sc = make_scene(inputs, at=at)
    S, F = sc.p.spixels, sc.p.fpixels
    image = torch.zeros(S * F, dtype=at.dtype, device=at.device)
    if S * F == 0:
        return RenderOutput(image.reshape(S, F), 0.0, sc.steps, False, -1, -1)
    pixels = _rendered_pixels(sc, inputs.mask)
    passes = _Passes(sc, progress, memory_budget, compiled)
    if at.device.type == "cpu":
        prepare_for_render(with_graph=passes.grad)
    first_executed = switch_pixel = -1
    if not sc.p.c_parity:
        result = passes.run(pixels, "corrected", 0)
        image = image.index_put((pixels,), result.values)
    else:
        result = passes.run(pixels, "interpolate" if sc.interpolate else "plain", 0)
        image = image.index_put((pixels,), result.values)
        image, first_executed, switch_pixel = _legacy_passes(sc, pixels, result, image, passes)
    return RenderOutput(image.reshape(S, F), float(result.omega_sum.detach().sum()), sc.steps,
                        switch_pixel >= 0, first_executed, switch_pixel)


def _rendered_pixels(sc: Scene, mask: Any) -> torch.Tensor:
    """Flat indices of the pixels inside the ROI and not masked, in image order."""
    at = sc.at
    slow, fast = torch.meshgrid(torch.arange(sc.p.spixels, device=at.device),
                                torch.arange(sc.p.fpixels, device=at.device), indexing="ij")
    p = sc.p
    xmin, xmax, ymin, ymax = p.roi_xmin, p.roi_xmax, p.roi_ymin, p.roi_ymax
    rendered = (fast >= xmin) & (fast <= xmax) & (slow >= ymin) & (slow <= ymax)
    if mask is not None:
        rendered &= torch.as_tensor(mask, device=at.device) != 0
    return torch.nonzero(rendered.reshape(-1))[:, 0]


def _report(progress: Progress, done: int, total: int) -> None:
    """A false answer (None excepted) cancels, as in the C engine."""
    answer = progress(done, total)
    if answer is not None and not answer:
        raise RuntimeError("render cancelled by the progress callback")


def _needs_grad(sc: Scene) -> bool:
    return any(t.requires_grad for t in (sc.pix0_m, sc.fdet, sc.scale, sc.wavelength_m,
                                         sc.axes["rotated"], sc.lattice.N, sc.distance_m))


def _first_index(flags: torch.Tensor, pixels: torch.Tensor, after: int = -1) -> int:
    selected = flags & (pixels > after)
    if not bool(selected.any()):
        return -1
    return int(pixels[torch.argmax(selected.to(torch.uint8))])


def _legacy_passes(sc: Scene, pixels: torch.Tensor, result: ChunkResult, image: torch.Tensor,
                   passes: _Passes) -> tuple[torch.Tensor, int, int]:
    """quirk phi_carryover and quirk interpolation_switch_off, as the C engine applies
    them.  Returns the image, the pixel that started from the unrotated crystal and the
    last pixel rendered with interpolation (-1 for none)."""
    first_executed = _first_index(result.executed, pixels)
    switch_pixel = _first_index(result.left_grid, pixels) if sc.interpolate else -1
    F = sc.p.fpixels
    if first_executed >= 0:
        interpolating = sc.interpolate and (switch_pixel < 0 or switch_pixel >= first_executed)
        one = torch.tensor([first_executed], device=pixels.device)
        entry = render_legacy(sc, one % F, one // F, interpolate=interpolating, entry=True)
        image = image.index_put((one,), entry.values)
        if sc.interpolate and switch_pixel == first_executed and not bool(entry.left_grid[0]):
            switch_pixel = _first_index(result.left_grid, pixels, first_executed)
        if interpolating and bool(entry.left_grid[0]):
            switch_pixel = first_executed
    if switch_pixel < 0:
        return image, first_executed, switch_pixel
    later = pixels[pixels > switch_pixel]
    if later.numel():
        image = image.index_put((later,), passes.run(later, "plain", switch_pixel + 1).values)
    return image, first_executed, switch_pixel
