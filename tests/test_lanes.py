"""The C engine's corrected render in lanes: each instruction set's kernel gives the same
image to rounding, the torch engine's to 1e-9, and a pixel's value does not depend on the
pixels rendered beside it."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import nanobragg as nb
from nanobragg.io import StructureFactors


def grid() -> StructureFactors:
    values = np.random.default_rng(3).uniform(10.0, 200.0, size=(9, 9, 9))
    return StructureFactors(hkl_min=(-4, -4, -4), hkl_max=(4, 4, 4), values=values,
                            count=values.size)


FLAGS = {
    "square": "-N 5 -oversample 2 -dispersion 1 -dispsteps 2 -phisteps 2 -osc 0.5",
    "square, interpolated": "-N 3 -interpolate -misset 5 7 9",
    "square, N not whole, mosaic": "-mosaic 0.5 -mosaic_dom 3 -mosaic_seed 3",
    "square, N above 64": "-Na 70 -Nb 2 -Nc 1",
    "round, curved": "-N 3 -round_xtal -curved_det -polar 0.9",
    "gauss, thick sensor": "-N 3 -gauss_xtal -detector_thick 200 -detector_thicksteps 3 "
                           "-detector_abs 300",
    "tophat, dmin, water": "-N 3 -tophat_spots -dmin 3 -water 10 -nopolar",
}


def config(name: str) -> nb.Config:
    flags = ("-cell 40 50 60 80 95 100 -misset 10 20 30 -lambda 1.2 -distance 40 "
             f"-detpixels 21 -pixel 0.4 -default_F 30 {FLAGS[name]}").split()
    result = nb.Config.from_cli(flags)
    if "not whole" in name:
        result.crystal.N_cells = (4.5, 3.5, 2.0)
    if name.startswith("square"):
        result.structure_factors.structure_factors = grid()
    return result


CHILD = """
import pickle, sys
import nanobragg as nb
configs = pickle.loads(sys.stdin.buffer.read())
sys.stdout.buffer.write(pickle.dumps([nb.simulate(c).image_float64 for c in configs]))
"""


def images_with(kernel: str, configs: list[nb.Config]) -> list[np.ndarray]:
    env = dict(os.environ, NANOBRAGG_SIMD=kernel)
    done = subprocess.run([sys.executable, "-c", CHILD], input=pickle.dumps(configs),
                          capture_output=True, env=env, check=True, timeout=300)
    images: list[np.ndarray] = pickle.loads(done.stdout)
    return images


def test_every_instruction_set_gives_the_same_image():
    names = list(FLAGS)
    configs = [config(name) for name in names]
    widest = [nb.simulate(c).image_float64 for c in configs]
    for kernel in ("baseline", "avx2"):
        for name, want, got in zip(names, widest, images_with(kernel, configs), strict=True):
            assert want.max() > 0, name
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * want.max(),
                                       err_msg=f"{kernel}: {name}")


@pytest.mark.parametrize("name", list(FLAGS))
def test_lanes_agree_with_the_torch_engine(name):
    cfg = config(name)
    c = nb.simulate(cfg, backend="c").image_float64
    t = nb.simulate(cfg, backend="torch", dtype="float64").image_float64
    assert c.max() > 0
    np.testing.assert_allclose(c, t, rtol=1e-9, atol=1e-9 * c.max())


@pytest.mark.parametrize("name", list(FLAGS))
def test_a_pixel_does_not_depend_on_its_neighbours(name):
    """Lanes are evaluated in whole strips, so a pixel gets the same arithmetic wherever
    the mask and the region of interest put it in a block."""
    cfg = config(name)
    full = nb.simulate(cfg).image_float64
    mask = np.random.default_rng(1).random(full.shape) < 0.4
    cfg.detector.mask = mask.astype(np.uint8)
    masked = nb.simulate(cfg).image_float64
    assert np.array_equal(masked[mask], full[mask])
    assert not masked[~mask].any()
