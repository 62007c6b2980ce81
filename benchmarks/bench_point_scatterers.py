"""Throughput of the point-scatterer stage (nearBragg), in atom-pixel terms per second.

    python benchmarks/bench_point_scatterers.py [--atoms 1000] [--pixels 256]
                                                [--threads 1] [--repeat 2]

The workload is ``--atoms`` random scatterers (a 60 Angstrom box, 6 columns: B factors
and phases) on a ``--pixels`` square detector, one source, no oversampling (the issue's
1,000 atoms on a 256^2 detector by default), rendered in this process by the C engine
(c_parity on and off) and the torch engine on the CPU (float64 and float32, corrected),
all on ``--threads`` threads.  With ``NB_NEAR_BIN`` set to an original nearBragg
binary, that binary runs the same command line in a temporary folder with
``OMP_NUM_THREADS`` set to ``--threads``, and the ratios against it are printed (its time
is the whole process), with the targets: each C mode at least as fast as the original,
the corrected C engine 3x and torch float32 10x.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

import nanobragg as nb


def best_time(run: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--atoms", type=int, default=1000)
    parser.add_argument("--pixels", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    atoms = np.column_stack([rng.uniform(-30, 30, (args.atoms, 3)),
                             rng.uniform(0.5, 1, args.atoms), rng.uniform(0, 20, args.atoms),
                             rng.uniform(-180, 180, args.atoms)])
    settings = {"fpixels": args.pixels, "spixels": args.pixels, "distance_mm": 100.0,
                "oversample": 1}
    terms = args.atoms * args.pixels**2
    torch.set_num_threads(args.threads)
    times = {}
    for c_parity in (True, False):
        times[f"c {'c_parity' if c_parity else 'corrected'}"] = best_time(
            lambda c_parity=c_parity: nb.point_scatterers(
                atoms, c_parity=c_parity, threads=args.threads, **settings), args.repeat)
    for dtype in ("float64", "float32"):
        times[f"torch cpu {dtype}"] = best_time(
            lambda dtype=dtype: nb.point_scatterers(atoms, backend="torch", dtype=dtype,
                                                    **settings), args.repeat)
    original = os.environ.get("NB_NEAR_BIN")
    if original:
        with tempfile.TemporaryDirectory() as folder:
            np.savetxt(Path(folder) / "atoms.xyz", atoms, fmt="%.6f")
            command = [original, "-file", "atoms.xyz", "-detpixels", str(args.pixels),
                       "-distance", "100", "-oversample", "1", "-noprogress"]
            env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
            times["original"] = best_time(
                lambda: subprocess.run(command, cwd=folder, env=env, check=True,
                                       capture_output=True), args.repeat)
    print(f"{args.atoms} atoms x {args.pixels}^2 pixels, {args.threads} thread(s)")
    targets = {"c c_parity": 1.0, "c corrected": 3.0, "torch cpu float32": 10.0}
    for name, seconds in times.items():
        ratio = ""
        if original:
            ratio = f"  {times['original'] / seconds:5.2f}x the original"
            if name in targets:
                met = "met" if times["original"] / seconds >= targets[name] else "NOT met"
                ratio += f" (target {targets[name]:g}x: {met})"
        print(f"  {name:22s} {seconds:8.3f} s  {terms / seconds / 1e6:8.1f} M terms/s{ratio}")


if __name__ == "__main__":
    main()
