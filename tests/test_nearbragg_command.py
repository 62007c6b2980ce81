"""The nearBragg command: strict and legacy parsing, errors as one line with no output
file, accumulation, the progress lines, the engine flags."""

from __future__ import annotations

import io

import numpy as np
import pytest

from nanobragg.cli.nearbragg_command import run
from nanobragg.cli.nearbragg_main import main
from nanobragg.errors import UsageError
from nanobragg.flags.near import parse_near
from nanobragg.io.atoms import read_atoms
from nanobragg.io.errors import FormatError

ATOMS = "0 0 0\n10 0 0 0.5\n0 12 3 1 5\n4 4 4 1 0 30\n"
BASE = ["-file", "atoms.xyz", "-detpixels", "12", "-distance", "50", "-noprogress"]


@pytest.fixture(autouse=True)
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "atoms.xyz").write_text(ATOMS)
    return tmp_path


def outputs(folder):
    return sorted(p.name for p in folder.iterdir() if p.name != "atoms.xyz")


@pytest.mark.parametrize("args", [["-distance_mm", "50"], ["-detpixel", "8"], ["stray"],
                                  ["-distance", "fifty"], ["-roi", "1", "2"]])
def test_strict_usage_errors_are_one_line_exit_2_and_write_nothing(args, folder, capsys):
    assert main([*BASE, *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("nearBragg: ")
    assert outputs(folder) == []


def test_legacy_parse_matches_by_substring():
    rec = parse_near(["-file", "a", "-distance_mm", "50", "-printout_pixel", "1", "2",
                      "-lambda", "abc", "-curved_det"], c_parity=True)
    assert rec.config["distance_mm"] == 50.0
    assert rec.printout
    assert rec.config["wavelength_A"] == 0.0
    assert "curved" not in rec.config       # -curved_det needs one more argument
    with pytest.raises(UsageError, match="unknown flag '-bogus'"):
        parse_near(["-bogus"], c_parity=True)


def test_strict_parse_takes_exact_names_and_synonyms():
    rec = parse_near(["-wavelength", "1.5", "-source_distance", "far", "-detpixels_x", "7"],
                     c_parity=False)
    assert rec.config == {"wavelength_A": 1.5, "far_source": True, "source_depth_A": 0.0,
                          "fpixels": 7}


@pytest.mark.parametrize("text", ["1 2\n", "1 2 x\n", "", "1 2 3 4 5 6 7\n"])
def test_bad_atom_lists_are_one_line_and_write_nothing(text, folder, capsys):
    (folder / "atoms.xyz").write_text(text)
    assert main(BASE) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "atoms.xyz" in err
    assert outputs(folder) == []


def test_a_missing_atom_list_is_one_line(folder, capsys):
    assert main(["-file", "none.xyz", "-noprogress"]) == 1
    assert "none.xyz" in capsys.readouterr().err
    assert outputs(folder) == []


def test_atom_reader_modes(folder):
    (folder / "c.xyz").write_text("# comment\n1 2 3\n\n4 5 6")
    legacy = read_atoms(folder / "c.xyz", c_parity=True)
    assert legacy.tolist() == [[0, 0, 0, 0, 0, 0], [1, 2, 3, 1, 0, -90], [4, 5, 6, 0, 0, 0]]
    assert read_atoms(folder / "c.xyz", c_parity=False).tolist() == [[1, 2, 3, 1, 0, 0],
                                                                      [4, 5, 6, 1, 0, 0]]
    (folder / "bad.xyz").write_text("1 2 3\n1 2 three\n")
    with pytest.raises(FormatError, match="line 2"):
        read_atoms(folder / "bad.xyz", c_parity=False)


@pytest.mark.parametrize("engine", ["c", "torch"])
def test_outputs_and_accumulation(engine, folder):
    args = [*BASE, "-backend", engine]
    assert run(args, io.StringIO()) == 0
    assert outputs(folder) == ["floatimage.bin", "intimage.img"]
    once = np.fromfile(folder / "floatimage.bin", "<f4")
    assert once.size == 144
    assert once.max() > 0
    assert run([*args, "-accumulate"], io.StringIO()) == 0
    np.testing.assert_allclose(np.fromfile(folder / "floatimage.bin", "<f4"), 2 * once,
                               rtol=1e-6)
    assert run([*args, "-coherent"], io.StringIO()) == 0
    assert outputs(folder) == ["cosimage.bin", "floatimage.bin", "intimage.img",
                               "sinimage.bin"]


def test_accumulating_a_short_float_file_is_an_error_when_strict(folder, capsys):
    (folder / "floatimage.bin").write_bytes(b"\0" * 16)
    assert main([*BASE, "-accumulate"]) == 1
    assert "4 floats, expected 144" in capsys.readouterr().err


def test_progress_lines_as_the_original_prints_them():
    log = io.StringIO()
    run([arg for arg in BASE if arg != "-noprogress"], log)
    lines = [line for line in log.getvalue().splitlines() if line.endswith("% done")]
    # the original counts (12 + 1) x (12 + 1) pixels for its percentages, renders 144:
    # every pixel of the first tenth, then every eighth
    assert lines[:5] == ["0% done", "0% done", "1% done", "1% done", "2% done"]
    assert len(lines) == 17 + 17 - 2
    assert lines[-1] == "80% done"


def test_dtype_and_device_reach_the_torch_engine(folder):
    assert run([*BASE, "-backend", "torch", "-dtype", "float32", "-device", "cpu"],
               io.StringIO()) == 0
    with pytest.raises(ValueError, match="dtype"):
        run([*BASE, "-backend", "torch", "-dtype", "float16"], io.StringIO())


def test_too_little_oversampling_is_warned_as_the_original_does():
    log = io.StringIO()
    run(["-file", "atoms.xyz", "-detpixels", "4", "-distance", "1", "-oversample", "1",
         "-noprogress"], log)
    lines = log.getvalue().splitlines()
    start = lines.index("WARNING: maximum dimension of sample is 12 A")
    assert lines[start + 1:start + 4] == [
        "         but reciprocal pixel size is 10 A",
        "         intensity may vary significantly across a pixel!",
        "         recommend -oversample 4 to work around this"]


def test_help_lists_every_flag():
    log = io.StringIO()
    assert run(["-h"], log) == 0
    text = log.getvalue()
    for name in ("-file", "-source_dist", "-coherent", "-hdivstep", "-backend"):
        assert f"  {name} " in text or f" {name} " in text
