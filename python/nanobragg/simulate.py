"""``nanobragg.simulate``: run the stages of a simulation on a chosen engine."""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from nanobragg.config import Config, as_float, as_floats, is_tensor
from nanobragg.engines.c import SHAPE_CODES
from nanobragg.inputs import Inputs, load_inputs
from nanobragg.result import Result
from nanobragg.sampling import RTD, Sampling, resolve_sampling
from nanobragg.stages import for_stage, resolve_stages, to_numpy
from nanobragg.validation import check_total_steps

R_E_SQR = 7.94079248018965e-30
"""Thomson cross section of the electron (m^2)."""
AVOGADRO = 6.02214179e23
WATER_F = 2.57
WATER_MW = 18.0
MAX_THREADS = 4096
"""Most OpenMP threads a C render is given."""


def wavelength_m(config: Config) -> float:
    return as_float(config.beam.wavelength_A) / 1.0e10


def _scaled(value: Any, plain: float, divisor: float) -> Any:
    """value / divisor when value is a tensor (keeping its graph), else plain (which
    the caller computes the same way, so both paths give the same numbers)."""
    return value / divisor if is_tensor(value) else plain


def fluence(config: Config) -> Any:
    """Photons per m^2: from flux * exposure / beamsize^2 when a flux is given.
    A fluence given as a tensor is returned as it is (the torch engine keeps its graph)."""
    beam = config.beam
    beamsize = float(beam.beamsize_mm) / 1000
    if beam.flux != 0.0 and beam.exposure_s > 0.0 and beamsize >= 0:
        return beam.flux * beam.exposure_s / beamsize / beamsize
    return beam.fluence if is_tensor(beam.fluence) else float(beam.fluence)


def clipped_sample_size(config: Config) -> tuple[float, float, float]:
    """Crystal size (mm) with its y and z clipped to the beam size, as the original does."""
    x, y, z = (float(v) for v in config.crystal.size_mm)
    beamsize = float(config.beam.beamsize_mm)
    if beamsize >= 0:
        y = beamsize if beamsize < y else y
        z = beamsize if beamsize < z else z
    return (x, y, z)


def water_background(config: Config, fluence_value: float) -> float:
    """Photons per steradian scattered by the water around the crystal."""
    size = float(config.beam.water_um) / 1e6
    return (WATER_F * WATER_F * R_E_SQR * fluence_value * size * size * size * 1e6 * AVOGADRO
            / WATER_MW)


def interpolation_wanted(config: Config, has_grid: bool) -> bool:
    """Tricubic interpolation: on when asked, or automatically for crystals 2 cells thin or less."""
    if not has_grid:
        return False
    choice = config.structure_factors.interpolate
    if choice is not None:
        return bool(choice)
    return any(n <= 2 for n in as_floats(config.crystal.N_cells, 3))


def choose_oversample(config: Config, crystal: dict[str, Any], geometry: dict[str, Any], *,
                      c_parity: bool = True) -> int:
    """The requested oversampling, or the original's choice: enough sub-pixels that
    the crystal's reciprocal-space spot spans three of them.  The corrected mode
    ignores rounding noise of the cell vectors (3.0000000000000004 is 3, not 4)."""
    requested = config.sampling.oversample
    if requested is not None and requested > 0:
        return int(requested)
    size_max = max(as_floats(crystal["size"], 3))
    reciprocal_pixel = (wavelength_m(config) * as_float(geometry["distance"])
                        / geometry["pixel_size"])
    recommended = 3.0 * size_max / reciprocal_pixel if reciprocal_pixel != 0 else math.inf
    if not math.isfinite(recommended):
        raise ValueError(
            "sampling.oversample: cannot be chosen automatically for this geometry "
            f"(wavelength x distance / pixel size = {reciprocal_pixel!r} m); set it explicitly")
    if not c_parity:
        recommended -= 1e-9 * recommended
    return max(math.ceil(recommended), 1)


def legacy_seeds(config: Config, *, c_parity: bool = True,
                 clock: int | None = None) -> tuple[int, int, int]:
    """(noise, misset, mosaic) seeds as the original holds them internally (negated).

    An unset noise seed comes from the clock (``clock``: seconds, default now).  An
    unset misset seed is the clock reading too in the original, even when a noise seed
    is given (``misset_seed_ignores_seed``); corrected, it follows the noise seed.
    """
    reading = -int(time.time() if clock is None else clock)
    out = config.output
    noise = -int(out.seed) if out.seed is not None else reading
    unset_misset = reading if c_parity else noise
    misset = (-int(config.crystal.misset_seed) if config.crystal.misset_seed is not None
              else unset_misset)
    return noise, misset, -int(config.crystal.mosaic_seed)


def with_clock_seeds(config: Config, *, c_parity: bool, clock: int | None = None) -> Config:
    """The config with the seeds that would come from the clock written in, so that
    every run of it (the image, a trace of one of its pixels, another engine) draws the
    same random misset and noise."""
    noise, misset, _ = legacy_seeds(config, c_parity=c_parity, clock=clock)
    return config.replace(output=dataclasses.replace(config.output, seed=-noise),
                          crystal=dataclasses.replace(config.crystal, misset_seed=-misset))


def resolve_roi(config: Config, fpixels: int, spixels: int) -> tuple[int, int, int, int]:
    roi = config.sampling.roi
    xmin, xmax, ymin, ymax = (-1, -1, -1, -1) if roi is None else (int(v) for v in roi)
    return (0 if xmin < 0 else xmin, fpixels if xmax < 0 else xmax,
            0 if ymin < 0 else ymin, spixels if ymax < 0 else ymax)


def render_params(config: Config, *, c_parity: bool, geometry: dict, crystal: dict,
                  sampling: Sampling, inputs: Inputs, oversample: int,
                  roi: tuple[int, int, int, int], fluence_value: float) -> dict[str, Any]:
    det, beam, sf = config.detector, config.beam, config.structure_factors
    grid = inputs.structure_factors
    params: dict[str, Any] = {
        "c_parity": int(c_parity),
        "fpixels": geometry["fpixels"],
        "spixels": geometry["spixels"],
        "pixel_size": geometry["pixel_size"],
        "oversample": oversample,
        "oversample_thick": int(config.sampling.oversample_thick),
        "oversample_polar": int(config.sampling.oversample_polar),
        "oversample_omega": int(config.sampling.oversample_omega),
        "fdet": list(geometry["fdet"]),
        "sdet": list(geometry["sdet"]),
        "odet": list(geometry["odet"]),
        "pix0": list(geometry["pix0"]),
        "beam": list(geometry["beam"]),
        "polar_vector": list(geometry["polar"]),
        "spindle": list(geometry["spindle"]),
        "distance": geometry["distance"],
        "close_distance": geometry["close_distance"],
        "curved_detector": int(det.curved),
        "point_pixel": int(det.point_pixel),
        "nopolar": int(beam.nopolar),
        "polarization": float(beam.polarization),
        "thicksteps": sampling.thickness.steps,
        "thickstep": sampling.thickness.step,
        "thick": sampling.thickness.range,
        "mu": sampling.detector_mu,
        "roi_xmin": roi[0],
        "roi_xmax": roi[1],
        "roi_ymin": roi[2],
        "roi_ymax": roi[3],
        "phisteps": sampling.phi.steps,
        "phi0": _scaled(config.crystal.phi_deg, sampling.phi0, RTD),
        "phistep": sampling.phi.step,
        "mosaic_spread": sampling.mosaic_spread,
        "a0": list(crystal["a"]),
        "b0": list(crystal["b"]),
        "c0": list(crystal["c"]),
        "a_star": list(crystal["a_star"]),
        "b_star": list(crystal["b_star"]),
        "c_star": list(crystal["c_star"]),
        "Na": crystal["N"][0],
        "Nb": crystal["N"][1],
        "Nc": crystal["N"][2],
        "shape": SHAPE_CODES[config.crystal.shape],
        "fudge": float(config.crystal.fudge),
        "default_F": float(sf.default_F),
        "interpolate": int(interpolation_wanted(config, grid is not None and grid.count > 0)),
        "dmin": float(sf.dmin_A) * 1e-10,
        "r_e_sqr": R_E_SQR,
        "fluence": fluence_value,
        "I_bg": water_background(config, fluence_value),
        "water_size": float(beam.water_um) / 1e6,
    }
    if grid is not None:
        params.update(h_min=grid.hkl_min[0], k_min=grid.hkl_min[1], l_min=grid.hkl_min[2],
                      hkls=grid.count)
    return params


@dataclass
class Setup:
    """Everything the render stage takes, from the stages before it."""

    route: dict[str, str]
    at: Any
    """The torch engine's placement for the render (None when no stage runs on torch)."""
    inputs: Inputs
    sampling: Sampling
    noise_seed: int
    misset_seed: int
    mosaic_seed: int
    rng: Any
    geometry: dict[str, Any]
    crystal: dict[str, Any]
    sources: dict[str, Any]
    umats: Any
    oversample: int
    roi: tuple[int, int, int, int]
    fluence: Any
    params: dict[str, Any]
    mask: np.ndarray | None

    @property
    def Fhkl(self) -> np.ndarray | None:
        grid = self.inputs.structure_factors
        return None if grid is None else grid.values

    def render_inputs(self) -> tuple[Any, ...]:
        """Parameters, sources, mosaic rotations, F grid and mask, in the form the
        engine of the render takes them."""
        engine, at = self.route["render"], self.at
        return (for_stage(self.params, engine, at), for_stage(self.sources, engine, at),
                for_stage(self.umats, engine, at), self.Fhkl, self.mask)


def prepare(config: Config, backend: str = "c", c_parity: bool = False, *,
            stages: Mapping[str, str] | None = None, device: Any = None,
            dtype: Any = None) -> Setup:
    """Check the configuration, read its files and run every stage before the render."""
    route = resolve_stages(backend, stages)
    if route["render"] != "torch" and dtype is not None and str(dtype) not in (
            "float64", "torch.float64"):
        raise ValueError(f"dtype: {dtype!r} applies to a torch render only; the C engine and "
                         "the set-up stages compute in float64")
    if "torch" not in route.values() and device is not None and str(device) != "cpu":
        raise ValueError(f"device: {device!r} applies to the torch engine only; the C engine "
                         "computes on the CPU")
    config.validate()
    from nanobragg.engines import c as c_engine

    engines: dict[str, Any] = {"c": c_engine}
    at = at64 = None
    if "torch" in route.values():
        from nanobragg.engines import torch as torch_engine

        engines["torch"] = torch_engine
        at = torch_engine.placement(device, dtype)
        # the set-up stages are cheap and decide whole numbers (N from the crystal size,
        # sub-pixel counts): they run in float64 whatever dtype the render uses
        at64 = torch_engine.Placement(at.device, torch_engine.FLOAT64)

    def stage(name: str) -> Callable[..., Any]:
        function = getattr(engines[route[name]], name)
        if route[name] == "torch":
            return functools.partial(function, at=at64)
        return function

    def seam(value: Any, name: str) -> Any:
        return for_stage(value, route[name], at64)

    inputs = load_inputs(config, c_parity=c_parity)
    sampling = resolve_sampling(config, c_parity=c_parity)
    noise_seed, misset_seed, mosaic_seed = legacy_seeds(config, c_parity=c_parity)
    lambda0 = _scaled(config.beam.wavelength_A, wavelength_m(config), 1e10)
    rng = c_engine.LegacyRandom()

    table_rows = None if inputs.source_table is None else inputs.source_table.shape[0]
    sources_bound = table_rows or (sampling.hdiv.steps * sampling.vdiv.steps
                                   * sampling.dispersion.steps)
    check_total_steps(sources_bound, sampling.mosaic_domains, sampling.phi.steps, 1,
                      sampling.thickness.steps)

    geometry = stage("detector_geometry")(config, c_parity=c_parity)
    clipped = clipped_sample_size(config)
    crystal = stage("crystal_vectors")(
        config.replace(crystal=_with_size(config, clipped)), rng, c_parity=c_parity,
        lambda0=seam(lambda0, "crystal_vectors"), matrix=inputs.matrix, misset_seed=misset_seed)
    sources = stage("sources")(sampling, seam(geometry, "sources"),
                               lambda0=seam(lambda0, "sources"), round_div=config.beam.round_div,
                               table=inputs.source_table)
    mosaic: dict[str, Any] = {"seed": mosaic_seed, "rng": rng}
    if route["mosaic_rotations"] == "torch":
        mosaic["spread"] = _scaled(config.crystal.mosaic_spread_deg, sampling.mosaic_spread, RTD)
    umats = stage("mosaic_rotations")(sampling, **mosaic)
    oversample = choose_oversample(config, crystal, geometry, c_parity=c_parity)
    check_total_steps(len(sources["wavelength"]), sampling.mosaic_domains, sampling.phi.steps,
                      oversample, sampling.thickness.steps)
    roi = resolve_roi(config, geometry["fpixels"], geometry["spixels"])
    fluence_value = fluence(config)
    params = render_params(config, c_parity=c_parity, geometry=geometry, crystal=crystal,
                           sampling=sampling, inputs=inputs, oversample=oversample, roi=roi,
                           fluence_value=fluence_value)
    return Setup(route=route, at=at, inputs=inputs, sampling=sampling, noise_seed=noise_seed,
                 misset_seed=misset_seed, mosaic_seed=mosaic_seed, rng=rng, geometry=geometry,
                 crystal=crystal, sources=sources, umats=umats, oversample=oversample, roi=roi,
                 fluence=fluence_value, params=params, mask=_mask_array(inputs.mask, geometry))


def simulate(config: Config, backend: str = "c", c_parity: bool = False, *,
             progress: Callable[[int, int], Any] | None = None, threads: int | None = None,
             device: Any = None, dtype: Any = None, memory_budget: int | None = None,
             compile: bool = False, stages: Mapping[str, str] | None = None) -> Result:
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
    ``Result.image_tensor``.

    ``stages`` runs single stages on another engine than ``backend``, e.g.
    ``{"sources": "c", "render": "torch"}`` (see :mod:`nanobragg.stages`).
    """
    _check_options(resolve_stages(backend, stages), threads=threads,
                   memory_budget=memory_budget, compile=compile)
    setup = prepare(config, backend, c_parity, stages=stages, device=device, dtype=dtype)
    image64, image_tensor, info = render(setup, progress=progress, threads=threads,
                                         memory_budget=memory_budget, compile=compile)
    with np.errstate(over="ignore"):
        image = image64.astype(np.float32)

    geometry, sources = setup.geometry, setup.sources
    bad = int(np.count_nonzero(~np.isfinite(image)))
    if bad:
        wavelengths = to_numpy(sources["wavelength"])
        raise ValueError(
            f"the render gave {bad} non-finite pixel values: the geometry or beam is degenerate, "
            f"or a value overflowed (beyond the float32 of the image: {np.finfo(np.float32).max:g})"
            f" (distance {as_float(geometry['distance'])!r} m, pixel {geometry['pixel_size']!r} m, "
            f"wavelengths {wavelengths.min()!r}..{wavelengths.max()!r} m)")
    grid = setup.inputs.structure_factors
    return Result(
        image=image, image_float64=image64, config=config, backend=setup.route["render"],
        c_parity=c_parity, geometry=to_numpy(geometry), crystal=to_numpy(setup.crystal),
        sources=to_numpy(sources), mosaic_umats=to_numpy(setup.umats), sampling=setup.sampling,
        oversample=setup.oversample, steps=int(info["steps"]), roi=setup.roi,
        mask=setup.inputs.mask, omega_sum=float(info["omega_sum"]), noise_seed=setup.noise_seed,
        structure_factors=grid, rng=setup.rng, image_tensor=image_tensor, stages=setup.route,
        setup=setup,
        notes={"interpolation_switched_off": info["interpolation_switched_off"],
               "first_executed": int(info["first_executed"]),
               "switch_pixel": int(info["switch_pixel"]),
               "structure_factors": setup.inputs.structure_factor_origin,
               "hkls": 0 if grid is None else grid.count,
               "fluence": as_float(setup.fluence), "misset_seed": setup.misset_seed,
               "mosaic_seed": setup.mosaic_seed},
    )


def render(setup: Setup, *, progress: Callable[[int, int], Any] | None = None,
           threads: int | None = None, memory_budget: int | None = None,
           compile: bool = False) -> tuple[np.ndarray, Any, dict[str, Any]]:
    """The render stage on its engine: the float64 image, the torch engine's image
    tensor (None from the C engine) and the render facts."""
    inputs = setup.render_inputs()
    if setup.route["render"] == "c":
        from nanobragg.engines import c as c_engine

        inputs[0]["threads"] = int(threads or 0)
        image64, info = c_engine.render(*inputs, progress)
        return image64, None, info
    from nanobragg.engines import torch as torch_engine

    image_tensor, info = torch_engine.render(
        *inputs, progress,
        memory_budget=int(memory_budget or torch_engine.DEFAULT_MEMORY_BUDGET),
        at=setup.at, compiled=bool(compile))
    return image_tensor.detach().cpu().numpy().astype(np.float64), image_tensor, info


def _check_options(route: dict[str, str], *, threads: Any, memory_budget: Any,
                   compile: bool) -> None:
    """Options that only one engine takes are refused when no stage runs on it."""
    if threads is not None and (isinstance(threads, bool)
                                or not isinstance(threads, numbers.Integral)
                                or not 1 <= threads <= MAX_THREADS):
        raise ValueError(f"threads: {threads!r} is not valid; expected a whole number from 1 "
                         f"to {MAX_THREADS}")
    if memory_budget is not None and (isinstance(memory_budget, bool)
                                      or not isinstance(memory_budget, numbers.Integral)
                                      or memory_budget < 1):
        raise ValueError(f"memory_budget: {memory_budget!r} is not valid; expected a whole "
                         "number of bytes >= 1")
    if route["render"] == "c" and (memory_budget is not None or compile):
        raise ValueError("memory_budget and compile apply to a torch render only")
    if route["render"] == "torch" and threads is not None:
        raise ValueError("threads applies to a C render only; use torch.set_num_threads")


def _with_size(config: Config, size_mm: tuple[float, float, float]):
    return dataclasses.replace(config.crystal, size_mm=size_mm)


def _mask_array(mask: np.ndarray | None, geometry: dict) -> np.ndarray | None:
    if mask is None:
        return None
    expected = (geometry["spixels"], geometry["fpixels"])
    mask = np.asarray(mask)
    if mask.shape != expected:
        raise ValueError(f"detector.mask: shape {mask.shape} does not match the detector "
                         f"{expected} (slow, fast)")
    return (mask != 0).astype(np.uint8)
