"""The command's -trace_pixel, -printout and -printout_pixel."""

from __future__ import annotations

import io

import pytest

import nanobragg as nb
from conftest import GOLDEN
from nanobragg.cli.main import main, run
from nanobragg.flags import parse_command_line
from test_golden import ENGINE_FLAGS, prepare

SMALL = ["-cell", "70", "80", "90", "75", "85", "95", "-default_F", "100", "-N", "5",
         "-detpixels", "6", "-distance", "70", "-oversample", "2", "-noprogress"]


def render_block(log: str) -> list[str]:
    """The lines the original prints inside its pixel loop."""
    lines = log.splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith("  water droplet size"))
    stop = next(i for i, line in enumerate(lines) if line.startswith("solid angle"))
    return lines[start + 1:stop]


def test_printout_pixel_block_is_the_originals(engine, tmp_path, monkeypatch):
    args = prepare("noop_flags", tmp_path, ["-c_parity", *ENGINE_FLAGS[engine]])
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    assert run(args, out=out) == 0
    golden = (GOLDEN / "cases" / "noop_flags" / "stdout.txt").read_text()
    expected = render_block(golden)
    assert expected[0].startswith("  20   30 : stol =")
    assert len(expected) == 15
    assert render_block(out.getvalue()) == expected


def test_printout_without_a_pixel_prints_every_rendered_pixel(engine, c_parity, tmp_path,
                                                              monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = [*SMALL, "-printout", "-roi", "1", "4", "2", "3", "-backend", engine]
    if c_parity:
        args.append("-c_parity")
    out = io.StringIO()
    assert run(args, out=out) == 0
    block = render_block(out.getvalue())
    heads = [line for line in block if " : stol = " in line]
    # fast 1..4 for slow 2..3, in the render's order, one 14-line block each
    assert [tuple(int(v) for v in h.split(":")[0].split()) for h in heads] == \
        [(f, s) for s in (2, 3) for f in (1, 2, 3, 4)]
    assert len(block) == 14 * len(heads) + 1
    assert block[-1] == ""


def test_trace_pixel_prints_the_trace(engine, c_parity, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = [*SMALL, "-trace_pixel", "2", "3", "-backend", engine]
    if c_parity:
        args.append("-c_parity")
    out = io.StringIO()
    assert run(args, out=out) == 0
    log = out.getvalue()
    command = parse_command_line(args)
    expected = nb.trace_pixel(command.config, 2, 3, backend=engine, c_parity=c_parity)
    assert log.endswith(expected.to_text())
    assert log.index("# nanobragg trace: pixel slow 2 fast 3") > log.index("writing")


def test_a_bad_trace_pixel_fails_before_writing_anything(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main([*SMALL, "-trace_pixel", "6", "0"]) == 1
    assert "trace pixel slow: 6 is not a pixel index 0..5" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    assert main([*SMALL, "-trace_pixel", "1"]) == 2
    assert "-trace_pixel: needs 2 value(s)" in capsys.readouterr().err


@pytest.mark.parametrize("pixel", [("9", "0"), ("0", "6"), ("2", "-1")])
def test_printout_pixel_off_the_detector_prints_nothing(pixel, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    assert run([*SMALL, "-printout_pixel", *pixel, "-c_parity"], out=out) == 0
    assert render_block(out.getvalue()) == [""]


def test_printout_of_no_pixel_needs_no_trace(tmp_path, monkeypatch):
    """A pixel off the detector prints nothing, even where a trace would be too large."""
    monkeypatch.chdir(tmp_path)
    big = ["-phisteps", "2000", "-mosaic_domains", "1000", "-mosaic", "1", "-detpixels", "2"]
    assert run([*SMALL, *big, "-printout_pixel", "9", "1", "-c_parity"], out=io.StringIO()) == 0
    assert (tmp_path / "floatimage.bin").exists()


def test_printout_pixel_with_a_negative_fast_index_prints_every_pixel(tmp_path, monkeypatch):
    """As in the original, whose test is fpixel == FAST && spixel == SLOW || FAST < 0."""
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    assert run([*SMALL, "-printout_pixel", "-1", "4", "-c_parity"], out=out) == 0
    assert len(render_block(out.getvalue())) == 14 * 36 + 1


def test_trace_and_printout_see_the_image_s_clock_seeded_misset(engine, tmp_path, monkeypatch):
    """A random misset seeded from the clock is drawn once per command: the trace and
    the printout describe the crystal of the image even when the clock moves on."""
    import time

    import numpy as np

    clock = iter(range(1_700_000_000, 1_800_000_000, 10))
    monkeypatch.setattr(time, "time", lambda: next(clock))
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    args = [*SMALL, "-misset", "random", "-trace_pixel", "2", "3", "-printout",
            "-printout_pixel", "3", "2", "-backend", engine, "-floatfile", "float.bin"]
    assert run(args, out=out) == 0
    image = np.fromfile("float.bin", "<f4").reshape(6, 6)
    log = out.getvalue()
    value = float(log.split("final.value = ")[1].split()[0])
    assert value == pytest.approx(float(image[2, 3]), rel=1e-6)
    assert "pixel   %15.10g" % image[2, 3] in render_block(log)
