"""The original program's outputs for 64 command lines, reproduced with c_parity.

Each case runs the ``nanoBragg`` command in process, in a fresh folder holding
the corpus inputs, and compares every file the original wrote: float images to
float32 rounding, SMV and PGM pixels exactly, other files byte for byte.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from conftest import GOLDEN
from nanobragg.cli.main import run
from nanobragg.io import read_pgm, read_smv

CASES = sorted(p.name for p in (GOLDEN / "cases").iterdir()) if GOLDEN.exists() else []


def prepare(case: str, folder, extra_args=()) -> list[str]:
    for item in (GOLDEN / "inputs").iterdir():
        shutil.copy(item, folder / item.name)
    extra = GOLDEN / "cases" / case / "extra_inputs"
    if extra.exists():
        for item in extra.iterdir():
            shutil.copy(item, folder / item.name)
    args = (GOLDEN / "cases" / case / "args.txt").read_text().splitlines()
    return [a for a in args if a] + list(extra_args)


def compare_float(name, expected_path, actual_path, shape):
    expected = np.fromfile(expected_path, "<f4").reshape(shape)
    actual = np.fromfile(actual_path, "<f4").reshape(shape)
    peak = float(expected.max())
    significant = expected > 1e-6 * peak if peak > 0 else np.zeros(shape, bool)
    if significant.any():
        rel = np.abs(actual[significant] - expected[significant]) / np.abs(expected[significant])
        assert rel.max() <= 1e-6, f"{name}: max relative error {rel.max():.3g}"
    else:
        assert np.abs(actual).max() <= 1e-30, f"{name}: expected an empty image"


COUNT_TOLERANCE = {"c": 0, "torch": 1}
"""SMV and PGM pixels: the C engine's are identical; the torch engine's float64
arithmetic may round a pixel on the other side of a count."""
ENGINE_FLAGS = {"c": ["-backend", "c"], "torch": ["-backend", "torch", "-dtype", "float64"]}


def check_outputs(case: str, folder, count_tolerance: int = 0) -> None:
    """Every file the original wrote for ``case``, compared with the one in ``folder``."""
    meta = json.loads((GOLDEN / "cases" / case / "meta.json").read_text())
    shape = (meta["spixels"], meta["fpixels"])
    for name, kind in meta["outputs"].items():
        expected = GOLDEN / "cases" / case / name
        actual = folder / name
        assert actual.exists(), f"{name} was not written"
        if kind == "float32":
            compare_float(name, expected, actual, shape)
        elif kind == "smv":
            want, got = read_smv(expected), read_smv(actual)
            assert got.data.shape == want.data.shape
            diff = np.abs(got.data.astype(int) - want.data.astype(int))
            assert diff.max() <= count_tolerance, f"{name}: {int((diff > 0).sum())} pixels differ"
        elif kind == "pgm":
            want, got = read_pgm(expected), read_pgm(actual)
            diff = np.abs(want[0].astype(int) - got[0].astype(int))
            assert diff.max() <= count_tolerance, f"{name}: pixels differ"
        else:
            assert actual.read_bytes() == expected.read_bytes(), f"{name}: bytes differ"


@pytest.mark.parametrize("case", CASES)
def test_golden_case(case, engine, tmp_path, monkeypatch, capsys):
    args = prepare(case, tmp_path, ["-c_parity", *ENGINE_FLAGS[engine]])
    monkeypatch.chdir(tmp_path)
    assert run(args) == 0
    capsys.readouterr()
    check_outputs(case, tmp_path, COUNT_TOLERANCE[engine])


@pytest.mark.parametrize("case", CASES)
def test_golden_case_in_float32(case, tmp_path, monkeypatch, capsys):
    """The torch engine in single precision: every float image correlates with the
    original's to at least 0.99999."""
    meta = json.loads((GOLDEN / "cases" / case / "meta.json").read_text())
    args = prepare(case, tmp_path, ["-c_parity", "-backend", "torch", "-dtype", "float32"])
    monkeypatch.chdir(tmp_path)
    assert run(args) == 0
    capsys.readouterr()
    shape = (meta["spixels"], meta["fpixels"])
    for name, kind in meta["outputs"].items():
        if kind != "float32":
            continue
        expected = np.fromfile(GOLDEN / "cases" / case / name, "<f4").reshape(shape)
        actual = np.fromfile(tmp_path / name, "<f4").reshape(shape)
        if expected.std() == 0.0:
            assert np.array_equal(actual, expected), f"{name}: expected a constant image"
            continue
        correlation = np.corrcoef(expected.ravel(), actual.ravel())[0, 1]
        assert correlation >= 0.99999, f"{name}: correlation {correlation:.7f}"
