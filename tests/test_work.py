"""How much a render may cost: the work it announces and refuses above a limit, and how
soon it stops when cancelled however long one pixel takes (issue: hardening)."""

from __future__ import annotations

import io
import math
import os
import signal
import subprocess
import sys
import time

import pytest

import nanobragg as nb
from nanobragg.cli.main import main, run
from nanobragg.engines import max_threads
from test_golden import ENGINE_FLAGS
from test_quirks_render import small_config

SMALL = ["-cell", "40", "40", "40", "90", "90", "90", "-N", "5", "-default_F", "100",
         "-detpixels", "6", "-noprogress", "-nonoise", "-nopgm"]


def test_the_work_is_counted_and_logged(tmp_path, monkeypatch):
    config = small_config(sampling={"oversample": 2, "roi": (1, 3, 0, 4)},
                          crystal={"phi_steps": 3, "osc_deg": 0.3})
    work = nb.simulate(config).setup.work
    assert (work.pixels, work.oversample, work.phi_steps) == (3 * 5, 2, 3)
    assert work.terms == 15 * 4 * 3
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    assert run([*SMALL, "-oversample", "2"], out=out) == 0
    logged = ("  work: 36 pixels x 2^2 sub-pixels x 1 layers x 1 sources x 1 phi steps x 1 "
              "mosaic domains = 144 terms (limit 1e+11, -max_terms)")
    assert logged in out.getvalue()


@pytest.mark.parametrize("c_parity", [False, True], ids=["corrected", "c_parity"])
def test_a_render_above_the_limit_is_refused_naming_its_cause(engine, c_parity):
    # a 1 GeV photon: the automatic oversampling asks for 1e13 sub-pixels per pixel edge
    config = small_config(beam={"wavelength_A": 12398.42 / 1e9}, sampling={"oversample": None})
    with pytest.raises(ValueError, match=r"the automatic oversampling .*give -oversample"):
        nb.simulate(config, backend=engine, c_parity=c_parity)
    config = small_config(crystal={"phi_steps": 50, "osc_deg": 1.0})
    with pytest.raises(ValueError, match=r"most of it comes from the phi steps \(-phisteps\)"):
        nb.simulate(config, backend=engine, c_parity=c_parity, max_terms=1000)
    assert nb.simulate(config, backend=engine, c_parity=c_parity, max_terms=math.inf).steps


def test_the_limit_is_an_option_and_a_flag(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main([*SMALL, "-max_terms", "10"]) == 1
    err = capsys.readouterr().err
    assert "more than the limit of 10 (max_terms)" in err
    assert "-max_terms on the command line" in err
    assert list(tmp_path.iterdir()) == []
    assert main([*SMALL, "-max_terms", "0"]) == 2
    assert "-max_terms: expected a number of terms > 0" in capsys.readouterr().err
    assert main([*SMALL, "-max_terms", "inf"]) == 0
    for bad in (0, -1.0, "many", True):
        with pytest.raises(ValueError, match="max_terms"):
            nb.simulate(small_config(), max_terms=bad)


def test_a_pixel_beyond_the_torch_engine_s_memory_is_refused():
    """1.6e9 terms in one pixel: refused with the numbers, before anything is allocated."""
    config = small_config(sampling={"oversample": 40000},
                          detector={"fpixels": 2, "spixels": 2})
    with pytest.raises(ValueError, match=r"needs .* GiB of working tensors for one pixel"):
        nb.simulate(config, backend="torch")


@pytest.mark.parametrize("c_parity", [False, True], ids=["corrected", "c_parity"])
def test_a_long_pixel_reports_from_inside_and_stops_there(c_parity):
    """Each pixel takes seconds here: the C engine reports progress (and so learns of a
    cancellation) from inside the first one, before any row is done, and stops."""
    config = small_config(sampling={"oversample": 8000}, detector={"fpixels": 2, "spixels": 2})
    calls = []

    def stop(done, total):
        calls.append(done)
        return False

    start = time.perf_counter()
    with pytest.raises(RuntimeError, match="cancelled"):
        nb.simulate(config, backend="c", c_parity=c_parity, threads=2, progress=stop)
    assert calls == [0]
    assert time.perf_counter() - start < 5.0


@pytest.mark.parametrize("args", [
    ["-detpixels", "4", "-oversample", "20000"],
    ["-N", "100000", "-detpixels", "8"],
], ids=["few heavy pixels", "automatic oversampling"])
def test_ctrl_c_stops_a_render_of_few_long_pixels(args, tmp_path):
    """The issue's examples: a handful of pixels of minutes each.  SIGINT after two
    seconds: exit 130 within a second, no output file."""
    command = ["-cell", "40", "40", "40", "90", "90", "90", "-N", "5", "-default_F", "100",
               *args, "-noprogress", *ENGINE_FLAGS["c"]]
    process = subprocess.Popen([sys.executable, "-m", "nanobragg.cli.main", *command],
                               cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(2.0)
    assert process.poll() is None, "the render finished before it could be interrupted"
    sent = time.perf_counter()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert time.perf_counter() - sent < 1.5
    assert process.returncode == 130, err
    assert list(tmp_path.iterdir()) == []


def test_threads_are_bounded_by_the_machine():
    """Hundreds of OpenMP threads can fail to start, and OpenMP then ends the process."""
    limit = max_threads()
    assert limit == 4 * (os.cpu_count() or 1)
    with pytest.raises(ValueError, match=rf"threads: {limit + 1} is not valid; expected a "
                                         rf"whole number from 1 to {limit} \(4 per CPU"):
        nb.simulate(small_config(), threads=limit + 1)
    assert nb.simulate(small_config(), threads=limit).image.size


ENTRY = ("import sys\nfrom nanobragg.cli.main import main\nprint('up', flush=True)\n"
         "sys.exit(main(sys.argv[1:]))")
"""The console script's two lines, with a line on stdout once the interpreter has started
and imported the entry point (before that, a Ctrl-C meets Python's own start-up)."""


def test_ctrl_c_during_the_imports_is_one_line(tmp_path):
    """SIGINT while the command is still importing its libraries: exit 130, one line."""
    command = [sys.executable, "-c", ENTRY, *SMALL, "-detpixels", "512", "-oversample", "16"]
    for delay in (0.0, 0.02, 0.05, 0.1, 0.2):
        process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        assert process.stdout is not None
        assert process.stdout.readline() == "up\n"
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        assert process.returncode == 130, (delay, err)
        assert err == "nanoBragg: interrupted\n"
    assert list(tmp_path.iterdir()) == []


def test_a_ctrl_c_inside_the_imports_is_held_until_they_are_done():
    """interrupts_deferred: a SIGINT in the block lets the block finish, then raises."""
    from nanobragg.cli.main import interrupts_deferred

    finished = []

    def interrupted_block():
        with interrupts_deferred():
            signal.raise_signal(signal.SIGINT)
            finished.append(True)

    with pytest.raises(KeyboardInterrupt):
        interrupted_block()
    assert finished == [True]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with interrupts_deferred():
        finished.append(False)
    assert finished == [True, False]
