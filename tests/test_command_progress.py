"""The progress bar of the suite's commands: on a terminal (stderr) a one-line bar, the
log on stdout unchanged; off a terminal nothing on stderr."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest

from conftest import DATA
from nanobragg.cli import nearbragg_command, noisify_command, nonbragg_command
from nanobragg.cli.progress import legacy_percentages, progress_bar, terminal_progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_only_on_a_terminal():
    assert terminal_progress(True, io.StringIO()) is None
    assert terminal_progress(False, Terminal()) is None
    stream = Terminal()
    bar = terminal_progress(True, stream)
    assert bar is not None
    assert bar(1, 4)
    assert bar(4, 4)
    assert stream.getvalue() == ("\r[" + "#" * 10 + "." * 30 + "]  25%"
                                 "\r[" + "#" * 40 + "] 100%\n")


def test_legacy_percentages():
    assert legacy_percentages(99, 99) == []
    lines = legacy_percentages(200, 200)
    assert lines[:3] == ["0% done", "1% done", "2% done"]
    assert lines[-1] == "99% done"
    assert "50% done" in lines
    assert "51% done" not in lines


def _inputs(tmp_path):
    for item in (DATA / "golden-suite" / "nonBragg" / "inputs").iterdir():
        shutil.copy(item, tmp_path / item.name)
    (tmp_path / "atoms.txt").write_text("0 0 0\n1.5 0 0 1 10\n0 2 0\n")
    np.full(32 * 32, 5.0, dtype="<f4").tofile(tmp_path / "in.bin")


COMMANDS = {
    "nonBragg": (nonbragg_command.run, ["-stol", "water.stol", "-detpixels", "16", "-seed",
                                        "1", "-nonoise"]),
    "nearBragg": (nearbragg_command.run, ["-file", "atoms.txt", "-detpixels", "16",
                                          "-oversample", "1"]),
    "noisify": (noisify_command.run, ["-floatfile", "in.bin", "-detpixels", "32", "-seed",
                                      "1", "-nopgm"]),
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_commands_draw_the_bar_on_a_terminal(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _inputs(tmp_path)
    command, args = COMMANDS[name]
    plain_log, plain_err = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stderr", plain_err)
    assert command(args, plain_log) == 0
    assert plain_err.getvalue() == ""
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    log = io.StringIO()
    assert command(args, log) == 0
    assert log.getvalue() == plain_log.getvalue()
    drawn = terminal.getvalue()
    assert drawn.startswith("\r[")
    assert drawn.endswith("] 100%\n")


def test_noprogress_draws_no_bar(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _inputs(tmp_path)
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    command, args = COMMANDS["nonBragg"]
    assert command([*args, "-noprogress"], io.StringIO()) == 0
    assert terminal.getvalue() == ""
    assert progress_bar(terminal)(0, 0)
