"""The command's log: the summary lines scripts parse are the original's, word for word."""

from __future__ import annotations

import io

import pytest

from conftest import GOLDEN
from nanobragg.cli.main import run
from test_golden import CASES, ENGINE_FLAGS, prepare

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
def test_summary_lines_match_the_original(case, engine, tmp_path, monkeypatch):
    golden_log = (GOLDEN / "cases" / case / "stdout.txt").read_text(errors="replace")
    args = prepare(case, tmp_path, ["-c_parity", *ENGINE_FLAGS[engine]])
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    assert run(args, out=out) == 0
    ours = out.getvalue()
    for prefix in SUMMARY_PREFIXES:
        assert lines_with(prefix, ours) == lines_with(prefix, golden_log), prefix


def test_ctrl_c_stops_a_long_render_quickly(engine, tmp_path):
    """SIGINT during rendering: the command stops within about a second, exit status 130,
    and leaves no output file."""
    import signal
    import subprocess
    import sys
    import time

    args = ["-cell", "70", "80", "90", "75", "85", "95", "-default_F", "100", "-N", "5",
            "-detpixels", "1024", "-mosaic", "0.5", "-mosaic_dom", "50", "-phisteps", "20",
            "-osc", "1", "-oversample", "3", "-noprogress", *ENGINE_FLAGS[engine]]
    process = subprocess.Popen([sys.executable, "-m", "nanobragg.cli.main", *args], cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(2.0)
    assert process.poll() is None, "the render finished before it could be interrupted"
    sent = time.perf_counter()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=20)
    assert time.perf_counter() - sent < 2.0
    assert process.returncode == 130, err
    assert list(tmp_path.iterdir()) == []
