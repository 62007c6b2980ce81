"""The legacy render's lattice factors.  The sines of a run of terms come from a SIMD
kernel that gives libm's bits (csrc/engine/nb_libm_sines.h), and the loop takes the
factors in its own order; a trace evaluates every term with libm's sin, one at a time.
The render must equal the trace to the bit, pixel by pixel, with each kernel, on a scene
whose layers hold more terms than one run, whose phi steps carry the crystal's rotation
from one source to the next, and whose resolution cut leaves out some of a pixel's
sources but not all."""

from __future__ import annotations

import numpy as np
import pytest

import nanobragg as nb
from nanobragg.simulation import prepare
from nanobragg.trace import PixelTracer
from test_stages import rich_config


@pytest.mark.parametrize("simd", ["baseline", "avx2", None], ids=["libm", "avx2", "widest"])
def test_the_legacy_render_equals_its_term_by_term_trace(simd, monkeypatch):
    if simd is None:
        monkeypatch.delenv("NANOBRAGG_SIMD", raising=False)
    else:
        monkeypatch.setenv("NANOBRAGG_SIMD", simd)
    config = rich_config()  # 96 terms a layer, two layers
    config.crystal.phi_deg = 0.0  # the first phi step keeps the carried rotation
    config.structure_factors.dmin_A = 55.0
    image = nb.simulate(config, backend="c", c_parity=True).image_float64
    tracer = PixelTracer(prepare(config, "c", True))
    partly_cut = 0
    for slow, fast in np.ndindex(image.shape):
        trace = tracer.trace(slow, fast)
        assert trace.final["value"] == image[slow, fast], (slow, fast)
        cut = np.isnan(trace.terms["F_latt"])
        partly_cut += bool(cut.any() and not cut.all())
    assert partly_cut >= 5
    assert np.count_nonzero(image) > image.size // 2
