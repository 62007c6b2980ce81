"""``run_series``: render a series into an output folder, in process or on Dask,
resumably.

In process (``client=None``) the images are rendered and written one after the other.
On Dask (a ``distributed.Client``, or a scheduler address) each task renders one block
of ``block`` images: per-image formats (CBF, SMV) are written by the workers themselves,
straight into the output folder (which must be on a file system they share), and the
NeXus stack by this process alone, frames written as they arrive; at most ``window``
tasks are in flight, so memory stays bounded whatever the series' length.  Tasks are
retried (``retries``) when they fail, and the scheduler reruns the tasks of a worker
that dies.

Every image is the same wherever it is made (its seeds come from the series seed and
its index).  On the C engine each task uses ``threads`` OpenMP threads (on Dask 1 by
default: one image a worker thread); the torch engine runs on the series' ``device``,
which on GPU workers (dask-cuda gives each worker one GPU as ``cuda:0``) is the worker's
own.

Nothing is lost: the manifest (:mod:`~nanobragg.series.manifest`) lists an image only
once its files are complete, per-image files appear under their final names whole or
not at all, and the NeXus file stays ``series.nxs.part`` until every frame is in it.
Running the same series into the same folder again skips the images already there;
another series is refused.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nanobragg.series.description import Series
from nanobragg.series.folder import claim
from nanobragg.series.frame import Frame, ScanPoint, SeriesGeometry
from nanobragg.series.manifest import MANIFEST_NAME, ImageRecord, Manifest
from nanobragg.series.render import frame_dtype, render_frame, scan_points
from nanobragg.series.writer import FORMATS, NEXUS_NAME, PART_SUFFIX

__all__ = ["FORMATS", "SeriesReport", "run_series"]

Progress = Callable[[int, int, ImageRecord], Any]
"""``progress(done, total, record)`` after each image (``done`` counts the images already
complete before the run too); returning False stops the run."""


@dataclass(frozen=True)
class SeriesReport:
    """What a run did."""

    out_dir: Path
    format: str
    images: int
    """Images in the series."""
    done: int
    """Images rendered and written by this run."""
    skipped: int
    """Images already complete in the folder."""
    seconds: float
    """Wall time of the run."""
    render_s: float
    """Seconds spent rendering, summed over images (wherever they were made)."""
    write_s: float
    """Seconds spent writing, summed over images."""
    complete: bool
    """Every image of the series is in the folder."""

    @property
    def images_per_s(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0

    @property
    def seconds_per_image(self) -> float:
        return self.seconds / self.done if self.done else 0.0


def run_series(series: Series, out_dir: str | os.PathLike[str], *, format: str = "nexus",
               client: Any = None, block: int = 1, progress: Progress | None = None,
               threads: int | None = None, window: int | None = None,
               retries: int = 2) -> SeriesReport:
    """Render ``series`` into ``out_dir`` as ``format`` (nexus, cbf or smv).

    ``client``: None (in process), a ``distributed.Client`` or a scheduler address.
    ``block``: images per Dask task; ``window``: tasks in flight (default twice the
    cluster's worker threads); ``retries``: how often a failed task is tried again.
    ``threads``: C engine threads per image (default: all cores in process, 1 on Dask).
    Returns a :class:`SeriesReport`; Ctrl-C (or an error) stops the run with the
    folder consistent and resumable.  Everything that can be checked here (the options,
    the format against the frames and the detector, in process the engine and its
    device) is checked before the folder is touched; one run at a time writes a folder
    (:class:`~nanobragg.series.folder.FolderBusy` for a second one).
    """
    if format not in FORMATS:
        raise ValueError(f"format: {format!r} is not valid; expected one of "
                         f"{', '.join(FORMATS)}")
    for name, value, least in (("block", block, 1), ("retries", retries, 0),
                               ("window", 1 if window is None else window, 1),
                               ("threads", 1 if threads is None else threads, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{name}: {value!r} is not valid; expected a whole number >= "
                             f"{least}")
    dtype = frame_dtype(series)
    if format != "nexus" and dtype == np.float32:
        raise ValueError(f"format {format}: needs detector counts, and this series makes "
                         "float photons (-nonoise); leave -nonoise out, add a detector "
                         "response, or write nexus")
    started = time.perf_counter()
    geometry = _geometry(series, dtype)
    scan = scan_points(series)
    if format == "cbf":
        from nanobragg.series.cbf import check_orientation

        check_orientation(geometry)
    if client is None:
        _check_engine(series, threads)
    with claim(out_dir) as output:
        folder = output.path
        manifest = Manifest.open(folder, series, format)
        if not output.had_manifest:
            manifest.save()  # the folder is this series' from now on
        _check_files(manifest, format)
        todo = [i for i in range(series.images) if i not in manifest.records]
        skipped = series.images - len(todo)
        run = _Run(series, folder, format, geometry, scan, dtype, manifest, progress)
        try:
            if todo or (format == "nexus" and not (folder / NEXUS_NAME).exists()):
                if client is None:
                    run.in_process(todo, threads)
                else:
                    run.on_dask(client, todo, block=block,
                                threads=1 if threads is None else threads,
                                window=window, retries=retries)
        except BaseException:
            if not output.had_manifest and not manifest.records:
                _remove_run_files(folder)
            raise
        manifest.save_if_changed()
    return SeriesReport(out_dir=folder, format=format, images=series.images, done=run.done,
                        skipped=skipped, seconds=time.perf_counter() - started,
                        render_s=run.render_s, write_s=run.write_s,
                        complete=manifest.complete)


def _check_engine(series: Series, threads: int | None) -> None:
    """ValueError when this process cannot render the series (a torch device it does not
    have, a thread count out of range)."""
    from nanobragg.engines import Route

    if series.backend == "c":
        Route("c", threads=threads)
    else:
        Route("torch", device=series.device, dtype=series.dtype)


def _remove_run_files(folder: Path) -> None:
    """Undo a run that made no image in a folder that had no manifest before it."""
    for name in (MANIFEST_NAME, NEXUS_NAME + PART_SUFFIX):
        with contextlib.suppress(FileNotFoundError):
            (folder / name).unlink()


def _geometry(series: Series, dtype: np.dtype[Any]) -> SeriesGeometry:
    from nanobragg.series.geometry import series_geometry

    saturation = {np.dtype(np.uint16): 65535, np.dtype(np.int32): 2**31 - 1}.get(dtype)
    return series_geometry(series.config, c_parity=series.c_parity,
                           saturation_value=saturation)


def _check_files(manifest: Manifest, format: str) -> None:
    """Forget the images whose files are gone (or, for NeXus, whose frames in the part
    file do not match their checksums)."""
    folder = manifest.out_dir
    if format != "nexus":
        manifest.forget([i for i, record in manifest.records.items()
                         if not all((folder / name).is_file() for name in record.files)])
        return
    final = folder / NEXUS_NAME
    if final.exists() and manifest.complete:
        return
    part = folder / (NEXUS_NAME + PART_SUFFIX)
    if final.exists():
        # published, but the run ended before its manifest was saved: check the frames
        # it records as a part file's, and make the others again into it
        os.replace(final, part)
    if not part.exists():
        # a new part file will be written: every frame goes into it again
        manifest.forget(list(manifest.records))
        return
    checksums = _part_checksums(part, sorted(manifest.records))
    manifest.forget([i for i, record in manifest.records.items()
                     if checksums.get(i) != record.checksum])


def _part_checksums(part: Path, indices: Sequence[int]) -> dict[int, str]:
    """The checksums of frames ``indices`` as the part file holds them ({} when it
    cannot be read)."""
    import h5py
    import hdf5plugin  # noqa: F401  (registers the bitshuffle/LZ4 filter)

    from nanobragg.series.nexus import DATA, WRITTEN

    sums = {}
    try:
        with h5py.File(part, "r") as handle:
            data, written = handle[DATA], handle[WRITTEN][()]
            for index in indices:
                if index < data.shape[0] and written[index]:
                    frame = Frame(index, np.asarray(data[index]), ScanPoint(0.0, 0.0))
                    sums[index] = frame.checksum
    except (OSError, KeyError, ValueError):
        return {}
    return sums


class _Run:
    """One run's state: the writer (opened when first needed), what was done."""

    def __init__(self, series: Series, folder: Path, format: str, geometry: SeriesGeometry,
                 scan: list[ScanPoint], dtype: np.dtype[Any], manifest: Manifest,
                 progress: Progress | None) -> None:
        self.series, self.folder, self.format = series, folder, format
        self.geometry, self.scan, self.dtype = geometry, scan, dtype
        self.manifest, self.progress = manifest, progress
        self.done = 0
        self.render_s = self.write_s = 0.0

    def finished(self, record: ImageRecord) -> bool:
        """Record one image; False when the progress callback asks to stop."""
        self.manifest.add(record)
        self.done += 1
        self.render_s += record.render_s
        self.write_s += record.write_s
        if self.progress is None:
            return True
        return self.progress(len(self.manifest.records), self.series.images, record) \
            is not False

    def in_process(self, todo: Sequence[int], threads: int | None) -> None:
        writer = _open_writer(self.format, self.folder, self.geometry, self.scan, self.dtype)
        complete = False
        try:
            for index in todo:
                record, _ = _make_image(self.series, index, writer, self.folder, threads,
                                        keep_frame=False)
                if not self.finished(record):
                    break
            complete = self.manifest.complete
        finally:
            _close(writer, complete=complete, manifest=self.manifest)

    def on_dask(self, client: Any, todo: Sequence[int], *, block: int, threads: int,
                window: int | None, retries: int) -> None:
        distributed = _distributed()
        own_client = isinstance(client, str)
        if own_client:
            client = distributed.Client(client)
        elif not isinstance(client, distributed.Client):
            raise ValueError(f"client: {client!r} is not valid; expected None, a "
                             "distributed.Client or a scheduler address")
        nexus = self.format == "nexus"
        writer = (_open_writer(self.format, self.folder, self.geometry, self.scan, self.dtype)
                  if nexus else None)
        blocks = iter([list(todo[i:i + block]) for i in range(0, len(todo), block)])
        pending: set[Any] = set()
        complete = False

        def in_flight() -> int:
            # read again as tasks finish: an adaptive cluster grows while the run goes
            return window or max(2 * sum(client.nthreads().values()), 2)

        def submit(indices: list[int]) -> Any:
            return client.submit(_render_block, self.series, indices, self.folder,
                                 self.format, self.geometry, self.dtype, threads, nexus,
                                 retries=retries, pure=False,
                                 key=f"nb-series-{indices[0] + 1:05d}-{os.urandom(4).hex()}")

        try:
            pending.update(submit(b) for b in _take(blocks, in_flight()))
            results = distributed.as_completed(list(pending))
            stop = False
            for future in results:
                pending.discard(future)
                for record, frame in future.result():
                    if writer is not None and frame is not None:
                        started = time.perf_counter()
                        writer.write(frame)
                        record = _with_write_time(record, time.perf_counter() - started)
                    if not self.finished(record):
                        stop = True
                        break
                future.release()
                if stop:
                    break
                for indices in _take(blocks, max(in_flight() - len(pending), 0)):
                    new = submit(indices)
                    pending.add(new)
                    results.add(new)
            complete = self.manifest.complete
        finally:
            if pending:
                client.cancel(list(pending))
            if writer is not None:
                _close(writer, complete=complete, manifest=self.manifest)
            else:
                self.manifest.save()
            if own_client:
                client.close()


def _take(items: Iterator[list[int]], n: int) -> list[list[int]]:
    taken = []
    for _ in range(n):
        item = next(items, None)
        if item is None:
            break
        taken.append(item)
    return taken


def _close(writer: Any, *, complete: bool, manifest: Manifest) -> None:
    """Close the writer (publishing a finished stack), then save the manifest: a frame is
    listed only once the file holding it is written out."""
    try:
        writer.close(complete=complete)
    finally:
        manifest.save()


def _with_write_time(record: ImageRecord, seconds: float) -> ImageRecord:
    from dataclasses import replace

    return replace(record, write_s=record.write_s + seconds)


def _open_writer(format: str, folder: Path, geometry: SeriesGeometry,
                 scan: Sequence[ScanPoint], dtype: np.dtype[Any]) -> Any:
    from nanobragg.series.writer import open_writer

    return open_writer(format, folder, geometry, scan, dtype)


def _make_image(series: Series, index: int, writer: Any, folder: Path,
                threads: int | None, *, keep_frame: bool) -> tuple[ImageRecord, Frame | None]:
    """Render image ``index``; write it (unless ``keep_frame``: NeXus on Dask, written
    by the client); its record."""
    started = time.perf_counter()
    frame = render_frame(series, index, threads=threads)
    rendered = time.perf_counter()
    if not keep_frame:
        writer.write(frame)
    written = time.perf_counter()
    files = tuple(os.path.relpath(path, folder) for path in writer.final_paths(index)) \
        if writer is not None else (NEXUS_NAME,)
    record = ImageRecord(index=index, scan=frame.scan, seeds=series.image_seeds(index),
                         checksum=frame.checksum, files=files, render_s=rendered - started,
                         write_s=written - rendered)
    return record, frame if keep_frame else None


_WORKER_WRITERS: dict[tuple[str, str, str], Any] = {}
"""Per-image writers of this (worker) process, by folder, format and series."""


def _render_block(series: Series, indices: list[int], folder: Path, format: str,
                  geometry: SeriesGeometry, dtype: np.dtype[Any], threads: int,
                  nexus: bool) -> list[tuple[ImageRecord, Frame | None]]:
    """A Dask task: render (and, per-image formats, write) a block of images.  The
    worker makes its writer, and the scan points it checks frames against, once."""
    writer = None
    if not nexus:
        key = (str(folder), format, series.fingerprint())
        writer = _WORKER_WRITERS.get(key)
        if writer is None:
            writer = _WORKER_WRITERS[key] = _open_writer(format, folder, geometry,
                                                         scan_points(series), dtype)
    return [_make_image(series, index, writer, folder, threads, keep_frame=nexus)
            for index in indices]


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ModuleNotFoundError("running a series on Dask needs dask.distributed: pip "
                                  "install nanobragg[series]") from None
    return distributed
