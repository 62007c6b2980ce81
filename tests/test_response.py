"""The detector response (the original ``noisify``): the golden corpus through the
``noisify`` command on both engines (images and log identical to the original's), each
quirk in both modes on both engines, the corrected engines against each other, the API,
and bad input."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import fabio
import numpy as np
import pytest

import nanobragg as nb
from conftest import DATA
from nanobragg.cli.noisify import main
from nanobragg.cli.noisify_command import run
from nanobragg.io import read_pgm

CORPUS = DATA / "golden-suite" / "noisify"
CASES = sorted(p.name for p in (CORPUS / "cases").iterdir())


def prepare(case: str, folder: Path) -> list[str]:
    for item in (CORPUS / "inputs").iterdir():
        shutil.copy(item, folder / item.name)
    return [a for a in (CORPUS / "cases" / case / "args.txt").read_text().splitlines() if a]


@pytest.mark.parametrize("case", CASES)
def test_golden_case(case, engine, tmp_path, monkeypatch):
    """Every file the original wrote, byte for byte (SMV headers included), and its log
    line for line."""
    args = prepare(case, tmp_path)
    monkeypatch.chdir(tmp_path)
    log = io.StringIO()
    assert run([*args, "-c_parity", "-backend", engine], log) == 0
    meta = json.loads((CORPUS / "cases" / case / "meta.json").read_text())
    for name, kind in meta["outputs"].items():
        expected = CORPUS / "cases" / case / name
        if kind == "pgm":
            assert np.array_equal(read_pgm(tmp_path / name)[0], read_pgm(expected)[0]), name
        else:
            assert (tmp_path / name).read_bytes() == expected.read_bytes(), name
    assert log.getvalue() == (CORPUS / "cases" / case / "stdout.txt").read_text()


def response(image, c_parity, engine, **changes):
    config = nb.ResponseConfig(seed=3, **changes)
    return nb.detector_response(np.asarray(image, np.float32), config, backend=engine,
                                c_parity=c_parity)


def test_negative_values_wrap_only_in_c_parity(engine, c_parity):
    image = np.array([[-3.7, 0.0], [10.0, -70000.0]])
    for bits, wrapped in ((16, 65533), (32, 4294967293)):
        out = response(image, c_parity, engine, noise=False, adc_offset_adu=0.0, bits=bits)
        assert out.expected[0, 1] == 0
        assert out.expected[1, 0] == 10
        assert out.expected[0, 0] == (wrapped if c_parity else 0)
    noisy = response(np.zeros((8, 8)), c_parity, engine, adc_offset_adu=0.0, readout_adu=5.0,
                     calibration=0.0).noisy
    assert noisy is not None
    assert (noisy.max() > 60000) == c_parity


def test_the_32_bit_noiseless_image_saturates_at_16_bits_only_in_c_parity(engine, c_parity):
    out = response(np.full((2, 2), 1e6), c_parity, engine, noise=False, bits=32)
    assert out.expected.dtype == np.uint32
    assert int(out.expected.max()) == (65535 if c_parity else 1000040)


def test_the_calibration_error_follows_the_shot_seed_only_in_c_parity(engine, c_parity):
    """1e5 photons a pixel: shot noise is 0.3 % of the signal, the calibration error 10 %;
    two shots of different seeds share the calibration pattern only when corrected."""
    image = np.full((32, 32), 1e5, np.float32)
    shots = []
    for seed in (1, 2):
        config = nb.ResponseConfig(seed=seed, bits=32, calibration=0.1, calibration_seed=7)
        noisy = nb.detector_response(image, config, backend=engine, c_parity=c_parity).noisy
        assert noisy is not None
        shots.append(noisy.astype(np.float64).ravel())
    correlation = np.corrcoef(shots[0], shots[1])[0, 1]
    assert (correlation > 0.99) != c_parity, correlation


def test_the_psf_wraps_the_right_edge_only_in_c_parity(engine, c_parity):
    image = np.zeros((8, 8))
    image[3, 7] = 1000.0
    out = response(image, c_parity, engine, noise=False, psf="gauss", psf_fwhm_um=150.0,
                   psf_radius_px=2, adc_offset_adu=0.0)
    # one column past the right edge of row 3 is the first pixel of row 4
    assert (out.expected[4, 0] > 0) == c_parity
    assert out.expected[3, 6] > 0


def test_faint_pixels_vanish_under_an_automatic_gaussian_psf_only_in_c_parity(engine,
                                                                               c_parity):
    """0.005 photons a pixel: the original's automatic radius is NaN for each of them."""
    out = response(np.full((16, 16), 0.005), c_parity, engine, noise=False, psf="gauss",
                   psf_fwhm_um=100.0, adc_offset_adu=0.0, gain_adu_per_photon=1000.0)
    assert out.info.psf_applied
    assert (out.expected.sum() == 0) == c_parity


def test_a_short_float_file_is_padded_only_in_c_parity(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    np.arange(100, dtype="<f4").tofile("in.bin")
    assert main(["-floatfile", "in.bin", "-detpixels", "16", "-seed", "1", "-c_parity"]) == 0
    assert main(["-floatfile", "in.bin", "-detpixels", "16", "-seed", "1",
                 "-intfile", "x.img"]) == 1
    err = capsys.readouterr().err
    assert "in.bin: 400 bytes is not the 1024 bytes of a 16 x 16 float image" in err
    assert not (tmp_path / "x.img").exists()


@pytest.mark.parametrize("psf", ["gauss", "fiber"])
def test_the_corrected_engines_agree(psf):
    rng = np.random.default_rng(5)
    image = rng.exponential(50.0, (40, 48)).astype(np.float32)
    image[20, 24] = 5000.0
    config = nb.ResponseConfig(noise=False, psf=psf, psf_fwhm_um=120.0)
    c = nb.detector_response(image, config, backend="c")
    t = nb.detector_response(image, config, backend="torch")
    assert np.abs(c.expected.astype(int) - t.expected.astype(int)).max() <= 1
    assert c.info.psf_radius_px == t.info.psf_radius_px
    # what the kernel misses is 1 minus its sum: the sums' last digits differ
    assert c.info.lost_photons == pytest.approx(t.info.lost_photons, rel=1e-3, abs=1e-9)


def test_the_corrected_psf_keeps_the_photons_on_the_detector(engine):
    image = np.zeros((64, 64), np.float32)
    image[32, 32] = 1e4
    out = nb.detector_response(image, nb.ResponseConfig(noise=False, psf="gauss",
                                                        psf_fwhm_um=200.0, adc_offset_adu=0.0,
                                                        bits=32), backend=engine)
    # each pixel's value is truncated to whole ADU: at most 1 lost a pixel the PSF reaches
    assert 1e4 - 100 < out.expected.sum() <= 1e4
    assert out.expected[32, 32] == out.expected.max()


def test_corrected_noise_has_the_expected_statistics(engine):
    image = np.full((128, 128), 100.0, np.float32)
    out = nb.detector_response(image, nb.ResponseConfig(seed=11, calibration=0.0,
                                                        readout_adu=3.0), backend=engine)
    assert out.noisy is not None
    # whole ADU by truncation: half an ADU lower on average, 1/12 more variance
    values = out.noisy.astype(np.float64) - 40.0
    assert values.mean() == pytest.approx(99.5, abs=0.3)
    assert values.var() == pytest.approx(100.0 + 9.0 + 1 / 12, rel=0.05)
    again = nb.detector_response(image, nb.ResponseConfig(seed=11, calibration=0.0,
                                                          readout_adu=3.0), backend=engine)
    assert np.array_equal(again.noisy, out.noisy)


@pytest.mark.parametrize("mean", [0.5, 3.0, 30.0, 1e5])
def test_corrected_c_counts_are_poisson_and_the_same_for_any_thread_count(mean):
    image = np.full((256, 256), mean, np.float32)
    config = nb.ResponseConfig(seed=4, calibration=0.0, adc_offset_adu=0.0, bits=32)
    one = nb.detector_response(image, config, threads=1)
    two = nb.detector_response(image, config, threads=2)
    assert one.noisy is not None
    assert np.array_equal(one.noisy, two.noisy)
    counts = one.noisy.astype(np.float64)
    # 65536 draws: the mean within 4 standard errors, the variance within 3 %
    assert abs(counts.mean() - mean) < 4 * np.sqrt(mean / counts.size)
    assert counts.var() == pytest.approx(mean, rel=0.03)


def test_corrected_c_flicker_and_read_out_follow_their_variances_for_any_thread_count():
    image = np.full((256, 256), 100.0, np.float32)
    config = nb.ResponseConfig(seed=8, flicker=0.1, calibration=0.0, readout_adu=2.0,
                               adc_offset_adu=50.0, bits=32)
    one = nb.detector_response(image, config, threads=1)
    two = nb.detector_response(image, config, threads=2)
    assert one.noisy is not None
    assert np.array_equal(one.noisy, two.noisy)
    counts = one.noisy.astype(np.float64) - 50.0
    # Poisson 100 + flicker (0.1 x 100)^2 + read-out 2^2 + truncation 1/12
    assert counts.mean() == pytest.approx(99.5, abs=0.2)
    assert counts.var() == pytest.approx(100.0 + 100.0 + 4.0 + 1 / 12, rel=0.03)


THREADS_USED = """
import os, sys
import numpy as np
import nanobragg as nb
import nanobragg.engines.c
import nanobragg.response
before = len(os.listdir("/proc/self/task"))
nb.detector_response(np.full((64, 64), 5.0, np.float32), nb.ResponseConfig(psf="gauss", seed=1),
                     c_parity=sys.argv[1] == "1", threads=int(sys.argv[2]))
print(len(os.listdir("/proc/self/task")) - before)
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc")
@pytest.mark.parametrize(("omp_threads", "threads"), [(1, 3), (3, 1)])
def test_the_c_stage_runs_on_the_threads_it_is_given(omp_threads, threads, c_parity):
    """The OpenMP threads the stage starts (besides the caller's) are threads - 1,
    whatever OMP_NUM_THREADS says."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, OMP_NUM_THREADS=str(omp_threads))
    started = subprocess.run([sys.executable, "-c", THREADS_USED, str(int(c_parity)),
                              str(threads)], env=env, check=True, capture_output=True,
                             text=True).stdout
    assert int(started) == threads - 1


@pytest.mark.parametrize("changes", [{"psf": "gauss", "readout_adu": 2.0}, {},
                                     {"psf": "fiber", "noise": False}])
def test_expected_adu_on_first_use_is_the_one_asked_for(engine, c_parity, changes):
    image = np.random.default_rng(3).exponential(20.0, (40, 30)).astype(np.float32)
    config = nb.ResponseConfig(seed=2, gain_adu_per_photon=1.7, **changes)
    asked = nb.detector_response(image, config, backend=engine, c_parity=c_parity,
                                 expected_adu=True)
    later = nb.detector_response(image, config, backend=engine, c_parity=c_parity)
    assert asked.adu_values is not None
    assert (later.adu_values is None) == (engine == "c")
    assert np.array_equal(np.asarray(later.expected_adu), np.asarray(asked.expected_adu))
    assert np.array_equal(later.expected, asked.expected)
    assert np.array_equal(later.noisy, asked.noisy)


def test_a_simulation_through_the_detector_to_an_smv_file(tmp_path):
    config = nb.Config()
    config.crystal.cell = (40.0, 40.0, 40.0, 90.0, 90.0, 90.0)
    config.crystal.N_cells = (5.0, 5.0, 5.0)
    config.structure_factors.default_F = 100.0
    config.detector.fpixels = config.detector.spixels = 64
    config.sampling.oversample = 1
    result = nb.simulate(config)
    out = nb.detector_response(result, nb.ResponseConfig(psf="gauss", psf_fwhm_um=100.0,
                                                         readout_adu=2.0, seed=1))
    out.write_smv(tmp_path / "noise.img")
    image = fabio.open(str(tmp_path / "noise.img"))
    assert image.data.shape == (64, 64)
    assert np.array_equal(image.data, out.noisy)
    assert float(image.header["PIXEL_SIZE"]) == 0.1


@pytest.mark.parametrize(("changes", "message"), [
    ({"psf": "lorentz"}, r"^psf: 'lorentz' is not valid; expected one of 'gauss', 'fiber'"),
    ({"bits": 24}, r"^bits: 24 is not valid; expected 16 or 32"),
    ({"pixel_size_mm": 0.0}, r"^pixel_size_mm: 0.0 is not valid; expected a number > 0"),
    ({"psf_radius_px": -2}, r"^psf_radius_px: -2 is not valid; expected a whole number from 0"),
    ({"readout_adu": -1.0}, r"^readout_adu: -1.0 is not valid; expected a number >= 0"),
    ({"gain_adu_per_photon": float("nan")}, r"^gain_adu_per_photon: nan is not valid"),
])
def test_bad_values_are_refused_naming_the_field(changes, message, engine):
    with pytest.raises(ValueError, match=message):
        nb.detector_response(np.ones((4, 4)), nb.ResponseConfig(**changes), backend=engine)


@pytest.mark.parametrize("image", [np.ones(4), np.ones((0, 3)), "image.bin", [[1, 2], [3]]])
def test_bad_images_are_refused(image):
    with pytest.raises((TypeError, ValueError), match=r"^image: expected"):
        nb.detector_response(image)


@pytest.mark.parametrize(("argv", "status", "message"), [
    (["-floatfile", "in.bin", "-psf_sigma", "10"], 2, "unknown flag '-psf_sigma'"),
    (["-floatfile", "in.bin", "-psf", "airy"], 2, "-psf: 'airy' is not a PSF"),
    (["-floatfile", "in.bin", "-badpix_seed", "3"], 2, "read by the original but without"),
    (["-detpixels", "16"], 2, "no input image: give -floatfile FILE"),
    (["-floatfile", "in.bin", "-seed"], 2, "-seed needs a value"),
    (["-floatfile", "in.bin", "-bits", "8"], 1, "-bits: 8 is not valid; expected 16 or 32"),
    (["-floatfile", "missing.bin"], 1, "missing.bin"),
    (["-floatfile", "in.bin", "-noisefile", "adir"], 1, "-noisefile adir"),
])
def test_command_errors_are_one_line_and_leave_nothing(argv, status, message, tmp_path,
                                                       monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    np.ones(256, "<f4").tofile("in.bin")
    (tmp_path / "adir").mkdir()
    assert main(argv) == status
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir", "in.bin"]


def test_c_parity_reads_flags_by_substring(tmp_path, monkeypatch):
    """-psf_sigma sets the FWHM and -readout_noise the read-out noise, as in the
    original; strict mode refuses the first (a sigma is not a FWHM)."""
    monkeypatch.chdir(tmp_path)
    np.full(256, 100.0, "<f4").tofile("in.bin")
    log = io.StringIO()
    assert run(["-floatfile", "in.bin", "-psf", "gauss", "-psf_sigma", "30",
                "-readout_noise", "2", "-seed", "1", "-c_parity"], log) == 0
    assert "  Gaussian PSF fwhm = 30 um " in log.getvalue()
    assert "  readout_noise = 2 ADU" in log.getvalue()


def test_help_lists_every_flag(capsys):
    from nanobragg.flags.noisify import NOISIFY_FLAGS

    assert main(["-h"]) == 0
    text = capsys.readouterr().out
    assert all(name in text for flag in NOISIFY_FLAGS for name in flag.names)


@pytest.mark.parametrize("psf", ["gauss", "fiber"])
def test_gradients_in_the_psf_width_and_gain_match_finite_differences_of_the_c_engine(psf):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    image = rng.exponential(20.0, (24, 28)).astype(np.float32)
    image[12, 14] = 3000.0
    # the second moment about the bright pixel: a loss the PSF's width moves strongly
    rows, columns = np.mgrid[:24, :28]
    weights = (rows - 12.0) ** 2 + (columns - 14.0) ** 2

    def config(fwhm, gain):
        return nb.ResponseConfig(noise=False, psf=psf, psf_fwhm_um=fwhm, psf_radius_px=4,
                                 gain_adu_per_photon=gain, adc_offset_adu=10.0)

    def loss_c(fwhm: float, gain: float) -> float:
        out = nb.detector_response(image, config(fwhm, gain), backend="c")
        return float((out.expected_adu * weights).sum())

    fwhm = torch.tensor(150.0, dtype=torch.float64, requires_grad=True)
    gain = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    out = nb.detector_response(image, config(fwhm, gain), backend="torch")
    loss = (out.expected_adu * torch.as_tensor(weights)).sum()
    loss.backward()
    assert float(loss.detach()) == pytest.approx(loss_c(150.0, 1.5), rel=1e-6)
    # a step above the C engine's float32 images' rounding, below the curvature's effect
    step = 1e-2
    d_fwhm = (loss_c(150.0 * (1 + step), 1.5) - loss_c(150.0 * (1 - step), 1.5)) / (300.0 * step)
    d_gain = (loss_c(150.0, 1.5 * (1 + step)) - loss_c(150.0, 1.5 * (1 - step))) / (3.0 * step)
    assert float(fwhm.grad) == pytest.approx(d_fwhm, rel=1e-3)
    assert float(gain.grad) == pytest.approx(d_gain, rel=1e-3)


def test_a_gradient_runs_from_the_simulation_through_the_detector():
    torch = pytest.importorskip("torch")
    config = nb.Config()
    config.crystal.cell = (40.0, 40.0, 40.0, 90.0, 90.0, 90.0)
    config.crystal.N_cells = (5.0, 5.0, 5.0)
    config.structure_factors.default_F = 100.0
    config.detector.fpixels = config.detector.spixels = 16
    config.sampling.oversample = 1
    distance = torch.tensor(50.0, dtype=torch.float64, requires_grad=True)
    config.detector.distance_mm = distance
    result = nb.simulate(config, backend="torch")
    out = nb.detector_response(result, nb.ResponseConfig(noise=False, psf="gauss",
                                                         psf_fwhm_um=100.0), backend="torch")
    out.expected_adu.sum().backward()
    assert distance.grad is not None
    assert torch.isfinite(distance.grad)
    assert float(distance.grad) != 0.0


def test_the_readme_s_realistic_image(tmp_path, monkeypatch):
    """Spots, a water background and the detector, as the README composes them."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(DATA / "golden-suite" / "nonBragg" / "inputs" / "water.stol", tmp_path)
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    first = readme.split("```python\n")[1].split("```")[0]
    realistic = readme.split("## A realistic image")[1].split("```python\n")[1].split("```")[0]
    namespace: dict = {}
    exec(compile(first, "README", "exec"), namespace)
    exec(compile(realistic, "README", "exec"), namespace)
    image = fabio.open("image.img")
    assert image.data.shape == (128, 128)
    background = float(np.median(image.data))
    # the ADC offset, about 70 water photons, 3 ADU of read-out noise; the spots above
    sigma = np.sqrt(background - 40.0 + 9.0)
    assert 90 < background < 130
    assert image.data.max() > background + 8 * sigma
