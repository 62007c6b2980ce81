"""``nonBragg -img FILE``: an SMV image read back as the original reads it.

The image's header sets the detector (SIZE1 x SIZE2 pixels of PIXEL_SIZE mm), the
distances, the wavelength, the beam centre, ORGX/ORGY, PHI, OSC_RANGE and TWOTHETA; flags
on the command line override each.  After the render every ROI pixel of the image is
turned back into a structure factor with the pixel's last term (its last sub-pixel and
source: sin(θ)/λ, polarization, solid angle)::

    F = sign(v) sqrt(|v| / polar / omega / fluence / r_e^2 / molecules x steps),
    v = (pixel - adc) / gain

and binned by the table row nearest its sin(θ)/λ; ``-ignore VALUE`` (repeatable) leaves
pixels of that value out.  The rows with more than 100 pixels are written to the
``-stolout`` file (default ``output.stol``) as ``stol mean rmsd median mad count``; the
others are reported as warnings.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from nanobragg.amorphous_scattering import AmorphousConfig, AmorphousResult, sample
from nanobragg.errors import UsageError
from nanobragg.io import FormatError, read_smv

__all__ = ["ImageInput", "StolBins", "check_image_shape", "last_terms", "read_image_input",
           "stol_bins"]

NATIVE_ORDER = "little_endian" if sys.byteorder == "little" else "big_endian"

MIN_BIN_PIXELS = 100
"""A row is written to the stolout file when more pixels than this fall in it."""


@dataclass(frozen=True)
class ImageInput:
    """An SMV image given with -img: the settings its header makes, and its pixels."""

    path: str
    settings: dict[str, Any]
    pixels: np.ndarray
    """(slow, fast) float32 pixel values."""


def read_image_input(path: str, *, c_parity: bool) -> ImageInput:
    """The settings and pixels of the SMV image at ``path`` (a clear error when it is
    missing or not an SMV image).

    quirk img_header_twotheta_ignored: the original reads the header's TWOTHETA into
    its scattering angle, which it overwrites, so the detector is not swung; corrected,
    the detector takes the header's two-theta (about the beam spot, as the header's
    beam centre and distance describe it)."""
    try:
        smv = read_smv(path)
    except FileNotFoundError:
        raise UsageError(f"-img {path}: no such file") from None
    except FormatError as error:
        raise UsageError(f"-img {path}: {error}") from None
    assert smv.data is not None
    pixels = smv.data
    order = smv.header_text.split("\0", 1)[0].rsplit("BYTE_ORDER=", 1)[-1][:10]
    if c_parity and order != NATIVE_ORDER[:10]:
        # quirk img_byte_order_ignored: the original reads the pixels in this machine's
        # byte order whatever the header says; corrected, in the header's
        pixels = pixels.byteswap()
    settings: dict[str, Any] = {"fpixels": smv.width, "spixels": smv.height}

    def given(key: str) -> float | None:
        value = smv.value(key)
        return None if value is None or math.isnan(value) else value

    pixel_mm = given("PIXEL_SIZE")
    if pixel_mm is not None:
        settings["pixel_size_mm"] = pixel_mm
    height_mm = settings.get("pixel_size_mm", AmorphousConfig.pixel_size_mm) * smv.height
    for key, name in (("DISTANCE", "distance_mm"), ("CLOSE_DISTANCE", "close_distance_mm"),
                      ("WAVELENGTH", "wavelength_A"), ("BEAM_CENTER_X", "beam_x_mm"),
                      ("ORGX", "orgx_px"), ("ORGY", "orgy_px"), ("PHI", "phi_deg"),
                      ("OSC_RANGE", "osc_deg"), ("TWOTHETA", "twotheta_deg")):
        if c_parity and key == "TWOTHETA":
            continue
        value = given(key)
        if value is not None:
            settings[name] = value
    y_mm = given("BEAM_CENTER_Y")
    if y_mm is not None:
        # the header counts the beam centre from the other edge
        settings["beam_y_mm"] = height_mm - y_mm
    return ImageInput(path, settings, pixels.astype(np.float32))


def check_image_shape(image: ImageInput, fpixels: int, spixels: int) -> None:
    """A usage error unless the -img image has the detector's pixels (flags may have
    changed them)."""
    if image.pixels.shape != (spixels, fpixels):
        raise UsageError(f"-img {image.path}: {image.pixels.shape[1]}x"
                         f"{image.pixels.shape[0]} pixels, but the detector is "
                         f"{fpixels}x{spixels}")


def last_terms(result: AmorphousResult) -> dict[str, np.ndarray]:
    """For every pixel (slow, fast): what the original holds after it, its last
    sub-pixel's sin(θ)/λ, polarization and solid angle for the last source, and ``test``
    the sin(θ)/λ of its two-theta at the nominal wavelength (the -printout line's)."""
    spec = result.spec
    os_ = spec.oversample
    sub = spec.pixel_size_m / os_
    s, f = np.indices((spec.spixels, spec.fpixels), dtype=np.float64)
    Fdet = sub * (f * os_ + os_ - 1) + sub / 2.0
    Sdet = sub * (s * os_ + os_ - 1) + sub / 2.0
    fdet, sdet = np.asarray(spec.fdet, float), np.asarray(spec.sdet, float)
    pos = Fdet[..., None] * fdet + Sdet[..., None] * sdet + np.asarray(spec.pix0_m, float)
    distance = float(spec.distance_m)
    if spec.curved_detector:
        angles = ((pos[..., 1], pos[..., 2]) if spec.c_parity else
                  (Fdet - float(spec.Fbeam_m), -(Sdet - float(spec.Sbeam_m))))
        pos = np.broadcast_to(distance * np.asarray(spec.beam, float), pos.shape)
        for axis, angle in ((sdet, angles[0] / distance), (fdet, angles[1] / distance)):
            c, sn = np.cos(angle)[..., None], np.sin(angle)[..., None]
            along = (pos * axis).sum(axis=-1, keepdims=True)
            pos = axis * along * (1 - c) + pos * c + np.cross(axis, pos) * sn
    airpath = np.sqrt((pos * pos).sum(axis=-1))
    diffracted = pos / airpath[..., None]
    if spec.point_pixel:
        omega = 1.0 / airpath / airpath
    else:
        omega = (spec.pixel_size_m ** 2 / airpath / airpath * float(spec.close_distance_m)
                 / airpath)
    incident = -np.asarray(result.sources.direction, float)[-1]
    lam = float(np.asarray(result.sources.wavelength_m)[-1])
    scattering = (diffracted - incident) / lam
    polar = np.ones_like(airpath)
    if not spec.nopolar:
        cos2 = (diffracted * incident).sum(axis=-1)
        psi = np.zeros_like(airpath)
        if spec.polarization != 0.0:
            b_in = np.cross(np.asarray(spec.polar, float), incident)
            b_in /= math.sqrt(float(b_in @ b_in))
            e_in = np.cross(incident, b_in)
            e_in /= math.sqrt(float(e_in @ e_in))
            psi = -np.arctan2((diffracted * b_in).sum(axis=-1),
                              (diffracted * e_in).sum(axis=-1))
        polar = 0.5 * (1.0 + cos2 * cos2
                       - spec.polarization * np.cos(2 * psi) * (1 - cos2 * cos2))
    twotheta = np.arctan2(np.sqrt(pos[..., 1] ** 2 + pos[..., 2] ** 2), pos[..., 0])
    return {"stol": 0.5 * np.sqrt((scattering * scattering).sum(axis=-1)), "polar": polar,
            "omega": omega,
            "test": np.sin(twotheta / 2.0) / (float(result.config.wavelength_A) / 1e10 * 1e10)}


@dataclass(frozen=True)
class StolBins:
    """The F of the image's pixels, binned by table row."""

    lines: list[str]
    """The stolout file's lines."""
    log: list[str]
    """The warnings for the rows with too few pixels."""
    last_count: int
    """The pixel count of the last row (legacy divides the mean by it)."""


def _legacy_mean(values: np.ndarray) -> tuple[float, float]:
    """(mean, rms deviation) summed in single precision in pixel order, as the original's
    mean with rejection (whose cut-off of 1e99 sigma, infinite in single precision,
    rejects nothing)."""
    if values.size == 0:
        # the original returns its uninitialized locals here (zero on the builds tried)
        return 0.0, 0.0
    count = np.float32(values.size)
    total = np.cumsum(values, dtype=np.float32)[-1]
    avg = np.float32(total / count)
    deviate = np.abs(values - avg).astype(np.float32)
    sumd = np.cumsum(deviate * deviate, dtype=np.float32)[-1]
    return float(avg), float(np.float32(math.sqrt(float(np.float32(sumd / count)))))


def _legacy_members(bins: np.ndarray, inside: np.ndarray, F: np.ndarray,
                    rows: int) -> list[np.ndarray]:
    """Each row's values as the original reads them back from its one buffer.

    quirk stolout_bins_overwritten: the original lays the rows' values one after the
    other, each row's space sized by its count, then writes every pixel of the image in
    order into its row's space; the pixels outside the ROI and the ignored ones all go
    to row 0, sized for the ignored ones only, so they run on over the following rows'
    space, and a row's value written before such a pixel's is replaced by it (0 for a
    pixel outside the ROI); corrected, each row holds its own pixels."""
    counts = np.bincount(bins[inside], minlength=rows)
    start = np.zeros(rows, dtype=np.int64)
    start[0] = 1
    start[1:] = 1 + np.cumsum(2 * counts[:-1] + 2)
    order = np.argsort(bins, kind="stable")
    rank = np.empty_like(order)
    first = np.searchsorted(bins[order], np.arange(rows))
    rank[order] = np.arange(len(bins)) - first[bins[order]]
    address = start[bins] + rank
    writer = np.full(int(address.max()) + 1, -1, dtype=np.int64)
    np.maximum.at(writer, address, np.arange(len(bins)))
    memory = np.where(writer >= 0, F[np.maximum(writer, 0)], np.float32(0.0))
    return [memory[start[row]:start[row] + counts[row]] for row in range(rows)]


def stol_bins(result: AmorphousResult, image: ImageInput, *, gain: float,
              ignore: list[float], c_parity: bool) -> StolBins:
    """The per-row statistics of ``image`` back-transformed to F (see the module text).

    quirk stolout_median_unset: the original never computes the median and MAD it
    writes (its rejection is never turned on) and prints whatever the variables hold,
    zero; corrected, the median and the median absolute deviation of the row's F.
    quirk img_stats_count: legacy, the count the mean and rms are taken over is the last
    row's (the binning reuses the variable); corrected, the ROI's."""
    spec, cfg = result.spec, result.config
    check_image_shape(image, spec.fpixels, spec.spixels)
    table = np.asarray(result.table.stol_per_m, dtype=np.float64)
    if c_parity:
        rows = table[2:-2]
        first_bin = 2
    else:
        rows = table
        first_bin = 0
    if np.any(np.diff(table) <= 0):
        raise UsageError("-img: the -stol table must rise strictly to bin pixels by it")
    terms = last_terms(result)
    inside = result.roi_mask()
    valid = inside & ~np.isin(image.pixels, np.asarray(ignore, dtype=np.float32))
    fluence, _, _, _, _, molecules = sample(cfg)
    with np.errstate(all="ignore"):
        deviate = ((image.pixels.astype(np.float64) - float(cfg.adc_offset)) / gain
                   ).astype(np.float32)
        sign = np.where(deviate < 0.0, -1.0, 1.0)
        F = (sign * np.sqrt(np.abs(deviate).astype(np.float64) / terms["polar"]
                            / terms["omega"] / float(fluence) / spec.r_e_sqr_m2
                            / float(molecules) * result.output.steps)).astype(np.float32)
    stol = terms["stol"]
    # the row at or below each pixel's sin(theta)/lambda, the next one past the midpoint
    nearest = np.clip(np.searchsorted(table, stol, side="right") - 1, 0, len(table) - 2)
    bins = np.where(valid, nearest + (stol > (table[nearest] + table[nearest + 1]) / 2.0), 0)
    F = np.where(inside, F, np.float32(0.0))
    members = (_legacy_members(bins.ravel(), inside.ravel(), F.ravel(), len(table))
               if c_parity else None)
    unit = {"stol": 1e10, "4stol": 1e10 / 4, "Q": 1e10 / math.pi / 4}[cfg.stol_unit]
    lines, log = [], []
    count = 0
    for row, stol_m in enumerate(rows):
        values = (members[row + first_bin] if members is not None
                  else F[valid & (bins == row + first_bin)])
        count = values.size
        if c_parity:
            avg, rmsd = _legacy_mean(values)
            median = mad = 0.0
        elif count:
            avg, rmsd = float(values.astype(np.float64).mean()), float(values.std())
            median = float(np.median(values.astype(np.float64)))
            mad = float(np.median(np.abs(values.astype(np.float64) - median)))
        else:
            avg = rmsd = median = mad = math.nan
        stol_out = stol_m / unit
        if count > MIN_BIN_PIXELS:
            lines.append("%g %g %g   %g %g  %d" % (stol_out, avg, rmsd, median, mad, count))
        else:
            log.append("WARNING: not enough pixels in bin= %d n=%d stol= %g median= %g "
                       "avg_arej= %g" % (row + first_bin, count, stol_out, median, avg))
    return StolBins(lines, log, count)
