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
and so does our ``noisify`` command (the first on PATH), each run of the original
followed by one of each of ours; both are whole processes (start-up, reading the
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


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def command_run(command: list[str], folder: Path, threads: int) -> Callable[[], object]:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    return partial(subprocess.run, command, cwd=folder, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


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
            # every run of the original interleaved with ours: a load that comes and goes
            # on a shared machine falls on both
            runs: dict[tuple[str, bool], list[Callable[[], object]]] = {}
            for engine in options.engines:
                for c_parity in (True, False):
                    config = nb.ResponseConfig(pixel_size_mm=0.075, seed=1, **changes)
                    threads = options.threads if engine == "c" else None
                    flags = [*base, *FLAGS[case], "-backend", engine,
                             *(["-c_parity"] if c_parity else [])]
                    runs[engine, c_parity] = [
                        partial(nb.detector_response, image, config, backend=engine,
                                c_parity=c_parity, threads=threads),
                        *([command_run([ours, *flags], folder, options.threads)] if ours
                          else [])]
            reference = float("inf")
            best = {key: [float("inf")] * len(calls) for key, calls in runs.items()}
            for _ in range(options.repeat):
                if original:
                    reference = min(reference, timed(command_run(
                        [original, *base, *FLAGS[case]], folder, options.threads)))
                for key, calls in runs.items():
                    best[key] = [min(b, timed(call)) for b, call in zip(best[key], calls,
                                                                        strict=True)]
            for (engine, c_parity), times in best.items():
                stage, whole = times[0], times[1] if ours else float("nan")
                ratio = (f"{reference / stage:8.2f} {reference / whole:10.2f}" if original
                         else f"{'':8} {'':10}")
                if original:
                    target = 10.0 if case == "noise+psf" and not c_parity else 1.0
                    met = "met" if reference / stage >= target else "NOT met"
                    ratio += f"  {target:g}x {met}"
                print(f"{case:14} {engine:7} {'c_parity' if c_parity else 'corrected':9} "
                      f"{stage:8.3f} {whole:10.3f} "
                      f"{reference if original else float('nan'):11.3f} {ratio}")
                sys.stdout.flush()


if __name__ == "__main__":
    main()
