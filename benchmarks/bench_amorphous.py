"""Throughput of the amorphous stage (nonBragg) on both engines, in terms per second.

    python benchmarks/bench_amorphous.py STOL_FILE [--threads 1 2] [--repeat 3]

Each workload is rendered in this process with c_parity on (the C engine, then the
torch engine in float64); the figure is pixels x sub-pixels x sources / best wall time
of ``nanobragg.amorphous``.  With ``NB_NONBRAGG_BIN`` set to an original nonBragg binary,
that binary runs the same command line in a temporary folder with the same thread count
(``OMP_NUM_THREADS``) and the ratio against it is printed; its time is the whole process
(start-up and file writing included).
"""

from __future__ import annotations

import argparse
import functools
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from nanobragg.amorphous_scattering import amorphous
from nanobragg.cli.nonbragg_command import config_from_args
from nanobragg.flags.nonbragg import parse_nonbragg

WORKLOADS = {
    "A1": "-detpixels 1024 -distance 100",
    "A2": "-detpixels 1024 -distance 100 -oversample 2 -divergence 0.5 -divsteps 3",
}


def best_time(run, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def original_time(binary: str, argv: list[str], stol: Path, threads: int, repeat: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        shutil.copy(stol, Path(folder) / stol.name)
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        command = [binary, *argv, "-noprogress", "-nonoise", "-nopgm"]
        return best_time(lambda: subprocess.run(command, cwd=folder, env=env, check=True,
                                                stdout=subprocess.DEVNULL), repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stol", type=Path)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    binary = os.environ.get("NB_NONBRAGG_BIN")
    for name, line in WORKLOADS.items():
        argv = ["-stol", args.stol.name, *shlex.split(line)]
        config = config_from_args(parse_nonbragg([*argv, "-c_parity"]))
        config = config.replace(stol_file=str(args.stol))
        first = amorphous(config, c_parity=True)
        terms = first.image.size * first.output.steps
        for threads in args.threads:
            c = best_time(functools.partial(amorphous, config, c_parity=True,
                                            threads=threads), args.repeat)
            report = f"{name} c threads={threads}: {terms / c:.3g} terms/s ({c:.3f} s)"
            if binary:
                original = original_time(binary, argv, args.stol, threads, args.repeat)
                report += f", original {original:.3f} s, ratio {original / c:.2f}x"
            print(report)
        t = best_time(functools.partial(amorphous, config, backend="torch", c_parity=True),
                      args.repeat)
        print(f"{name} torch float64 cpu: {terms / t:.3g} terms/s ({t:.3f} s)")


if __name__ == "__main__":
    main()
