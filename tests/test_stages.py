"""Stage swapping: each stage on either engine, the outputs handed across, and the
image the same as either engine alone gives."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
import torch

import nanobragg as nb
from nanobragg.engines import resolve_stages
from nanobragg.flags import parse_command_line
from nanobragg.stages import STAGES
from test_cross_engine import close, grid
from test_golden import CASES, GOLDEN, prepare

IMAGE_STAGES = STAGES[:-1]
"""The stages the float image depends on (add_noise comes after it)."""
ALTERNATING = {name: ("c", "torch")[i % 2] for i, name in enumerate(IMAGE_STAGES)}
COMPLEMENT = {name: "torch" if engine == "c" else "c" for name, engine in ALTERNATING.items()}


def rich_config() -> nb.Config:
    """A small case that uses every stage: misset, φ steps, mosaic domains,
    divergence and dispersion sources, a structure-factor grid, a thick detector."""
    config = nb.Config()
    config.crystal.cell = (40.0, 50.0, 60.0, 88.0, 92.0, 95.0)
    config.crystal.misset_deg = (10.0, -20.0, 30.0)
    config.crystal.N_cells = (3.0, 4.0, 2.0)
    config.crystal.phi_deg, config.crystal.osc_deg, config.crystal.phi_steps = 1.0, 0.5, 2
    config.crystal.mosaic_spread_deg, config.crystal.mosaic_domains = 0.5, 3
    config.beam.wavelength_A = 1.2
    config.beam.dispersion_pct, config.beam.dispersion_steps = 1.0, 2
    config.beam.hdiv_range_mrad, config.beam.hdiv_steps = 1.0, 2
    config.detector.fpixels = config.detector.spixels = 7
    config.detector.pixel_size_mm, config.detector.distance_mm = 0.3, 60.0
    config.detector.twotheta_deg = 5.0
    config.detector.thickness_um, config.detector.thickness_steps = 100.0, 2
    config.structure_factors.structure_factors = grid(3)
    config.sampling.oversample = 2
    return config


ROUTES = [dict(zip(IMAGE_STAGES, engines, strict=True))
          for engines in itertools.product(("c", "torch"), repeat=len(IMAGE_STAGES))]


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: "-".join(v[0] for v in r.values()))
def test_every_combination_gives_the_engines_image(route, c_parity):
    config = rich_config()
    alone = nb.simulate(config, backend="c", c_parity=c_parity)
    mixed = nb.simulate(config, stages=route, c_parity=c_parity)
    assert mixed.stages == {**route, "add_noise": "c"}
    assert close(mixed.image_float64, alone.image_float64, 1e-6 if c_parity else 1e-9)
    assert mixed.steps == alone.steps
    assert np.abs(alone.image_float64).max() > 0


@pytest.mark.filterwarnings("ignore::nanobragg.io.errors.HKLWarning",
                            "ignore::nanobragg.inputs.FdumpReuseWarning")
@pytest.mark.parametrize("case", CASES)
def test_mixed_stages_reproduce_the_golden_cases(case, tmp_path, monkeypatch):
    """Every golden case through two complementary routes (each stage once on each
    engine) in both modes: c_parity against the original's float image, corrected
    against the C engine alone."""
    args = prepare(case, tmp_path, ["-c_parity"])
    monkeypatch.chdir(tmp_path)
    config = parse_command_line(args).config
    floatfile = GOLDEN / "cases" / case / config.output.floatfile
    for route in (ALTERNATING, COMPLEMENT):
        legacy = nb.simulate(config, stages=route, c_parity=True)
        if floatfile.exists():
            expected = np.fromfile(floatfile, "<f4").reshape(legacy.image.shape)
            significant = expected > 1e-6 * expected.max()
            assert np.allclose(legacy.image[significant], expected[significant], rtol=1e-6,
                               atol=0)
    try:
        alone = nb.simulate(config, backend="c")
    except ValueError as error:
        # a legacy-only input (an -stol file, say) is refused the same way on any route
        for route in (ALTERNATING, COMPLEMENT):
            with pytest.raises(ValueError, match=re.escape(str(error))):
                nb.simulate(config, stages=route)
        return
    for route in (ALTERNATING, COMPLEMENT):
        corrected = nb.simulate(config, stages=route)
        assert close(corrected.image_float64, alone.image_float64)


def test_stage_names_and_engines_are_checked():
    with pytest.raises(ValueError, match="'lattice' is not a stage"):
        resolve_stages("c", {"lattice": "torch"})
    with pytest.raises(ValueError, match=r"stages\['render'\]: 'cuda' is not one of c, torch"):
        resolve_stages("c", {"render": "cuda"})
    with pytest.raises(ValueError, match="not a mapping"):
        resolve_stages("c", ["render"])
    assert resolve_stages("torch", {"sources": "c"})["sources"] == "c"
    assert resolve_stages("torch", None)["render"] == "torch"


def test_options_follow_the_engine_of_the_render():
    config = rich_config()
    with pytest.raises(ValueError, match="threads applies to a C render only"):
        nb.simulate(config, stages={"render": "torch"}, threads=2)
    with pytest.raises(ValueError, match="memory_budget and compile apply to a torch render"):
        nb.simulate(config, backend="torch", stages={"render": "c"}, memory_budget=1 << 20)
    with pytest.raises(ValueError, match="dtype: 'float32' applies to a torch render only"):
        nb.simulate(config, stages={"sources": "torch"}, dtype="float32")
    with pytest.raises(ValueError, match="device: 'cuda' applies to the torch engine only"):
        nb.simulate(config, device="cuda")
    # a torch set-up stage before a C render takes the device; numpy whole numbers count
    result = nb.simulate(config, stages={"sources": "torch"}, device=torch.device("cpu"),
                         threads=np.int64(1))
    assert result.stages["sources"] == "torch"
    assert result.image_tensor is None


def test_gradient_flows_through_the_torch_stages_of_a_mixed_run():
    config = rich_config()
    config.structure_factors.structure_factors = None
    config.structure_factors.default_F = 50.0
    cell = torch.tensor(config.crystal.cell, dtype=torch.float64, requires_grad=True)
    config.crystal.cell = tuple(cell.unbind())  # a sequence of tensors works as one tensor
    result = nb.simulate(config, backend="torch", stages={"sources": "c",
                                                          "detector_geometry": "c"})
    result.image_tensor.sum().backward()
    assert cell.grad is not None
    assert torch.isfinite(cell.grad).all()
    assert float(cell.grad.abs().sum()) > 0


def test_noise_stage_on_either_engine(c_parity):
    config = rich_config()
    config.output.seed = 7
    c_noise = nb.simulate(config, c_parity=c_parity).noise_image()
    t_noise = nb.simulate(config, c_parity=c_parity, stages={"add_noise": "torch"}).noise_image()
    again = nb.simulate(config, c_parity=c_parity, stages={"add_noise": "torch"}).noise_image()
    assert np.array_equal(t_noise[0], again[0])
    assert np.array_equal(t_noise[0], c_noise[0]) == c_parity
    assert t_noise[0].shape == c_noise[0].shape
