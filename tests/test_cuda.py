"""The torch engine on a CUDA device: golden corpus, agreement with the C engine
and with the CPU, gradients and noise.  Skipped where no CUDA device exists."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import nanobragg as nb
from conftest import GOLDEN
from test_golden import CASES, compare_float, prepare

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.mark.parametrize("case", CASES)
def test_golden_case_on_cuda(case, tmp_path, monkeypatch, capsys):
    from nanobragg.cli.main import run

    meta = json.loads((GOLDEN / "cases" / case / "meta.json").read_text())
    args = prepare(case, tmp_path, ["-c_parity", "-backend", "torch", "-device", "cuda",
                                    "-dtype", "float64"])
    monkeypatch.chdir(tmp_path)
    assert run(args) == 0
    capsys.readouterr()
    for name, kind in meta["outputs"].items():
        if kind == "float32":
            compare_float(name, GOLDEN / "cases" / case / name, tmp_path / name,
                          (meta["spixels"], meta["fpixels"]))


B2 = ("-cell 70 80 90 75 85 95 -misset 10 20 30 -default_F 100 -N 5 -lambda 1.5 "
      "-distance 100 -detpixels 64 -mosaic 0.5 -mosaic_dom 10 -mosaic_seed 7 -phi 0 -osc 1 "
      "-phisteps 5 -oversample 2 -dispersion 2 -dispsteps 3").split()


def test_cuda_matches_c_engine(c_parity):
    config = nb.Config.from_cli(B2, c_parity=c_parity)
    c = nb.simulate(config, backend="c", c_parity=c_parity)
    gpu = nb.simulate(config, backend="torch", c_parity=c_parity, device="cuda")
    assert gpu.image_tensor.device.type == "cuda"
    rtol = 1e-6 if c_parity else 1e-9
    np.testing.assert_allclose(gpu.image_float64, c.image_float64, rtol=rtol,
                               atol=rtol * c.image_float64.max())


def test_cuda_matches_cpu_in_float32(c_parity):
    config = nb.Config.from_cli(B2, c_parity=c_parity)
    cpu = nb.simulate(config, backend="torch", c_parity=c_parity, dtype="float32")
    gpu = nb.simulate(config, backend="torch", c_parity=c_parity, dtype="float32",
                      device="cuda")
    assert np.corrcoef(cpu.image.ravel(), gpu.image.ravel())[0, 1] >= 0.99999


def test_gradient_on_cuda():
    config = nb.Config.from_cli(B2, c_parity=False)
    config.detector.fpixels = config.detector.spixels = 8
    distance = torch.tensor(100.0, dtype=torch.float64, device="cuda", requires_grad=True)
    config.detector.distance_mm = distance
    image = nb.simulate(config, backend="torch", device="cuda").image_tensor
    image.sum().backward()
    assert distance.grad is not None
    assert torch.isfinite(distance.grad)


def test_noise_on_cuda_is_reproducible_per_seed():
    config = nb.Config.from_cli([*B2, "-seed", "5"], c_parity=False)
    result = nb.simulate(config, backend="torch", device="cuda")
    first, second = result.noise_image()[0], result.noise_image()[0]
    assert np.array_equal(first, second)


def test_trace_on_cuda_matches_the_c_engine(c_parity):
    from nanobragg.trace import first_divergence

    config = nb.Config.from_cli(B2, c_parity=c_parity)
    c = nb.trace_pixel(config, 30, 20, backend="c", c_parity=c_parity)
    gpu = nb.trace_pixel(config, 30, 20, backend="torch", c_parity=c_parity, device="cuda")
    divergence = first_divergence(c, gpu, rtol=1e-9)
    assert divergence is None, str(divergence)


def test_stages_hand_over_to_cuda(c_parity):
    config = nb.Config.from_cli(B2, c_parity=c_parity)
    alone = nb.simulate(config, backend="c", c_parity=c_parity)
    mixed = nb.simulate(config, c_parity=c_parity, device="cuda",
                        stages={"sources": "torch", "render": "torch"})
    assert mixed.image_tensor.device.type == "cuda"
    rtol = 1e-6 if c_parity else 1e-9
    np.testing.assert_allclose(mixed.image_float64, alone.image_float64, rtol=rtol,
                               atol=rtol * alone.image_float64.max())


def test_nb_compare_on_cuda(tmp_path):
    from nanobragg.cli.compare import EXIT_OK, main

    out = tmp_path / "out"
    status = main(["--out", str(out), "--b", "torch:cuda:float64", "--no-png",
                   "--max-rel-diff", "1e-9", "--trace", "30", "20", "--", *B2])
    assert status == EXIT_OK
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trace"]["first_divergence"] is None
