"""``nanobragg.simulate`` and its parts: run the stages of a simulation on the engines of a route.

:func:`prepare` checks the configuration, reads its files and runs every stage before
the render, each on its route's engine, building each stage's spec from the Config and
the earlier stages' outputs; :func:`render` runs the render stage; :func:`simulate` does
both and returns a :class:`~nanobragg.result.Result`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np

from nanobragg.config import Config, as_float, is_tensor
from nanobragg.engines import Route
from nanobragg.field_classes import shown
from nanobragg.inputs import Inputs, load_inputs
from nanobragg.legacy_random import LegacyRandom
from nanobragg.result import Result
from nanobragg.sampling import Sampling, resolve_sampling
from nanobragg.seeds import legacy_seeds
from nanobragg.stages import (
    CrystalVectors,
    DetectorGeometry,
    MosaicRotations,
    RenderInputs,
    RenderOutput,
    Sources,
    to_numpy,
)
from nanobragg.stages.crystal import crystal_spec
from nanobragg.stages.geometry import detector_spec
from nanobragg.stages.mosaic import mosaic_spec
from nanobragg.stages.render import (
    DEFAULT_MAX_TERMS,
    Work,
    choose_oversample,
    fluence_per_m2,
    render_params,
    resolve_roi,
)
from nanobragg.stages.sources import source_count, source_spec, wavelength_m


@dataclass(frozen=True)
class Setup:
    """A prepared run: every stage's output before the render, and the render's inputs."""

    config: Config
    c_parity: bool
    route: Route
    inputs: Inputs
    sampling: Sampling
    noise_seed: int
    misset_seed: int
    mosaic_seed: int
    rng: LegacyRandom
    """The legacy generator as the set-up stages left it."""
    geometry: DetectorGeometry
    crystal: CrystalVectors
    sources: Sources
    mosaic: MosaicRotations
    render_inputs: RenderInputs
    work: Work
    max_terms: float
    """The limit the work was checked against."""

    @property
    def roi(self) -> tuple[int, int, int, int]:
        """xmin, xmax, ymin, ymax of the rendered pixels, bounds included."""
        p = self.render_inputs.params
        return (p.roi_xmin, p.roi_xmax, p.roi_ymin, p.roi_ymax)


def prepare(config: Config, backend: str = "c", c_parity: bool = False, *,
            stages: Mapping[str, str] | None = None, device: Any = None, dtype: Any = None,
            threads: int | None = None, memory_budget: int | None = None,
            compile: bool = False, max_terms: float = DEFAULT_MAX_TERMS) -> Setup:
    """Check the configuration, read its files and run every stage before the render.
    The options are :class:`~nanobragg.engines.Route`'s; a render of more than
    ``max_terms`` terms is refused (:class:`~nanobragg.stages.render.Work`)."""
    _check_max_terms(max_terms)
    route = Route(backend, stages, threads=threads, device=device, dtype=dtype,
                  memory_budget=memory_budget, compile=compile)
    config.validate()
    inputs = load_inputs(config, c_parity=c_parity)
    sampling = resolve_sampling(config, c_parity=c_parity)
    noise_seed, misset_seed, mosaic_seed = legacy_seeds(config, c_parity=c_parity)
    wavelength = wavelength_m(config)
    rng = LegacyRandom()

    table_rows = None if inputs.source_table is None else inputs.source_table.shape[0]

    geometry = route["detector_geometry"].detector_geometry(
        detector_spec(config, c_parity=c_parity))
    crystal = route["crystal_vectors"].crystal_vectors(
        crystal_spec(config, c_parity=c_parity, matrix=inputs.matrix, wavelength_m=wavelength,
                     misset_seed=misset_seed), rng)
    oversample = choose_oversample(config, crystal, geometry, c_parity=c_parity)
    roi = resolve_roi(config, geometry.fpixels, geometry.spixels)
    mask = _mask_array(inputs.mask, geometry)
    sources_spec = source_spec(sampling, geometry, wavelength_m=wavelength,
                               round_div=config.beam.round_div)
    # the sources are counted, and the work checked (the terms per pixel among it), before
    # the stage makes them: a grid of millions of sources would take gigabytes to make,
    # then be refused
    n_sources = table_rows or source_count(sources_spec)
    if n_sources == 0:
        _no_source(sampling)
    work = Work(pixels=_rendered_pixels(roi, mask, geometry), oversample=oversample,
                automatic_oversample=not config.sampling.oversample,
                layers=sampling.thickness.steps, sources=n_sources,
                phi_steps=sampling.phi.steps, domains=sampling.mosaic_domains)
    work.check(max_terms)
    sources = route["sources"].sources(sources_spec, inputs.source_table)
    mosaic = route["mosaic_rotations"].mosaic_rotations(
        mosaic_spec(config, sampling, seed=mosaic_seed), rng)
    grid = inputs.structure_factors
    params = render_params(config, c_parity=c_parity, geometry=geometry, crystal=crystal,
                           sampling=sampling, oversample=oversample, roi=roi,
                           fluence=fluence_per_m2(config),
                           has_grid=grid is not None and grid.count > 0)
    render_inputs = RenderInputs(params=params, sources=sources, mosaic=mosaic,
                                 structure_factors=grid, mask=mask)
    return Setup(config=config, c_parity=c_parity, route=route, inputs=inputs,
                 sampling=sampling, noise_seed=noise_seed, misset_seed=misset_seed,
                 mosaic_seed=mosaic_seed, rng=rng, geometry=geometry, crystal=crystal,
                 sources=sources, mosaic=mosaic, render_inputs=render_inputs, work=work,
                 max_terms=max_terms)


def render(setup: Setup, *, progress: Callable[[int, int], Any] | None = None) -> RenderOutput:
    """The render stage on its route's engine."""
    return setup.route["render"].render(setup.render_inputs, progress)


def simulate(config: Config, backend: str = "c", c_parity: bool = False, *,
             progress: Callable[[int, int], Any] | None = None, threads: int | None = None,
             device: Any = None, dtype: Any = None, memory_budget: int | None = None,
             compile: bool = False, stages: Mapping[str, str] | None = None,
             max_terms: float = DEFAULT_MAX_TERMS) -> Result:
    """Render a diffraction image.

    ``c_parity=True`` reproduces the original program's output, quirks included;
    ``c_parity=False`` gives the corrected physics.  ``progress(done, total)`` is
    called as rows finish; returning False cancels (as does Ctrl-C).

    backend "c": ``threads`` sets the thread count (default: all cores); images do
    not depend on it.  backend "torch": ``device`` (cpu, cuda, cuda:N) and ``dtype``
    (float32, float64) say where and how it computes, ``memory_budget`` the bytes of
    working tensors per chunk of pixels (default 1 GiB), ``compile=True`` runs the
    pixel loop through ``torch.compile`` (tens of seconds to start, then faster);
    config fields given as tensors with ``requires_grad`` keep their graph into
    ``Result.image_tensor``.  :func:`nanobragg.engines.available` lists the engines with
    their devices and dtypes.

    ``stages`` runs single stages on another engine than ``backend``, e.g.
    ``{"sources": "c", "render": "torch"}`` (see :mod:`nanobragg.stages`).

    A render of more than ``max_terms`` terms (pixels x sub-pixels x sensor layers x
    sources x phi steps x mosaic domains; default 1e11) is refused before it starts,
    with a message naming what makes it big.
    """
    setup = prepare(config, backend, c_parity, stages=stages, device=device, dtype=dtype,
                    threads=threads, memory_budget=memory_budget, compile=compile,
                    max_terms=max_terms)
    return run_prepared(setup, progress=progress)


def run_prepared(setup: Setup, *,
                 progress: Callable[[int, int], Any] | None = None) -> Result:
    """Render a prepared run (:func:`prepare`) into a :class:`~nanobragg.result.Result`:
    what :func:`simulate` does after preparing, for a caller that looks at the set-up
    (the geometry, the work) before it renders."""
    output = render(setup, progress=progress)
    image_tensor = output.image if is_tensor(output.image) else None
    image64 = np.asarray(to_numpy(output.image), dtype=np.float64)
    with np.errstate(over="ignore"):
        image = image64.astype(np.float32)
    bad = int(np.count_nonzero(~np.isfinite(image)))
    if bad:
        geometry = to_numpy(setup.geometry)
        wavelengths = to_numpy(setup.sources.wavelength_m)
        raise ValueError(
            f"the render gave {bad} non-finite pixel values: the geometry or beam is degenerate, "
            f"or a value overflowed (beyond the float32 of the image: {np.finfo(np.float32).max:g})"
            f" (distance {shown(as_float(geometry.distance_m))} m, "
            f"pixel {shown(geometry.pixel_size_m)} m, "
            f"wavelengths {shown(wavelengths.min())}..{shown(wavelengths.max())} m)")
    grid = setup.inputs.structure_factors
    params = setup.render_inputs.params
    return Result(
        image=image, image_float64=image64, config=setup.config,
        backend=setup.route.names["render"], c_parity=setup.c_parity,
        geometry=to_numpy(setup.geometry), crystal=to_numpy(setup.crystal),
        sources=to_numpy(setup.sources), mosaic_umats=to_numpy(setup.mosaic).umats,
        sampling=setup.sampling, oversample=params.oversample, steps=int(output.steps),
        roi=setup.roi, mask=setup.inputs.mask, omega_sum=float(output.omega_sum_sr),
        noise_seed=setup.noise_seed, rng=setup.rng, setup=setup,
        render_output=dataclasses.replace(output, image=image64), structure_factors=grid,
        image_tensor=image_tensor, stages=dict(setup.route.names),
        notes={"structure_factors": setup.inputs.structure_factor_origin,
               "hkls": 0 if grid is None else grid.count,
               "fluence": as_float(params.fluence_per_m2), "misset_seed": setup.misset_seed,
               "mosaic_seed": setup.mosaic_seed},
    )


def _check_max_terms(max_terms: Any) -> None:
    if (isinstance(max_terms, bool) or not isinstance(max_terms, (int, float))
            or not max_terms > 0):
        raise ValueError(f"max_terms: {max_terms!r} is not valid; expected a number of terms "
                         "> 0 (math.inf for no limit)")


def _no_source(sampling: Sampling) -> NoReturn:
    h, v = sampling.hdiv, sampling.vdiv
    raise ValueError(
        f"beam: the divergence grid of {h.steps} x {v.steps} points "
        f"({shown(h.range * 1e3)} x {shown(v.range * 1e3)} mrad) has no point inside its "
        "ellipse, so there is no source; widen or refine the grid (-hdivrange, -vdivrange, "
        "-divsteps) or keep all of it (-square_div)")


def _rendered_pixels(roi: tuple[int, int, int, int], mask: np.ndarray | None,
                     geometry: DetectorGeometry) -> int:
    """Pixels inside the ROI (bounds included, clipped to the detector) and not masked."""
    xmin, xmax, ymin, ymax = roi
    fast = slice(max(xmin, 0), min(xmax, geometry.fpixels - 1) + 1)
    slow = slice(max(ymin, 0), min(ymax, geometry.spixels - 1) + 1)
    if mask is None:
        return max(fast.stop - fast.start, 0) * max(slow.stop - slow.start, 0)
    return int(np.count_nonzero(mask[slow, fast]))


def _mask_array(mask: np.ndarray | None, geometry: DetectorGeometry) -> np.ndarray | None:
    if mask is None:
        return None
    expected = (geometry.spixels, geometry.fpixels)
    mask = np.asarray(mask)
    if mask.shape != expected:
        raise ValueError(f"detector.mask: shape {mask.shape} does not match the detector "
                         f"{expected} (slow, fast)")
    mask_uint8: np.ndarray = (mask != 0).astype(np.uint8)
    return mask_uint8
