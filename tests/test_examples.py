"""The examples run and do what they say."""

from __future__ import annotations

import importlib.util
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_refine_recovers_cell_orientation_and_distance():
    lines = []
    errors = load("refine").refine(steps=6, pixels=48, report=lines.append)
    assert len(lines) == 7
    assert lines[0].startswith("step  0")
    assert errors["cell_A"] < 1e-3
    assert errors["misset_deg"] < 1e-3
    assert errors["distance_mm"] < 1e-3
