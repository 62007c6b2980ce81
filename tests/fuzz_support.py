"""What the fuzz tests (test_fuzz.py) share: the folder of input files a run may name,
boundary values, a time limit for work done in process, and a child process that runs
a batch of cases, so that a crash of the interpreter (a signal in the C engine) or a
hang fails the case it was running instead of taking pytest down.

The child (``python -c CHILD``) imports this module, reads ``(task, cases)`` pickled on
its stdin and calls ``TASKS[task](case)`` for each case, printing ``start i`` before and
a JSON outcome after (:func:`outcome`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import pickle
import signal
import subprocess
import sys
import traceback
import types
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

import nanobragg as nb
from nanobragg import io as nbio
from nanobragg.errors import ConventionWarning, ParityWarning
from nanobragg.inputs import FdumpReuseWarning

TESTS = Path(__file__).resolve().parent

HUGE_INTS = [2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1, 2 ** 63, 10 ** 30, -1, 0]
"""Whole numbers at and beyond the C int and long ranges."""
BOUNDARY_FLOATS = [0.0, -0.0, -1.0, 1e-320, -1e-320, 1e-300, 1e300, -1e300, math.inf, -math.inf,
                   math.nan]
PACKAGE_WARNINGS = (nbio.HKLWarning, FdumpReuseWarning, ParityWarning, ConventionWarning)
"""The package's own warnings: documented outcomes of odd input (any other warning, a
numpy RuntimeWarning say, is a finding)."""


class NoNumber:
    """An object that is no number, no sequence and no array."""

    def __repr__(self) -> str:
        return "NoNumber()"


def make_inputs(folder: Path) -> None:
    """The files a fuzzed run may name: one valid file of each kind, and a folder."""
    (folder / "adir").mkdir()
    (folder / "ok.hkl").write_text("0 0 0 10\n1 0 0 5\n0 1 0 3\n-1 -1 -1 2\n")
    (folder / "ok.mat").write_text("0.025 0 0\n0 0.025 0\n0 0 0.025\n")
    (folder / "sources.txt").write_text("-10 0 0 1 1e-10\n-10 0.1 0 1 1.1e-10\n")
    (folder / "ok.stol").write_text("0 2.57\n0.5 1.0\n")
    header = [("SIZE1", "4"), ("SIZE2", "4"), ("PIXEL_SIZE", "0.1"), ("DISTANCE", "50"),
              ("WAVELENGTH", "1")]
    nbio.write_smv(folder / "ok.img", np.ones((4, 4), np.uint16), header)
    grid = nbio.StructureFactors((-1, -1, -1), (1, 1, 1), np.full((3, 3, 3), 7.0), 27)
    nbio.write_fdump(folder / "ok.Fdump", grid)


PATHS = ["ok.hkl", "ok.mat", "sources.txt", "ok.stol", "ok.img", "ok.Fdump", "missing.file",
         "adir", "nodir/x.bin", ""]
"""File names a draw may give: the files of make_inputs, a missing one, a folder, a file
in a missing folder, nothing."""


def listing(folder: Path) -> list[str]:
    """Every name under ``folder``, hidden ones (temporaries) included."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


class Hang(BaseException):
    """Raised in the main thread when work done in process runs past its time limit (a
    BaseException, so that no ``except Exception`` of the code under test takes it)."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def hang(signum: int, frame: object) -> None:
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def package_warnings_ignored() -> Iterator[None]:
    """Every other warning stays an error (as pytest's configuration makes it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for category in PACKAGE_WARNINGS:
            warnings.simplefilter("ignore", category)
        yield


# ---- the configs of the random-config fuzz ----------------------------------------------

def small_config() -> nb.Config:
    """4 x 4 pixels, one term each: what every drawn config starts from."""
    config = nb.Config()
    config.crystal.cell = (40.0, 40.0, 40.0, 90.0, 90.0, 90.0)
    config.crystal.N_cells = (3.0, 3.0, 3.0)
    config.crystal.misset_seed = 5
    config.structure_factors.default_F = 100.0
    config.detector.fpixels = config.detector.spixels = 4
    config.detector.distance_mm = 40.0
    config.detector.pixel_size_mm = 0.5
    config.sampling.oversample = 1
    config.output.seed = 1
    return config


def with_changes(changes: dict[str, Any]) -> nb.Config:
    config = small_config()
    for name, value in changes.items():
        group, field = name.split(".")
        setattr(getattr(config, group), field, value)
    return config


def simulate_case(case: tuple[str, bool, dict[str, Any]]) -> str:
    """One config on one engine and mode: "finite" or "not finite" (an exception raised
    is the case's outcome)."""
    engine, c_parity, changes = case
    with package_warnings_ignored():
        result = nb.simulate(with_changes(changes), backend=engine, c_parity=c_parity,
                             max_terms=1e6)
    return "finite" if np.isfinite(result.image).all() else "not finite"


# ---- the stage data of the stage fuzz ---------------------------------------------------

def stage_config() -> nb.Config:
    """A small scene that runs every loop of the render: 2 x 2 x 2 sources, mosaic domains,
    phi steps, sensor layers, sub-pixels, an interpolated grid and a mask."""
    config = small_config()
    config.crystal.N_cells = (2.0, 2.0, 2.0)
    config.crystal.mosaic_spread_deg, config.crystal.mosaic_domains = 0.5, 2
    config.crystal.phi_steps, config.crystal.osc_deg = 2, 0.5
    config.beam.hdiv_range_mrad, config.beam.hdiv_steps = 1.0, 2
    config.beam.vdiv_range_mrad, config.beam.vdiv_steps = 1.0, 2
    config.beam.dispersion_pct, config.beam.dispersion_steps = 1.0, 2
    config.beam.round_div = False
    config.detector.thickness_um, config.detector.thickness_steps = 10.0, 2
    config.detector.mask = np.ones((4, 4), np.uint8)
    config.structure_factors.structure_factors = nbio.StructureFactors(
        (-2, -2, -2), (2, 2, 2), np.full((5, 5, 5), 7.0), 125)
    config.sampling.oversample = 2
    return config


_STAGE_DATA: dict[bool, dict[str, Any]] = {}

STAGE_INPUTS = {
    "detector_geometry": ("detector_spec",),
    "crystal_vectors": ("crystal_spec", "rng"),
    "sources": ("source_spec", "table"),
    "mosaic_rotations": ("mosaic_spec", "rng"),
    "render": ("params", "sources", "mosaic", "structure_factors", "mask", "render_inputs"),
    "trace_pixel": ("params", "sources", "mosaic", "structure_factors", "mask",
                    "render_inputs", "pixel", "state"),
    "add_noise": ("image", "noise_spec", "rng"),
    "detector_response": ("image", "response_spec", "rng"),
}
"""What each stage method reads, by the names of stage_data; "render_inputs" is the
container of the five before it."""
RENDER_PARTS = ("params", "sources", "mosaic", "structure_factors", "mask")


def stage_data(c_parity: bool) -> dict[str, Any]:
    """The stage inputs of stage_config by name, as the set-up gives them to the stages,
    and a fresh legacy generator."""
    from nanobragg.legacy_random import LegacyRandom

    if c_parity not in _STAGE_DATA:
        from nanobragg.response import ResponseConfig, response_spec
        from nanobragg.simulation import prepare
        from nanobragg.stages import NoiseSpec, PixelState
        from nanobragg.stages.crystal import crystal_spec
        from nanobragg.stages.geometry import detector_spec
        from nanobragg.stages.mosaic import mosaic_spec
        from nanobragg.stages.sources import source_spec, wavelength_m

        config = stage_config()
        setup = prepare(config, "c", c_parity)
        wavelength = wavelength_m(config)
        inputs = setup.render_inputs
        _STAGE_DATA[c_parity] = {
            "detector_spec": detector_spec(config, c_parity=c_parity),
            "crystal_spec": crystal_spec(config, c_parity=c_parity, matrix=None,
                                         wavelength_m=wavelength,
                                         misset_seed=setup.misset_seed),
            "source_spec": source_spec(setup.sampling, setup.geometry,
                                       wavelength_m=wavelength, round_div=False),
            "table": None,
            "mosaic_spec": mosaic_spec(config, setup.sampling, seed=setup.mosaic_seed),
            **{name: getattr(inputs, name) for name in RENDER_PARTS},
            "pixel": (1, 2),
            "state": PixelState(entry=True, interpolate=True),
            "noise_spec": NoiseSpec(c_parity=c_parity, roi_xmin=0, roi_xmax=3, roi_ymin=0,
                                    roi_ymax=3, adc_offset=40.0, seed=-3),
            "image": np.ones((4, 4)),
            "response_spec": response_spec(ResponseConfig(psf="gauss", readout_adu=2.0,
                                                          flicker=0.01),
                                           c_parity=c_parity, seed=-3),
        }
    return {**_STAGE_DATA[c_parity], "rng": LegacyRandom()}


def _changed(obj: Any, field: str, value: Any) -> Any:
    """``obj`` with one field replaced, or (``field`` "-name") without it.  A look-alike
    object (a SimpleNamespace) stands in where the dataclass itself refuses the value
    (StructureFactors checks its own) or where the field is missing."""
    values = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if field.startswith("-"):
        del values[field[1:]]
        return types.SimpleNamespace(**values)
    values[field] = value
    try:
        return dataclasses.replace(obj, **{field: value})
    except (TypeError, ValueError):
        return types.SimpleNamespace(**values)


def stage_case(case: tuple[str, bool, str, str, str | None, Any]) -> str:
    """One stage method called with one input changed: ``field`` None replaces the whole
    input ``target`` by ``value``."""
    from nanobragg.engines import create
    from nanobragg.stages import RenderInputs

    engine_name, c_parity, stage, target, field, value = case
    data = stage_data(c_parity)
    render_inputs: Any = RenderInputs(**{name: data[name] for name in RENDER_PARTS})
    if target == "render_inputs":
        render_inputs = value if field is None else _changed(render_inputs, field, value)
    elif field is None:
        data[target] = value
    else:
        data[target] = _changed(data[target], field, value)
    if target in RENDER_PARTS:
        render_inputs = RenderInputs(**{name: data[name] for name in RENDER_PARTS})
    engine = create(engine_name)
    with package_warnings_ignored():
        if stage == "detector_geometry":
            engine.detector_geometry(data["detector_spec"])
        elif stage == "crystal_vectors":
            engine.crystal_vectors(data["crystal_spec"], data["rng"])
        elif stage == "sources":
            engine.sources(data["source_spec"], data["table"])
        elif stage == "mosaic_rotations":
            engine.mosaic_rotations(data["mosaic_spec"], data["rng"])
        elif stage == "render":
            engine.render(render_inputs)
        elif stage == "trace_pixel":
            slow, fast = data["pixel"]
            engine.trace_pixel(render_inputs, slow, fast, data["state"])
        elif stage == "detector_response":
            engine.detector_response(data["image"], data["response_spec"], data["rng"])
        else:
            engine.add_noise(data["image"], data["noise_spec"], data["rng"])
    return "returned"


# ---- the child process -------------------------------------------------------------------

TASKS: dict[str, Callable[[Any], str]] = {"simulate": simulate_case, "stage": stage_case}

CHILD = f"""
import sys
sys.path.insert(0, {str(TESTS)!r})
import fuzz_support
fuzz_support.child()
"""


def outcome(task: str, case: Any) -> list[Any]:
    """``["ok", detail]``, or ``["raised", [the exception's class and its bases], message,
    traceback]``."""
    try:
        return ["ok", TASKS[task](case)]
    except Exception as error:  # noqa: BLE001 -- every exception is an outcome to judge
        return ["raised", [cls.__name__ for cls in type(error).__mro__], str(error),
                traceback.format_exc()]


def child() -> None:
    task, cases = pickle.load(sys.stdin.buffer)
    for i, case in enumerate(cases):
        print(f"start {i}", flush=True)
        print(json.dumps(outcome(task, case)), flush=True)


@dataclasses.dataclass
class ChildRun:
    outcomes: list[list[Any]]
    """One per case run to the end."""
    failure: str | None
    """How the child ended when it did not finish every case (a signal, a hang, an
    error), with the case it was running."""


def run_in_child(task: str, cases: list[Any], *, cwd: Path, timeout: float) -> ChildRun:
    """Every case in one child process, in order."""
    env = {**os.environ, "PYTHONFAULTHANDLER": "1"}
    try:
        done = subprocess.run([sys.executable, "-c", CHILD], input=pickle.dumps((task, cases)),
                              capture_output=True, cwd=cwd, env=env, timeout=timeout)
        stdout, stderr, ending = done.stdout, done.stderr, f"exit status {done.returncode}"
        finished = done.returncode == 0
    except subprocess.TimeoutExpired as expired:
        stdout, stderr = expired.stdout or b"", expired.stderr or b""
        ending, finished = f"still running after {timeout} s", False
    outcomes = [json.loads(line) for line in stdout.decode().splitlines()
                if not line.startswith("start ")]
    failure = None
    if not finished or len(outcomes) != len(cases):
        running = cases[len(outcomes)] if len(outcomes) < len(cases) else None
        failure = (f"the child ended ({ending}) while running {running!r}:\n"
                   f"{stderr.decode(errors='replace')[-3000:]}")
    return ChildRun(outcomes, failure)
