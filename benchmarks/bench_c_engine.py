"""Throughput of the C engine on the named workloads, in pixel-steps per second.

    python benchmarks/bench_c_engine.py [--threads 1 2] [--repeat 3] [--workloads B1 B2 B3]
        [--busy] [--command] [--peak-gflops G]

Each workload is rendered in this process with c_parity on and off; the figure is
pixels x steps per pixel / best wall time of ``simulate``.  With ``NB_C_BIN`` set to
an original nanoBragg binary, that binary runs the same command line in a temporary
folder with the same thread count (``OMP_NUM_THREADS``), and the ratios against it
are printed; its time is the whole process (start-up and file writing included).

Fraction of peak (corrected mode).  The corrected render evaluates lanes (one sub-pixel
and source each) and, per lane, terms (one phi step and mosaic domain each).  Counting
each add, subtract, multiply, divide and square root as one floating-point operation
and a fused multiply-add as two, a term of a square crystal of whole N costs:

- the fractional Miller indices, three dot products of 3-vectors: 3 x 5 = 15;
- the nearest whole indices, ceil(h - 1/2) by adding and taking away 1.5 * 2^52 and
  one correction: 3 x 4 = 12, and the distances d = h - h0: 3;
- cos(pi d): one multiply by pi, one square, ten Horner steps (x^2 to x^20): 3 x 22 = 66;
- U_{N-1}(cos pi d) by its recurrence: one doubling, N - 2 steps of 2: 3 x (2N - 3);
- the lattice product (2), F^2 (1), F^2 F_latt^2 (2) and the sum (1): 6;

102 + 6N - 9 = 93 + 6N in all for three equal N (the benchmarks' 5 and 10: 123, 153),
the per-axis N summed in general.  A lane's set-up (position 18, distance 6, unit vector
3, solid angle 6, polarization 29, scattering vector 6, factors 3) adds 71 once for its
terms.  The operations the render needs are lanes x (71 + terms x that); over the wall
time they give Gflop/s, divided by the peak of the CPUs the threads can use: CPUs x
clock x 16 (two fused multiply-add units, four doubles each, as on AVX2 and AVX-512
cores since Zen 2 and Skylake; the clock is what /proc/cpuinfo reports).
``--peak-gflops`` sets the peak instead.  The count is of the arithmetic that the
physics needs, not the instructions run: loads, selects, the index checks and the
padding of a lane block are left out.

``--busy`` times every render again with one competing process that spins on a CPU
(started and stopped by the benchmark) and prints how much longer each took.
``--command`` times the ``nanoBragg -backend c`` command from launch to exit on a
64x64 detector against ``python -c "import numpy"``, and, with ``NB_C_BIN``, the
workloads' whole command lines in both modes against the original's; the runs being
compared take turns (best of ``--repeat`` each), so that a change in the machine's load
reaches all of them alike.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator

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

LANE_FLOPS = 71
"""Operations of a lane's set-up (see the module's docstring)."""


def term_flops(N_cells: tuple[float, float, float]) -> int:
    """Operations of one corrected term of a square crystal of whole N (docstring)."""
    return 15 + 12 + 3 + 66 + sum(2 * int(n) - 3 for n in N_cells) + 6


def corrected_flops(result: nb.Result) -> float | None:
    """The operations a corrected render needs, or None where the count does not apply."""
    N = tuple(float(n) for n in result.config.crystal.N_cells)
    if result.config.crystal.shape != "square" or any(n != int(n) or n < 2 or n > 64
                                                      for n in N):
        return None
    subpixels_sources = len(result.sources.wavelength_m) * result.oversample ** 2
    terms = result.steps // subpixels_sources
    lanes = result.image.size * subpixels_sources * result.sampling.thickness.steps
    return float(lanes) * (LANE_FLOPS + terms * term_flops((N[0], N[1], N[2])))


def peak_gflops() -> float:
    """CPUs x clock x 16 double-precision operations a cycle (docstring)."""
    clock_mhz = 0.0
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("cpu MHz"):
                clock_mhz = float(line.split(":")[1])
                break
    return (os.cpu_count() or 1) * clock_mhz * 1e-3 * 16


def best_time(run: Callable[[], object], repeat: int) -> float:
    return best_times([run], repeat)[0]


def best_times(runs: list[Callable[[], object]], repeat: int) -> list[float]:
    """The best time of each run, the runs taking turns."""
    best = [float("inf")] * len(runs)
    for _ in range(repeat):
        for i, run in enumerate(runs):
            start = time.perf_counter()
            run()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


@contextlib.contextmanager
def competitor() -> Iterator[None]:
    """One process that spins on a CPU for as long as the block runs."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # let it start spinning
        yield
    finally:
        spinner.kill()
        spinner.wait()


def time_original(binary: str, args: list[str], threads: int, repeat: int) -> float:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    with tempfile.TemporaryDirectory() as folder:
        def run():
            subprocess.run([binary, *args, "-nonoise", "-nopgm"], cwd=folder, env=env,
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return best_time(run, repeat)


def throughput(options: argparse.Namespace, binary: str | None) -> None:
    peak = options.peak_gflops or peak_gflops()
    print(f"# peak {peak:.1f} Gflop/s (float64); {os.cpu_count()} CPUs")
    busy = f" {'busy s':>8} {'busy/idle':>9}" if options.busy else ""
    print(f"{'workload':8} {'threads':>7} {'mode':>9} {'seconds':>9} {'Mpix-steps/s':>13} "
          f"{'Gflop/s':>8} {'of peak':>7} {'vs original':>11}{busy}")
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
                flops = None if c_parity else corrected_flops(result)
                # the peak of the CPUs the threads can use
                share = peak * min(threads, os.cpu_count() or 1) / (os.cpu_count() or 1)
                rate = (f"{flops / seconds / 1e9:8.2f} {flops / seconds / 1e9 / share:7.1%}"
                        if flops else f"{'-':>8} {'-':>7}")
                line = (f"{name:8} {threads:7d} {mode:>9} {seconds:9.3f} "
                        f"{work / seconds / 1e6:13.2f} {rate} {ratio}")
                if options.busy:
                    with competitor():
                        loaded = best_time(run, options.repeat)
                    line += f" {loaded:8.3f} {loaded / seconds:8.2f}x"
                print(line)
            if original:
                print(f"{name:8} {threads:7d} {'original':>9} {original:9.3f} "
                      f"{legacy_work / original / 1e6:13.2f}")


def command_times(binary: str | None, repeat: int) -> None:
    """The nanoBragg command from launch to exit, against importing numpy and, with
    NB_C_BIN, against the original on the workloads' command lines."""
    command = shutil.which("nanoBragg")
    if command is None:
        print("no nanoBragg command on PATH")
        return
    small = [*shlex.split(WORKLOADS["B1"].replace("-detpixels 1024", "-detpixels 64"))]

    def run(argv: list[str], env: dict[str, str] | None = None) -> Callable[[], object]:
        return lambda: subprocess.run(argv, cwd=folder, env=env, check=True,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    with tempfile.TemporaryDirectory() as folder:
        numpy, ours = best_times([run([sys.executable, "-c", "import numpy"]),
                                  run([command, *small, "-backend", "c", "-nonoise", "-nopgm"])],
                                 repeat)
        print(f"python -c 'import numpy': {numpy:.3f} s; nanoBragg -backend c on 64x64: "
              f"{ours:.3f} s ({ours / numpy:.2f}x)")
        if not binary:
            return
        for name in ("B2", "B3"):
            args = [*shlex.split(WORKLOADS[name]), "-nonoise", "-nopgm"]
            env = dict(os.environ, OMP_NUM_THREADS=str(os.cpu_count() or 1))
            modes = {"c_parity": ["-c_parity"], "corrected": []}
            original, *seconds = best_times(
                [run([binary, *args], env),
                 *(run([command, *args, "-backend", "c", *flags]) for flags in modes.values())],
                repeat)
            for mode, ours_s in zip(modes, seconds, strict=True):
                print(f"{name} {mode:>9}: nanoBragg {ours_s:.3f} s, original {original:.3f} s "
                      f"({original / ours_s:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=WORKLOADS)
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--busy", action="store_true",
                        help="time again beside one process spinning on a CPU")
    parser.add_argument("--command", action="store_true",
                        help="time the nanoBragg command from launch to exit")
    parser.add_argument("--peak-gflops", type=float, default=None,
                        help="the machine's peak float64 rate (default: from the clock)")
    options = parser.parse_args()
    binary = os.environ.get("NB_C_BIN")
    if options.command:
        command_times(binary, options.repeat)
        return
    throughput(options, binary)


if __name__ == "__main__":
    main()
