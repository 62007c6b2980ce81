"""The output folder of a series run: nb-series killed (SIGKILL) at the worst moments and
run again, one run at a time, a folder of other files refused, nothing left by a run
that made nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import hdf5plugin  # noqa: F401  (the bitshuffle/LZ4 filter)
import numpy as np
import pytest

from nanobragg import Config
from nanobragg.cli.series import main
from nanobragg.series import Series, SeriesMismatch, Sweep, run_series
from nanobragg.series.folder import FolderBusy, claim
from nanobragg.series.manifest import MANIFEST_NAME

BASE = ("-cell 78 78 38 90 90 90 -default_F 100 -N 4 -lambda 1.5 -distance 60 "
        "-detpixels 32 -pixel 0.2 -phisteps 2").split()
IMAGES = 4
SUFFIX = {"smv": ".img", "cbf": ".cbf"}

KILLER = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path

    dst, nth, needs = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    seen = 0
    real = os.replace

    def replace(src, target, *args, **kwargs):
        # SIGKILL just before the nth rename onto a file named dst (needs: a file that
        # must exist beside it first)
        global seen
        target_path = Path(os.fspath(target))
        if target_path.name == dst and (needs == "-" or (target_path.parent / needs).exists()):
            seen += 1
            if seen == nth:
                os.kill(os.getpid(), signal.SIGKILL)
        return real(src, target, *args, **kwargs)

    os.replace = replace
    if dst == "frame-flag":
        from nanobragg.series import nexus

        def write(self, frame):
            # the frame's pixels reach the part file, its flag never does
            self._layout.check(frame)
            file = self._open()
            file[nexus.DATA][frame.index] = frame.data
            file.flush()
            if frame.index == nth:
                os.kill(os.getpid(), signal.SIGKILL)
            file[nexus.WRITTEN][frame.index] = 1
            file.flush()

        nexus.NexusWriter.write = write
    from nanobragg.cli.series import main
    sys.exit(main(sys.argv[4:]))
""")


def argv(folder: Path, fmt: str) -> list[str]:
    return ["--sweep", "0", "1", str(IMAGES), "--seed", "5", "--format", fmt, "--out",
            str(folder), "--threads", "1", "--", *BASE]


def killed(folder: Path, fmt: str, dst: str, nth: int = 1, needs: str = "-") -> None:
    """nb-series in a process of its own, killed as KILLER says."""
    done = subprocess.run([sys.executable, "-c", KILLER, dst, str(nth), needs,
                           *argv(folder, fmt)], capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr


def checksums(folder: Path) -> dict[int, str]:
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    return {entry["index"]: entry["checksum"] for entry in manifest["frames"]}


def series() -> Series:
    return Series(Config.from_cli(BASE), Sweep(0.0, 1.0, IMAGES), seed=5)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, Path]:
    """The series made in one go, per format."""
    folders = {}
    for fmt in ("smv", "cbf", "nexus"):
        folder = folders[fmt] = tmp_path_factory.mktemp(f"reference-{fmt}")
        run_series(series(), folder, format=fmt, threads=1)
    return folders


def assert_same_as(folder: Path, reference: Path, fmt: str) -> None:
    """Every image there once, none missing, nothing else in the folder."""
    names = sorted(os.listdir(folder))
    assert names == sorted(os.listdir(reference))
    assert checksums(folder) == checksums(reference)
    assert json.loads((folder / MANIFEST_NAME).read_text())["complete"]
    if fmt == "nexus":
        with h5py.File(folder / "series.nxs") as ours, \
                h5py.File(reference / "series.nxs") as theirs:
            np.testing.assert_array_equal(ours["/entry/data/data"][()],
                                          theirs["/entry/data/data"][()])
            assert ours["/entry/nanobragg/frame_written"][()].all()
    else:
        for name in names:
            if name != MANIFEST_NAME:
                assert (folder / name).read_bytes() == (reference / name).read_bytes(), name


@pytest.mark.parametrize(("fmt", "dst", "nth", "needs"), [
    ("smv", "image_00003.img", 1, "-"),          # an image written, not yet renamed
    ("cbf", "image_00002.cbf", 1, "-"),          # a CBF in its staging folder
    ("smv", MANIFEST_NAME, 2, "-"),              # the manifest being saved
    ("nexus", "series.nxs", 1, "-"),             # the stack about to be published
    ("nexus", MANIFEST_NAME, 1, "series.nxs"),   # published, its manifest not saved
    ("nexus", "frame-flag", 2, "-"),             # a frame's pixels in, its flag not
], ids=("smv-image", "cbf-staged", "manifest", "nexus-publish", "nexus-published",
        "nexus-frame"))
def test_killed_then_run_again(fmt, dst, nth, needs, reference, tmp_path):
    folder = tmp_path / "out"
    killed(folder, fmt, dst, nth, needs)
    left = os.listdir(folder)
    # nothing under a final name is half written: every image file there is whole
    for name in left:
        if name.startswith("image_"):
            assert (folder / name).read_bytes() == (reference[fmt] / name).read_bytes()
    assert main(argv(folder, fmt)) == 0
    assert_same_as(folder, reference[fmt], fmt)


def test_killed_leaves_temporaries_that_the_next_run_removes(reference, tmp_path):
    folder = tmp_path / "out"
    killed(folder, "cbf", "image_00002.cbf")
    staged = [name for name in os.listdir(folder) if name.startswith(".")]
    assert len(staged) == 1
    assert staged[0].startswith(".image_00002.cbf.")
    assert main(argv(folder, "cbf")) == 0
    assert not [name for name in os.listdir(folder) if name.startswith(".")]


@pytest.mark.parametrize("fmt", ["smv", "nexus"])
def test_a_second_run_into_the_same_folder_is_refused(fmt, tmp_path, capsys):
    folder = tmp_path / "out"
    with claim(folder):
        with pytest.raises(FolderBusy, match="another run is writing to this folder"):
            run_series(series(), folder, format=fmt)
        assert main(argv(folder, fmt)) == 1
        err = capsys.readouterr().err
        assert "another run is writing to this folder" in err
        assert err.count("\n") == 1
        assert os.listdir(folder) == []
    # the lock goes with the run
    assert main(argv(folder, fmt)) == 0


@pytest.mark.parametrize("name", ["image_00001.img", "series.nxs.part", "image_00002.cbf"])
def test_series_files_without_a_manifest_are_refused(name, tmp_path):
    (tmp_path / name).write_bytes(b"someone else's")
    with pytest.raises(SeriesMismatch, match=f"holds {name} but no manifest.json"):
        run_series(series(), tmp_path, format="smv")
    assert os.listdir(tmp_path) == [name]
    assert (tmp_path / name).read_bytes() == b"someone else's"


@pytest.mark.parametrize("existed", [False, True], ids=("new", "existing"))
def test_a_run_that_makes_no_image_leaves_nothing(existed, monkeypatch, tmp_path):
    from nanobragg.series import runner

    folder = tmp_path / "out"
    if existed:
        folder.mkdir()

    def failing(series, index, **options):
        raise ValueError("no image today")

    monkeypatch.setattr(runner, "render_frame", failing)
    for fmt in ("nexus", "smv"):
        with pytest.raises(ValueError, match="no image today"):
            run_series(series(), folder, format=fmt)
        assert folder.exists() == existed
        assert not existed or os.listdir(folder) == []


def test_what_can_be_checked_is_checked_before_the_folder_is_made(tmp_path):
    torch_series = Series(Config.from_cli(BASE), Sweep(0.0, 1.0, 2), backend="torch",
                          device="cuda:99")
    with pytest.raises(ValueError, match="device: 'cuda:99' is not available"):
        run_series(torch_series, tmp_path / "a")
    tilted = Series(Config.from_cli([*BASE, "-twotheta", "10"]), Sweep(0.0, 1.0, 2))
    with pytest.raises(ValueError, match="cbf: a miniCBF header cannot state"):
        run_series(tilted, tmp_path / "b", format="cbf")
    with pytest.raises(ValueError, match="threads: 0 is not valid"):
        run_series(series(), tmp_path / "c", threads=0)
    assert os.listdir(tmp_path) == []


def test_out_must_be_a_folder(tmp_path, capsys):
    file = tmp_path / "file"
    file.write_bytes(b"x")
    assert main(argv(file, "smv")) == 1
    err = capsys.readouterr().err
    assert err == f"nb-series: {file}: is a file, not a folder; give a folder for the series\n"
    assert file.read_bytes() == b"x"
    assert os.listdir(tmp_path) == ["file"]
