"""nb-compare: runner specs, runners (in process and external), metrics, report, exit codes."""

from __future__ import annotations

import io
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import DATA
from nanobragg.cli.compare import (
    EXIT_OK,
    EXIT_RUNNER_FAILED,
    EXIT_SHAPE_MISMATCH,
    EXIT_THRESHOLD_NOT_MET,
    EXIT_USAGE,
    main,
)
from nanobragg.cli.main import run as run_nanobragg
from nanobragg.compare import (
    Report,
    Run,
    ShapeMismatch,
    compare_images,
    correlation,
    external_argv,
    find_peaks,
    make_runner,
    parse_runner_spec,
    write_outputs,
)
from nanobragg.errors import UsageError

BASE = ["-detpixels", "32", "-pixel", "0.1", "-distance", "50", "-cell", "30", "30", "30",
        "90", "90", "90", "-N", "3", "-lambda", "1"]
"""A 32x32 detector, no structure factors yet."""
SMALL = [*BASE, "-default_F", "100"]
ONE_STEP = [*SMALL, "-oversample", "1"]
"""Renders in about a millisecond."""
PARITY_DIFFERS = [*SMALL, "-oversample", "2", "-oversample_omega"]
"""running_sum_factors: the original multiplies the running sum by each sub-pixel's solid
angle, so c_parity and corrected images differ a lot here."""
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
STANDIN = DATA / "standin_nanobragg.py"


def compare(tmp_path: Path, *options: str, args: list[str] = ONE_STEP) -> tuple[int, dict]:
    """Run nb-compare with OUT in tmp_path; the exit status and summary.json (or {})."""
    out = tmp_path / "out"
    status = main(["--out", str(out), *options, "--", *args])
    summary = out / "summary.json"
    return status, json.loads(summary.read_text()) if summary.exists() else {}


@pytest.fixture
def standin(tmp_path_factory) -> str:
    """exe:WRAPPER, WRAPPER running the stand-in program with this interpreter."""
    wrapper = tmp_path_factory.mktemp("bin") / "nanoBragg-standin"
    wrapper.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} "
                       f"{shlex.quote(str(STANDIN))} \"$@\"\n")
    wrapper.chmod(0o755)
    return f"exe:{wrapper}"


# --- the default comparison --------------------------------------------------------------------


def test_c_against_torch_writes_the_report_and_files(tmp_path, capsys):
    status, summary = compare(tmp_path)
    text = capsys.readouterr().out
    assert status == EXIT_OK
    metrics = summary["metrics"]
    assert metrics["correlation"] >= 0.999999
    assert metrics["max_rel_diff"] < 1e-9
    assert metrics["sum_ratio"] == pytest.approx(1.0, rel=1e-12)
    a, b = summary["runners"]["a"], summary["runners"]["b"]
    assert (a["spec"], a["backend"], b["spec"], b["backend"]) == ("c", "c", "torch", "torch")
    assert not a["c_parity"]
    assert not b["c_parity"]
    assert a["shape"] == b["shape"] == [32, 32]
    assert a["sum"] > 0
    assert a["max"] > 0
    assert a["seconds"] >= 0
    assert len(summary["peaks"]["matches"]) == 10
    assert summary["peaks"]["max_distance"] == 0.0
    assert summary["thresholds"]["failures"] == []
    out = tmp_path / "out"
    for name in ("a.bin", "b.bin"):
        assert (out / name).stat().st_size == 32 * 32 * 4
    image = np.fromfile(out / "a.bin", dtype="<f4")
    assert float(image.sum()) == pytest.approx(a["sum"], rel=1e-6)
    if "a.png" in summary["files"]:
        for name in ("a.png", "b.png", "diff.png"):
            assert (out / name).read_bytes().startswith(PNG_SIGNATURE)
    else:
        assert "matplotlib is not installed" in text
    for word in ("correlation", "rmse", "max |b - a|", "max relative diff", "sum ratio b/a",
                 "peaks"):
        assert word in text


def test_previews_are_skipped_with_a_note_without_matplotlib(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    status, summary = compare(tmp_path, "--a", "c", "--b", "c")
    assert status == EXIT_OK
    assert "matplotlib is not installed" in capsys.readouterr().out
    assert not list((tmp_path / "out").glob("*.png"))
    assert summary["files"] == ["a.bin", "b.bin", "summary.json"]


# --- c_parity ----------------------------------------------------------------------------------


def test_parity_suffix_against_corrected_reports_the_difference(tmp_path):
    status, summary = compare(tmp_path, "--a", "c", "--b", "c+parity", "--no-png",
                              args=PARITY_DIFFERS)
    assert status == EXIT_OK
    assert [summary["runners"][k]["c_parity"] for k in "ab"] == [False, True]
    assert summary["metrics"]["correlation"] < 0.999
    assert summary["metrics"]["max_rel_diff"] > 0.1


def test_c_parity_argument_turns_parity_on_for_both(tmp_path):
    status, summary = compare(tmp_path, "--a", "c", "--b", "c+parity", "--no-png",
                              args=["-c_parity", *PARITY_DIFFERS])
    assert status == EXIT_OK
    assert [summary["runners"][k]["c_parity"] for k in "ab"] == [True, True]
    assert summary["metrics"]["max_abs_diff"] == 0.0
    assert summary["metrics"]["correlation"] == 1.0


def test_parity_on_both_engines_agrees(tmp_path):
    status, summary = compare(tmp_path, "--a", "c+parity", "--b", "torch:cpu:float64+parity",
                              "--no-png", "--min-correlation", "0.999999",
                              "--max-rel-diff", "1e-6", args=PARITY_DIFFERS)
    assert status == EXIT_OK
    assert summary["runners"]["b"]["device"] == "cpu"
    assert summary["runners"]["b"]["dtype"] == "float64"


# --- runner specs and runners ------------------------------------------------------------------


@pytest.mark.parametrize(("text", "kind", "device", "dtype", "parity"), [
    ("c", "c", None, None, False),
    ("c+parity", "c", None, None, True),
    ("torch", "torch", None, None, False),
    ("torch:cuda", "torch", "cuda", None, False),
    ("torch:cuda:float32", "torch", "cuda", "float32", False),
    ("torch:cuda:1:float64+parity", "torch", "cuda:1", "float64", True),
    ("torch:cuda:1", "torch", "cuda:1", None, False),
    ("torch:cpu", "torch", "cpu", None, False),
    ("torch:float32", "torch", None, "float32", False),
])
def test_runner_specs(text, kind, device, dtype, parity):
    spec = parse_runner_spec(text)
    assert (spec.kind, spec.device, spec.dtype, spec.parity) == (kind, device, dtype, parity)


@pytest.mark.parametrize("text", ["", "C", "gpu", "c:cpu", "c+parity+parity", "torch:",
                                  "torch:mps", "torch:cuda:float16", "torch:cpu:float32:x",
                                  "exe:", "exe:/no/such/program"])
def test_bad_runner_specs(text):
    with pytest.raises(UsageError, match="runner"):
        parse_runner_spec(text)


def test_exe_spec_finds_programs_on_the_path():
    spec = parse_runner_spec("exe:sh")
    assert spec.kind == "exe"
    assert Path(spec.executable).is_absolute()


def test_runner_keeps_what_a_trace_needs():
    args = [*ONE_STEP, "-device", "cpu", "-dtype", "float32"]
    torch_runner = make_runner(parse_runner_spec("torch:float64+parity"), args)
    assert torch_runner.engine_options() == {"backend": "torch", "c_parity": True,
                                             "device": "cpu", "dtype": "float64",
                                             "max_terms": 1e11}
    assert torch_runner.config.detector.fpixels == 32
    c_runner = make_runner(parse_runner_spec("c"), args)
    assert c_runner.engine_options() == {"backend": "c", "c_parity": False, "device": None,
                                         "dtype": None, "max_terms": 1e11}


def test_external_arguments(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["-hkl", "P1.hkl", "-backend", "torch", "-device", "cuda", "-dtype", "float32",
            "-c_parity", "-trace_pixel", "1", "2", "-N", "3", "-floatfile", "mine.bin",
            "-intimage", "mine.img", "-mat", "sub/A.mat", "-distance", "50"]
    assert external_argv(argv, "/tmp/x/float.bin") == [
        "-hkl", str(tmp_path / "P1.hkl"), "-N", "3", "-mat", str(tmp_path / "sub" / "A.mat"),
        "-distance", "50", "-floatfile", "/tmp/x/float.bin"]


# --- external programs -------------------------------------------------------------------------


def write_hkl(path: Path) -> None:
    indices = range(-3, 4)
    lines = [f"{h} {k} {m} {10 + abs(h) + 2 * abs(k) + 3 * abs(m)}"
             for h in indices for k in indices for m in indices]
    path.write_text("\n".join(lines) + "\n")


def test_external_program_with_relative_files(tmp_path, monkeypatch, standin):
    monkeypatch.chdir(tmp_path)
    write_hkl(tmp_path / "P1.hkl")
    record = tmp_path / "record.json"
    monkeypatch.setenv("NB_STANDIN_RECORD", str(record))
    args = [*BASE, "-hkl", "P1.hkl", "-oversample", "1", "-floatfile", "mine.bin",
            "-backend", "torch"]
    status, summary = compare(tmp_path, "--a", standin, "--b", "c", "--no-png", args=args)
    assert status == EXIT_OK
    assert summary["metrics"]["correlation"] >= 0.999999
    assert summary["metrics"]["max_rel_diff"] < 1e-6  # float32 rounding of the float file
    assert summary["runners"]["a"]["executable"] == standin[len("exe:"):]
    assert summary["runners"]["b"]["backend"] == "c"
    seen = json.loads(record.read_text())
    assert Path(seen["cwd"]) != tmp_path
    assert seen["argv"][seen["argv"].index("-hkl") + 1] == str(tmp_path / "P1.hkl")
    assert "-backend" not in seen["argv"]
    assert "mine.bin" not in seen["argv"]
    assert not (tmp_path / "mine.bin").exists()
    assert "a.log" in summary["files"]
    assert "max_I" in (tmp_path / "out" / "a.log").read_text()


def test_external_program_reads_the_fdump_left_here(tmp_path, monkeypatch, standin):
    """Without -hkl the original reads ./Fdump.bin; the external program gets a copy."""
    monkeypatch.chdir(tmp_path)
    write_hkl(tmp_path / "P1.hkl")
    assert run_nanobragg([*BASE, "-hkl", "P1.hkl"], out=io.StringIO()) == 0
    assert (tmp_path / "Fdump.bin").exists()
    status, summary = compare(tmp_path, "--a", standin, "--b", "c", "--no-png",
                              args=[*BASE, "-oversample", "1"])
    assert status == EXIT_OK
    assert summary["metrics"]["correlation"] >= 0.999999
    assert any("Fdump.bin" in note for note in summary["runners"]["b"]["notes"])


@pytest.mark.parametrize(("mode", "status", "message"), [
    ("fail", EXIT_RUNNER_FAILED, "exit status 7"),
    ("nofloat", EXIT_RUNNER_FAILED, "wrote no float image"),
    ("short", EXIT_SHAPE_MISMATCH, "shape mismatch"),
])
def test_external_program_failures(tmp_path, monkeypatch, capsys, standin, mode, status,
                                   message):
    monkeypatch.setenv("NB_STANDIN_MODE", mode)
    assert compare(tmp_path, "--a", "c", "--b", standin, "--no-png") == (status, {})
    err = capsys.readouterr().err
    assert message in err
    if mode == "fail":
        assert "standin: failing on purpose" in err


def test_threshold_not_met_still_writes_everything(tmp_path, monkeypatch, capsys, standin):
    monkeypatch.setenv("NB_STANDIN_MODE", "scale")
    status, summary = compare(tmp_path, "--a", standin, "--b", "c", "--no-png",
                              "--min-correlation", "0.9999", "--max-rel-diff", "0.01")
    assert status == EXIT_THRESHOLD_NOT_MET
    assert summary["metrics"]["correlation"] >= 0.999999
    assert summary["metrics"]["sum_ratio"] == pytest.approx(0.5, rel=1e-6)
    assert summary["metrics"]["max_rel_diff"] == pytest.approx(0.5, rel=1e-6)
    assert summary["thresholds"]["failures"] == [
        "max relative difference %.6g > 0.01" % summary["metrics"]["max_rel_diff"]]
    assert (tmp_path / "out" / "b.bin").exists()
    assert "threshold not met" in capsys.readouterr().err


def test_engine_error_is_a_runner_failure(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no Fdump.bin here
    status, _ = compare(tmp_path, "--a", "c", "--b", "c", args=[*BASE, "-oversample", "1"])
    assert status == EXIT_RUNNER_FAILED
    assert "default_F is 0" in capsys.readouterr().err


# --- pixel traces ------------------------------------------------------------------------------


def test_trace_of_agreeing_runners(tmp_path, capsys):
    status, summary = compare(tmp_path, "--trace", "5", "7", "--no-png", args=PARITY_DIFFERS)
    text = capsys.readouterr().out
    assert status == EXIT_OK
    assert "trace of pixel (5, 7) (4 and 4 terms, rtol 1e-09): traces agree" in text
    assert summary["trace"] == {"pixel": [5, 7], "rtol": 1e-9, "terms": [4, 4],
                                "first_divergence": None}
    a_text = (tmp_path / "out" / "a.trace.txt").read_text()
    assert a_text.startswith("# nanobragg trace: pixel slow 5 fast 7, backend c")
    assert "a.trace.txt" in summary["files"]
    assert "b.trace.txt" in summary["files"]


def test_trace_names_the_first_divergence_of_parity_against_corrected(tmp_path, capsys):
    status, summary = compare(tmp_path, "--a", "c", "--b", "c+parity", "--trace", "5", "7",
                              "--no-png", args=PARITY_DIFFERS)
    text = capsys.readouterr().out
    assert status == EXIT_OK
    divergence = summary["trace"]["first_divergence"]
    assert divergence is not None
    assert divergence["quantity"] in text
    # a later comparison without --trace leaves no stale traces behind
    assert compare(tmp_path, "--no-png", args=PARITY_DIFFERS)[0] == EXIT_OK
    assert not (tmp_path / "out" / "a.trace.txt").exists()


@pytest.mark.parametrize(("options", "message"), [
    (["--trace", "32", "0"], "--trace: trace pixel slow: 32 is not a pixel index 0..31"),
    (["--trace", "0"], "--trace: expected 2 arguments"),
    (["--trace-rtol", "-1", "--trace", "0", "0"], "--trace-rtol: expected a number >= 0"),
    (["--min-correlation", "nan"], "--min-correlation: expected a number from -1 to 1"),
    (["--max-rel-diff", "-1"], "--max-rel-diff: expected a number >= 0"),
])
def test_trace_usage_errors(tmp_path, capsys, options, message):
    status, _ = compare(tmp_path, *options)
    assert status == EXIT_USAGE
    assert message in capsys.readouterr().err


def test_trace_with_an_unreadable_file_is_a_runner_failure(tmp_path, capsys):
    status, _ = compare(tmp_path, "--trace", "1", "1",
                        args=[*BASE, "-hkl", str(tmp_path / "missing.hkl")])
    assert status == EXIT_RUNNER_FAILED
    assert "missing.hkl" in capsys.readouterr().err


def test_a_clock_seeded_random_misset_is_one_crystal_for_both_runners(tmp_path, monkeypatch):
    """The clock moves on between the runs: both runners still draw the one crystal,
    and the summary records the seeds drawn."""
    import time

    clock = iter(range(1_700_000_000, 1_800_000_000, 10))
    monkeypatch.setattr(time, "time", lambda: next(clock))
    status, summary = compare(tmp_path, "--no-png", "--trace", "16", "16",
                              args=[*ONE_STEP, "-misset", "random"])
    assert status == EXIT_OK
    assert summary["metrics"]["correlation"] > 0.999999
    assert summary["trace"]["first_divergence"] is None
    seeds = {(r["seed"], r["misset_seed"]) for r in summary["runners"].values()}
    assert len(seeds) == 1
    assert None not in seeds.pop()


def test_ctrl_c_while_writing_leaves_the_earlier_comparison_as_it_was(tmp_path, monkeypatch,
                                                                      capsys):
    from nanobragg.compare import outputs

    assert compare(tmp_path, "--trace", "1", "1")[0] == EXIT_OK
    earlier = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(outputs, "_previews", interrupted)
    status, _ = compare(tmp_path)
    assert status == 130
    assert "interrupted while writing" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == earlier


def test_trace_needs_in_process_runners(tmp_path, capsys, standin):
    status, _ = compare(tmp_path, "--b", standin, "--trace", "0", "0")
    assert status == EXIT_USAGE
    assert "is an external program; pixel traces need in-process runners" in \
        capsys.readouterr().err


# --- usage errors and the console script -------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ["--a", "c"],
    ["--"],
    ["--b", "gpu", "--", *ONE_STEP],
    ["--a", "exe:/no/such/program", "--", *ONE_STEP],
    ["--bogus", "--", *ONE_STEP],
    ["--peaks", "-1", "--", *ONE_STEP],
    ["--", *ONE_STEP, "-frobnicate"],
    ["--", *ONE_STEP, "-distance"],
    ["--", *ONE_STEP, "-h"],
], ids=["no-dashes", "no-args", "bad-spec", "no-program", "bad-option", "bad-peaks",
        "unknown-flag", "missing-value", "help-flag"])
def test_usage_errors(tmp_path, monkeypatch, capsys, argv):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("nb-compare: ")
    assert err.count("\n") == 1
    assert not (tmp_path / "nb-compare-out").exists()


def test_console_script_and_help():
    assert shutil.which("nb-compare") is not None
    done = subprocess.run([sys.executable, "-m", "nanobragg.cli.compare", "--help"],
                          capture_output=True, text=True)
    assert done.returncode == 0
    for line in ("0  the comparison", "2  usage error", "3  a runner failed",
                 "4  a threshold is not met", "5  the two images differ in shape",
                 "torch[:DEVICE][:DTYPE]", "exe:PATH", "+parity"):
        assert line in done.stdout


# --- metrics on synthetic images ---------------------------------------------------------------


def spot(shape: tuple[int, int], slow: float, fast: float, width: float = 1.5) -> np.ndarray:
    rows, cols = np.indices(shape)
    return 100.0 * np.exp(-((rows - slow) ** 2 + (cols - fast) ** 2) / (2 * width ** 2))


def test_identical_images():
    image = spot((24, 24), 8, 9) + 0.5 * spot((24, 24), 18, 4)
    c = compare_images(image, image.copy())
    assert (c.correlation, c.rmse, c.max_abs_diff, c.max_rel_diff) == (1.0, 0.0, 0.0, 0.0)
    assert c.sum_ratio == 1.0
    assert [m.a for m in c.peaks] == [(8, 9), (18, 4)]
    assert c.peak_distances == [0.0, 0.0]


def test_shifted_spot_gives_the_shift_as_peak_distance():
    a, b = spot((32, 32), 10, 10), spot((32, 32), 10, 13)
    c = compare_images(a, b, peaks=5)
    assert [(m.a, m.b) for m in c.peaks] == [((10, 10), (10, 13))]
    assert c.mean_peak_distance == c.max_peak_distance == 3.0
    diagonal = compare_images(a, spot((32, 32), 13, 14))
    assert diagonal.max_peak_distance == 5.0
    assert c.correlation < 0.9


def test_known_relative_difference_and_sum_ratio():
    a = np.arange(1.0, 17.0).reshape(4, 4)
    c = compare_images(a, 1.25 * a)
    assert c.max_rel_diff == pytest.approx(0.2)
    assert c.sum_ratio == pytest.approx(1.25)
    assert c.correlation == pytest.approx(1.0)
    assert c.max_abs_diff == pytest.approx(4.0)
    assert c.max_abs_diff_pixel == (3, 3)
    assert c.rmse == pytest.approx(np.sqrt(np.mean((0.25 * a) ** 2)))


def test_relative_difference_ignores_pixels_below_the_floor():
    a = np.array([[1.0, 1e-9], [0.0, 1.0]])
    b = np.array([[1.01, 3e-9], [0.0, 1.0]])
    c = compare_images(a, b)
    assert c.max_rel_diff == pytest.approx(0.01 / 1.01)
    assert c.max_rel_diff_pixel == (0, 0)
    assert c.rel_floor == pytest.approx(1.01e-6)


@pytest.mark.parametrize(("a", "b", "expected"), [
    (np.full((4, 4), 3.0), np.full((4, 4), 3.0), 1.0),
    (np.zeros((4, 4)), np.zeros((4, 4)), 1.0),
    (np.full((4, 4), 3.0), np.full((4, 4), 4.0), 0.0),
    (np.full((4, 4), 3.0), np.arange(16.0).reshape(4, 4), 0.0),
    (np.arange(16.0).reshape(4, 4), -np.arange(16.0).reshape(4, 4), -1.0),
])
def test_correlation_of_constant_and_opposite_images(a, b, expected):
    assert correlation(a, b) == expected


def test_empty_images():
    zeros = np.zeros((8, 8))
    c = compare_images(zeros, zeros)
    assert (c.correlation, c.max_rel_diff, c.max_rel_diff_pixel, c.sum_ratio) == (1.0, 0.0,
                                                                                   None, 1.0)
    assert c.peaks == ()
    assert c.mean_peak_distance is None
    lonely = compare_images(spot((8, 8), 3, 3), zeros)
    assert lonely.sum_ratio == 0.0
    assert lonely.peaks[0].b is None
    assert lonely.max_peak_distance is None
    assert compare_images(zeros, spot((8, 8), 3, 3)).sum_ratio is None


def test_peaks_flat_tops_count_once_and_small_bumps_are_ignored():
    image = np.zeros((6, 8))
    image[2, 2:4] = 5.0          # a flat top two pixels wide
    image[4, 6] = 7.0
    image[0, 7] = 1e-4           # below 1e-3 of the maximum
    assert find_peaks(image).tolist() == [[4, 6], [2, 2]]
    assert find_peaks(np.full((3, 3), 2.0)).tolist() == [[0, 0]]


def test_shapes_must_match():
    with pytest.raises(ShapeMismatch, match=r"4 x 4.*4 x 5"):
        compare_images(np.zeros((4, 4)), np.zeros((4, 5)))


def test_previews_on_a_log_scale_and_of_flat_images(tmp_path):
    pytest.importorskip("matplotlib")
    runner = make_runner(parse_runner_spec("c"), ONE_STEP)
    for name, a, b in [("log", spot((16, 16), 5, 5), spot((16, 16), 6, 5)),
                       ("flat", np.zeros((16, 16)), np.zeros((16, 16)))]:
        report = Report(Run(runner, a, 0.0), Run(runner, b, 0.0), compare_images(a, b))
        files = write_outputs(tmp_path / name, report, log_scale=True)
        assert files == ["a.bin", "b.bin", "a.png", "b.png", "diff.png", "summary.json"]
        for png in ("a.png", "b.png", "diff.png"):
            assert (tmp_path / name / png).read_bytes().startswith(PNG_SIGNATURE)
    assert write_outputs(tmp_path / "log", report, previews=False) == ["a.bin", "b.bin",
                                                                        "summary.json"]
    assert not list((tmp_path / "log").glob("*.png"))  # an earlier comparison's are gone
