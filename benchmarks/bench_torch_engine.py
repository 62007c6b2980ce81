"""Throughput of the torch engine next to the C engine, in pixel-steps per second.

    python benchmarks/bench_torch_engine.py [--workloads B1 B2 B3 B2_1024] [--repeat 3]
        [--modes corrected c_parity] [--compile] [--busy] [--memory] [--startup]

Every runner renders in this process after one warm-up run; the figure is pixels x
steps per pixel / best wall time of ``simulate``.  Runners: the C engine with as
many threads as torch uses, the torch engine on the CPU in float64 and float32
(with ``--compile`` also through torch.compile), and on CUDA in float32 and float64
when a device is present.  Ratios are against the C engine measured in the same run,
and against an original nanoBragg binary when ``NB_C_BIN`` names one.

``--busy`` times every runner again beside one process spinning on a CPU (started and
stopped by the benchmark) and prints how much longer each render took.
``--memory`` renders B2 (600 steps per pixel) at 1024x1024 and 2048x2048 in child
processes and prints their peak memory (resident set on the CPU, allocated on CUDA).
``--startup`` times the ``nanoBragg -backend torch`` command on a 16x16 detector:
launch, imports, set-up, one rendered chunk and the output files.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

# nanobragg before torch, as a user should import them: the package's OpenMP wait
# policy only applies to the runtime that loads after it (README, "Threads")
import nanobragg as nb

# isort: split
import torch

from bench_c_engine import WORKLOADS, best_time, competitor, time_original

WORKLOADS = dict(WORKLOADS, B2_1024=WORKLOADS["B2"].replace("-detpixels 256",
                                                            "-detpixels 1024"))


def runners(compile_: bool) -> list[tuple[str, dict]]:
    out = [("c", {"backend": "c", "threads": torch.get_num_threads()}),
           ("torch cpu float64", {"backend": "torch", "dtype": "float64"}),
           ("torch cpu float32", {"backend": "torch", "dtype": "float32"})]
    if compile_:
        out += [("compiled cpu float64", {"backend": "torch", "dtype": "float64",
                                          "compile": True}),
                ("compiled cpu float32", {"backend": "torch", "dtype": "float32",
                                          "compile": True})]
    if torch.cuda.is_available():
        out += [("torch cuda float32", {"backend": "torch", "device": "cuda",
                                        "dtype": "float32"}),
                ("torch cuda float64", {"backend": "torch", "device": "cuda",
                                        "dtype": "float64"})]
    return out


def timed(config: nb.Config, c_parity: bool, options: dict, repeat: int,
          busy: bool = False) -> tuple[float, int, float | None]:
    """Best wall time, pixel-steps, and with ``busy`` the best time beside a competitor."""
    def run():
        result = nb.simulate(config, c_parity=c_parity, **options)
        if result.image_tensor is not None and result.image_tensor.is_cuda:
            torch.cuda.synchronize()
        return result

    result = run()
    seconds = best_time(run, repeat)
    loaded = None
    if busy:
        with competitor():
            loaded = best_time(run, repeat)
    return seconds, result.image.size * result.steps, loaded


def throughput(options) -> None:
    binary = os.environ.get("NB_C_BIN")
    threads = torch.get_num_threads()
    print(f"# {threads} threads; torch {torch.__version__}; "
          f"cuda: {torch.cuda.get_device_name() if torch.cuda.is_available() else 'none'}")
    busy = f" {'busy s':>8} {'busy/idle':>9}" if options.busy else ""
    print(f"{'workload':9} {'mode':>9} {'runner':>22} {'seconds':>9} {'Gpix-steps/s':>13} "
          f"{'vs C':>7} {'vs original':>11}{busy}")
    for name in options.workloads:
        args = [*shlex.split(WORKLOADS[name]), "-noprogress"]
        original = time_original(binary, args, threads, options.repeat) if binary else None
        for mode in options.modes:
            c_parity = mode == "c_parity"
            config = nb.Config.from_cli(args, c_parity=c_parity)
            baseline = None
            for label, runner in runners(options.compile):
                seconds, work, loaded = timed(config, c_parity, runner, options.repeat,
                                              options.busy)
                baseline = baseline or seconds
                vs_original = f"{original / seconds:10.2f}x" if original else f"{'-':>11}"
                line = (f"{name:9} {mode:>9} {label:>22} {seconds:9.3f} "
                        f"{work / seconds / 1e9:13.3f} {baseline / seconds:6.2f}x {vs_original}")
                if loaded is not None:
                    line += f" {loaded:8.3f} {loaded / seconds:8.2f}x"
                print(line)
        if original:
            print(f"{name:9} {'':>9} {'original':>22} {original:9.3f}")


def peak_memory_child(size: int, device: str, dtype: str) -> None:
    """Render B2 at size x size and print the peak memory as JSON (child process)."""
    import resource

    args = shlex.split(WORKLOADS["B2"].replace("-detpixels 256", f"-detpixels {size}"))
    config = nb.Config.from_cli(args, c_parity=False)
    start = time.perf_counter()
    result = nb.simulate(config, backend="torch", device=device, dtype=dtype)
    seconds = time.perf_counter() - start
    if device == "cuda":
        peak = torch.cuda.max_memory_allocated()
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"peak_bytes": peak, "seconds": seconds, "steps": result.steps}))


def memory(options) -> None:
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"{'detector':>9} {'device':>6} {'dtype':>8} {'steps/pixel':>11} {'peak MiB':>9} "
          f"{'seconds':>8}")
    for size in (1024, 2048):
        for device in devices:
            for dtype in ("float32", "float64"):
                out = subprocess.run([sys.executable, __file__, "--memory-child", str(size),
                                      device, dtype], check=True, capture_output=True,
                                     text=True).stdout
                facts = json.loads(out.strip().splitlines()[-1])
                print(f"{size:>4}x{size:<4} {device:>6} {dtype:>8} {facts['steps']:11d} "
                      f"{facts['peak_bytes'] / 2**20:9.0f} {facts['seconds']:8.2f}")


def startup() -> None:
    command = shutil.which("nanoBragg")
    args = shlex.split(WORKLOADS["B2"].replace("-detpixels 256", "-detpixels 16"))
    with tempfile.TemporaryDirectory() as folder:
        for backend in ("c", "torch"):
            start = time.perf_counter()
            subprocess.run([command, *args, "-backend", backend, "-noprogress"], cwd=folder,
                           check=True, stdout=subprocess.DEVNULL)
            print(f"nanoBragg -backend {backend} on 16x16: "
                  f"{time.perf_counter() - start:.2f} s from launch to exit")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--memory-child":
        peak_memory_child(int(sys.argv[2]), sys.argv[3], sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", default=["B1", "B2", "B3"], choices=WORKLOADS)
    parser.add_argument("--modes", nargs="+", default=["corrected", "c_parity"],
                        choices=["corrected", "c_parity"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    parser.add_argument("--busy", action="store_true",
                        help="time again beside one process spinning on a CPU")
    parser.add_argument("--memory", action="store_true", help="peak memory of B2 at 1024, 2048")
    parser.add_argument("--startup", action="store_true", help="time the command's start-up")
    options = parser.parse_args()
    if options.memory:
        memory(options)
    elif options.startup:
        startup()
    else:
        throughput(options)


if __name__ == "__main__":
    main()
