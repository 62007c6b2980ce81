"""What a run has finished in its output folder: ``DIR/manifest.json``.

The manifest names the series (its fingerprint, and its description when it can be
written), the file format, and each finished image: its index, scan point (phi and
oscillation, or misset), seeds, the checksum of its pixels (``Frame.checksum``) and its
files.  It is written atomically (a temporary file renamed), after the image's files are
complete, so it never lists an image that is not there.  A run in a folder whose
manifest names another series or format is refused before anything is written.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nanobragg.series.description import ImageSeeds, Series
from nanobragg.series.frame import ScanPoint

__all__ = ["MANIFEST_NAME", "ImageRecord", "Manifest", "SeriesMismatch"]

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


class SeriesMismatch(ValueError):
    """The output folder holds images of another series (or format)."""


@dataclass(frozen=True)
class ImageRecord:
    """One finished image, as the manifest records it."""

    index: int
    scan: ScanPoint
    seeds: ImageSeeds
    checksum: str
    """SHA-256 of the pixels (``Frame.checksum``)."""
    files: tuple[str, ...]
    """The files holding it, relative to the output folder."""
    render_s: float = 0.0
    """Seconds its rendering took (where it was made)."""
    write_s: float = 0.0
    """Seconds its writing took."""

    def to_dict(self) -> dict[str, Any]:
        scan = self.scan
        entry: dict[str, Any] = {"index": self.index, "phi_start_deg": scan.phi_start_deg,
                                 "osc_deg": scan.osc_deg}
        if scan.misset_deg is not None:
            entry["misset_deg"] = list(scan.misset_deg)
        entry["seeds"] = {"noise": self.seeds.noise, "mosaic": self.seeds.mosaic,
                          "response": self.seeds.response}
        entry.update(checksum=self.checksum, files=list(self.files),
                     render_s=round(self.render_s, 6), write_s=round(self.write_s, 6))
        return entry

    @classmethod
    def from_dict(cls, entry: dict[str, Any]) -> ImageRecord:
        misset = entry.get("misset_deg")
        return cls(index=int(entry["index"]),
                   scan=ScanPoint(float(entry["phi_start_deg"]), float(entry["osc_deg"]),
                                  None if misset is None else
                                  (float(misset[0]), float(misset[1]), float(misset[2]))),
                   seeds=ImageSeeds(**{k: int(v) for k, v in entry["seeds"].items()}),
                   checksum=str(entry["checksum"]), files=tuple(map(str, entry["files"])),
                   render_s=float(entry.get("render_s", 0.0)),
                   write_s=float(entry.get("write_s", 0.0)))


class Manifest:
    """The manifest of one output folder, for one series and format.

    :meth:`open` reads the folder's manifest (refusing another series' or format's);
    :meth:`add` records a finished image and saves at most every ``save_interval_s``
    seconds; :meth:`save` writes it now.
    """

    def __init__(self, out_dir: Path, series: Series, format: str, *,
                 save_interval_s: float = 1.0) -> None:
        self.out_dir = out_dir
        self.path = out_dir / MANIFEST_NAME
        self.fingerprint = series.fingerprint()
        self.format = format
        self.images = series.images
        try:
            self.description: dict[str, Any] | None = series.to_dict()
        except ValueError:
            self.description = None
        self.records: dict[int, ImageRecord] = {}
        self.save_interval_s = save_interval_s
        self._saved_at = -float("inf")
        self._dirty = False

    @classmethod
    def open(cls, out_dir: str | os.PathLike[str], series: Series, format: str, *,
             save_interval_s: float = 1.0) -> Manifest:
        """The folder's manifest for ``series`` in ``format`` (empty when there is none);
        :class:`SeriesMismatch` when it records another series or format."""
        manifest = cls(Path(out_dir), series, format, save_interval_s=save_interval_s)
        try:
            text = manifest.path.read_text()
        except FileNotFoundError:
            return manifest
        try:
            stored = json.loads(text)
            version = stored["nanobragg_series_manifest"]
            fingerprint, stored_format = stored["fingerprint"], stored["format"]
            records = [ImageRecord.from_dict(entry) for entry in stored["frames"]]
        except (ValueError, KeyError, TypeError, IndexError) as error:
            raise ValueError(f"{manifest.path}: not a readable series manifest ({error!r}); "
                             "remove it, or write to another folder") from None
        if version != MANIFEST_VERSION:
            raise ValueError(f"{manifest.path}: manifest version {version!r}; this version "
                             f"reads {MANIFEST_VERSION}")
        if fingerprint != manifest.fingerprint:
            raise SeriesMismatch(
                f"{out_dir}: holds images of another series (fingerprint {fingerprint[:12]}, "
                f"this one {manifest.fingerprint[:12]}); write to another folder, or remove "
                f"{MANIFEST_NAME} and the images to start again")
        if stored_format != format:
            raise SeriesMismatch(f"{out_dir}: holds this series as {stored_format}, not "
                                 f"{format}; write {format} to another folder")
        manifest.records = {record.index: record for record in records
                            if 0 <= record.index < manifest.images}
        manifest._saved_at = time.monotonic()
        return manifest

    def add(self, record: ImageRecord) -> None:
        self.records[record.index] = record
        self._dirty = True
        if time.monotonic() - self._saved_at >= self.save_interval_s:
            self.save()

    def forget(self, indices: Iterable[int]) -> None:
        """Drop images whose files are missing or wrong (they will be made again)."""
        for index in indices:
            if self.records.pop(index, None) is not None:
                self._dirty = True

    @property
    def complete(self) -> bool:
        return len(self.records) == self.images

    def save(self) -> None:
        from nanobragg.io.outputs import atomic_write

        document = {"nanobragg_series_manifest": MANIFEST_VERSION,
                    "fingerprint": self.fingerprint, "format": self.format,
                    "images": self.images, "complete": self.complete,
                    "series": self.description,
                    "frames": [self.records[i].to_dict() for i in sorted(self.records)]}
        atomic_write(self.path, [json.dumps(document, indent=1).encode() + b"\n"])
        self._saved_at = time.monotonic()
        self._dirty = False

    def save_if_changed(self) -> None:
        if self._dirty or not self.path.exists():
            self.save()
