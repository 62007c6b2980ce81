"""The original nearBragg's outputs for 10 command lines, reproduced with c_parity on
both engines (the torch engine in float64): float images, the sin/cos images and the SMV
pixels to the bit, the log line for line."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest

from conftest import DATA
from nanobragg.cli.nearbragg_command import run
from nanobragg.io import read_smv

CORPUS = DATA / "golden-suite" / "nearBragg"
CASES = sorted(p.name for p in (CORPUS / "cases").iterdir())


def run_case(case: str, folder, engine: str) -> str:
    for item in (CORPUS / "inputs").iterdir():
        shutil.copy(item, folder / item.name)
    args = [a for a in (CORPUS / "cases" / case / "args.txt").read_text().splitlines() if a]
    log = io.StringIO()
    assert run([*args, "-c_parity", "-backend", engine], log) == 0
    return log.getvalue()


@pytest.mark.parametrize("case", CASES)
def test_golden_case(case, engine, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    log = run_case(case, tmp_path, engine)
    golden = CORPUS / "cases" / case
    assert log == (golden / "stdout.txt").read_text()
    meta = json.loads((golden / "meta.json").read_text())
    for name, kind in meta["outputs"].items():
        if kind == "float32":
            expected = np.fromfile(golden / name, "<f4")
            actual = np.fromfile(tmp_path / name, "<f4")
            assert np.array_equal(actual, expected), f"{name}: differs"
        else:
            expected_smv, actual_smv = read_smv(golden / name), read_smv(tmp_path / name)
            assert np.array_equal(actual_smv.data, expected_smv.data), f"{name}: pixels differ"
            assert actual_smv.header_text == expected_smv.header_text
