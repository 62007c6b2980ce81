"""The two engines agree: stage by stage, and image by image to relative 1e-9 in
float64 in the corrected mode, on random configurations with small detectors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nanobragg as nb
from nanobragg.io import StructureFactors
from nanobragg.trace import first_divergence

RTOL = 1e-9


def close(a, b, rtol=RTOL) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = max(float(np.abs(b).max(initial=0.0)), 1e-300)
    return bool(np.allclose(a, b, rtol=rtol, atol=rtol * scale))


def grid(seed: int) -> StructureFactors:
    rng = np.random.default_rng(seed)
    values = rng.uniform(10.0, 200.0, size=(13, 13, 13))
    return StructureFactors(hkl_min=(-6, -6, -6), hkl_max=(6, 6, 6), values=values,
                            count=values.size)


@st.composite
def configs(draw) -> nb.Config:
    config = nb.Config()
    crystal, det, beam, sampling = config.crystal, config.detector, config.beam, config.sampling
    a = draw(st.floats(30.0, 90.0))
    crystal.cell = (a, draw(st.floats(30.0, 90.0)), draw(st.floats(30.0, 90.0)),
                    draw(st.floats(70.0, 110.0)), draw(st.floats(70.0, 110.0)),
                    draw(st.floats(70.0, 110.0)))
    crystal.misset_deg = tuple(draw(st.floats(-180.0, 180.0)) for _ in range(3))
    crystal.N_cells = tuple(draw(st.sampled_from([1.0, 2.0, 3.0, 5.0, 4.5, 70.0]))
                            for _ in range(3))
    crystal.shape = draw(st.sampled_from(["square", "round", "gauss", "tophat"]))
    crystal.phi_deg = draw(st.floats(-10.0, 10.0))
    crystal.osc_deg = draw(st.sampled_from([None, 0.5]))
    crystal.phi_steps = draw(st.sampled_from([None, 2, 3]))
    if draw(st.booleans()):
        crystal.mosaic_spread_deg = draw(st.floats(0.01, 1.0))
        crystal.mosaic_domains = draw(st.integers(1, 4))
    det.convention = draw(st.sampled_from(["mosflm", "xds", "adxv", "denzo", "dials"]))
    det.fpixels = draw(st.integers(3, 9))
    det.spixels = draw(st.integers(3, 9))
    det.pixel_size_mm = draw(st.floats(0.05, 0.5))
    det.distance_mm = draw(st.floats(20.0, 200.0))
    det.rotx_deg, det.roty_deg, det.rotz_deg = (draw(st.floats(-5.0, 5.0)) for _ in range(3))
    det.twotheta_deg = draw(st.floats(-20.0, 20.0))
    det.curved = draw(st.booleans())
    det.point_pixel = draw(st.booleans())
    if draw(st.booleans()):
        det.thickness_um = draw(st.floats(10.0, 500.0))
        det.thickness_steps = draw(st.integers(1, 3))
    beam.wavelength_A = draw(st.floats(0.8, 2.0))
    beam.polarization = draw(st.sampled_from([0.0, 0.9]))
    beam.nopolar = draw(st.booleans())
    if draw(st.booleans()):
        beam.dispersion_pct = draw(st.floats(0.1, 2.0))
        beam.dispersion_steps = draw(st.integers(1, 3))
    if draw(st.booleans()):
        beam.hdiv_range_mrad = draw(st.floats(0.1, 2.0))
        beam.hdiv_steps = draw(st.integers(1, 3))
    beam.water_um = draw(st.sampled_from([0.0, 10.0]))
    config.structure_factors.default_F = draw(st.floats(1.0, 100.0))
    config.structure_factors.dmin_A = draw(st.sampled_from([0.0, 3.0]))
    if draw(st.booleans()):
        config.structure_factors.structure_factors = grid(draw(st.integers(0, 10)))
        config.structure_factors.interpolate = draw(st.sampled_from([None, True, False]))
    sampling.oversample = draw(st.integers(1, 3))
    return config


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=configs())
def test_corrected_images_agree(config):
    c = nb.simulate(config, backend="c")
    t = nb.simulate(config, backend="torch", dtype="float64")
    for stage in ("geometry", "crystal", "sources"):
        want, got = getattr(c, stage), getattr(t, stage)
        for field in dataclasses.fields(want):
            key, value = field.name, getattr(want, field.name)
            if isinstance(value, (int, np.integer)):
                assert getattr(got, key) == value, f"{stage}.{key}"
            else:
                assert close(getattr(got, key), value, 1e-12), \
                    f"{stage}.{key}: {getattr(got, key)} != {value}"
    assert close(t.mosaic_umats, c.mosaic_umats, 1e-12)
    assert t.steps == c.steps
    difference = np.abs(t.image_float64 - c.image_float64).max()
    assert close(t.image_float64, c.image_float64), \
        f"max difference {difference / np.abs(c.image_float64).max():.3g} of the peak"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=configs())
def test_parity_images_agree(config):
    c = nb.simulate(config, backend="c", c_parity=True)
    t = nb.simulate(config, backend="torch", c_parity=True, dtype="float64")
    assert close(t.image_float64, c.image_float64, 1e-6)


def test_chunking_does_not_change_the_image(c_parity):
    """One pixel per chunk or all at once: the same numbers."""
    config = nb.Config.from_cli("-cell 50 60 70 80 90 100 -misset 3 4 5 -N 3 -default_F 10 "
                                "-detpixels 12 -oversample 2 -mosaic 0.3 -mosaic_dom 3 "
                                "-phisteps 2 -osc 0.2".split())
    whole = nb.simulate(config, backend="torch", c_parity=c_parity)
    pieces = nb.simulate(config, backend="torch", c_parity=c_parity, memory_budget=1)
    assert np.array_equal(whole.image_float64, pieces.image_float64)


def test_float32_render_follows_float64(c_parity):
    config = nb.Config.from_cli("-cell 70 80 90 75 85 95 -misset 10 20 30 -N 5 -default_F 100 "
                                "-lambda 1.5 -distance 60 -detpixels 48".split())
    single = nb.simulate(config, backend="torch", c_parity=c_parity, dtype="float32")
    double = nb.simulate(config, backend="torch", c_parity=c_parity, dtype="float64")
    assert single.image_tensor.dtype == torch.float32
    correlation = np.corrcoef(single.image.ravel(), double.image.ravel())[0, 1]
    assert correlation >= 0.99999


def test_compiled_render_gives_the_same_image(c_parity):
    config = nb.Config.from_cli("-cell 50 60 70 80 90 100 -misset 3 4 5 -N 3 -default_F 10 "
                                "-detpixels 6 -oversample 2 -phisteps 2 -osc 0.2".split())
    eager = nb.simulate(config, backend="torch", c_parity=c_parity)
    compiled = nb.simulate(config, backend="torch", c_parity=c_parity, compile=True)
    assert close(compiled.image_float64, eager.image_float64, 1e-12)


def test_parity_interpolation_skips_terms_off_the_grid():
    """Terms cut by dmin may sit far off the grid; they leave the interpolation switch
    alone and must not be interpolated either (found by test_parity_images_agree)."""
    config = nb.Config.from_cli("-cell 30 52 30 70 70 70 -N 1 -default_F 1 -detpixels 3 "
                                "-pixel 0.5 -distance 20 -lambda 0.875 -oversample 1 "
                                "-xds -curved_det -dmin 3".split())
    config.structure_factors.structure_factors = grid(0)
    c = nb.simulate(config, backend="c", c_parity=True)
    t = nb.simulate(config, backend="torch", c_parity=True)
    assert close(t.image_float64, c.image_float64, 1e-6)


def test_interpolation_on_a_grid_thinner_than_the_stencil(c_parity):
    """Three reflections: every stencil leaves the grid; no read may leave the array."""
    values = np.array([[[10.0, 20.0, 30.0]]])
    config = nb.Config.from_cli("-cell 40 40 40 90 90 90 -N 1 -default_F 5 -detpixels 5 "
                                "-lambda 1 -distance 50 -oversample 1 -interpolate".split())
    config.structure_factors.structure_factors = StructureFactors(
        hkl_min=(0, 0, -1), hkl_max=(0, 0, 1), values=values, count=3)
    c = nb.simulate(config, backend="c", c_parity=c_parity)
    t = nb.simulate(config, backend="torch", c_parity=c_parity)
    assert close(t.image_float64, c.image_float64, 1e-6 if c_parity else RTOL)


def test_reduced_precision_matmul_setting_does_not_change_float32_images(monkeypatch):
    config = nb.Config.from_cli("-cell 70 80 90 75 85 95 -misset 10 20 30 -N 5 "
                                "-default_F 100 -lambda 1.5 -distance 60 -detpixels 16".split())
    exact = nb.simulate(config, backend="torch", dtype="float32").image
    monkeypatch.setattr(torch, "get_float32_matmul_precision", lambda: "medium")
    guarded = nb.simulate(config, backend="torch", dtype="float32").image
    assert np.corrcoef(exact.ravel(), guarded.ravel())[0, 1] >= 0.99999


@pytest.mark.parametrize("N", [(1.0, 1.0, 1.0), (1.0, 1.0, 3.0), (2.0, 64.0, 7.0)])
def test_square_crystal_of_default_F_needs_no_miller_index(N):
    """The torch engine's shortcut for whole N and default F only (cos(pi h) in place of
    cos(pi (h - h0))) gives the C engine's image."""
    config = nb.Config()
    config.crystal.cell = (40.0, 50.0, 60.0, 88.0, 92.0, 95.0)
    config.crystal.misset_deg = (10.0, -20.0, 30.0)
    config.crystal.N_cells = N
    config.crystal.mosaic_spread_deg, config.crystal.mosaic_domains = 0.5, 3
    config.structure_factors.default_F = 30.0
    config.detector.fpixels = config.detector.spixels = 9
    config.detector.pixel_size_mm, config.detector.distance_mm = 0.3, 60.0
    c = nb.simulate(config, backend="c")
    t = nb.simulate(config, backend="torch")
    assert close(t.image_float64, c.image_float64)


@pytest.mark.parametrize("flag", ["-oversample_omega", "-oversample_polar", "-oversample_thick"])
def test_running_sum_factors_with_a_water_background(flag):
    """With water every term counts, skipped or not: the legacy running sum on both
    engines, image and trace."""
    args = ("-cell 50 50 50 90 90 90 -lambda 1 -N 3 -default_F 100 -distance 80 "
            "-detpixels 8 -water 10 -phisteps 2 -osc 1 -oversample 2 -detector_thick 50 "
            f"-thicksteps 2 {flag}").split()
    config = nb.Config.from_cli(args)
    c = nb.simulate(config, backend="c", c_parity=True)
    t = nb.simulate(config, backend="torch", c_parity=True)
    assert np.abs(c.image_float64).max() > 0
    assert close(t.image_float64, c.image_float64, 1e-6)
    traces = [nb.trace_pixel(config, 3, 5, backend=engine, c_parity=True)
              for engine in ("c", "torch")]
    assert first_divergence(*traces, rtol=1e-9) is None
