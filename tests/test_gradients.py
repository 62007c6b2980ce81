"""Gradients of torch-engine images with respect to the experiment's parameters:
torch.autograd.gradcheck in float64 on tiny detectors, in both modes, and
finite differences of the C engine's images against the torch gradients."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import nanobragg as nb

PARAMETERS = {
    # name: (config group, field, value)
    "distance": ("detector", "distance_mm", 60.0),
    "beam_centre": ("detector", "beam_x_mm", 0.62),
    "rotations": ("detector", "rotx_deg", 1.5),
    "twotheta": ("detector", "twotheta_deg", 3.0),
    "cell": ("crystal", "cell", (40.0, 45.0, 50.0, 88.0, 92.0, 95.0)),
    "misset": ("crystal", "misset_deg", (5.0, 12.0, -7.0)),
    "phi_start": ("crystal", "phi_deg", 2.0),
    "mosaic_spread": ("crystal", "mosaic_spread_deg", 0.4),
    "N": ("crystal", "N_cells", (3.5, 4.0, 5.2)),
    "wavelength": ("beam", "wavelength_A", 1.3),
    "fluence": ("beam", "fluence", 1e24),
}


def tiny_config(**groups) -> nb.Config:
    config = nb.Config()
    config.crystal.cell = (40.0, 45.0, 50.0, 88.0, 92.0, 95.0)
    config.crystal.misset_deg = (5.0, 12.0, -7.0)
    config.crystal.N_cells = (4.0, 4.0, 4.0)
    config.crystal.mosaic_domains = 3
    config.crystal.mosaic_spread_deg = 0.3
    config.structure_factors.default_F = 10.0
    config.detector.fpixels = config.detector.spixels = 3
    config.detector.pixel_size_mm = 0.4
    config.detector.distance_mm = 60.0
    config.detector.beam_x_mm = config.detector.beam_y_mm = 0.2
    config.beam.wavelength_A = 1.3
    config.beam.polarization = 0.9
    config.sampling.oversample = 2
    for group, fields in groups.items():
        setattr(config, group, dataclasses.replace(getattr(config, group), **fields))
    return config


def image_of(name: str, value: torch.Tensor, c_parity: bool) -> torch.Tensor:
    group, field, _ = PARAMETERS[name]
    config = tiny_config(**{group: {field: value}})
    return nb.simulate(config, backend="torch", c_parity=c_parity).image_tensor


@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_gradcheck(name, c_parity):
    value = torch.tensor(PARAMETERS[name][2], dtype=torch.float64, requires_grad=True)
    scale = 1.0 / float(image_of(name, value.detach(), c_parity).abs().max())
    (gradient,) = torch.autograd.grad(image_of(name, value, c_parity).sum(), value)
    assert bool((gradient != 0).any()), f"the image does not depend on {name}"
    assert torch.autograd.gradcheck(lambda v: image_of(name, v, c_parity) * scale, (value,),
                                    eps=1e-6, atol=1e-5, rtol=1e-4, fast_mode=True)


@pytest.mark.parametrize(("name", "step"), [("distance", 1e-3), ("wavelength", 1e-6),
                                        ("misset", 1e-4)])
def test_gradient_matches_c_engine_finite_difference(name, step):
    """d(sum of image)/d(parameter), torch autograd against central differences of C."""
    group, field, value = PARAMETERS[name]
    base = np.atleast_1d(np.asarray(value, dtype=float))
    tensor = torch.tensor(base, dtype=torch.float64, requires_grad=True)
    given = tensor if base.size > 1 else tensor[0]
    total = image_of(name, given, False).sum()
    total.backward()
    for i in range(base.size):
        shifted = []
        for sign in (1.0, -1.0):
            moved = base.copy()
            moved[i] += sign * step
            setting = tuple(moved) if base.size > 1 else float(moved[0])
            config = tiny_config(**{group: {field: setting}})
            shifted.append(nb.simulate(config, backend="c").image_float64.sum())
        numeric = (shifted[0] - shifted[1]) / (2 * step)
        assert float(tensor.grad[i]) == pytest.approx(numeric, rel=1e-4,
                                                      abs=1e-9 * abs(total.item()))


def test_round_crystal_gradient_is_finite_at_a_lattice_point(c_parity):
    """The direct-beam sub-pixel sits exactly on the origin of reciprocal space."""
    distance = torch.tensor(60.0, dtype=torch.float64, requires_grad=True)
    config = tiny_config(crystal={"shape": "round", "mosaic_domains": 1,
                                  "mosaic_spread_deg": None},
                         detector={"distance_mm": distance, "beam_x_mm": None,
                                   "beam_y_mm": None},
                         sampling={"oversample": 1})
    image = nb.simulate(config, backend="torch", c_parity=c_parity).image_tensor
    (gradient,) = torch.autograd.grad(image.sum(), distance)
    assert bool(torch.isfinite(gradient))


def test_no_rendered_pixel_with_gradients():
    """Every pixel masked (an ROI that selects none is an error before the render)."""
    distance = torch.tensor(60.0, dtype=torch.float64, requires_grad=True)
    config = tiny_config(detector={"distance_mm": distance, "mask": np.zeros((3, 3))})
    image = nb.simulate(config, backend="torch").image_tensor
    assert image.shape == (3, 3)
    assert float(image.abs().sum()) == 0.0
