"""nearBragg -printout, -printout_pixel and -debug: the original's lines for four command
lines on both engines, and the corrected mode's blocks against its images."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest

from conftest import DATA
from nanobragg.cli.nearbragg_command import run
from nanobragg.flags.near import parse_near

CORPUS = DATA / "nearbragg_printout"
CASES = sorted(p.name for p in (CORPUS / "cases").iterdir())
ENGINE_FLAGS = {"c": ["-backend", "c"], "torch": ["-backend", "torch", "-dtype", "float64"]}
NUMERIC = ("I/sr", "pixel")
"""Block lines printed with 10 digits from the image, within 1e-6 on the torch engine."""


def _run(args) -> str:
    out = io.StringIO()
    assert run(args, out) == 0
    return out.getvalue()


@pytest.mark.parametrize("case", CASES)
def test_golden_printout(case, engine, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(CORPUS / "inputs" / "atoms.txt", tmp_path / "atoms.txt")
    folder = CORPUS / "cases" / case
    args = [a for a in (folder / "args.txt").read_text().splitlines() if a]
    actual = _run([*args, "-c_parity", *ENGINE_FLAGS[engine]]).splitlines()
    expected = (folder / "stdout.txt").read_text().splitlines()
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        if engine == "torch" and want.startswith(NUMERIC):
            assert got.split()[0] == want.split()[0]
            assert float(got.split()[1]) == pytest.approx(float(want.split()[1]), rel=1e-6)
        else:
            assert got == want
    image = np.fromfile(tmp_path / "floatimage.bin", "<f4")
    golden = np.fromfile(folder / "floatimage.bin", "<f4")
    np.testing.assert_allclose(image, golden, rtol=0 if engine == "c" else 1e-6)


def _blocks(log: str) -> dict[tuple[int, int], dict[str, float]]:
    lines = log.splitlines()
    blocks = {}
    for i, line in enumerate(lines):
        if " : stol = " in line:
            fast, slow = (int(v) for v in line.split(":")[0].split())
            values = {row.split()[0]: float(row.split()[1]) for row in lines[i + 3:i + 6]}
            values["I"] = float(lines[i + 1].split("I = ")[1])
            blocks[(fast, slow)] = values
    return blocks


@pytest.mark.parametrize("coherent", [False, True])
def test_blocks_describe_the_image(engine, c_parity, coherent, tmp_path, monkeypatch):
    """Every rendered pixel of the ROI has a block, in both modes, its photons the
    image's."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "atoms.txt").write_text("0 0 0\n4 0 1 0.5 8\n0 3 1 1 0 30\n")
    args = ["-file", "atoms.txt", "-detpixels", "6", "-pixel", "0.5", "-distance", "50",
            "-oversample", "2", "-printout", "-roi", "1", "4", "2", "3",
            "-backend", engine, *(["-coherent"] if coherent else []),
            *(["-c_parity"] if c_parity else [])]
    blocks = _blocks(_run(args))
    assert sorted(blocks) == [(f, s) for f in range(1, 5) for s in (2, 3)]
    image = np.fromfile(tmp_path / "floatimage.bin", "<f4").reshape(6, 6)
    for (fast, slow), values in blocks.items():
        assert values["pixel"] == pytest.approx(float(image[slow, fast]), rel=1e-9)
        assert values["I"] > 0.0


def test_printout_pixel_and_debug_lines(tmp_path, monkeypatch, c_parity):
    """-printout_pixel prints one block; -debug the atoms as read (a comment line is an
    atom to the original's reader, a blank line to the strict one) and each term."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "atoms.txt").write_text("# x y z\n0 0 0\n\n1 2 3 0.5\n")
    args = ["-file", "atoms.txt", "-detpixels", "4", "-oversample", "1", "-printout_pixel",
            "2", "1", "-debug", *(["-c_parity"] if c_parity else [])]
    lines = _run(args).splitlines()
    assert sum(" : stol = " in line for line in lines) == 1
    assert any(line.startswith("   2    1 : stol = ") for line in lines)
    initializing = [line for line in lines if line.startswith("initializing:")]
    if c_parity:
        assert lines.count("blank") == 2
        assert initializing == ["initializing: 0 0 0 0 with Z=0 B=0",
                                "initializing: 1 0 0 0 with Z=1 B=0",
                                "initializing: 2 1 2 3 with Z=0.5 B=0"]
    else:
        assert lines.count("blank") == 4
        assert initializing == ["initializing: 0 0 0 0 with Z=1 B=0",
                                "initializing: 1 1 2 3 with Z=0.5 B=0"]
    terms = [line for line in lines if " -> " in line]
    assert len(terms) == len(initializing)


def test_printout_flags_parse(c_parity):
    rec = parse_near(["-file", "a", "-printout_pixel", "3", "4", "-debug"], c_parity=c_parity)
    assert rec.printout
    assert rec.printout_pixel == (3, 4)
    assert rec.debug
    every = parse_near(["-file", "a", "-printout_pixel", "-1", "0"], c_parity=c_parity)
    assert every.printout
    assert every.printout_pixel is None


@pytest.mark.parametrize("extra", [[], ["-coherent"], ["-curved_det", "-point_pixel"],
                                   ["-source_distance", "far", "-divergence", "1",
                                    "-divsteps", "2", "-dispersion", "4", "-dispsteps", "2"]])
def test_image_blocks_equal_the_term_by_term_ones(extra, engine, c_parity, tmp_path,
                                                  monkeypatch):
    """-printout of every pixel takes its blocks from the images; with c_parity one
    pixel's block is summed again term by term: both print the same text (also over an
    accumulated image)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "atoms.txt").write_text("0 0 0\n4 0 1 0.5 8\n0 3 1 1 0 30\n")
    args = ["-file", "atoms.txt", "-detpixels", "5", "-pixel", "0.5", "-distance", "50",
            "-oversample", "2", "-backend", engine, *extra,
            *(["-c_parity"] if c_parity else [])]
    _run([*args, "-noprogress"])
    every = _run([*args, "-printout", "-accumulate"]).splitlines()
    _run([*args, "-noprogress"])
    one = _run([*args, "-printout_pixel", "3", "1", "-accumulate"]).splitlines()
    start = every.index(next(line for line in one if " : stol = " in line))
    block = one[one.index(every[start]):][:6]
    assert every[start:start + 6] == block
