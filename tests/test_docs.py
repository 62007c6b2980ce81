"""The Python examples of docs/workflows.md run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_workflow_examples_run(tmp_path, monkeypatch, capsys):
    blocks = python_blocks((DOCS / "workflows.md").read_text())
    assert len(blocks) == 3
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "docs/workflows.md", "exec"), namespace)
    out = capsys.readouterr().out
    assert "first divergence: terms[" in out
    assert ".F_latt (layer 0" in out
    assert (tmp_path / "legacy_from_python.bin").stat().st_size == 64 * 64 * 4


def test_series_examples_run(tmp_path, monkeypatch, capsys):
    import tomllib

    pytest.importorskip("distributed")
    pytest.importorskip("h5py")
    from nanobragg.series import Series

    text = (DOCS / "series.md").read_text()
    blocks = python_blocks(text)
    assert len(blocks) == 4
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__main__"}
    for block in blocks:
        exec(compile(block, "docs/series.md", "exec"), namespace)
    out = capsys.readouterr().out
    assert "90 images in" in out
    assert "(90, 64, 64) uint16 phi 0.0 to 89.0 deg" in out
    assert "0 made, 90 already there" in out
    assert "90 images on 2 workers" in out
    assert "the same images: True" in out
    assert (tmp_path / "first_image.png").stat().st_size > 0
    description, stills = re.findall(r"```toml\n(.*?)```", text, flags=re.DOTALL)
    series = Series.from_toml(description)
    assert (series.images, series.response.psf) == (90, "gauss")
    assert tomllib.loads(stills)["series"]["stills"]["orientation_seed"] == 7
