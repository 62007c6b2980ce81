"""The legacy render against its term-by-term trace (the same loop, with libm's sin for
every lattice factor and every quantity recorded).

The sines of a run of terms come from a SIMD kernel that gives libm's bits
(csrc/engine/nb_libm_sines.h), and the loop takes the factors in its own order: the
render must equal the trace to the bit, pixel by pixel, with each kernel, on a scene
whose layers hold more terms than one run, whose phi steps carry the crystal's rotation
from one source to the next, and whose resolution cut leaves out some of a pixel's
sources but not all.

The polarization factor re-normalises the sub-pixel's diffracted direction in place, as
the original does, and every later source of that sub-pixel takes its scattering vector
from the re-normalised direction: a term's scattering vector is its source's
(diffracted + direction) / wavelength from the diffracted direction the term sees,
except at the source that computed the factor (before it re-normalised)."""

from __future__ import annotations

import numpy as np
import pytest

import nanobragg as nb
from nanobragg.io import StructureFactors
from nanobragg.simulation import prepare
from nanobragg.trace import PixelTracer
from test_stages import rich_config


def render_equals_trace(config: nb.Config) -> tuple[np.ndarray, list]:
    """The C engine's c_parity image, after checking every pixel against its trace."""
    result = nb.simulate(config, backend="c", c_parity=True)
    image = result.image_float64
    tracer = PixelTracer(prepare(config, "c", True))
    traces = []
    for slow, fast in np.ndindex(image.shape):
        trace = tracer.trace(slow, fast)
        assert trace.final["value"] == image[slow, fast], (slow, fast)
        traces.append(trace)
    return image, traces


@pytest.mark.parametrize("oversample_polar", [False, True], ids=["polar-once", "polar-each"])
@pytest.mark.parametrize("simd", ["baseline", "avx2", None], ids=["libm", "avx2", "widest"])
def test_the_legacy_render_equals_its_term_by_term_trace(simd, oversample_polar, monkeypatch):
    if simd is None:
        monkeypatch.delenv("NANOBRAGG_SIMD", raising=False)
    else:
        monkeypatch.setenv("NANOBRAGG_SIMD", simd)
    config = rich_config()  # 96 terms a layer, two layers
    config.crystal.phi_deg = 0.0  # the first phi step keeps the carried rotation
    config.structure_factors.dmin_A = 55.0
    # with it the factor is computed at every source, each re-normalising the direction
    config.sampling.oversample_polar = oversample_polar
    image, traces = render_equals_trace(config)
    partly_cut = 0
    for trace in traces:
        cut = np.isnan(trace.terms["F_latt"])
        partly_cut += bool(cut.any() and not cut.all())
    assert partly_cut >= 5
    assert np.count_nonzero(image) > image.size // 2


def test_interpolation_switched_off_inside_a_pixel_is_traced_as_rendered():
    """A grid so small that the first stencil leaving it is met part-way through a
    pixel: its later terms take the nearest F, which a run of terms filled while
    interpolating does not hold."""
    config = rich_config()
    values = np.random.default_rng(3).uniform(10.0, 200.0, size=(8, 8, 8))
    config.structure_factors.structure_factors = StructureFactors(
        hkl_min=(-1, -1, -1), hkl_max=(6, 6, 6), values=values, count=values.size)
    config.structure_factors.interpolate = True
    result = nb.simulate(config, backend="c", c_parity=True)
    assert result.render_output.interpolation_switched_off
    render_equals_trace(config)


def test_later_sources_see_the_diffracted_direction_the_polarization_renormalised():
    config = rich_config()  # four sources, the factor computed once a pixel
    tracer = PixelTracer(prepare(config, "c", True))
    changed = 0
    for slow, fast in [(0, 0), (3, 4), (6, 6), (2, 5)]:
        trace = tracer.trace(slow, fast)
        terms, sources = trace.terms, trace.setup["sources"]
        source = terms["source"]
        expected = ((terms["diffracted"] + np.asarray(sources["direction"])[source])
                    / np.asarray(sources["wavelength_m"])[source][:, None])
        computed = ((terms["layer"] == 0) & (terms["subS"] == 0) & (terms["subF"] == 0)
                    & (source == 0))
        assert np.array_equal(terms["scattering"][~computed], expected[~computed])
        changed += int(np.any(terms["scattering"][computed] != expected[computed]))
    assert changed > 0  # the direction did change where the factor was computed


def test_with_oversample_polar_each_source_sees_the_direction_the_one_before_left():
    config = rich_config()
    config.sampling.oversample_polar = True  # the factor computed at every source
    tracer = PixelTracer(prepare(config, "c", True))
    for slow, fast in [(0, 0), (3, 4), (6, 6)]:
        trace = tracer.trace(slow, fast)
        terms, sources = trace.terms, trace.setup["sources"]
        direction = np.asarray(sources["direction"])
        wavelength = np.asarray(sources["wavelength_m"])
        site = terms["layer"] * 100 + terms["subS"] * 10 + terms["subF"]
        for where in np.unique(site):
            rows = site == where
            for s in range(1, len(wavelength)):
                left = terms["diffracted"][rows & (terms["source"] == s - 1)][0]
                seen = terms["scattering"][rows & (terms["source"] == s)]
                assert np.array_equal(seen, np.broadcast_to(
                    (left + direction[s]) / wavelength[s], seen.shape))
