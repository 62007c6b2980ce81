"""Write throughput of the series writers (NeXus with bitshuffle/LZ4, CBF, SMV).

    python benchmarks/bench_series_writers.py [--sizes 512 2048] [--frames 20]
        [--dtype uint16] [--repeat 3] [--dir FOLDER]

Each size writes ``--frames`` frames of that many pixels square with every writer, in
this process, into a fresh folder (``--dir``: where; a temporary folder by default), and
as a baseline the same frames as raw bytes with numpy (``ndarray.tofile``, one file per
frame), best of ``--repeat`` runs each.  Printed: MB/s of raw pixel bytes, the time per
frame, the ratio of each writer's time to the raw baseline's, and for NeXus the size of
the file against the raw bytes.  The frames look like a diffraction image: a Poisson
background of about 2 counts with Gaussian spots, from a fixed seed (compression depends
on the content: a real image of mostly dark pixels compresses about as well).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from nanobragg import Config
from nanobragg.series.frame import Frame, ScanPoint, SeriesGeometry
from nanobragg.series.geometry import series_geometry
from nanobragg.series.writer import open_writer


def frames(size: int, count: int, dtype: np.dtype) -> list[np.ndarray]:
    rng = np.random.default_rng(12345)
    slow, fast = np.mgrid[0:size, 0:size]
    images = []
    for _ in range(count):
        image = rng.poisson(2.0, (size, size)).astype(np.float64)
        for y, x, height in zip(rng.uniform(0, size, 200), rng.uniform(0, size, 200),
                                rng.exponential(500.0, 200), strict=True):
            window = (slice(max(int(y) - 4, 0), int(y) + 5), slice(max(int(x) - 4, 0),
                                                                   int(x) + 5))
            r2 = (slow[window] - y) ** 2 + (fast[window] - x) ** 2
            image[window] += height * np.exp(-r2 / 2.0)
        images.append(np.minimum(image, 65535).astype(dtype))
    return images


def best_time(run: Callable[[Path], None], root: Path, repeat: int) -> tuple[float, int]:
    """The best wall time of ``run`` in a fresh folder, and the bytes it left there."""
    best, written = float("inf"), 0
    for attempt in range(repeat):
        folder = root / f"run{attempt}"
        folder.mkdir()
        start = time.perf_counter()
        run(folder)
        best = min(best, time.perf_counter() - start)
        written = sum(p.stat().st_size for p in folder.iterdir())
        shutil.rmtree(folder)
    return best, written


def write_raw(folder: Path, data: list[np.ndarray]) -> None:
    for index, image in enumerate(data):
        image.tofile(folder / f"image_{index + 1:05d}.raw")


def write_series(folder: Path, fmt: str, geometry: SeriesGeometry, scan: list[ScanPoint],
                 data: list[np.ndarray]) -> None:
    out = open_writer(fmt, folder, geometry, scan, data[0].dtype)
    for index, image in enumerate(data):
        out.write(Frame(index, image, scan[index]))
    out.close(complete=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 2048])
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--dtype", choices=("uint16", "int32"), default="uint16")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    dtype = np.dtype(args.dtype)
    root = Path(tempfile.mkdtemp(prefix="bench_series_", dir=args.dir))
    try:
        for size in args.sizes:
            config = Config.from_cli(["-cell", "79", "79", "38", "90", "90", "90",
                                      "-default_F", "1", "-detpixels", str(size),
                                      "-pixel", "0.1", "-distance", "100"])
            geometry = series_geometry(config, saturation_value=65535)
            scan = [ScanPoint(i * 0.1, 0.1) for i in range(args.frames)]
            data = frames(size, args.frames, dtype)
            raw_bytes = sum(image.nbytes for image in data)
            baseline, _ = best_time(partial(write_raw, data=data), root, args.repeat)
            print(f"{size}x{size} {dtype}, {args.frames} frames, "
                  f"{raw_bytes / 1e6:.1f} MB of pixels")
            print(f"  {'raw numpy':10s} {raw_bytes / baseline / 1e6:8.1f} MB/s "
                  f"{baseline / args.frames * 1e3:8.2f} ms/frame")
            for fmt in ("nexus", "cbf", "smv"):
                run = partial(write_series, fmt=fmt, geometry=geometry, scan=scan, data=data)
                seconds, written = best_time(run, root, args.repeat)
                print(f"  {fmt:10s} {raw_bytes / seconds / 1e6:8.1f} MB/s "
                      f"{seconds / args.frames * 1e3:8.2f} ms/frame "
                      f"{seconds / baseline:6.2f}x raw time, "
                      f"files {written / raw_bytes:.3f}x raw bytes")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
