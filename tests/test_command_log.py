"""The command's log: the summary lines scripts parse are the original's, word for word."""

from __future__ import annotations

import io

import pytest

from conftest import GOLDEN
from nanobragg.cli.main import run
from test_golden import CASES, prepare

SUMMARY_PREFIXES = (
    "Unit Cell:", "Recp Cell:", "volume =", "crystal is", "  created a total of",
    "  parallelpiped xtal", "  ellipsoidal xtal", "  gaussian xtal", "  tophat-spot xtal",
    "  wave=", "  Kahn", "  polarization effect", "  incident fluence", "  distance=",
    "  sensor is", "  Xbeam=", "  Fbeam=", "  Xclose=", "  Fclose=", "  DIRECTION_OF",
    "  INCIDENT_BEAM", "  spindle", "  dials origin", "  roi:", "  hdivrange", "  vdivrange",
    "  water droplet", "solid angle", "max_I =", "mean=", "intfile_scale", "pgm_scale",
    "writing", "  skipping", "  curved detector", "  pixel obliquity",
)


def lines_with(prefix: str, text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(prefix)]


@pytest.mark.parametrize("case", CASES)
def test_summary_lines_match_the_original(case, tmp_path, monkeypatch):
    golden_log = (GOLDEN / "cases" / case / "stdout.txt").read_text(errors="replace")
    args = prepare(case, tmp_path, ["-c_parity"])
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    assert run(args, out=out) == 0
    ours = out.getvalue()
    for prefix in SUMMARY_PREFIXES:
        assert lines_with(prefix, ours) == lines_with(prefix, golden_log), prefix
