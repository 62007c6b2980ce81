"""Recover a crystal's cell lengths, orientation and the detector distance from an image.

    python examples/refine.py [--steps 8] [--pixels 64]

A target image is rendered with the torch engine from the true parameters; the
same model, started from perturbed parameters, is fitted to it by gradient descent
(L-BFGS, a quasi-Newton gradient method) on the squared difference of the images,
each parameter given as a tensor with ``requires_grad``.  Every step prints the
loss and the error of each parameter.
"""

from __future__ import annotations

import argparse
import dataclasses

import torch

import nanobragg as nb

CELL_ANGLES_DEG = (88.0, 93.0, 96.0)
TRUE = {"cell_A": (42.0, 47.0, 51.0), "misset_deg": (12.0, -7.0, 25.0), "distance_mm": 60.0}
START = {"cell_A": (42.3, 46.7, 51.3), "misset_deg": (12.3, -7.3, 25.3), "distance_mm": 60.6}


def model(lengths: torch.Tensor, misset: torch.Tensor, distance: torch.Tensor,
          pixels: int) -> torch.Tensor:
    """The image (photons per pixel) for these parameters, with its autograd graph."""
    cell = torch.cat((lengths, torch.tensor(CELL_ANGLES_DEG, dtype=lengths.dtype)))
    config = nb.Config()
    config.crystal = dataclasses.replace(config.crystal, cell=cell, misset_deg=misset,
                                         N_cells=(4.0, 4.0, 4.0))
    config.structure_factors.default_F = 100.0
    config.beam.wavelength_A = 1.0
    config.detector = dataclasses.replace(config.detector, distance_mm=distance,
                                          fpixels=pixels, spixels=pixels,
                                          pixel_size_mm=60.0 / pixels)
    config.sampling.oversample = 1
    return nb.simulate(config, backend="torch").image_tensor


def tensor(values, grad: bool = False) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64, requires_grad=grad)


def refine(steps: int = 8, pixels: int = 64, *, report=print) -> dict[str, float]:
    """Fit the model to the target; returns the largest final error of each parameter.
    Each step is up to five L-BFGS iterations (gradient steps with a line search and a
    curvature estimate from earlier gradients), which follow the long, narrow valley
    along which the distance and the cell lengths trade off against each other far
    better than plain gradient descent."""
    target = model(*(tensor(TRUE[k]) for k in TRUE), pixels).detach()
    scale = 1.0 / float(target.max())
    params = {k: tensor(START[k], grad=True) for k in START}
    optimiser = torch.optim.LBFGS(list(params.values()), lr=1.0, max_iter=5,
                                  tolerance_grad=0.0, tolerance_change=0.0,
                                  line_search_fn="strong_wolfe")

    def loss_and_gradient() -> torch.Tensor:
        optimiser.zero_grad()
        image = model(params["cell_A"], params["misset_deg"], params["distance_mm"], pixels)
        loss = ((image - target) * scale).pow(2).sum()
        loss.backward()
        return loss

    errors: dict[str, float] = {}
    for step in range(steps + 1):
        errors = {k: float((params[k].detach() - tensor(TRUE[k])).abs().max()) for k in params}
        with torch.no_grad():
            image = model(params["cell_A"], params["misset_deg"], params["distance_mm"], pixels)
            loss = float(((image - target) * scale).pow(2).sum())
        report(f"step {step:2d}  loss {loss:9.3e}  errors: cell {errors['cell_A']:8.2e} A  "
               f"misset {errors['misset_deg']:8.2e} deg  distance {errors['distance_mm']:8.2e} mm")
        if step < steps:
            optimiser.step(loss_and_gradient)
    return errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--pixels", type=int, default=64)
    options = parser.parse_args()
    refine(options.steps, options.pixels)


if __name__ == "__main__":
    main()
