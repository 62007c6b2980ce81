"""The C engine under AddressSanitizer and UndefinedBehaviorSanitizer (every stage:
nanoBragg's, the detector response, amorphous scattering, point scatterers).

One build of the engine, its C-level tests and the Python module with
``-fsanitize=address,undefined`` (OpenMP on, as users get it; any finding aborts):
ctest runs the C-level tests, then a child Python process that loads the sanitized
module in place of the installed one runs golden cases through the ``nanoBragg``
command, in c_parity mode (compared with the original's outputs) and in corrected
mode, with pixel traces, printouts, two threads and a cancelled render.

Skipped where there is no cmake or the compiler's sanitizers do not catch a planted
heap overflow and a planted signed overflow (the probe proves that a finding fails).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import DATA, GOLDEN
from test_golden import check_outputs, compare_float, prepare

ROOT = Path(__file__).resolve().parents[1]
FLAGS = "-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
ENV = {"ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1",
       "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"}
"""Python itself leaks by design at exit; everything else found aborts the process."""
SLOW = {"b2_workload_256", "N_axes_zero_wave", "hkl_extra_columns"}
"""Cases of more than 0.1 s unsanitized: their kernels run in the faster cases too."""
EXTRA = [
    ["-trace_pixel", "3", "5"],
    ["-printout_pixel", "5", "3"],
]
"""What else a corrected case runs with: the traced pixel's path, the printout's."""

PROBE = """
#include <limits.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    volatile int past = 4, big = INT_MAX;
    int *volatile a = malloc(4 * sizeof(int));
    int r = argv[1][0] == 'a' ? a[past] : big + argc;
    free(a);
    return r;
}
"""


def _compiler(name: str) -> str | None:
    return shutil.which(name)


@pytest.fixture(scope="module")
def sanitizer_runtime(tmp_path_factory) -> str:
    """The runtimes to preload into Python (LD_PRELOAD); skips where sanitizers are not
    supported or do not catch the planted errors."""
    if sys.platform != "linux" or shutil.which("cmake") is None:
        pytest.skip("needs Linux and cmake")
    cc, cxx = _compiler("gcc"), _compiler("g++")
    if cc is None or cxx is None:
        pytest.skip("needs gcc and g++")
    folder = tmp_path_factory.mktemp("probe")
    (folder / "probe.c").write_text(PROBE)
    built = subprocess.run([cc, *FLAGS.split(), "-O1", "probe.c", "-o", "probe"], cwd=folder,
                           capture_output=True, text=True)
    if built.returncode != 0:
        pytest.skip(f"{cc} cannot build with {FLAGS}: {built.stderr.strip()[:200]}")
    env = {**os.environ, **ENV}
    for argument, finding in (("a", "AddressSanitizer"), ("u", "runtime error")):
        caught = subprocess.run([str(folder / "probe"), argument], capture_output=True,
                                text=True, env=env)
        if caught.returncode == 0 or finding not in caught.stderr:
            pytest.skip(f"the sanitizers of {cc} do not catch a planted error ({finding})")
    # ASan first; the C++ runtime too, which the interpreter does not link: ASan finds
    # the real __cxa_throw (that the bindings' exceptions go through) only when it is
    # loaded at start-up
    runtimes = [subprocess.run([compiler, f"-print-file-name={name}"], capture_output=True,
                               text=True, check=True).stdout.strip()
                for compiler, name in ((cc, "libasan.so"), (cxx, "libstdc++.so"))]
    missing = [name for name in runtimes if not Path(name).is_file()]
    if missing:
        pytest.skip(f"no shared runtime to preload: {missing[0]}")
    return " ".join(runtimes)


@pytest.fixture(scope="module")
def sanitized_build(sanitizer_runtime, tmp_path_factory) -> Path:
    build = tmp_path_factory.mktemp("sanitized")
    pybind11_dir = subprocess.run([sys.executable, "-m", "pybind11", "--cmakedir"],
                                  capture_output=True, text=True, check=True).stdout.strip()
    configure = ["cmake", "-S", str(ROOT), "-B", str(build), "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                 "-DNANOBRAGG_TESTS=ON", f"-DCMAKE_C_COMPILER={_compiler('gcc')}",
                 f"-DCMAKE_CXX_COMPILER={_compiler('g++')}", f"-DCMAKE_C_FLAGS={FLAGS}",
                 f"-DCMAKE_CXX_FLAGS={FLAGS}", f"-Dpybind11_DIR={pybind11_dir}",
                 f"-DPython_EXECUTABLE={sys.executable}"]
    subprocess.run(configure, check=True, capture_output=True, text=True)
    built = subprocess.run(["cmake", "--build", str(build), "-j", "2"], capture_output=True,
                           text=True)
    assert built.returncode == 0, built.stdout + built.stderr
    return build


def test_c_level_tests_are_clean_under_the_sanitizers(sanitized_build):
    tested = subprocess.run(["ctest", "--output-on-failure"], cwd=sanitized_build,
                            capture_output=True, text=True, env={**os.environ, **ENV})
    assert tested.returncode == 0, tested.stdout + tested.stderr


CHILD = """
import importlib.util, json, os, sys
import numpy as np
import nanobragg
spec = importlib.util.spec_from_file_location("nanobragg._core", sys.argv[1])
core = importlib.util.module_from_spec(spec)
sys.modules["nanobragg._core"] = core
spec.loader.exec_module(core)
nanobragg._core = core
from nanobragg.cli import main, nearbragg_command, nonbragg_command, noisify_command
from nanobragg.simulation import simulate

RUN = {"nanoBragg": main.run, "noisify": noisify_command.run,
       "nonBragg": nonbragg_command.run, "nearBragg": nearbragg_command.run}
for program, folder, args in json.loads(sys.argv[2]):
    os.chdir(folder)
    with open("log.txt", "w") as log:
        try:
            outcome = RUN[program](args, log)
        except ValueError as error:  # what corrected mode refuses of a legacy command line
            outcome = str(error)
    print(json.dumps([folder, outcome]), flush=True)

config = nanobragg.Config.from_cli(["-cell", "40", "40", "40", "90", "90", "90",
                                    "-default_F", "100", "-N", "5", "-detpixels", "64",
                                    "-oversample", "4"])
try:
    simulate(config, threads=2, progress=lambda done, total: done == 0)
except RuntimeError as error:
    if "cancelled" in str(error):
        print(json.dumps(["cancelled", 0]), flush=True)
print(json.dumps(["module", core.__file__]), flush=True)
"""


def test_golden_cases_are_clean_under_the_sanitizers(sanitizer_runtime, sanitized_build,
                                                     tmp_path):
    module = next(sanitized_build.glob(f"_core{sysconfig.get_config_var('EXT_SUFFIX')}"))
    cases = sorted(p.name for p in (GOLDEN / "cases").iterdir() if p.name not in SLOW)
    runs: list[tuple[str, str, list[str]]] = []
    for i, case in enumerate(cases):
        for mode in ("c_parity", "corrected"):
            folder = tmp_path / f"{case}-{mode}"
            folder.mkdir()
            args = prepare(case, folder, ["-backend", "c"])
            if mode == "c_parity":
                args.append("-c_parity")
            else:
                args += EXTRA[i % len(EXTRA)]
            runs.append((case, mode, args))
    folders = [str(tmp_path / f"{case}-{mode}") for case, mode, _ in runs]
    env = {**os.environ, **ENV, "LD_PRELOAD": sanitizer_runtime, "OMP_NUM_THREADS": "2"}
    done = subprocess.run([sys.executable, "-c", CHILD, str(module),
                           json.dumps([["nanoBragg", f, args]
                                       for f, (_, _, args) in zip(folders, runs, strict=True)])],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-5000:]
    reports = [json.loads(line) for line in done.stdout.splitlines()]
    assert reports[-1] == ["module", str(module)]
    assert ["cancelled", 0] in reports
    outcomes = dict(tuple(report) for report in reports[:len(runs)])
    refused = []
    for folder, (case, mode, _) in zip(folders, runs, strict=True):
        if mode == "corrected" and isinstance(outcomes.get(folder), str):
            refused.append(case)
            continue
        assert outcomes.get(folder) == 0, (case, mode, outcomes.get(folder))
        if mode == "c_parity":
            check_outputs(case, Path(folder))
    assert len(refused) <= 5, refused


SUITE = DATA / "golden-suite"


def test_the_suite_s_golden_cases_are_clean_under_the_sanitizers(sanitizer_runtime,
                                                                  sanitized_build, tmp_path):
    """noisify, nonBragg and nearBragg through the sanitized module (their C stages
    nb_response.c, nb_amorphous.c, nb_scatterers.c), both modes, two threads; with c_parity
    the float images match the originals'."""
    module = next(sanitized_build.glob(f"_core{sysconfig.get_config_var('EXT_SUFFIX')}"))
    runs: list[tuple[str, str, str, list[str]]] = []
    for program in ("noisify", "nonBragg", "nearBragg"):
        corpus = SUITE / program
        for case in sorted(p.name for p in (corpus / "cases").iterdir()):
            for mode in ("c_parity", "corrected"):
                folder = tmp_path / f"{program}-{case}-{mode}"
                folder.mkdir()
                for item in (corpus / "inputs").iterdir():
                    shutil.copy(item, folder / item.name)
                args = [a for a in (corpus / "cases" / case / "args.txt").read_text()
                        .splitlines() if a]
                args += ["-backend", "c", *(["-c_parity"] if mode == "c_parity" else [])]
                runs.append((program, case, str(folder), args))
    env = {**os.environ, **ENV, "LD_PRELOAD": sanitizer_runtime, "OMP_NUM_THREADS": "2"}
    done = subprocess.run([sys.executable, "-c", CHILD, str(module),
                           json.dumps([[program, folder, args]
                                       for program, _, folder, args in runs])],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-5000:]
    reports = [json.loads(line) for line in done.stdout.splitlines()]
    assert reports[-1] == ["module", str(module)]
    outcomes = dict(tuple(report) for report in reports[:len(runs)])
    for program, case, folder, args in runs:
        c_parity = "-c_parity" in args
        outcome = outcomes.get(folder)
        if not c_parity and isinstance(outcome, str):
            continue  # a legacy command line the corrected mode refuses, cleanly
        assert outcome == 0, (program, case, args, outcome)
        if not c_parity:
            continue
        meta = json.loads((SUITE / program / "cases" / case / "meta.json").read_text())
        shape = (meta["spixels"], meta["fpixels"])
        for name, kind in meta["outputs"].items():
            if kind == "float32":
                compare_float(name, SUITE / program / "cases" / case / name,
                              Path(folder) / name, shape)
