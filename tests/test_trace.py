"""Pixel traces: what each engine records term by term, that it adds up to the
rendered pixel, that the engines' traces agree, and that first_divergence names
the first quantity a broken stage changes."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nanobragg as nb
from nanobragg.io import StructureFactors
from nanobragg.simulation import prepare
from nanobragg.trace import (
    INDEX_COLUMNS,
    MAX_TRACE_TERMS,
    TERM_COLUMNS,
    PixelTracer,
    first_divergence,
)
from test_cross_engine import configs
from test_stages import rich_config

PIXELS = [(0, 0), (3, 4), (6, 6)]
torch_kernels = [importlib.import_module(f"nanobragg.engines.torch.{name}")
                 for name in ("corrected", "legacy")]


def interpolated_config() -> nb.Config:
    """c_parity state that depends on earlier pixels: phi steps through 0 (carry-over),
    and interpolation on a grid the spot leaves part-way down the detector."""
    config = rich_config()
    config.crystal.phi_deg, config.crystal.osc_deg = 0.0, 0.5
    values = np.random.default_rng(5).uniform(10.0, 200.0, size=(5, 5, 5))
    config.structure_factors.structure_factors = StructureFactors(
        hkl_min=(-2, -2, -2), hkl_max=(2, 2, 2), values=values, count=values.size)
    config.structure_factors.interpolate = True
    config.detector.distance_mm = 30.0
    return config


@pytest.mark.parametrize("pixel", PIXELS)
def test_trace_adds_up_to_the_rendered_pixel(engine, c_parity, pixel):
    config = rich_config()
    image = nb.simulate(config, backend=engine, c_parity=c_parity).image_float64
    trace = nb.trace_pixel(config, *pixel, backend=engine, c_parity=c_parity)
    final = trace.final
    assert final["value"] == pytest.approx(image[pixel], rel=1e-12)
    setup = trace.setup["render"]
    assert len(trace) == (setup["thickness_steps"] * setup["oversample"] ** 2
                          * len(trace.setup["sources"]["wavelength_m"]) * setup["phi_steps"]
                          * len(trace.setup["mosaic_rotations"]["umats"]))
    # loop order: layer, sub-pixel slow, fast, source, phi step, domain
    order = np.lexsort([trace.terms[name] for name in reversed(INDEX_COLUMNS)])
    assert np.array_equal(order, np.arange(len(trace)))
    assert trace.terms["I"][-1] == pytest.approx(final["I"], rel=1e-12)
    if c_parity:
        rebuilt = (final["scale"] * final["I"] / final["steps"] * final["omega"]
                   * final["polar"] * final["capture"])
    else:
        per_pixel = setup["oversample"] ** 2 * len(trace.setup["sources"]["wavelength_m"])
        rebuilt = (final["scale"] * final["I"] / final["steps"]
                   + setup["water_background_per_sr"] * final["background"] / per_pixel)
        counted = ~np.isnan(trace.terms["F_cell"])
        terms = trace.terms
        assert np.sum(terms["F_cell"][counted] ** 2 * terms["F_latt"][counted] ** 2
                      * terms["omega"][counted] * terms["polar"][counted]
                      * terms["capture"][counted]) == pytest.approx(final["I"], rel=1e-12)
    assert rebuilt == pytest.approx(final["value"], rel=1e-12)
    # Miller indices from the recorded scattering vector and the nearest whole ones
    assert np.all(np.isnan(trace.terms["hkl0"]) | (trace.terms["hkl0"]
                                                     == np.ceil(trace.terms["hkl"] - 0.5)))


@pytest.mark.parametrize("pixel", PIXELS)
def test_engines_trace_the_same_quantities(c_parity, pixel):
    config = rich_config()
    a = nb.trace_pixel(config, *pixel, backend="c", c_parity=c_parity)
    b = nb.trace_pixel(config, *pixel, backend="torch", c_parity=c_parity)
    assert first_divergence(a, b, rtol=1e-12) is None
    assert a.to_text(digits=9).count("\n") == b.to_text(digits=9).count("\n")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=configs(), c_parity=st.booleans(), where=st.tuples(st.floats(0, 1),
                                                                 st.floats(0, 1)))
def test_engines_trace_random_configurations_alike(config, c_parity, where):
    S, F = config.detector.spixels, config.detector.fpixels
    slow, fast = min(int(where[0] * S), S - 1), min(int(where[1] * F), F - 1)
    a = nb.trace_pixel(config, slow, fast, backend="c", c_parity=c_parity)
    b = nb.trace_pixel(config, slow, fast, backend="torch", c_parity=c_parity)
    divergence = first_divergence(a, b, rtol=1e-9)
    assert divergence is None, str(divergence)
    image = nb.simulate(config, backend="c", c_parity=c_parity).image_float64
    assert a.final["value"] == pytest.approx(image[slow, fast], rel=1e-12, abs=1e-300)


def test_parity_trace_follows_the_run_state():
    """The pixel that starts from the unrotated crystal, and pixels after the
    interpolation switched off, are traced as the render computed them, by both
    engines alike."""
    config = interpolated_config()
    result = nb.simulate(config, c_parity=True)
    assert result.render_output.interpolation_switched_off
    tracers = [PixelTracer(prepare(config, engine, True)) for engine in ("c", "torch")]
    states = set()
    for slow, fast in [(0, 0), (0, 1), (2, 3), (3, 0), (6, 6)]:
        c_trace, torch_trace = (tracer.trace(slow, fast) for tracer in tracers)
        assert c_trace.final["value"] == pytest.approx(result.image_float64[slow, fast],
                                                        rel=1e-12)
        assert first_divergence(c_trace, torch_trace, rtol=1e-12) is None
        states.add(tuple(c_trace.state.values()))
    assert (True, True) in states
    assert (False, False) in states


def test_a_broken_stage_is_found_at_its_first_term(monkeypatch, c_parity):
    """A lattice factor off by 0.1% in the torch engine: the trace names F_latt at the
    first term that has a nonzero one, and nothing before it."""
    config = rich_config()
    reference = nb.trace_pixel(config, 3, 4, backend="c", c_parity=c_parity)
    original = torch_kernels[0].lattice_factor
    for kernel in torch_kernels:
        monkeypatch.setattr(kernel, "lattice_factor", lambda *args: original(*args) * 1.001)
    broken = nb.trace_pixel(config, 3, 4, backend="torch", c_parity=c_parity)
    divergence = first_divergence(reference, broken)
    first = int(np.flatnonzero(np.nan_to_num(reference.terms["F_latt"]) != 0)[0])
    assert divergence.quantity == f"terms[{first}].F_latt"
    assert divergence.b == pytest.approx(divergence.a * 1.001)
    assert "layer 0" in divergence.where
    assert "F_latt" in str(divergence)


def test_first_divergence_walks_setup_terms_and_final_in_order():
    config = rich_config()
    a = nb.trace_pixel(config, 3, 4)
    assert first_divergence(a, a) is None
    b = nb.trace_pixel(config, 3, 4)
    b.setup["geometry"]["pix0_m"] = b.setup["geometry"]["pix0_m"] + 1e-6
    b.terms["hkl"][5, 1] += 0.5
    assert first_divergence(a, b).quantity == "geometry.pix0_m"
    b.setup["geometry"]["pix0_m"] = a.setup["geometry"]["pix0_m"]
    found = first_divergence(a, b)
    assert found.quantity == "terms[5].hkl"
    assert found.b[1] == found.a[1] + 0.5
    b.terms["hkl"][5, 1] -= 0.5
    b.final["value"] *= 1 + 1e-6
    assert first_divergence(a, b).quantity == "final.value"
    assert first_divergence(a, b, rtol=1e-5) is None
    short = nb.trace_pixel(config, 3, 4)
    short.terms = {k: v[:-1] for k, v in short.terms.items()}
    assert first_divergence(a, short).quantity == "terms.count"
    with pytest.raises(ValueError, match="rtol"):
        first_divergence(a, b, rtol=-1.0)


def test_nan_marks_what_a_term_did_not_evaluate(engine, c_parity):
    config = rich_config()
    config.structure_factors.dmin_A = 40.0
    trace = nb.trace_pixel(config, 0, 0, backend=engine, c_parity=c_parity)
    cut = np.isnan(trace.terms["F_latt"])
    assert cut.any()
    assert np.isnan(trace.terms["hkl"][cut]).all()
    assert not np.isnan(trace.terms["scattering"]).any()
    assert np.isnan(trace.terms["F_cell"][cut]).all()


def test_traces_of_one_tracer_are_independent_of_each_other_and_of_the_run(engine):
    tracer = PixelTracer(prepare(rich_config(), engine, False))
    a, b = tracer.trace(3, 4), tracer.trace(3, 4)
    pix0 = (float(b.setup["render"]["pix0_m"][0]), float(b.setup["geometry"]["pix0_m"][0]))
    a.setup["render"]["pix0_m"][0] += 1.0
    a.setup["geometry"]["pix0_m"][0] += 1.0
    assert (b.setup["render"]["pix0_m"][0], b.setup["geometry"]["pix0_m"][0]) == pix0
    again = tracer.trace(3, 4)
    assert first_divergence(b, again, rtol=0.0) is None
    assert again.final["value"] == b.final["value"]


def test_trace_text_is_stable_and_names_every_quantity():
    config = rich_config()
    text = nb.trace_pixel(config, 3, 4).to_text()
    assert text == nb.trace_pixel(config, 3, 4).to_text()
    assert text.startswith("# nanobragg trace: pixel slow 3 fast 4, backend c, c_parity off")
    for name in TERM_COLUMNS[len(INDEX_COLUMNS):]:
        assert f"\n  {name}" in text
    assert "\nterm 191: layer 1 subS 1 subF 1 source 3 phi_step 1 domain 2\n" in text
    assert "\ngeometry.distance_m = 0.06\n" in text
    assert text.endswith("\n")


def test_bad_trace_requests_are_clear_errors():
    config = rich_config()
    with pytest.raises(ValueError, match=r"slow: 7 is not a pixel index 0\.\.6"):
        nb.trace_pixel(config, 7, 0)
    with pytest.raises(ValueError, match="fast: True is not a pixel index"):
        nb.trace_pixel(config, 0, True)
    config.sampling.roi = (2, 6, 0, 6)
    with pytest.raises(ValueError, match="is not rendered"):
        nb.trace_pixel(config, 0, 0)
    config.sampling.roi = None
    config.crystal.mosaic_domains = MAX_TRACE_TERMS // 16
    with pytest.raises(ValueError, match="a trace records at most"):
        nb.trace_pixel(config, 0, 0)


def test_a_result_traces_its_own_pixels_without_rendering_again(engine, monkeypatch):
    import nanobragg.trace as trace_module

    config = interpolated_config()
    result = nb.simulate(config, backend=engine, c_parity=True)

    def no_render(*args, **kwargs):
        raise AssertionError("the run state should come from the result")

    monkeypatch.setattr(trace_module, "render", no_render)
    tracer = PixelTracer.of(result)
    for slow, fast in [(0, 0), (3, 0), (6, 6)]:
        traced = tracer.trace(slow, fast)
        assert traced.final["value"] == pytest.approx(result.image_float64[slow, fast],
                                                      rel=1e-12)
