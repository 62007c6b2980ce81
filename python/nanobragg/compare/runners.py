"""nb-compare's runners: reading a runner spec, and making an image with the C or
torch engine in this process or with an external program in a temporary folder."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nanobragg.config import Config, StructureFactorConfig
from nanobragg.engines import DTYPES
from nanobragg.errors import UsageError
from nanobragg.flags import FLAGS, PROGRAM_FLAGS, parse_command_line
from nanobragg.seeds import with_clock_seeds
from nanobragg.stages.render import DEFAULT_MAX_TERMS

_PARITY = "+parity"
_DEVICE = re.compile(r"cpu|cuda(:\d+)?")
_SPEC_FORMS = "c, torch[:DEVICE][:DTYPE] (either with +parity) or exe:PATH"
_LOG_TAIL_LINES = 10

_OWN_FLAGS = {name: len(flag.metavars) for flag in PROGRAM_FLAGS
              for name in (flag.name, *flag.synonyms)}
"""This package's own flags (-backend, -c_parity...) and how many values each takes."""
_OUTPUT_FILE_FLAGS = frozenset(name for flag in FLAGS if flag.kind == "path"
                               and flag.group == "Output" for name in flag.names)
_INPUT_FILE_FLAGS = frozenset(name for flag in FLAGS if flag.kind == "path"
                              for name in flag.names) - _OUTPUT_FILE_FLAGS


ENGINE_ERRORS = (ValueError, OSError, NotImplementedError, RuntimeError, MemoryError)
"""What an in-process run may raise (RuntimeError: torch's own, a CUDA device out of
memory among them)."""


class RunnerFailure(RuntimeError):
    """A runner could not make its image (an engine error, an external program failing)."""


class ShapeMismatch(ValueError):
    """The two images (or an external program's float file and the detector) differ in size."""


# --- runners ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunnerSpec:
    """A runner as written on the command line, read."""

    text: str
    kind: str
    """c, torch or exe."""
    device: str | None = None
    dtype: str | None = None
    parity: bool = False
    executable: str | None = None
    """exe: the program's absolute path."""


def parse_runner_spec(text: str) -> RunnerSpec:
    """Read ``c``, ``torch[:DEVICE][:DTYPE]`` (either with ``+parity``) or ``exe:PATH``.

    DEVICE is a torch device (``cpu``, ``cuda``, ``cuda:1``), DTYPE ``float32`` or
    ``float64``; PATH is taken as it is written (a name without ``/`` is looked up on PATH).
    Raises :class:`UsageError` naming the spec.
    """
    if text.startswith("exe:"):
        return _exe_spec(text)
    body, parity = text, text.endswith(_PARITY)
    if parity:
        body = text[:-len(_PARITY)]
    kind, colon, options = body.partition(":")
    if kind == "c" and not colon:
        return RunnerSpec(text, "c", parity=parity)
    if kind == "torch":
        device, dtype = _torch_options(text, options) if colon else (None, None)
        return RunnerSpec(text, "torch", device=device, dtype=dtype, parity=parity)
    raise UsageError(f"runner {text!r}: expected {_SPEC_FORMS}")


def _torch_options(text: str, options: str) -> tuple[str | None, str | None]:
    parts = options.split(":")
    dtype = parts.pop() if parts[-1] in DTYPES else None
    if not parts:
        return None, dtype
    device = ":".join(parts)
    if not _DEVICE.fullmatch(device):
        raise UsageError(f"runner {text!r}: {device!r} is not a device of the torch engine "
                         f"(cpu, cuda, cuda:N) nor a dtype ({', '.join(DTYPES)})")
    return device, dtype


def _exe_spec(text: str) -> RunnerSpec:
    path = text[len("exe:"):]
    found = shutil.which(path) if path else None
    if found is None:
        raise UsageError(f"runner {text!r}: {path!r} is not an executable file")
    return RunnerSpec(text, "exe", executable=os.path.abspath(found))


@dataclass(frozen=True)
class Runner:
    """A runner with the nanoBragg arguments read as it reads them.

    In-process runners render with ``simulate(config, **engine_options())``; the same
    options suit :func:`nanobragg.trace_pixel`.  An external program's ``config`` only
    gives the shape its image must have (``backend`` is None).
    """

    spec: str
    argv: tuple[str, ...]
    config: Config
    backend: str | None
    c_parity: bool
    device: str | None = None
    dtype: str | None = None
    executable: str | None = None
    max_terms: float = DEFAULT_MAX_TERMS
    notes: tuple[str, ...] = ()
    """Warnings from reading the arguments."""

    def engine_options(self) -> dict[str, Any]:
        """backend, c_parity, device, dtype and max_terms, as keyword arguments of
        ``simulate``."""
        return {"backend": self.backend, "c_parity": self.c_parity, "device": self.device,
                "dtype": self.dtype, "max_terms": self.max_terms}

    def describe(self) -> str:
        """The engine and mode in words, e.g. ``torch (cuda, float32), c_parity``."""
        if self.executable is not None:
            return self.executable
        placement = ", ".join(value for value in (self.device, self.dtype) if value)
        engine = f"{self.backend} ({placement})" if placement else str(self.backend)
        return f"{engine}, {'c_parity' if self.c_parity else 'corrected'}"

    def run(self) -> Run:
        """Render the image; :class:`RunnerFailure` or :class:`ShapeMismatch` if it fails."""
        if self.executable is not None:
            return _run_executable(self)
        return _run_in_process(self)


def make_runner(spec: RunnerSpec, argv: Sequence[str], *, clock: int | None = None) -> Runner:
    """Read the nanoBragg arguments for this runner (a ``+parity`` runner as with ``-c_parity``).

    The spec chooses the engine; its device and dtype win over ``-device``/``-dtype`` in
    the arguments, which apply to torch runners that name none.  Seeds the original
    takes from the clock are taken from ``clock`` (seconds; default now): give both
    in-process runners the same reading and a random misset is the same crystal in both.
    An external program reads its own clock: give it ``-misset_seed`` to compare a random
    misset.
    Arguments that cannot be read raise :class:`UsageError`.
    """
    argv = tuple(argv)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            command = parse_command_line(["-c_parity", *argv] if spec.parity else argv)
        except (ValueError, OSError) as error:
            raise UsageError(f"nanoBragg arguments: {error}") from error
    if command.help:
        raise UsageError("nanoBragg arguments: -h asks for nanoBragg's help, not an image")
    torch = spec.kind == "torch"
    config = with_clock_seeds(command.config, c_parity=command.c_parity, clock=clock)
    return Runner(spec=spec.text, argv=argv, config=config,
                  backend=None if spec.kind == "exe" else spec.kind, c_parity=command.c_parity,
                  device=(spec.device or command.device) if torch else None,
                  dtype=(spec.dtype or command.dtype) if torch else None,
                  executable=spec.executable, max_terms=command.max_terms,
                  notes=tuple(str(w.message) for w in caught))


@dataclass(frozen=True)
class Run:
    """What a runner made: its float image (float64, shape (slow, fast)) and wall time."""

    runner: Runner
    image: np.ndarray
    seconds: float
    notes: tuple[str, ...] = ()
    """Warnings from reading the arguments and rendering."""
    log: str = ""
    """An external program's standard output and error."""


def _run_in_process(runner: Runner) -> Run:
    from nanobragg import simulate

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        try:
            result = simulate(runner.config, **runner.engine_options())
        except ENGINE_ERRORS as error:
            raise RunnerFailure(f"runner {runner.spec!r}: {error}") from error
        seconds = time.perf_counter() - start
    notes = runner.notes + tuple(str(w.message) for w in caught)
    return Run(runner, result.image_float64, seconds, notes)


def external_argv(argv: Sequence[str], floatfile: str) -> list[str]:
    """The arguments an external program gets, to run in another folder.

    Values of file flags (``-hkl``, ``-mat``, ``-img``...) are made absolute; this package's
    own flags (``-backend``, ``-c_parity``, ``-device``, ``-dtype``...) and the output file
    flags are removed, and ``-floatfile FLOATFILE`` is added.
    """
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in _OWN_FLAGS:
            i += 1 + _OWN_FLAGS[arg]
        elif arg in _OUTPUT_FILE_FLAGS:
            i += 2
        elif arg in _INPUT_FILE_FLAGS and i + 1 < len(argv):
            out += [arg, os.path.abspath(argv[i + 1])]
            i += 2
        else:
            out.append(arg)
            i += 1
    return [*out, "-floatfile", floatfile]


def _stage_fdump(config: Config, folder: str) -> None:
    """Without ``-hkl`` the original reads ``./Fdump.bin`` when there is one, and so do our
    engines: give the external program the same file in its own folder."""
    dump = StructureFactorConfig().dump_path
    if config.structure_factors.hkl_path is None and os.path.isfile(dump):
        shutil.copyfile(dump, os.path.join(folder, dump))


def _detector_shape(runner: Runner) -> tuple[int, int]:
    from nanobragg.engines import create
    from nanobragg.stages.geometry import detector_spec

    try:
        spec = detector_spec(runner.config, c_parity=runner.c_parity)
        geometry = create("c").detector_geometry(spec)
    except ValueError as error:
        raise RunnerFailure(f"runner {runner.spec!r}: detector size: {error}") from error
    return int(geometry.spixels), int(geometry.fpixels)


def _tail(text: str) -> str:
    lines = text.rstrip().splitlines()[-_LOG_TAIL_LINES:]
    if not lines:
        return "its standard error was empty"
    return "its standard error ends with:\n" + "\n".join(f"  {line}" for line in lines)


def _run_executable(runner: Runner) -> Run:
    shape = _detector_shape(runner)
    with tempfile.TemporaryDirectory(prefix="nb-compare-") as folder:
        floatfile = os.path.join(folder, "float.bin")
        command = [str(runner.executable), *external_argv(runner.argv, floatfile)]
        _stage_fdump(runner.config, folder)
        start = time.perf_counter()
        try:
            done = subprocess.run(command, cwd=folder, stdin=subprocess.DEVNULL,
                                  capture_output=True, check=False)
        except OSError as error:
            raise RunnerFailure(f"runner {runner.spec!r}: cannot run it: {error}") from error
        seconds = time.perf_counter() - start
        stdout = done.stdout.decode(errors="replace")
        stderr = done.stderr.decode(errors="replace")
        if done.returncode != 0:
            raise RunnerFailure(f"runner {runner.spec!r}: exit status {done.returncode}; "
                                f"{_tail(stderr)}")
        if not os.path.isfile(floatfile):
            raise RunnerFailure(f"runner {runner.spec!r}: wrote no float image; {_tail(stderr)}")
        image = read_float_image(floatfile, shape, label=f"runner {runner.spec!r}")
    return Run(runner, image, seconds, runner.notes, log=stdout + stderr)


def read_float_image(path: str | os.PathLike[str], shape: tuple[int, int], *,
                     label: str = "") -> np.ndarray:
    """A raw little-endian float32 image (the original's ``-floatfile``) as float64.

    A file of another size raises :class:`ShapeMismatch`, non-finite values
    :class:`RunnerFailure`.
    """
    label = label or os.fspath(path)
    expected = shape[0] * shape[1]
    size = os.path.getsize(path)
    if size != 4 * expected:
        raise ShapeMismatch(f"{label}: float image of {size} bytes, expected {shape[0]} x "
                            f"{shape[1]} pixels ({4 * expected} bytes) from the arguments")
    image = np.fromfile(path, dtype="<f4").astype(np.float64).reshape(shape)
    bad = int(np.count_nonzero(~np.isfinite(image)))
    if bad:
        raise RunnerFailure(f"{label}: {bad} non-finite pixel values in its float image")
    return image
