"""Throughput of the C engine on the named workloads, in pixel-steps per second.

    python benchmarks/bench_c_engine.py [--threads 1 2] [--repeat 3] [--workloads B1 B2 B3]

Each workload is rendered in this process with c_parity on and off; the figure is
pixels x steps per pixel / best wall time of ``simulate``.  With ``NB_C_BIN`` set to
an original nanoBragg binary, that binary runs the same command line in a temporary
folder with the same thread count (``OMP_NUM_THREADS``), and the ratios against it
are printed; its time is the whole process (start-up and file writing included).
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import tempfile
import time

import nanobragg as nb

WORKLOADS = {
    "B1": "-cell 100 100 100 90 90 90 -lambda 6.2 -N 5 -default_F 100 -distance 100 "
          "-detpixels 1024",
    "B2": "-cell 70 80 90 75 85 95 -misset 10 20 30 -default_F 100 -N 5 -lambda 1.5 "
          "-distance 100 -detpixels 256 -mosaic 0.5 -mosaic_dom 10 -mosaic_seed 7 -phi 0 "
          "-osc 1 -phisteps 5 -oversample 2 -dispersion 2 -dispsteps 3",
    "B3": "-cell 100 100 100 90 90 90 -lambda 1.0 -N 10 -default_F 100 -distance 100 "
          "-detpixels 1024",
}


def best_time(run, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def time_original(binary: str, args: list[str], threads: int, repeat: int) -> float:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    with tempfile.TemporaryDirectory() as folder:
        def run():
            subprocess.run([binary, *args, "-nonoise", "-nopgm"], cwd=folder, env=env,
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return best_time(run, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=WORKLOADS)
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    binary = os.environ.get("NB_C_BIN")

    print(f"{'workload':8} {'threads':>7} {'mode':>9} {'seconds':>9} {'Mpix-steps/s':>13} "
          f"{'vs original':>11}")
    for name in options.workloads:
        args = [*shlex.split(WORKLOADS[name]), "-noprogress"]
        config = nb.Config.from_cli(args)
        for threads in options.threads:
            original = time_original(binary, args, threads, options.repeat) if binary else None
            legacy_work = None
            for c_parity in (True, False):
                def run(c_parity=c_parity, threads=threads, config=config):
                    return nb.simulate(config, c_parity=c_parity, threads=threads)

                result = run()
                work = result.image.size * result.steps
                legacy_work = legacy_work or work
                seconds = best_time(run, options.repeat)
                ratio = f"{original / seconds:10.2f}x" if original else f"{'-':>11}"
                mode = "c_parity" if c_parity else "corrected"
                rate = work / seconds / 1e6
                print(f"{name:8} {threads:7d} {mode:>9} {seconds:9.3f} {rate:13.2f} {ratio}")
            if original:
                print(f"{name:8} {threads:7d} {'original':>9} {original:9.3f} "
                      f"{legacy_work / original / 1e6:13.2f}")


if __name__ == "__main__":
    main()
