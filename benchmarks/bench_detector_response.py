"""Speed of the detector response (``noisify``) on an Eiger-16M-sized image.

    python benchmarks/bench_detector_response.py [--size 4096] [--repeat 3]
                                                 [--engines c torch] [--threads 2]

The image (fixed seed): a background of about 2 photons a pixel with 3000 spots of
100-5000 photons, 75 um pixels.  Three cases: the noise image with a 100 um Gaussian
PSF (the original's default noise: 3 % calibration error, ADC offset 40), the noise
image without a PSF, and the noiseless image with the PSF.  Each runs in this process
through ``nanobragg.detector_response`` for each engine, c_parity on and off (the time
of the stage, best of ``--repeat``).  With ``NB_NOISIFY_BIN`` set to an original
noisify binary, it runs the same command line on the same image in a temporary folder,
and so does our ``noisify`` command; both are whole processes (start-up, reading the
64 MB input and writing the images included), and the ratios against the original are
printed for the stage and for the command, with the stage's target: at least the
original's speed in both modes, and 10x the original in corrected mode for the noise
image with the Gaussian PSF (the issue's Eiger-16M case).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

import nanobragg as nb

CASES = {
    "noise+psf": {"psf": "gauss", "psf_fwhm_um": 100.0},
    "noise": {},
    "noiseless+psf": {"psf": "gauss", "psf_fwhm_um": 100.0, "noise": False},
}
FLAGS = {"noise+psf": ["-psf", "gauss", "-psf_fwhm", "100"], "noise": [],
         "noiseless+psf": ["-psf", "gauss", "-psf_fwhm", "100", "-nonoise"]}


def test_image(size: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    image = rng.exponential(2.0, (size, size)).astype(np.float32)
    spots = rng.integers(0, size, (3000, 2))
    image[spots[:, 0], spots[:, 1]] = rng.uniform(100.0, 5000.0, 3000)
    return image


def best_time(run: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def command_time(command: list[str], folder: Path, threads: int, repeat: int) -> float:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))

    def run() -> None:
        subprocess.run(command, cwd=folder, env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    return best_time(run, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engines", nargs="+", default=["c", "torch"], choices=["c", "torch"])
    parser.add_argument("--threads", type=int, default=2)
    options = parser.parse_args()
    image = test_image(options.size)
    original = os.environ.get("NB_NOISIFY_BIN")
    ours = shutil.which("noisify")
    print(f"{options.size}x{options.size} image, {options.threads} threads")
    print(f"{'case':14} {'engine':7} {'mode':9} {'stage s':>8} {'command s':>10} "
          f"{'original s':>11} {'stage x':>8} {'command x':>10}  target")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        image.tofile(folder / "image.bin")
        base = ["-floatfile", "image.bin", "-detpixels", str(options.size), "-pixel", "0.075",
                "-seed", "1"]
        for case, changes in CASES.items():
            reference = (command_time([original, *base, *FLAGS[case]], folder, options.threads,
                                      options.repeat) if original else None)
            for engine in options.engines:
                for c_parity in (True, False):
                    config = nb.ResponseConfig(pixel_size_mm=0.075, seed=1, **changes)
                    threads = options.threads if engine == "c" else None
                    stage = best_time(partial(nb.detector_response, image, config,
                                              backend=engine, c_parity=c_parity,
                                              threads=threads), options.repeat)
                    flags = [*base, *FLAGS[case], "-backend", engine,
                             *(["-c_parity"] if c_parity else [])]
                    whole = (command_time([ours, *flags], folder, options.threads,
                                          options.repeat) if ours else float("nan"))
                    ratio = (f"{reference / stage:8.2f} {reference / whole:10.2f}" if reference
                             else f"{'':8} {'':10}")
                    if reference:
                        target = 10.0 if case == "noise+psf" and not c_parity else 1.0
                        met = "met" if reference / stage >= target else "NOT met"
                        ratio += f"  {target:g}x {met}"
                    print(f"{case:14} {engine:7} {'c_parity' if c_parity else 'corrected':9} "
                          f"{stage:8.3f} {whole:10.3f} "
                          f"{reference or float('nan'):11.3f} {ratio}")
                    sys.stdout.flush()


if __name__ == "__main__":
    main()
