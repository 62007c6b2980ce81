"""nb-compare's output folder: the images as raw float32, PNG previews, the pixel
traces and ``summary.json``."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from nanobragg.compare.report import Report
from nanobragg.io import OutputSet

_OUTPUT_NAMES = ("a.bin", "b.bin", "a.log", "b.log", "a.trace.txt", "b.trace.txt", "a.png",
                 "b.png", "diff.png", "summary.json")


def previews_available() -> bool:
    """Whether matplotlib can be imported (the PNG previews need it)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def output_set(folder: str | os.PathLike[str]) -> OutputSet:
    """Every file a comparison may leave in ``folder``, without content: ``check()`` it
    before the runs, so that an unusable folder fails before any work."""
    outputs = OutputSet(make_folders=True)
    for name in _OUTPUT_NAMES:
        outputs.add(Path(folder) / name)
    return outputs


def write_outputs(folder: str | os.PathLike[str], report: Report, *, previews: bool = True,
                  log_scale: bool = False) -> list[str]:
    """Write ``a.bin``/``b.bin`` (raw float32, as the original's ``-floatfile``), the external
    programs' logs (``a.log``/``b.log``), the pixel traces (``a.trace.txt``/``b.trace.txt``),
    with ``previews`` the PNGs ``a.png``, ``b.png`` and ``diff.png``, and ``summary.json``;
    return the names written.  They are written all together or not at all, with the
    folder made if needed: files of these names an earlier comparison left there are
    replaced or removed with them, and stay as they were when writing fails (an
    :class:`~nanobragg.io.OutputError` naming the file) or is interrupted."""
    folder = Path(folder)
    outputs = output_set(folder)
    contents: dict[str, bytes] = {}
    for name, run in report.runs:
        contents[f"{name}.bin"] = run.image.astype("<f4").tobytes()
        if run.log:
            contents[f"{name}.log"] = run.log.encode()
    if report.traces is not None:
        for name in ("a", "b"):
            contents[f"{name}.trace.txt"] = getattr(report.traces, name).to_text().encode()
    if previews:
        contents.update(_previews(report, log_scale=log_scale))
    files = [*contents, "summary.json"]
    contents["summary.json"] = (json.dumps(report.summary(files), indent=2) + "\n").encode()
    for name in _OUTPUT_NAMES:
        if name in contents:
            outputs.put(folder / name, contents[name])
        else:
            outputs.remove(folder / name)
    outputs.commit()
    return files


def _previews(report: Report, *, log_scale: bool) -> dict[str, bytes]:
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
    spread = report.comparison.max_abs_diff or 1.0
    return {"a.png": _png(a, norm, "viridis", f"a: {report.a.runner.spec}"),
            "b.png": _png(b, norm, "viridis", f"b: {report.b.runner.spec}"),
            "diff.png": _png(report.b.image - report.a.image,
                             Normalize(vmin=-spread, vmax=spread), "RdBu_r", "b - a")}


def _png(image: np.ndarray, norm: Any, cmap: str, title: str) -> bytes:
    # a bare Figure renders with Agg and leaves pyplot's global state alone
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.0, 5.0), layout="constrained")
    axes = figure.add_subplot()
    shown = axes.imshow(image, norm=norm, cmap=cmap)
    axes.set_title(title)
    axes.set_xlabel("fast pixel")
    axes.set_ylabel("slow pixel")
    figure.colorbar(shown, ax=axes)
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=100)
    return png.getvalue()
