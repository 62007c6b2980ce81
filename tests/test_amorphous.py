"""The amorphous-scattering stage (nonBragg): the original's outputs for 12 command lines
on both engines, the two engines against each other, each quirk in both modes, the
table readers, the command's parsing and errors, and the gradients of the torch stage."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
import torch

from conftest import DATA
from nanobragg import engines
from nanobragg.amorphous_scattering import AmorphousConfig, amorphous, detector_spec
from nanobragg.cli.nonbragg_command import run
from nanobragg.cli.nonbragg_main import main
from nanobragg.flags.nonbragg import parse_nonbragg
from nanobragg.io import read_smv
from nanobragg.stages.amorphous import stol_table

CORPUS = DATA / "golden-suite" / "nonBragg"
CASES = sorted(p.name for p in (CORPUS / "cases").iterdir())
ENGINE_FLAGS = {"c": ["-backend", "c"], "torch": ["-backend", "torch", "-dtype", "float64"]}
WATER = np.array([[0.0, 2.57], [0.1, 2.5], [0.2, 2.3], [0.3, 2.0], [0.4, 1.7], [0.5, 1.4],
                  [0.6, 1.2], [0.8, 0.9]])


def small(**changes) -> AmorphousConfig:
    settings = {"stol_rows": WATER, "fpixels": 12, "spixels": 10, "distance_mm": 30.0,
                "seed": 1}
    settings.update(changes)
    return AmorphousConfig(**settings)


def _run_case(case: str, folder, engine: str) -> str:
    for item in (CORPUS / "inputs").iterdir():
        shutil.copy(item, folder / item.name)
    args = [a for a in (CORPUS / "cases" / case / "args.txt").read_text().splitlines() if a]
    out = io.StringIO()
    assert run([*args, "-c_parity", *ENGINE_FLAGS[engine]], out) == 0
    return out.getvalue()


@pytest.mark.parametrize("case", CASES)
def test_golden_case(case, engine, tmp_path, monkeypatch):
    """Float images to the bit (C; torch float64 within 1e-6), SMV pixels identical, and
    every log line but those that come from the clock."""
    monkeypatch.chdir(tmp_path)
    log = _run_case(case, tmp_path, engine)
    folder = CORPUS / "cases" / case
    meta = json.loads((folder / "meta.json").read_text())
    shape = (meta["spixels"], meta["fpixels"])
    for name, kind in meta["outputs"].items():
        if kind == "float32":
            expected = np.fromfile(folder / name, "<f4").reshape(shape)
            actual = np.fromfile(tmp_path / name, "<f4").reshape(shape)
            if engine == "c":
                assert np.array_equal(actual, expected), name
            else:
                np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=0)
        else:
            expected_smv, actual_smv = read_smv(folder / name), read_smv(tmp_path / name)
            assert np.array_equal(actual_smv.data, expected_smv.data), name
            assert actual_smv.header_text == expected_smv.header_text
    args = (folder / "args.txt").read_text()
    clock = "-seed" not in args
    expected_lines = (folder / "stdout.txt").read_text().splitlines()
    actual_lines = log.splitlines()
    assert len(actual_lines) == len(expected_lines)
    for got, want in zip(actual_lines, expected_lines, strict=True):
        if clock and ("seed:" in want or "photons on noise image" in want):
            continue
        assert got == want


def test_engines_agree_in_corrected_mode():
    config = small(hdiv_range_mrad=2.0, hdiv_step_mrad=1.0, dispersion_pct=5.0,
                   dispersion_steps=3, oversample=2, polarization=0.5, twotheta_deg=10.0,
                   curved_detector=True, pivot="sample")
    c = amorphous(config, backend="c").output
    t = amorphous(config, backend="torch").output
    np.testing.assert_allclose(np.asarray(t.image), c.image, rtol=1e-12)
    assert t.omega_sum_sr == pytest.approx(c.omega_sum_sr, rel=1e-12)


def test_float32_torch_is_close(c_parity):
    config = small(oversample=2)
    c = amorphous(config, backend="c", c_parity=c_parity).image
    t = amorphous(config, backend="torch", dtype="float32", c_parity=c_parity)
    assert t.image_tensor.dtype == torch.float32
    np.testing.assert_allclose(t.image, c, rtol=1e-4)


def test_output_is_thread_independent():
    config = small(fpixels=24, spixels=24)
    one = amorphous(config, threads=1).image
    many = amorphous(config, threads=4).image
    assert np.array_equal(one, many)


def test_stol_table_end_points(engine, c_parity):
    """Beyond a short table legacy F runs on along the last rows' line (here to negative
    intensity); corrected F is held at the last row's value."""
    rows = np.array([[0.0, 2.0], [0.05, 1.5], [0.1, 1.0], [0.15, 0.5]])
    config = small(stol_rows=rows, fpixels=40, spixels=40, distance_mm=5.0)
    image = amorphous(config, backend=engine, c_parity=c_parity).image
    if c_parity:
        assert image.min() < 0.0
    else:
        assert image.min() > 0.0
        flat = amorphous(config.replace(stol_rows=np.array([[0, 0.5], [1, 0.5], [2, 0.5],
                                                             [3, 0.5]])),
                         backend=engine).image
        # the corner pixels lie beyond the table: F is the last row's, as in a flat table
        assert image[0, 0] == pytest.approx(flat[0, 0], rel=1e-12)


def test_legacy_walk_of_an_unsorted_table():
    """A table that does not rise: the C engine reproduces the original's walk (on one
    thread, whatever it is given); the torch engine refuses it with c_parity."""
    rows = np.vstack([[[0.0, 0.0]], WATER])  # a comment line read as a row at 0
    config = small(stol_rows=rows, fpixels=16, spixels=16)
    one = amorphous(config, c_parity=True, threads=1).image
    many = amorphous(config, c_parity=True, threads=4).image
    assert np.array_equal(one, many, equal_nan=True)
    with pytest.raises(ValueError, match="only the C engine"):
        amorphous(config, backend="torch", c_parity=True)
    with pytest.raises(ValueError, match="strictly increasing"):
        amorphous(config, c_parity=False)


def test_strict_reader_refuses_what_the_legacy_reader_takes(tmp_path, engine):
    path = tmp_path / "commented.stol"
    path.write_text("# stol F\n" + "".join(f"{s:g} {F:g}\n" for s, F in WATER))
    config = small(stol_file=str(path), stol_rows=None)
    with pytest.raises(ValueError, match="line 1"):
        amorphous(config, backend=engine)
    legacy = amorphous(config, c_parity=True)
    assert legacy.table.F[2] == 0.0
    assert legacy.table.stol_per_m[2] == 0.0
    for text, message in (("0 1\n\n0.1 2\n", "blank"), ("0 1 2\n", "3 values"),
                          ("0 1\n0.1 1\n0.2 1\n", "at least 4 rows")):
        path.write_text(text)
        with pytest.raises(ValueError, match=message):
            amorphous(config)


def test_stol_units():
    """-4stol and -Q tables are the same F at 4x and 4 pi x the abscissa."""
    base = amorphous(small()).image
    four = amorphous(small(stol_rows=WATER * [4.0, 1.0], stol_unit="4stol")).image
    q = amorphous(small(stol_rows=WATER * [4 * np.pi, 1.0], stol_unit="Q")).image
    np.testing.assert_allclose(four, base, rtol=1e-12)
    np.testing.assert_allclose(q, base, rtol=1e-12)


def test_legacy_table_carries_the_far_points():
    table = stol_table(WATER[:2], multiplier=1e10, c_parity=True)
    assert list(table.stol_per_m[:2]) == [-1e99, -1e98]
    assert list(table.F) == [2.57, 2.57, 2.57, 2.5, 2.5, 2.5]


def test_source_weights(engine, c_parity, tmp_path):
    path = tmp_path / "beams.txt"
    path.write_text("-10 0 0 2 1e-10\n-10 0.001 0 2 1e-10\n")
    weighted = amorphous(small(source_file=str(path)), backend=engine, c_parity=c_parity)
    path.write_text("-10 0 0 1 1e-10\n-10 0.001 0 1 1e-10\n")
    plain = amorphous(small(source_file=str(path)), backend=engine, c_parity=c_parity)
    ratio = weighted.image.sum() / plain.image.sum()
    assert ratio == pytest.approx(2.0 if c_parity else 1.0, rel=1e-6)


def test_rmsd_shifted(c_parity):
    result = amorphous(small(roi=(2, 6, 2, 6)), c_parity=c_parity)
    inside = result.image[2:7, 2:7].astype(np.float64)
    mean = inside.mean()
    own = np.sqrt(((inside - mean) ** 2).sum() / (inside.size - 1))
    nxt = result.image.ravel()[np.flatnonzero(result.roi_mask().ravel()) + 1]
    shifted = np.sqrt(((nxt.astype(np.float64) - mean) ** 2).sum() / (inside.size - 1))
    assert result.statistics.rmsd == pytest.approx(shifted if c_parity else own, rel=1e-12)
    assert own != pytest.approx(shifted, rel=1e-3)


def test_pgm_length(c_parity):
    result = amorphous(small(), c_parity=c_parity)
    pixels = 12 * 10
    header = b"P5\n12 10\n# pixels scaled by %s\n255\n" % ("%g" % result.pgm_scale).encode()
    data = result.pgm_bytes()
    assert data.startswith(header)
    assert len(data) == len(header) + pixels * (2 if c_parity else 1)


def test_solid_angle_line(tmp_path, monkeypatch, c_parity):
    monkeypatch.chdir(tmp_path)
    shutil.copy(CORPUS / "inputs" / "water.stol", tmp_path / "water.stol")
    lines = {}
    for oversample in ("1", "2"):
        out = io.StringIO()
        args = ["-stol", "water.stol", "-detpixels", "8", "-oversample", oversample,
                "-noprogress", "-nonoise", *(["-c_parity"] if c_parity else [])]
        run(args, out)
        lines[oversample] = float(next(line for line in out.getvalue().splitlines()
                                       if line.startswith("solid angle")).split()[6])
    assert lines["2"] / lines["1"] == pytest.approx(4.0 if c_parity else 1.0, rel=1e-3)


def test_curved_detector_axes(engine, c_parity):
    """Legacy turns the beam point by the lab y and z coordinates: with nonBragg's axes
    the pixel (slow + a, fast + b) from the beam sees what the corrected pixel
    (slow + b, fast + a) sees; polarization tells the two apart."""
    flat = np.array([[0.0, 2.0], [1.0, 2.0], [2.0, 2.0], [3.0, 2.0]])
    config = small(stol_rows=flat, curved_detector=True, fpixels=21, spixels=21,
                   beam_x_mm=1.05, beam_y_mm=1.05, distance_mm=10.0, polarization=0.9)
    image = amorphous(config, backend=engine, c_parity=c_parity).image.astype(np.float64)
    corrected = amorphous(config, backend=engine).image.astype(np.float64)
    mapped = corrected.T
    if c_parity:
        np.testing.assert_allclose(image, mapped, rtol=1e-6)
        assert not np.allclose(image, corrected, rtol=1e-4)
    else:
        assert not np.allclose(image, mapped, rtol=1e-4)


def test_substring_matching_only_with_c_parity():
    legacy = parse_nonbragg(["-stol", "w", "-twotheta_axis", "2", "1", "0", "-c_parity"])
    assert legacy.config["twotheta_deg"] == 2.0
    assert legacy.config["pivot"] == "sample"
    strict = parse_nonbragg(["-stol", "w", "-twotheta_axis", "2", "1", "0"])
    assert "twotheta_deg" not in strict.config
    assert "pivot" not in strict.config


def test_pivot_follows_the_last_flag():
    assert parse_nonbragg(["-stol", "w", "-Xbeam", "1", "-twotheta", "5"]).config["pivot"] \
        == "sample"
    assert parse_nonbragg(["-stol", "w", "-twotheta", "5", "-distance", "90"]).config[
        "pivot"] == "beam"


@pytest.mark.parametrize("argv", [["-stol", "w", "-frobnicate"], ["-stol", "w", "stray"],
                                  ["-stol", "w", "-distance"], ["-stol", "w", "-distance", "x"],
                                  ["-detpixels", "8"]])
def test_usage_errors(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("nonBragg: ")
    assert len(err) == 2
    assert not list(tmp_path.iterdir())


def test_bad_input_is_one_line_and_no_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["-stol", "missing.stol"]) == 1
    assert main(["-stol", "missing.stol", "-c_parity"]) == 1
    (tmp_path / "two.stol").write_text("0 1\n0.1 1\n")
    assert main(["-stol", "two.stol", "-pixel", "0"]) == 1
    assert main(["-stol", "two.stol", "-c_parity", "-intfile", "nodir/x.img"]) == 1
    assert main(["-stol", "two.stol", "-c_parity", "-intfile", "same", "-pgmfile", "same"]) == 1
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 5
    assert all(e.startswith("nonBragg: ") for e in errors)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["two.stol"]


def test_stage_data_handed_by_hand_is_checked(engine):
    result = amorphous(small())
    stage = engines.create(engine)
    short = type(result.table)(stol_per_m=np.zeros(2), F=np.zeros(2))
    with pytest.raises(ValueError, match=r"stol_table: rows"):
        stage.amorphous(result.spec, result.sources, short)
    with pytest.raises(TypeError, match=r"amorphous_spec\.c_parity: missing"):
        stage.amorphous(object(), result.sources, result.table)


def test_geometry_defaults_are_nonbraggs():
    spec = detector_spec(small(fpixels=10, spixels=10, pixel_size_mm=0.1), c_parity=True)
    assert spec.Xbeam_m == pytest.approx((0.001 - 0.0001) / 2)
    assert spec.Ybeam_m == pytest.approx((0.001 + 0.0001) / 2)


@pytest.mark.parametrize("name", ["sample_thickness_mm", "density_g_cm3"])
def test_gradients_match_finite_differences_of_the_c_engine(name):
    value = 0.1 if name == "sample_thickness_mm" else 1.0
    config = small(fpixels=6, spixels=5)
    tensor = torch.tensor(value, dtype=torch.float64, requires_grad=True)
    result = amorphous(config.replace(**{name: tensor}), backend="torch")
    result.image_tensor.sum().backward()
    step = value * 1e-4
    up = amorphous(config.replace(**{name: value + step})).output.image.sum()
    down = amorphous(config.replace(**{name: value - step})).output.image.sum()
    assert tensor.grad is not None
    assert float(tensor.grad) == pytest.approx((up - down) / (2 * step), rel=1e-6)


@pytest.mark.parametrize("flags", [["-energy", "0"], ["-MW", "0"], ["-pixel", "0"],
                                   ["-distance", "nan"], ["-detpixels", "-5"],
                                   ["-sourcefile", "nothere"], ["-img", "frame.img"]])
def test_bad_values_are_one_line_and_no_file(flags, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    shutil.copy(CORPUS / "inputs" / "water.stol", tmp_path / "water.stol")
    assert main(["-stol", "water.stol", "-c_parity", *flags]) in (1, 2)
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("nonBragg: ")
    assert len(err) <= 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["water.stol"]


def test_ieee_arithmetic_where_the_original_has_it():
    """A beam of size 0 with a flux: an infinite fluence, as in the original; the SMV
    image converts the non-numbers to counts as the original's conversion does."""
    result = amorphous(small(beam_size_mm=0.0, flux_per_s=1e12), c_parity=True)
    assert not np.isfinite(result.image).any()
    assert result.int_image().max() == 0


def test_stage_outputs_feed_the_other_engine():
    """Geometry and sources from the C engine, the amorphous stage on torch."""
    config = small(hdiv_range_mrad=1.0, hdiv_step_mrad=0.5)
    result = amorphous(config)
    torch_stage = engines.create("torch").amorphous(result.spec, result.sources, result.table)
    np.testing.assert_allclose(torch_stage.image.numpy(), result.output.image, rtol=1e-12)


def test_nopgm(tmp_path, monkeypatch, c_parity):
    """quirk nopgm_ignored: the original writes the PGM image whatever -nopgm says."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(CORPUS / "inputs" / "water.stol", tmp_path / "water.stol")
    run(["-stol", "water.stol", "-detpixels", "4", "-nopgm", "-noprogress",
         *(["-c_parity"] if c_parity else [])], io.StringIO())
    assert (tmp_path / "image.pgm").exists() == c_parity
    assert (tmp_path / "intimage.img").exists()


def test_printout_lines(tmp_path, monkeypatch, engine):
    """-printout_pixel FAST SLOW prints the original's block for that pixel."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(CORPUS / "inputs" / "water.stol", tmp_path / "water.stol")
    out = io.StringIO()
    run(["-stol", "water.stol", "-detpixels", "8", "-printout_pixel", "2", "3", "-nonoise",
         "-c_parity", *ENGINE_FLAGS[engine]], out)
    lines = out.getvalue().splitlines()
    start = lines.index("   2    3 : stol = 7.07106e+06 or 0.000707106")
    assert lines[start + 1:start + 5] == [" F=0    I = 1", "I/steps               1",
                                          "polar          0.999999", "omega       9.99997e-07"]
    assert lines[start + 5] == "pixel   2.211507405e+11"


def test_progress_reports_and_cancels(engine):
    calls = []
    amorphous(small(), backend=engine, progress=lambda done, total: calls.append(total))
    assert calls
    assert set(calls) == {10}
    with pytest.raises(RuntimeError, match="cancelled by the progress callback"):
        amorphous(small(), backend=engine, progress=lambda done, total: False)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_the_c_engine(c_parity):
    config = small(oversample=2, hdiv_range_mrad=1.0, hdiv_step_mrad=0.5, curved_detector=True)
    c = amorphous(config, c_parity=c_parity).image
    gpu = amorphous(config, backend="torch", device="cuda", c_parity=c_parity)
    assert gpu.image_tensor.device.type == "cuda"
    np.testing.assert_allclose(gpu.image, c, rtol=1e-12)
