"""The Python examples of docs/workflows.md run as written."""

from __future__ import annotations

import re
from pathlib import Path

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
