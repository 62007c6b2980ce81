"""nonBragg command lines drawn at random: every one runs, or fails with one line and
leaves the folder as it was; never a traceback."""

from __future__ import annotations

import contextlib
import io
import os
import shutil

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import DATA
from nanobragg.cli.nonbragg_main import main
from nanobragg.flags.nonbragg import NONBRAGG_FLAGS

SPELLINGS = sorted({name: flag.nvalues for flag in NONBRAGG_FLAGS for name in flag.names})
VALUES = {name: flag.nvalues for flag in NONBRAGG_FLAGS for name in flag.names}
WORDS = ["0", "-1", "1", "2", "3.7", "1e-320", "1e300", "-1e300", "inf", "-inf", "nan",
         "2147483648", "-2147483649", "0x10", "1e5x", "word", "sample", "beam", "water.stol",
         "beams.txt", "missing.txt", "out.bin", "-x"]
TINY = ["-stol", "water.stol", "-detpixels", "4", "-noprogress"]
HINT = "(nonBragg -h lists the flags)"


@st.composite
def command_lines(draw) -> list[str]:
    argv = [] if draw(st.integers(0, 15)) == 0 else list(TINY)
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(SPELLINGS))
        argv += [name, *(draw(st.sampled_from(WORDS)) for _ in range(VALUES[name]))]
    if draw(st.booleans()):
        argv.append("-c_parity")
    if draw(st.integers(0, 3)) == 0:
        argv += ["-backend", "torch"]
    return argv


@settings(max_examples=150, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(argv=command_lines())
def test_command_lines(argv, tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    for name in ("water.stol", "beams.txt"):
        shutil.copy(DATA / "golden-suite" / "nonBragg" / "inputs" / name, folder / name)
    before = sorted(os.listdir(folder))
    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    os.chdir(folder)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(argv)
    finally:
        os.chdir(here)
    message = err.getvalue()
    assert status in (0, 1, 2), (argv, status, message)
    assert "Traceback" not in message, (argv, message)
    if status == 0:
        return
    lines = message.splitlines()
    if status == 2:
        assert lines[-1:] == [HINT], (argv, message)
        lines = lines[:-1]
    assert len(lines) == 1, (argv, message)
    assert lines[0].startswith("nonBragg: "), (argv, message)
    assert sorted(os.listdir(folder)) == before, argv
