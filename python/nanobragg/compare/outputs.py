"""nb-compare's output folder: the images as raw float32, PNG previews, the pixel
traces and ``summary.json``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from nanobragg.compare.report import Report

_OUTPUT_NAMES = ("a.bin", "b.bin", "a.log", "b.log", "a.trace.txt", "b.trace.txt", "a.png",
                 "b.png", "diff.png", "summary.json")


def previews_available() -> bool:
    """Whether matplotlib can be imported (the PNG previews need it)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def write_outputs(folder: str | os.PathLike[str], report: Report, *, previews: bool = True,
                  log_scale: bool = False) -> list[str]:
    """Write ``a.bin``/``b.bin`` (raw float32, as the original's ``-floatfile``), the external
    programs' logs (``a.log``/``b.log``), the pixel traces (``a.trace.txt``/``b.trace.txt``),
    with ``previews`` the PNGs ``a.png``, ``b.png`` and ``diff.png``, and ``summary.json``
    last; return the names written.  Files of these names left by an earlier comparison
    are removed first, so an interrupted write leaves no mixture of two comparisons."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in _OUTPUT_NAMES:
        (folder / stale).unlink(missing_ok=True)
    files = []
    for name, run in report.runs:
        run.image.astype("<f4").tofile(folder / f"{name}.bin")
        files.append(f"{name}.bin")
        if run.log:
            (folder / f"{name}.log").write_text(run.log)
            files.append(f"{name}.log")
    if report.traces is not None:
        for name in ("a", "b"):
            (folder / f"{name}.trace.txt").write_text(getattr(report.traces, name).to_text())
            files.append(f"{name}.trace.txt")
    if previews:
        files += _write_previews(folder, report, log_scale=log_scale)
    files.append("summary.json")
    with open(folder / "summary.json", "w") as stream:
        json.dump(report.summary(files), stream, indent=2)
        stream.write("\n")
    return files


def _write_previews(folder: Path, report: Report, *, log_scale: bool) -> list[str]:
    """a.png and b.png on one colour scale, diff.png (b - a) symmetric about zero."""
    from matplotlib.colors import LogNorm, Normalize

    a, b = report.a.image, report.b.image
    low, high = min(float(a.min()), float(b.min())), max(float(a.max()), float(b.max()))
    positive = np.concatenate([a[a > 0], b[b > 0]])
    if log_scale and positive.size:
        floor = max(float(positive.min()), high * 1e-6)
        norm: Normalize = LogNorm(vmin=floor, vmax=high)
        a, b = np.maximum(a, floor), np.maximum(b, floor)
    else:
        norm = Normalize(vmin=low, vmax=high)
    _save_image(folder / "a.png", a, norm, "viridis", f"a: {report.a.runner.spec}")
    _save_image(folder / "b.png", b, norm, "viridis", f"b: {report.b.runner.spec}")
    spread = report.comparison.max_abs_diff or 1.0
    _save_image(folder / "diff.png", report.b.image - report.a.image,
                Normalize(vmin=-spread, vmax=spread), "RdBu_r", "b - a")
    return ["a.png", "b.png", "diff.png"]


def _save_image(path: Path, image: np.ndarray, norm: Any, cmap: str, title: str) -> None:
    # a bare Figure renders with Agg and leaves pyplot's global state alone
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.0, 5.0), layout="constrained")
    axes = figure.add_subplot()
    shown = axes.imshow(image, norm=norm, cmap=cmap)
    axes.set_title(title)
    axes.set_xlabel("fast pixel")
    axes.set_ylabel("slow pixel")
    figure.colorbar(shown, ax=axes)
    figure.savefig(path, dpi=100)
