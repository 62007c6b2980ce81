"""Fuzz tests (issue 10): boundary values through the command line, every file reader,
random Configs through both engines and every stage method.  Every example must end in
a result or a clean error: an exception of the documented kinds with a one-line message
(naming the field, flag or file where a Config or command line is at fault), never a
traceback, a signal, a hang, a stray warning or a file left behind.  Work that can crash
the interpreter (the C engine) runs in child processes (fuzz_support.run_in_child).

The draws are fixed (derandomize) and few enough that the file runs in about half a
minute on two cores; the regression tests of what the fuzzing found are at the end.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from fuzz_support import (
    BOUNDARY_FLOATS,
    HUGE_INTS,
    PATHS,
    RENDER_PARTS,
    STAGE_INPUTS,
    NoNumber,
    listing,
    make_inputs,
    outcome,
    run_in_child,
    stage_case,
    stage_data,
    time_limit,
)
from nanobragg import field_classes as fc
from nanobragg import io as nbio
from nanobragg.cli.main import main
from nanobragg.flags import FLAGS, PROGRAM_FLAGS
from nanobragg.io.sourcefile import read_text_columns
from nanobragg.validation import FIELDS, GROUPS


def fuzz(examples: int, *, shrink: bool = True) -> Any:
    """Fixed draws, no deadline.  A batch run in a child process is not shrunk (each try
    would start another child): its failure names the case."""
    phases = [Phase.explicit, Phase.reuse, Phase.generate, *([Phase.shrink] if shrink else [])]
    return settings(max_examples=examples, derandomize=True, deadline=None, database=None,
                    phases=phases,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("inputs")
    make_inputs(folder)
    return folder


class Folders:
    """A fresh folder holding the input files, for each run."""

    def __init__(self, root: Path):
        self.root, self.count = root, 0

    def new(self) -> Path:
        self.count += 1
        folder = self.root / f"run{self.count}"
        folder.mkdir()
        make_inputs(folder)
        return folder


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> Folders:
    return Folders(tmp_path_factory.mktemp("runs"))


def one_line(message: str) -> bool:
    return bool(message) and "\n" not in message


# ---- the command line -----------------------------------------------------------------

VALUES = {name: len(flag.metavars) for flag in (*FLAGS, *PROGRAM_FLAGS)
          for name in (flag.name, *flag.synonyms)}
"""How many values each spelling of each flag takes."""
SPELLINGS = sorted(VALUES)
WORDS = ["0", "-1", "1", "2", "3.7", "1e-320", "5e-324", "1e300", "-1e300", "inf", "-inf", "nan",
         "2147483648", "-2147483649", "99999999999999999999", "1048577", "0x10", "1e5x", "word",
         "random", "beam", "sample", "torch", "float32", "cuda", "-x", *PATHS]
"""Boundary values for any flag: numbers at the edges of float and int, words, paths."""
TINY = ["-cell", "40", "40", "40", "90", "90", "90", "-default_F", "100", "-N", "2",
        "-detpixels", "4", "-oversample", "1", "-noprogress", "-max_terms", "1e7"]
"""A run of 16 terms; the drawn flags come after it (and so win), -max_terms bounds
whatever they ask for."""
HINT = "(nanoBragg -h lists the flags)"


@st.composite
def command_lines(draw) -> list[str]:
    argv = [] if draw(st.integers(0, 15)) == 0 else list(TINY)
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(SPELLINGS))
        values = [draw(st.sampled_from(WORDS)) for _ in range(VALUES[name])]
        if values and draw(st.integers(0, 9)) == 0:
            values.pop()  # the flag's values run past the end
        argv += [name, *values]
    if draw(st.booleans()):
        argv.append("-c_parity")
    if draw(st.integers(0, 3)) == 0:
        argv += ["-backend", "torch"]
    return argv


def check_command(argv: list[str], status: int, err: str, before: list[str],
                  after: list[str]) -> None:
    """Exit 0 with nothing on stderr and no temporary left, or 1 (failed) or 2 (usage) with
    a one-line message and the folder as it was."""
    assert status in (0, 1, 2), (argv, status, err)
    assert "Traceback" not in err, (argv, err)
    if status == 0:
        assert err == "", (argv, err)
        assert not [name for name in after if name.endswith(".tmp")], (argv, after)
        return
    lines = err.splitlines()
    if status == 2:
        assert lines[-1:] == [HINT], (argv, err)
        lines = lines[:-1]
    assert len(lines) == 1, (argv, err)
    assert lines[0].startswith("nanoBragg: "), (argv, err)
    assert after == before, (argv, sorted(set(after) ^ set(before)))


@fuzz(250)
@given(argv=command_lines())
def test_command_lines_in_process(argv, folders):
    folder = folders.new()
    before = listing(folder)
    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    os.chdir(folder)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), time_limit(30):
            status = main(argv)
    finally:
        os.chdir(here)
    check_command(argv, status, err.getvalue(), before, listing(folder))


def run_command(argv: list[str], folder: Path) -> tuple[list[str], int, str, list[str]]:
    before = listing(folder)
    done = subprocess.run([sys.executable, "-m", "nanobragg.cli.main", *argv], cwd=folder,
                          capture_output=True, text=True, timeout=120)
    return before, done.returncode, done.stderr, listing(folder)


@fuzz(2, shrink=False)
@given(batch=st.lists(command_lines(), min_size=10, max_size=10))
def test_command_lines_in_a_process_of_their_own(batch, folders):
    """A crash of the interpreter cannot be caught in process: here no run may end by a
    signal (a negative status) or hang."""
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(run_command, batch, [folders.new() for _ in batch]))
    for argv, (before, status, err, after) in zip(batch, runs, strict=True):
        check_command(argv, status, err, before, after)


# ---- the file readers -----------------------------------------------------------------

GRID = nbio.StructureFactors((-1, -1, -1), (1, 1, 1), np.arange(27.0).reshape(3, 3, 3), 27)
SMALL_GRID = 10 ** 6
"""Cells a fuzzed HKL or Fdump file may ask for (the default allows 512^3: 1 GiB)."""
VALID_FILES = {
    "hkl": b"0 0 0 10\n1 0 0 5\n0 1 0 3.5\n-1 -1 -1 2\n",
    "fdump": nbio.fdump_bytes(GRID),
    "matrix": b"0.025 0 0\n0 0.025 0\n0 0 0.025\n",
    "sources": b"-10 0 0 1 1e-10\n-10 0.1 0 1 1.1e-10\n",
    "stol": b"0 2.57\n0.5 1.0\n",
    "smv": nbio.smv_bytes(np.arange(12, dtype=np.uint16).reshape(3, 4),
                          [("SIZE1", "4"), ("SIZE2", "3"), ("PIXEL_SIZE", "0.1")]),
    "pgm": nbio.pgm_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4), 1.0),
    "float": np.arange(12, dtype="<f4").tobytes(),
}
READERS = {
    "hkl": [lambda p: nbio.read_hkl(p, warn=print, max_cells=SMALL_GRID),
            lambda p: nbio.read_hkl(p, c_parity=True, warn=print, max_cells=SMALL_GRID)],
    "fdump": [lambda p: nbio.read_fdump(p, max_cells=SMALL_GRID),
              lambda p: nbio.read_fdump(p, c_parity=False, max_cells=SMALL_GRID)],
    "matrix": [nbio.read_mosflm_matrix],
    "sources": [nbio.read_source_file],
    "stol": [lambda p: read_text_columns(p, 2)],
    "smv": [nbio.read_smv, lambda p: nbio.read_smv(p, with_data=False)],
    "pgm": [nbio.read_pgm],
    "float": [lambda p: nbio.read_float_image(p, (3, 4))],
}
TOKENS = [b"0", b"-1", b"1e9", b"nan", b"inf", b"1e400", b"2147483648", b"999999999999", b" ",
          b"\n", b"\r\n", b"\0", b"\f", b"x", b".", b"-", b"e", b"#", b"=", b";", b"}",
          b"HEADER_BYTES=", b"SIZE1=", b"SIZE2=", b"BYTE_ORDER=big_endian;", b"P5", b"65535"]


@st.composite
def file_contents(draw, valid: bytes) -> bytes:
    """Random bytes, a valid file cut short, or one with a few bytes replaced, removed or
    inserted (numbers and header words among them)."""
    kind = draw(st.sampled_from(("random", "truncated", "corrupted")))
    if kind == "random":
        return draw(st.binary(max_size=600))
    if kind == "truncated":
        return valid[:draw(st.integers(0, len(valid)))]
    content = bytearray(valid)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(content)))
        edit = draw(st.sampled_from(("insert", "remove", "replace")))
        if edit == "insert":
            content[at:at] = draw(st.sampled_from(TOKENS))
        elif edit == "remove":
            del content[at:at + draw(st.integers(1, 8))]
        elif content:
            content[min(at, len(content) - 1)] = draw(st.integers(0, 255))
    return bytes(content)


@fuzz(400)
@given(data=st.data(), kind=st.sampled_from(sorted(VALID_FILES)))
def test_file_readers(data, kind, tmp_path_factory):
    content = data.draw(file_contents(VALID_FILES[kind]))
    path = tmp_path_factory.getbasetemp() / f"fuzzed.{kind}"
    path.write_bytes(content)
    for reader in READERS[kind]:
        refused = None
        with contextlib.redirect_stdout(io.StringIO()), time_limit(10):
            try:
                reader(path)
            except (ValueError, OSError) as error:
                refused = error
        assert refused is None or one_line(str(refused)), (content, refused)


# ---- random Configs through both engines ----------------------------------------------

REALS = [*BOUNDARY_FLOATS, 1e-12, 0.5, 1.0, 2.5, 90.0, 180.0, 1e6, np.float32(3.0), np.int64(2)]
NOT_NUMBERS = ["5", True, [1.0], b"x", None]
VECTOR_ITEMS = [0.0, 1.0, -1.0, 1e-300, 1e300, 40.0, 90.0, 0.5, 1e6, math.nan, math.inf]
ARRAYS = {
    "crystal.mosflm_matrix": [np.eye(3) * 0.025, np.zeros((3, 3)), np.full((3, 3), np.nan),
                              [0.025] * 9, [1.0] * 8, np.eye(3) * 1e300, "abc"],
    "beam.sources": [np.array([[-10.0, 0, 0, 1, 1e-10]]), np.array([[0.0, 0, 0, 1, 1e-10]]),
                     np.full((2, 5), np.nan), np.array([[-10.0, 0, 0, -1, 1e-10]]),
                     np.array([[-10.0, 0, 0, 1, 1e300]]), np.zeros((0, 5)), np.ones((1, 4)),
                     np.array([[np.inf, 0, 0, 1, 1e-10]])],
    "detector.mask": [np.zeros((4, 4)), np.ones((4, 4), bool), np.ones((3, 4)), np.ones(16),
                      np.full((4, 4), np.nan), np.ones((100, 100))],
}
GRIDS = [nbio.StructureFactors((0, 0, 0), (0, 0, 0), np.ones((1, 1, 1)), 1),
         nbio.StructureFactors((-2, -2, -2), (2, 2, 2), np.full((5, 5, 5), np.nan), 125),
         nbio.StructureFactors((-2, -2, -2), (2, 2, 2), np.full((5, 5, 5), 1e300), 125),
         nbio.StructureFactors((2 ** 20, 0, 0), (2 ** 20, 0, 0), np.ones((1, 1, 1)), 1),
         np.ones((2, 2, 2))]


def field_values(name: str, kind: fc.FieldClass) -> st.SearchStrategy[Any]:
    """Values around what the field's class accepts, and of other types."""
    if isinstance(kind, fc.Real):
        tensors = [torch.tensor(v, dtype=torch.float64) for v in (1.0, -1.0, math.nan)]
        return st.sampled_from(REALS + NOT_NUMBERS + (tensors if kind.differentiable else []))
    if isinstance(kind, fc.Vector):
        lengths = st.sampled_from(sorted({kind.n, kind.fewest or kind.n, 2, 4}))
        items = lengths.flatmap(lambda n: st.lists(st.sampled_from(VECTOR_ITEMS), min_size=n,
                                                   max_size=n))
        return st.one_of(items.map(tuple), items.map(np.array),
                         st.sampled_from(["100", None, ("0", "0", "1")]))
    if isinstance(kind, fc.Count):
        return st.sampled_from([None, 0, 1, 2, 5, 2 ** 20, kind.maximum + 1, -1, 2.0, 2.5,
                                True, "3", math.nan, np.int64(4)])
    if isinstance(kind, fc.Seed):
        return st.sampled_from([None, 0, -1, 2 ** 31 - 1, 2 ** 31, 1.0, True, np.int32(5)])
    if isinstance(kind, fc.WholeNumbers):
        return st.sampled_from([None, (0,) * kind.n, (-1,) * kind.n, (3,) * kind.n,
                                (2 ** 31,) * kind.n, (1.5,) * kind.n, (1,), "ab",
                                (0, 1, 0, 1), (3, 1, 0, 1), (-5, 100, -5, 100)])
    if isinstance(kind, fc.Flag):
        return st.sampled_from([True, False, None, 1, np.True_, "yes"])
    if isinstance(kind, fc.Path):
        return st.sampled_from([None, 1, b"x", "a\0b", *PATHS])
    if isinstance(kind, fc.Choice):
        return st.sampled_from([*kind.options, None, "XDS", 1])
    if isinstance(kind, fc.Array):
        return st.sampled_from([None, *ARRAYS[name]])
    return st.sampled_from([None, *GRIDS])


@st.composite
def config_changes(draw) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(sorted(FIELDS)), min_size=1, max_size=4,
                          unique=True))
    return {name: draw(field_values(name, FIELDS[name])) for name in names}


FLAG_NAME = re.compile(r"(^|[\s(])-[A-Za-z]\w*")


def names_its_cause(message: str) -> bool:
    """The message names a Config field or group, a flag or the file at fault; or it is
    the engines' refusal of an image that came out non-finite (which lists the
    geometry)."""
    return (any(name in message for name in FIELDS)
            or any(message.startswith(group) for group in GROUPS)
            or FLAG_NAME.search(message) is not None
            or any(path and path in message for path in PATHS)
            or "non-finite pixel values" in message)


def config_problem(case: Any, result: list[Any]) -> str | None:
    """What is wrong with the outcome of a config's run, or None."""
    if result[0] == "ok":
        return None if result[1] == "finite" else f"{case!r}: a non-finite image"
    _, classes, message, trace = result
    if not {"ValueError", "TypeError", "OSError"} & set(classes):
        return f"{case!r}: not a ValueError, TypeError or OSError:\n{trace}"
    if not one_line(message):
        return f"{case!r}: not a one-line message:\n{trace}"
    if "OSError" not in classes and not names_its_cause(message):
        return f"{case!r}: the message names no field, flag or file:\n{trace}"
    return None


def assert_no_problem(problems: list[str | None]) -> None:
    found = [problem for problem in problems if problem is not None]
    assert not found, f"{len(found)} problems; the first:\n\n" + "\n\n".join(found[:5])


@fuzz(3, shrink=False)
@given(batch=st.lists(config_changes(), min_size=40, max_size=40))
def test_random_configs_on_the_c_engine(batch, inputs):
    cases = [("c", c_parity, changes) for changes in batch for c_parity in (False, True)]
    run = run_in_child("simulate", cases, cwd=inputs, timeout=120)
    # a child that ended early ran fewer cases: its failure says which
    assert_no_problem([run.failure, *(config_problem(case, result) for case, result
                                      in zip(cases, run.outcomes, strict=False))])


@fuzz(60)
@given(changes=config_changes())
def test_random_configs_on_the_torch_engine(changes, inputs):
    here = os.getcwd()
    os.chdir(inputs)
    try:
        for c_parity in (False, True):
            case = ("torch", c_parity, changes)
            with time_limit(30):
                assert_no_problem([config_problem(case, outcome("simulate", case))])
    finally:
        os.chdir(here)


# ---- the stage methods ----------------------------------------------------------------

NUMBER_SWAPS = [math.nan, math.inf, -math.inf, -1.0, 1e300, 1e-320, "x", None, [1.0, 2.0],
                NoNumber(), True, np.float32(2.0)]
FLAG_SWAPS = [None, "x", 2, math.nan, NoNumber(), np.True_]
WHOLE_SWAPS = [*HUGE_INTS, 1.5, "3", None, math.nan, NoNumber(), True]
ARRAY_SWAPS = [np.zeros(2), np.zeros((0, 3)), np.zeros((3, 3)), np.zeros((3, 3, 3)),
               np.full(3, np.nan), np.full(3, np.inf), np.array(["a", "b", "c"]), np.zeros(0),
               np.arange(3), np.zeros((1, 5)), np.zeros(1000),
               np.array([None, 1, "x"], dtype=object), "x", None, [1.0, 2.0], math.nan,
               NoNumber()]
WHOLE_INPUT_SWAPS = [*ARRAY_SWAPS, *NUMBER_SWAPS, (2 ** 31, 0), (-1, -1), (0, 10 ** 30),
                     ("a", "b"), (1.5, 0), (4, 0)]
"""Replacements of a whole input (a spec, the table, the image, the pixel, the rng...)."""


def swaps_for(value: Any) -> list[Any]:
    if isinstance(value, bool | np.bool_):
        return FLAG_SWAPS
    if isinstance(value, int):
        return WHOLE_SWAPS
    if isinstance(value, float):
        return NUMBER_SWAPS
    return ARRAY_SWAPS + NUMBER_SWAPS


@st.composite
def stage_cases(draw, engine: str) -> tuple[Any, ...]:
    """A stage method, one of its inputs, and a change: a field of it replaced or missing
    (a look-alike object without it), or the whole input replaced."""
    c_parity = draw(st.booleans())
    stage = draw(st.sampled_from(sorted(STAGE_INPUTS)))
    target = draw(st.sampled_from(STAGE_INPUTS[stage]))
    data = stage_data(False)
    obj = data.get(target)
    names = (list(RENDER_PARTS) if target == "render_inputs" else
             list(vars(obj)) if hasattr(obj, "__dataclass_fields__") else [])
    change = draw(st.sampled_from(("replace", "remove", "whole")) if names
                  else st.just("whole"))
    if change == "whole":
        return engine, c_parity, stage, target, None, draw(st.sampled_from(WHOLE_INPUT_SWAPS))
    field = draw(st.sampled_from(names))
    if change == "remove":
        return engine, c_parity, stage, target, "-" + field, None
    current = data[field] if target == "render_inputs" else getattr(obj, field)
    return engine, c_parity, stage, target, field, draw(st.sampled_from(swaps_for(current)))


def stage_problem(case: Any, result: list[Any]) -> str | None:
    """A result, or a TypeError, ValueError or MemoryError with a one-line message."""
    if result[0] == "ok":
        return None
    _, classes, message, trace = result
    if not {"ValueError", "TypeError", "MemoryError"} & set(classes):
        return f"{case!r}: not a ValueError, TypeError or MemoryError:\n{trace}"
    if not one_line(message):
        return f"{case!r}: not a one-line message:\n{trace}"
    return None


@fuzz(2, shrink=False)
@given(batch=st.lists(stage_cases("c"), min_size=150, max_size=150))
def test_c_stages_refuse_bad_stage_data_cleanly(batch, inputs):
    run = run_in_child("stage", batch, cwd=inputs, timeout=120)
    assert_no_problem([run.failure, *(stage_problem(case, result) for case, result
                                      in zip(batch, run.outcomes, strict=False))])


@fuzz(300)
@given(case=stage_cases("torch"))
def test_torch_stages_refuse_bad_stage_data_cleanly(case):
    with time_limit(30):
        assert_no_problem([stage_problem(case, outcome("stage", case))])


def test_the_stage_data_is_valid_as_built(inputs):
    """The fuzzed stage data, unchanged, runs every stage on both engines (so that a
    refusal above comes from the change)."""
    for engine in ("c", "torch"):
        for stage, targets in STAGE_INPUTS.items():
            case = (engine, False, stage, targets[0], None, stage_data(False)[targets[0]])
            assert stage_case(case) == "returned"


# ---- what the fuzzing and the issue found, one case each --------------------------------

BASE = ["-cell", "40", "40", "40", "90", "90", "90", "-N", "5", "-default_F", "100",
        "-detpixels", "8", "-noprogress", "-floatfile", "f.bin"]


@pytest.mark.parametrize(("extra", "expected"), [
    (["-osc", "1e300", "-phistep", "1e-300"], "crystal.osc_deg / crystal.phi_step_deg"),
    (["-hdivrange", "1", "-hdivstep", "1e-320"], "beam.hdiv_range_mrad / beam.hdiv_step_mrad"),
    (["-vdivrange", "1", "-vdivstep", "1e-12"], "use a coarser step (-vdivrange and -vdivstep)"),
    (["-hdivrange", "1", "-hdivsteps", "100000", "-vdivrange", "1", "-vdivsteps", "100000"],
     "most of it comes from the sources"),
    (["-hdivrange", "1", "-hdivstep", "2", "-vdivrange", "1", "-vdivstep", "2"],
     "no point inside its ellipse"),
])
def test_step_counts_beyond_any_render_are_refused_naming_their_flags(extra, expected, engine,
                                                                       c_parity, tmp_path,
                                                                       monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = [*BASE, *extra, "-backend", engine, *(["-c_parity"] if c_parity else [])]
    with time_limit(20):
        status = main(argv)
    err = capsys.readouterr().err
    if "ellipse" in expected and not c_parity:
        # corrected, a step wider than the range is one point, the beam itself
        assert status == 0, err
        return
    assert status == 1, err
    assert one_line(err.strip()), err
    assert expected in err, err
    assert listing(tmp_path) == []


@pytest.mark.parametrize("extra", [["-detector_abs", "1e-320", "-detector_thick", "100"],
                                   ["-xtal_width", "1e300", "-oversample", "1"],
                                   ["-xds", "-spindle_axis", "0", "0", "1"]])
def test_extreme_values_that_the_original_computes_through_run_cleanly(extra, engine, tmp_path,
                                                                         monkeypatch, capsys):
    """An infinite attenuation coefficient or crystal size is IEEE arithmetic in the
    original, not an exception; a convention warning is one line."""
    monkeypatch.chdir(tmp_path)
    status = main([*BASE, *extra, "-backend", engine, "-c_parity"])
    err = capsys.readouterr().err
    assert status == 0, err
    assert "Traceback" not in err, err
    assert len(err.splitlines()) <= 1, err


@pytest.mark.parametrize("stage", ["crystal_vectors", "mosaic_rotations", "add_noise"])
def test_a_stage_given_no_generator_names_it(stage, engine):
    for bad in (1e300, None, (0, 1)):
        with pytest.raises(TypeError, match=r"^rng: expected a nanobragg\.legacy_random"):
            stage_case((engine, False, stage, "rng", None, bad))


def test_a_stage_given_a_look_alike_without_a_field_names_the_field(engine):
    with pytest.raises(TypeError, match=r"^mosaic_spec\.seed: missing"):
        stage_case((engine, False, "mosaic_rotations", "mosaic_spec", "-seed", None))
    with pytest.raises(TypeError, match=r"^render_inputs\.mask: missing"):
        stage_case((engine, False, "render", "render_inputs", "-mask", None))


def test_a_tensor_in_a_message_is_one_line():
    assert fc.shown(torch.tensor([1.0, 2.0], dtype=torch.float64)) == \
        "tensor([1., 2.], dtype=torch.float64)"


@pytest.mark.parametrize("bad", [(0, 0), ("0", 0, 0), (0, 0, 0.5), (True, 0, 0)])
def test_structure_factor_indices_must_be_three_whole_numbers(bad):
    with pytest.raises((TypeError, ValueError), match=r"^hkl_min: expected three whole numbers"):
        nbio.StructureFactors(bad, (1, 1, 1), np.ones((2, 2, 2)), 8)


@pytest.mark.parametrize("program", ["amorphous", "point_scatterers"])
@pytest.mark.parametrize(("changes", "message"), [
    ({"dispersion_pct": 200.0, "dispersion_steps": 3}, "expected wavelengths > 0"),
    ({"hdiv_range_mrad": 1.0, "hdiv_step_mrad": 1e-9, "vdiv_range_mrad": 1.0,
      "vdiv_step_mrad": 1e-9}, "more than the 1048576"),
    ({"hdiv_range_mrad": 1.0, "hdiv_step_mrad": 1e-320}, "inf steps, more than the 1048576"),
])
def test_source_grids_of_the_suite_are_bounded_and_positive(program, changes, message, c_parity,
                                                            tmp_path, monkeypatch):
    """A wavelength at or below 0 or a grid of a billion sources is refused at once (the
    second took minutes to build, the first read past the table in C)."""
    import nanobragg as nb

    monkeypatch.chdir(tmp_path)
    (tmp_path / "water.stol").write_text("0 2.57\n0.1 2.5\n0.2 2.0\n0.5 1.0\n")

    def run() -> object:
        if program == "amorphous":
            return nb.amorphous(nb.AmorphousConfig(stol_file="water.stol", fpixels=4,
                                                   spixels=4, **changes), c_parity=c_parity)
        return nb.point_scatterers(np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]), fpixels=4,
                                   spixels=4, c_parity=c_parity, **changes)

    with time_limit(20), pytest.raises(ValueError, match=message):
        run()


@pytest.mark.parametrize("extra", [["-vdivrange", "1e300"], ["-molecular_weight", "1e-320"],
                                   ["-fluence", "1e300"]])
def test_nonbragg_computes_extreme_values_through_without_warnings(extra, engine, tmp_path,
                                                                    monkeypatch, capsys):
    from nanobragg.cli.nonbragg_main import main as nonbragg

    monkeypatch.chdir(tmp_path)
    (tmp_path / "water.stol").write_text("0 2.57\n0.1 2.5\n0.2 2.0\n0.5 1.0\n")
    assert nonbragg(["-stol", "water.stol", "-detpixels", "4", "-noprogress", *extra,
                     "-backend", engine]) == 0, capsys.readouterr().err
