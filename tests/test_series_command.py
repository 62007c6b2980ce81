"""The nb-series command end to end."""

from __future__ import annotations

import io
import json
import sys

import numpy as np
import pytest

from nanobragg import Config, simulate
from nanobragg.cli.series import _progress, main
from nanobragg.io import read_smv
from nanobragg.series import Series, Sweep
from nanobragg.series.manifest import MANIFEST_NAME, ImageRecord

BASE = ("-cell 78 78 38 90 90 90 -default_F 100 -N 4 -lambda 1.5 -distance 60 "
        "-detpixels 32 -pixel 0.2 -phisteps 2").split()


def checksums(folder) -> list[str]:
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    return [entry["checksum"] for entry in manifest["frames"]]


def test_sweep_to_smv_end_to_end(tmp_path, capsys):
    out = tmp_path / "out"
    described = tmp_path / "lyso.toml"
    argv = ["--sweep", "0", "1", "3", "--format", "smv", "--out", str(out), "--seed", "4",
            "--write-series", str(described), "--", *BASE]
    assert main(argv) == 0
    log = capsys.readouterr().out
    assert "image 3 (3/3): phi 2 to 3 deg, rendered in" in log
    assert "a sweep of 3 images of 1 deg from 0 deg" in log
    assert "3 made, 0 already there" in log
    assert "images/s" in log
    assert sorted(p.name for p in out.iterdir()) == ["image_00001.img", "image_00002.img",
                                                     "image_00003.img", MANIFEST_NAME]
    series = Series.from_toml(described.read_text())
    for index in range(3):
        alone = Config.from_cli([*BASE, "-phi", str(float(index)), "-osc", "1",
                                 "-seed", str(series.image_seeds(index).noise)])
        smv = read_smv(out / f"image_{index + 1:05d}.img")
        np.testing.assert_array_equal(smv.data, simulate(alone).noise_image()[0])
        assert smv.value("OSC_START") == index
        assert smv.value("OSC_RANGE") == 1
    # again: nothing to do
    assert main(argv) == 0
    assert "0 made, 3 already there" in capsys.readouterr().out
    # the description file makes the same images
    again = tmp_path / "again"
    assert main(["--series", str(described), "--format", "smv", "--out", str(again)]) == 0
    assert checksums(again) == checksums(out)


def test_stills_on_two_workers(tmp_path, capsys):
    here, there = tmp_path / "here", tmp_path / "there"
    stills = ["--stills", "2", "--orientation-seed", "3", "--format", "smv"]
    assert main([*stills, "--out", str(here), "--", *BASE]) == 0
    assert main([*stills, "--workers", "2", "--out", str(there), "--", *BASE]) == 0
    assert "2 stills" in capsys.readouterr().out
    assert checksums(here) == checksums(there)


def test_dry_run_renders_nothing(tmp_path, capsys):
    described = tmp_path / "s.json"
    argv = ["--stills", "4", "--dry-run", "--write-series", str(described), "--out",
            str(tmp_path / "out"), "--", *BASE]
    assert main(argv) == 0
    assert "4 stills" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()
    assert Series.from_json(described.read_text()).images == 4


@pytest.mark.parametrize(("argv", "message"), [
    (["--sweep", "0", "1", "3"], "no nanoBragg arguments"),
    (["--", *BASE], "give --sweep START OSC N, --stills N or --series FILE"),
    (["--sweep", "0", "1", "3", "--", *BASE, "-seed", "3"], "-seed: give nb-series --seed"),
    (["--sweep", "0", "1", "3", "--", *BASE, "-backend", "torch"],
     "-backend: give nb-series --backend"),
    (["--sweep", "0", "1", "x", "--", *BASE], "--sweep N: 'x' is not a whole number"),
    (["--sweep", "0", "-1", "3", "--", *BASE], "sweep.osc_deg: -1.0 is not valid"),
    (["--sweep", "0", "1", "3", "--stills", "2", "--", *BASE], "not allowed with argument"),
    (["--sweep", "0", "1", "3", "--orientation-seed", "2", "--", *BASE],
     "--orientation-seed: only with --stills"),
    (["--series", "x.toml", "--sweep", "0", "1", "3"], "leave out --sweep"),
    (["--series", "missing.toml"], "--series missing.toml: No such file"),
    (["--sweep", "0", "1", "3", "--workers", "0", "--", *BASE], "--workers: expected"),
    (["--sweep", "0", "1", "3", "--", "-nosuchflag"], "-nosuchflag"),
    (["--sweep", "0", "1", "3", *BASE], "the nanoBragg arguments go after --"),
    (["--sweep", "0", "1", "3", "--", *BASE, "-detpixels", "-3"],
     "detector.fpixels: -3 is not valid"),
])
def test_usage_errors(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("nb-series: ")
    assert message in err
    assert err.count("\n") == 2
    assert not (tmp_path / "nb-series-out").exists()


def test_another_series_is_one_line(tmp_path, capsys):
    out = str(tmp_path / "out")
    assert main(["--sweep", "0", "1", "2", "--format", "smv", "--out", out, "--", *BASE]) == 0
    assert main(["--sweep", "0", "1", "2", "--seed", "1", "--format", "smv", "--out", out,
                 "--", *BASE]) == 1
    err = capsys.readouterr().err
    assert "holds images of another series" in err
    assert err.count("\n") == 1


def test_ctrl_c_then_resume(tmp_path, monkeypatch, capsys):
    from nanobragg.series import runner

    real = runner.render_frame

    def interrupted(series, index, **options):
        if index == 1:
            raise KeyboardInterrupt
        return real(series, index, **options)

    monkeypatch.setattr(runner, "render_frame", interrupted)
    argv = ["--sweep", "0", "1", "3", "--format", "smv", "--out", str(tmp_path), "--", *BASE]
    assert main(argv) == 130
    assert "interrupted; the images finished are in" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["image_00001.img", MANIFEST_NAME]
    monkeypatch.undo()
    assert main(argv) == 0
    assert "2 made, 1 already there" in capsys.readouterr().out


def test_without_dask_the_error_names_the_extra(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)
    argv = ["--sweep", "0", "1", "2", "--workers", "2", "--format", "smv", "--out",
            str(tmp_path), "--", *BASE]
    assert main(argv) == 1
    assert "pip install nanobragg[series]" in capsys.readouterr().err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal():
    from nanobragg.series import ImageSeeds
    from nanobragg.series.frame import ScanPoint

    terminal, log = _Terminal(), io.StringIO()
    show = _progress(log, terminal)
    record = ImageRecord(0, ScanPoint(0.0, 1.0), ImageSeeds(1, 2, 3), "0" * 64, ("a",))
    assert show(1, 2, record) is True
    assert show(2, 2, record) is True
    assert terminal.getvalue().endswith("] 2/2 images\n")
    assert "[" + "#" * 20 + "." * 20 + "] 1/2 images" in terminal.getvalue()
    assert log.getvalue() == ""


def test_sweep_to_nexus_by_default(tmp_path, capsys):
    h5py = pytest.importorskip("h5py")
    pytest.importorskip("hdf5plugin")
    assert main(["--sweep", "10", "0.5", "3", "--out", str(tmp_path), "--", *BASE]) == 0
    assert "as nexus: 3 made" in capsys.readouterr().out
    with h5py.File(tmp_path / "series.nxs", "r") as handle:
        assert handle["/entry/data/data"].shape == (3, 32, 32)
        assert handle["/entry/sample/transformations/phi"][()].tolist() == [10.0, 10.5, 11.0]


def test_sweep_to_cbf(tmp_path, capsys):
    fabio = pytest.importorskip("fabio")
    assert main(["--sweep", "0", "1", "2", "--seed", "4", "--format", "cbf", "--out",
                 str(tmp_path), "--", *BASE]) == 0
    assert "as cbf: 2 made" in capsys.readouterr().out
    seeds = Series(Config.from_cli(BASE), Sweep(0, 1, 2), seed=4).image_seeds(1)
    alone = Config.from_cli([*BASE, "-phi", "1.0", "-osc", "1", "-seed", str(seeds.noise)])
    image = fabio.open(str(tmp_path / "image_00002.cbf"))
    np.testing.assert_array_equal(image.data, simulate(alone).noise_image()[0])
