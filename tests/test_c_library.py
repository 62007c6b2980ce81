"""The C engine as a plain C library: built without Python and without OpenMP (the
serial build a compiler without OpenMP gets), and its own C-level tests run by ctest."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("cmake") is None, reason="needs cmake on PATH")
def test_serial_c_library_builds_and_passes_its_tests(tmp_path):
    build = tmp_path / "build"
    configure = ["cmake", "-S", str(ROOT), "-B", str(build), "-DNANOBRAGG_PYTHON=OFF",
                 "-DNANOBRAGG_OPENMP=OFF", "-DNANOBRAGG_TESTS=ON", "-DCMAKE_BUILD_TYPE=Release"]
    subprocess.run(configure, check=True, capture_output=True, text=True)
    built = subprocess.run(["cmake", "--build", str(build), "-j", "2"], capture_output=True,
                           text=True)
    assert built.returncode == 0, built.stdout + built.stderr
    assert "warning" not in built.stdout + built.stderr
    tested = subprocess.run(["ctest", "--output-on-failure"], cwd=build, capture_output=True,
                            text=True)
    assert tested.returncode == 0, tested.stdout + tested.stderr
