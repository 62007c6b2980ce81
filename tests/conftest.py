"""Shared fixtures: every behavioural test runs per engine and per c_parity mode."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data"
GOLDEN = DATA / "golden"

ENGINES = ("c", "torch")
"""Engines every behavioural test runs on."""


@pytest.fixture(params=ENGINES, ids=ENGINES)
def engine(request) -> str:
    return request.param


@pytest.fixture(params=(False, True), ids=("corrected", "c_parity"))
def c_parity(request) -> bool:
    return request.param
