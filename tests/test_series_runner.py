"""run_series: in process and on a real 2-process LocalCluster; resuming, refusing another
series, a worker that dies, a full disk, Ctrl-C."""

from __future__ import annotations

import errno
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from nanobragg import Config
from nanobragg.series import Series, SeriesMismatch, Stills, Sweep, run_series
from nanobragg.series.manifest import MANIFEST_NAME

distributed = pytest.importorskip("distributed")

BASE = ("-cell 78 78 38 90 90 90 -default_F 100 -N 4 -lambda 1.5 -distance 60 "
        "-detpixels 32 -pixel 0.2 -phisteps 2").split()
IMAGES = 5


def sweep(images: int = IMAGES, seed: int = 3) -> Series:
    return Series(Config.from_cli(BASE), Sweep(0.0, 1.0, images), seed=seed)


def checksums(folder: Path) -> dict[int, str]:
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    return {entry["index"]: entry["checksum"] for entry in manifest["frames"]}


def names(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


def images(count: int, suffix: str = ".img") -> list[str]:
    return [f"image_{i:05d}{suffix}" for i in range(1, count + 1)]


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[int, str]:
    """The checksums of the series made in process, in one go."""
    folder = tmp_path_factory.mktemp("reference")
    report = run_series(sweep(), folder, format="smv")
    assert (report.done, report.skipped, report.complete) == (IMAGES, 0, True)
    assert names(folder) == [*images(IMAGES), MANIFEST_NAME]
    return checksums(folder)


@pytest.mark.parametrize("format", ["smv", "cbf"])
def test_cluster_makes_the_same_images(format, client, reference, tmp_path):
    report = run_series(sweep(), tmp_path, format=format, client=client, block=2)
    assert (report.done, report.skipped, report.complete) == (IMAGES, 0, True)
    # the checksums are of the pixels: the same in every format
    assert checksums(tmp_path) == reference
    assert names(tmp_path) == [*images(IMAGES, "." + format.replace("smv", "img")),
                               MANIFEST_NAME]


def test_scheduler_address_is_a_client(client, reference, tmp_path):
    run_series(sweep(), tmp_path, format="smv", client=client.scheduler.address)
    assert checksums(tmp_path) == reference


def stop_after(k: int):
    def progress(done, total, record):
        assert total == IMAGES
        return done < k
    return progress


@pytest.mark.parametrize("on", ["process", "cluster"])
def test_resume_after_a_stop_skips_the_finished_images(on, client, reference, tmp_path):
    where = {"client": client} if on == "cluster" else {}
    stopped = run_series(sweep(), tmp_path, format="smv", progress=stop_after(2), **where)
    assert not stopped.complete
    assert stopped.done == 2
    # the files there are whole images the manifest lists; the others are redone
    assert set(checksums(tmp_path)).issubset(range(IMAGES))
    listed = checksums(tmp_path)
    assert len(listed) == 2
    again = run_series(sweep(), tmp_path, format="smv", **where)
    assert (again.skipped, again.done, again.complete) == (2, IMAGES - 2, True)
    assert checksums(tmp_path) == reference


def test_an_image_whose_file_is_gone_is_made_again(reference, tmp_path):
    run_series(sweep(), tmp_path, format="smv")
    (tmp_path / "image_00002.img").unlink()
    again = run_series(sweep(), tmp_path, format="smv")
    assert (again.skipped, again.done) == (IMAGES - 1, 1)
    assert checksums(tmp_path) == reference


def test_another_series_in_the_same_folder_is_refused(tmp_path):
    run_series(sweep(), tmp_path, format="smv", progress=stop_after(1))
    before = {name: (tmp_path / name).read_bytes() for name in names(tmp_path)}
    with pytest.raises(SeriesMismatch, match=r"holds images of another series"):
        run_series(sweep(seed=4), tmp_path, format="smv")
    with pytest.raises(SeriesMismatch, match=r"holds this series as smv, not cbf"):
        run_series(sweep(), tmp_path, format="cbf")
    assert {name: (tmp_path / name).read_bytes() for name in names(tmp_path)} == before


def test_ctrl_c_leaves_a_resumable_folder(client, reference, tmp_path):
    def interrupt(done, total, record):
        if done == 2:
            raise KeyboardInterrupt

    for where in ({}, {"client": client}):
        with pytest.raises(KeyboardInterrupt):
            run_series(sweep(), tmp_path, format="smv", progress=interrupt, **where)
        assert len(checksums(tmp_path)) == 2
        # on Dask a task already running when the run stops finishes on its worker (a
        # thread cannot be interrupted): its file appears whole, after a temporary
        shown = [name for name in names(tmp_path) if not name.startswith(".")]
        assert all(name in images(IMAGES) or name == MANIFEST_NAME for name in shown)
        for name in shown:
            if name != MANIFEST_NAME:
                assert (tmp_path / name).stat().st_size == 512 + 32 * 32 * 2
        again = run_series(sweep(), tmp_path, format="smv", **where)
        assert again.complete
        assert checksums(tmp_path) == reference
        for name in [*images(IMAGES), MANIFEST_NAME]:
            (tmp_path / name).unlink()


class _FullDisk:
    """A file that takes half of what is written, then fails as a full disk does."""

    def __init__(self, handle):
        self.handle = handle

    def write(self, data):
        self.handle.write(bytes(data)[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()


def test_a_full_disk_leaves_no_file_under_a_final_name(monkeypatch, reference, tmp_path):
    from nanobragg.io import outputs

    real = outputs._new_temporary

    def failing(output, staged):
        handle = real(output, staged)
        return _FullDisk(handle) if output.target.name == "image_00003.img" else handle

    monkeypatch.setattr(outputs, "_new_temporary", failing)
    with pytest.raises(OSError, match="No space left on device"):
        run_series(sweep(), tmp_path, format="smv")
    assert names(tmp_path) == [*images(2), MANIFEST_NAME]
    assert sorted(checksums(tmp_path)) == [0, 1]
    monkeypatch.undo()
    again = run_series(sweep(), tmp_path, format="smv")
    assert (again.skipped, again.done) == (2, IMAGES - 2)
    assert checksums(tmp_path) == reference


def _fail_once(marker: str, how: str) -> None:
    """On a worker: the next render of image 2 kills the worker (or raises), once."""
    from nanobragg.series import runner

    real = runner.render_frame

    def render(series, index, **options):
        if index == 2 and not os.path.exists(marker):
            Path(marker).touch()
            if how == "kill":
                os._exit(1)
            raise RuntimeError("a passing failure")
        return real(series, index, **options)

    render.real = real  # type: ignore[attr-defined]
    runner.render_frame = render


def _restore() -> None:
    from nanobragg.series import runner

    runner.render_frame = getattr(runner.render_frame, "real", runner.render_frame)


@pytest.mark.parametrize("how", ["raise", "kill"])
def test_a_failed_task_is_redone(how, client, reference, tmp_path):
    marker = tmp_path.parent / f"{tmp_path.name}.marker"
    client.run(_fail_once, str(marker), how)
    try:
        report = run_series(sweep(), tmp_path, format="smv", client=client)
    finally:
        client.run(_restore)
    assert marker.exists()
    assert report.complete
    assert checksums(tmp_path) == reference
    client.wait_for_workers(2, timeout=60)


def test_float_frames_need_nexus(tmp_path):
    photons = Series(Config.from_cli([*BASE, "-nonoise"]), Sweep(0, 1, 2))
    with pytest.raises(ValueError, match=r"^format smv: needs detector counts"):
        run_series(photons, tmp_path, format="smv")
    assert names(tmp_path) == []


@pytest.mark.parametrize(("options", "message"), [
    ({"format": "tiff"}, r"^format: 'tiff' is not valid"),
    ({"block": 0}, r"^block: 0 is not valid"),
    ({"client": 3}, r"^client: 3 is not valid"),
])
def test_bad_options(options, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        run_series(sweep(2), tmp_path, **{"format": "smv", **options})


def test_without_dask_the_error_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install nanobragg\[series\]"):
        run_series(sweep(2), tmp_path, format="smv", client="tcp://127.0.0.1:1")


def test_stills_on_the_cluster(client, tmp_path):
    stills = Series(Config.from_cli(BASE), Stills(3, orientation_seed=5), seed=1)
    run_series(stills, tmp_path / "here", format="smv")
    run_series(stills, tmp_path / "there", format="smv", client=client)
    assert checksums(tmp_path / "here") == checksums(tmp_path / "there")
    manifest = json.loads((tmp_path / "here" / MANIFEST_NAME).read_text())
    missets = [entry["misset_deg"] for entry in manifest["frames"]]
    assert missets == [list(stills.scan.misset_deg(i)) for i in range(3)]
    assert np.unique(np.asarray(missets), axis=0).shape == (3, 3)


def stack(folder: Path) -> np.ndarray:
    h5py = pytest.importorskip("h5py")
    pytest.importorskip("hdf5plugin")
    with h5py.File(folder / "series.nxs", "r") as handle:
        return np.asarray(handle["/entry/data/data"][()])


@pytest.fixture(scope="module")
def nexus_reference(tmp_path_factory) -> tuple[np.ndarray, dict[int, str]]:
    folder = tmp_path_factory.mktemp("nexus")
    run_series(sweep(), folder, format="nexus")
    return stack(folder), checksums(folder)


def test_nexus_on_the_cluster_is_the_same_stack(client, nexus_reference, reference, tmp_path):
    report = run_series(sweep(), tmp_path, format="nexus", client=client, block=2, window=1)
    assert report.complete
    assert names(tmp_path) == [MANIFEST_NAME, "series.nxs"]
    data, sums = nexus_reference
    assert data.shape == (IMAGES, 32, 32)
    np.testing.assert_array_equal(stack(tmp_path), data)
    assert checksums(tmp_path) == sums == reference


@pytest.mark.parametrize("on", ["process", "cluster"])
def test_nexus_resume_after_ctrl_c(on, client, nexus_reference, tmp_path):
    where = {"client": client} if on == "cluster" else {}

    def interrupt(done, total, record):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_series(sweep(), tmp_path, format="nexus", progress=interrupt, **where)
    # nothing under the final name until every frame is in
    assert names(tmp_path) == [MANIFEST_NAME, "series.nxs.part"]
    assert len(checksums(tmp_path)) == 2
    again = run_series(sweep(), tmp_path, format="nexus", **where)
    assert (again.skipped, again.done, again.complete) == (2, IMAGES - 2, True)
    np.testing.assert_array_equal(stack(tmp_path), nexus_reference[0])


def test_a_frame_changed_in_the_part_file_is_made_again(nexus_reference, tmp_path):
    h5py = pytest.importorskip("h5py")
    run_series(sweep(), tmp_path, format="nexus", progress=stop_after(3))
    with h5py.File(tmp_path / "series.nxs.part", "r+") as handle:
        handle["/entry/data/data"][1] = 0
    again = run_series(sweep(), tmp_path, format="nexus")
    assert (again.skipped, again.done) == (2, IMAGES - 2)
    np.testing.assert_array_equal(stack(tmp_path), nexus_reference[0])


def test_a_nexus_write_error_leaves_no_final_file(monkeypatch, nexus_reference, tmp_path):
    from nanobragg.series import nexus

    real = nexus.NexusWriter.write

    def failing(self, frame):
        if frame.index == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self, frame)

    monkeypatch.setattr(nexus.NexusWriter, "write", failing)
    with pytest.raises(OSError, match="No space left on device"):
        run_series(sweep(), tmp_path, format="nexus")
    assert names(tmp_path) == [MANIFEST_NAME, "series.nxs.part"]
    assert sorted(checksums(tmp_path)) == [0, 1]
    monkeypatch.undo()
    again = run_series(sweep(), tmp_path, format="nexus")
    assert (again.skipped, again.done) == (2, IMAGES - 2)
    np.testing.assert_array_equal(stack(tmp_path), nexus_reference[0])
