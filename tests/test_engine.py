"""The engine as a library: stages, threads, progress, cancellation, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nanobragg as nb
from nanobragg.engines import create
from nanobragg.legacy_random import LegacyRandom
from nanobragg.stages import NoiseSpec, to_numpy
from nanobragg.stages.crystal import crystal_spec
from nanobragg.stages.geometry import detector_spec
from test_quirks_render import small_config


def interpolating_config() -> nb.Config:
    """Phi from 0 (carryover) and a grid too small for the stencil (switch-off)."""
    from nanobragg.io import StructureFactors

    rng = np.random.default_rng(5)
    grid = StructureFactors(hkl_min=(-2, -2, -2), hkl_max=(2, 2, 2),
                            values=rng.uniform(10, 100, (5, 5, 5)), count=125)
    config = small_config(crystal={"N_cells": (2.0, 2.0, 2.0), "phi_deg": 0.0, "osc_deg": 2.0,
                                   "phi_steps": 3, "mosaic_spread_deg": 0.5,
                                   "mosaic_domains": 4, "misset_deg": (3.0, 4.0, 5.0)},
                          structure_factors={"structure_factors": grid},
                          sampling={"oversample": 2})
    config.detector.distance_mm = 30.0
    return config


def test_images_do_not_depend_on_thread_count(c_parity):
    config = interpolating_config()
    one = nb.simulate(config, c_parity=c_parity, threads=1)
    two = nb.simulate(config, c_parity=c_parity, threads=2)
    three = nb.simulate(config, c_parity=c_parity, threads=3)
    assert np.array_equal(one.image, two.image)
    assert np.array_equal(one.image, three.image)
    if c_parity:
        assert one.render_output.interpolation_switched_off


def test_progress_reports_rows_in_order(engine, c_parity):
    calls = []
    result = nb.simulate(small_config(), backend=engine, c_parity=c_parity,
                         progress=lambda done, total: calls.append((done, total)))
    rows = result.image.shape[0]
    assert calls[-1] == (rows, rows)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_c_engine_reports_every_row(c_parity):
    calls = []
    result = nb.simulate(small_config(), backend="c", c_parity=c_parity, threads=1,
                         progress=lambda done, total: calls.append((done, total)))
    assert len(calls) == result.image.shape[0]


def test_torch_engine_reports_every_chunk(c_parity):
    calls = []
    nb.simulate(small_config(), backend="torch", c_parity=c_parity, memory_budget=1,
                progress=lambda done, total: calls.append((done, total)))
    rows = small_config().detector.spixels
    assert len(calls) == rows * small_config().detector.fpixels
    assert calls[-1] == (rows, rows)


def test_progress_false_cancels(engine, c_parity):
    with pytest.raises(RuntimeError, match="cancelled"):
        nb.simulate(small_config(), backend=engine, c_parity=c_parity,
                    progress=lambda done, total: False)


def test_interrupt_in_progress_propagates(engine):
    def interrupt(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        nb.simulate(small_config(), backend=engine, progress=interrupt)


def test_stages_have_documented_outputs(engine, c_parity):
    config = small_config()
    stages = create(engine)
    geometry = to_numpy(stages.detector_geometry(detector_spec(config, c_parity=c_parity)))
    for key in ("fdet", "sdet", "odet", "pix0_m", "beam", "polar", "spindle"):
        assert getattr(geometry, key).shape == (3,)
    assert math.isclose(np.linalg.norm(geometry.fdet), 1.0)
    assert geometry.fpixels == 24
    assert geometry.spixels == 24
    spec = crystal_spec(config, c_parity=c_parity, matrix=None, wavelength_m=1e-10,
                        misset_seed=-1)
    crystal = to_numpy(stages.crystal_vectors(spec, LegacyRandom()))
    assert math.isclose(np.linalg.norm(crystal.a_m), 40e-10)
    assert math.isclose(float(np.dot(crystal.a_m * 1e10, crystal.a_star_per_A)), 1.0)


def test_result_statistics_match_image(engine, c_parity):
    result = nb.simulate(small_config(), backend=engine, c_parity=c_parity)
    image = result.image.astype(np.float64)
    stats = result.statistics
    assert stats.max_I == pytest.approx(image.max())
    assert stats.mean == pytest.approx(image.mean())
    assert stats.max_I_pixel == np.unravel_index(np.argmax(image), image.shape)


def test_noise_is_reproducible_per_seed(engine, c_parity):
    result = nb.simulate(small_config(), backend=engine, c_parity=c_parity)
    first, photons, _ = result.noise_image()
    second, _, _ = result.noise_image()
    assert np.array_equal(first, second)
    assert photons == pytest.approx(float(result.image.sum()), rel=0.05)
    other = small_config()
    other.output.seed = 2
    third, _, _ = nb.simulate(other, backend=engine, c_parity=c_parity).noise_image()
    assert not np.array_equal(first, third)


def test_legacy_noise_is_shared_by_the_engines():
    """c_parity noise comes from the one legacy generator whatever the engine."""
    images = [nb.simulate(small_config(), backend=engine, c_parity=True).noise_image()[0]
              for engine in ("c", "torch")]
    assert np.array_equal(images[0], images[1])


@pytest.mark.parametrize(("group", "field", "value", "message"), [
    ("beam", "wavelength_A", 0.0, "beam.wavelength_A"),
    ("beam", "wavelength_A", float("nan"), "beam.wavelength_A"),
    ("detector", "distance_mm", -1.0, "detector.distance_mm"),
    ("detector", "pixel_size_mm", 0.0, "detector.pixel_size_mm"),
    ("detector", "fpixels", 1 << 20, "too large"),
    ("detector", "convention", "bogus", "detector.convention"),
    ("crystal", "cell", (0.0, 10.0, 10.0), "crystal.cell"),
    ("crystal", "shape", "cube", "crystal.shape"),
    ("crystal", "N_cells", (1.0, -2.0, 1.0), "crystal.N_cells"),
    ("sampling", "oversample", 2.5, "sampling.oversample"),
    ("sampling", "roi", (1, 2, 3), "sampling.roi"),
])
def test_bad_values_name_the_field(engine, group, field, value, message):
    config = small_config()
    setattr(getattr(config, group), field, value)
    if field == "fpixels":
        config.detector.spixels = 1 << 20
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        nb.simulate(config, backend=engine)


def test_missing_inputs_are_clear_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = small_config(structure_factors={"default_F": 0.0})
    with pytest.raises(ValueError, match="structure_factors"):
        nb.simulate(config)
    config = small_config(structure_factors={"hkl_path": str(tmp_path / "absent.hkl")})
    with pytest.raises(FileNotFoundError):
        nb.simulate(config)
    config = small_config()
    config.crystal.cell = None
    with pytest.raises(ValueError, match=r"crystal\.cell"):
        nb.simulate(config)


@pytest.mark.parametrize(("options", "message"), [
    ({"backend": "gpu"}, "backend"),
    ({"backend": "torch", "threads": 2}, "threads"),
    ({"backend": "c", "device": "cuda"}, "device"),
    ({"backend": "c", "dtype": "float32"}, "dtype"),
    ({"backend": "c", "memory_budget": 1000}, "memory_budget"),
    ({"backend": "torch", "memory_budget": 0}, "memory_budget"),
    ({"backend": "torch", "dtype": "float16"}, "dtype: 'float16'"),
    ({"backend": "torch", "device": "tpu"}, "device: 'tpu'"),
    ({"backend": "torch", "device": "cuda:99"}, "cuda:99"),
])
def test_engine_options_are_checked(options, message):
    with pytest.raises(ValueError, match=message):
        nb.simulate(small_config(), **options)


finite = st.floats(allow_nan=True, allow_infinity=True, width=64)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cell=st.tuples(st.floats(1, 200), st.floats(0, 200), st.floats(0, 200),
                   st.floats(0, 179), st.floats(0, 179), st.floats(0, 179)),
    wavelength=finite, distance=finite, pixel=finite, n=st.integers(0, 6),
    misset=st.tuples(finite, finite, finite), oversample=st.integers(1, 3),
    pixels=st.integers(1, 12), mosaic=st.one_of(st.none(), st.floats(0, 5)),
    c_parity=st.booleans(),
)
def test_random_configs_give_an_image_or_a_clear_error(cell, wavelength, distance, pixel, n,
                                                       misset, oversample, pixels, mosaic,
                                                       c_parity):
    config = small_config()
    config.crystal.cell = cell
    config.crystal.N_cells = (n, n, n)
    config.crystal.misset_deg = misset
    config.crystal.mosaic_spread_deg = mosaic
    config.beam.wavelength_A = wavelength
    config.detector.distance_mm = distance
    config.detector.pixel_size_mm = pixel
    config.detector.fpixels = config.detector.spixels = pixels
    config.sampling.oversample = oversample
    try:
        result = nb.simulate(config, c_parity=c_parity)
    except ValueError as error:
        assert str(error)  # noqa: PT017
        return
    assert result.image.shape == (pixels, pixels)
    assert result.image.dtype == np.float32


def test_stol_file_must_be_readable(tmp_path):
    """With c_parity the original's checks apply (corrected, any table is refused)."""
    config = small_config(structure_factors={"stol_path": str(tmp_path / "absent.stol")})
    with pytest.raises(FileNotFoundError):
        nb.simulate(config, c_parity=True)
    (tmp_path / "empty.stol").write_text("\n")
    config.structure_factors.stol_path = str(tmp_path / "empty.stol")
    with pytest.raises(ValueError, match=r"empty\.stol"):
        nb.simulate(config, c_parity=True)


@pytest.mark.parametrize("row", [
    [-10.0, 0.0, 0.0, 1.0, 0.0],
    [-10.0, 0.0, 0.0, 1.0, -1e-10],
    [0.0, 0.0, 0.0, 1.0, 1e-10],
    [-10.0, 0.0, 0.0, float("inf"), 1e-10],
])
def test_bad_source_rows_are_clear_errors(row):
    config = small_config(beam={"sources": np.array([row])})
    with pytest.raises(ValueError, match=r"beam\.sources"):
        nb.simulate(config)


def test_flux_needs_a_beam_size_and_replaces_the_fluence(engine):
    config = small_config()
    config.beam.flux, config.beam.beamsize_mm = 1e12, 0.0
    with pytest.raises(ValueError, match=r"beam\.beamsize_mm"):
        nb.simulate(config, backend=engine)
    import torch

    config.beam.beamsize_mm = 0.1
    config.beam.fluence = torch.tensor(1e24, dtype=torch.float64, requires_grad=True)
    with pytest.raises(ValueError, match=r"beam\.fluence"):
        nb.simulate(config, backend=engine)


def test_too_many_sources_is_an_error_before_allocating(engine):
    """65536 x 65537 divergence and dispersion points overflow a 32-bit count."""
    config = small_config(beam={"hdiv_range_mrad": 1.0, "hdiv_steps": 65536,
                                "dispersion_pct": 1.0, "dispersion_steps": 65537})
    with pytest.raises(ValueError, match="terms per pixel"):
        nb.simulate(config, backend=engine)


@pytest.mark.parametrize("field", ["output.seed", "crystal.misset_seed", "crystal.mosaic_seed"])
def test_seeds_beyond_the_generator_are_errors(field):
    config = small_config()
    group, name = field.split(".")
    setattr(getattr(config, group), name, 2 ** 63)
    with pytest.raises(ValueError, match=field):
        nb.simulate(config)


def test_structure_factor_grid_beyond_int_indices_is_an_error(engine):
    from nanobragg.io import StructureFactors

    big = 2 ** 31 - 1
    grid = StructureFactors(hkl_min=(big, 0, 0), hkl_max=(big, 0, 0),
                            values=np.ones((1, 1, 1)), count=1)
    config = small_config(structure_factors={"structure_factors": grid})
    with pytest.raises(ValueError, match="Miller indices"):
        nb.simulate(config, backend=engine)


@pytest.mark.parametrize(("crystal", "beam"), [
    ({}, {"wavelength_A": 1e-300}),
    ({"cell": (1e9, 1e9, 1e9, 90.0, 90.0, 90.0)}, {"wavelength_A": 1e-3}),
    ({"N_cells": (1e10, 2.0, 2.0)}, {}),
])
def test_extreme_indices_give_an_image_or_a_clear_error(engine, c_parity, crystal, beam):
    config = small_config(crystal=crystal, beam=beam, sampling={"oversample": 1})
    try:
        result = nb.simulate(config, backend=engine, c_parity=c_parity)
    except ValueError as error:
        assert str(error)  # noqa: PT017
    else:
        assert result.image.shape == (24, 24)


def test_noise_of_a_non_finite_pixel_is_zero():
    image = np.array([[np.nan, np.inf, 3.0]], dtype=np.float32)
    spec = NoiseSpec(c_parity=True, roi_xmin=0, roi_xmax=2, roi_ymin=0, roi_ymax=0,
                     adc_offset=0.0, seed=-1)
    noise = create("c").add_noise(image, spec, LegacyRandom()).counts
    assert noise[0, 0] == 0


def test_progress_answers_are_judged_by_truth(engine):
    class Broken:
        def __bool__(self):
            raise ZeroDivisionError("no truth here")

    assert nb.simulate(small_config(), backend=engine, progress=lambda d, t: [1]).image.size
    with pytest.raises(RuntimeError, match="cancelled"):
        nb.simulate(small_config(), backend=engine, progress=lambda d, t: "")
    with pytest.raises(ZeroDivisionError):
        nb.simulate(small_config(), backend=engine, progress=lambda d, t: Broken())


@pytest.mark.parametrize("threads", [1, 2])
def test_a_render_on_a_daemon_thread_lets_the_interpreter_exit(threads, tmp_path):
    """The interpreter exits while a C render runs on a daemon thread: the render stops
    without touching Python, and the process ends normally (it used to abort)."""
    import subprocess
    import sys

    script = tmp_path / "daemon.py"
    script.write_text(
        "import threading, time\n"
        "import nanobragg as nb\n"
        "config = nb.Config.from_cli('-cell 40 40 40 90 90 90 -N 5 -default_F 100 "
        "-detpixels 64 -oversample 200'.split())\n"
        f"worker = threading.Thread(target=lambda: nb.simulate(config, threads={threads}),"
        " daemon=True)\n"
        "worker.start()\n"
        "time.sleep(0.5)\n"
        "assert worker.is_alive()\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "terminate" not in done.stderr
