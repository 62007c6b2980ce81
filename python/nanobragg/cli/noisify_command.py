"""What the ``noisify`` command does (:func:`run`): read the original's flags, find the
image's shape and geometry (the flags, an SMV header, or a guess from the file size),
check every output, make the detector's images, write the log and the files together.
:mod:`nanobragg.cli.noisify` is its entry point."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

import numpy as np

from nanobragg.cli.progress import terminal_progress
from nanobragg.errors import UsageError
from nanobragg.flags.noisify import NoisifyCommand, parse_noisify
from nanobragg.io import OutputSet, read_smv
from nanobragg.response import (
    Response,
    ResponseConfig,
    detector_response,
    validate_response,
)
from nanobragg.stages.response import R_E_SQUARED_M2

BANNER = "noisify - add noise to pixels - James Holton 3-19-16"
"""The first line of the original's log, kept so that logs compare line for line."""


@dataclass
class Frame:
    """The detector as the command resolves it (metres, pixels)."""

    fpixels: int
    spixels: int
    pixel_m: float
    distance_m: float
    detsize_x_m: float
    detsize_y_m: float
    xbeam_m: float
    ybeam_m: float
    header: bytes | None
    """An imported SMV header, written as it is (``-header``)."""
    guessed: bool


def _guess(pixels: int) -> tuple[int, int]:
    """The original's guess of a shape from a pixel count: the squarest exact one."""
    fast = math.isqrt(pixels)
    while fast > 0 and pixels != fast * (pixels // fast):
        fast -= 1
    if fast <= 0:
        return pixels, 1
    return fast, pixels // fast


def resolve_frame(command: NoisifyCommand, file_pixels: int) -> Frame:
    v = command.values
    pixel = float(v.get("pixel_mm", 0.1)) / 1000.0
    detsize_x = detsize_y = 102.4e-3
    if "detsize_mm" in v:
        detsize_x = detsize_y = float(v["detsize_mm"]) / 1000.0
    detsize_x = float(v["detsize_x_mm"]) / 1000.0 if "detsize_x_mm" in v else detsize_x
    detsize_y = float(v["detsize_y_mm"]) / 1000.0 if "detsize_y_mm" in v else detsize_y
    fast = slow = int(v.get("detpixels", 0))
    fast = int(v.get("detpixels_x", fast))
    slow = int(v.get("detpixels_y", slow))
    distance = float(v.get("distance_mm", 100.0)) / 1000.0
    xbeam = float(v["xbeam_mm"]) / 1000.0 if "xbeam_mm" in v else None
    ybeam = float(v["ybeam_mm"]) / 1000.0 if "ybeam_mm" in v else None
    header = None
    if command.header is not None:
        smv = read_smv(command.header, with_data=False)
        header = smv.header_text.encode("latin-1")[:smv.header_bytes]
        fast, slow = smv.width, smv.height

        def given(key: str) -> float | None:
            value = smv.value(key)
            return None if value is None or math.isnan(value) else value

        pixel_mm, distance_mm = given("PIXEL_SIZE"), given("DISTANCE")
        x_mm, y_mm = given("BEAM_CENTER_X"), given("BEAM_CENTER_Y")
        pixel = pixel if pixel_mm is None else pixel_mm / 1000.0
        detsize_x, detsize_y = pixel * fast, pixel * slow
        distance = distance if distance_mm is None else distance_mm / 1000.0
        xbeam = xbeam if x_mm is None else x_mm / 1000.0
        ybeam = ybeam if y_mm is None else detsize_y - y_mm / 1000.0
    guessed = not fast and not slow
    if guessed:
        fast, slow = _guess(file_pixels)
    if fast and not slow:
        slow = file_pixels // fast
    if slow and not fast:
        fast = file_pixels // slow
    if fast:
        detsize_x = pixel * fast
    else:
        fast = math.ceil(detsize_x / pixel - 0.5)
    if slow:
        detsize_y = pixel * slow
    else:
        slow = math.ceil(detsize_y / pixel - 0.5)
    if fast <= 0 or slow <= 0:
        raise ValueError(f"the detector is {fast} x {slow} pixels; expected at least one "
                         "pixel each way (-detpixels, -detsize, -pixel)")
    return Frame(fast, slow, pixel, distance, detsize_x, detsize_y,
                 detsize_x / 2.0 if xbeam is None else xbeam,
                 detsize_y / 2.0 if ybeam is None else ybeam, header, guessed)


def read_image(path: str, frame: Frame, *, c_parity: bool) -> np.ndarray:
    """The float image of ``frame``'s shape from the raw file."""
    pixels = frame.fpixels * frame.spixels
    size = os.path.getsize(path)
    if c_parity:
        # quirk short_float_file_padded: the original reads four items of one image's
        # pixel count in bytes, so a file of at least a quarter of the image is taken
        # and the rest of the image is zero
        if size < pixels:
            raise ValueError(f"{path}: {size} bytes is less than the quarter of the "
                             f"{4 * pixels} bytes of a {frame.fpixels} x {frame.spixels} "
                             "float image that the original reads at least")
        count = min(size, 4 * pixels) // 4
    else:
        if size != 4 * pixels:
            raise ValueError(f"{path}: {size} bytes is not the {4 * pixels} bytes of a "
                             f"{frame.fpixels} x {frame.spixels} float image (4 bytes a "
                             "pixel); give its shape with -detpixels_x and -detpixels_y")
        count = pixels
    values = np.fromfile(path, dtype="<f4", count=count)
    if count < pixels:
        values = np.concatenate([values, np.zeros(pixels - count, dtype="<f4")])
    return values.reshape(frame.spixels, frame.fpixels).astype(np.float32, copy=False)


def response_config(command: NoisifyCommand, frame: Frame) -> ResponseConfig:
    v = command.values
    radius = float(v.get("psf_radius", 0))
    if not -(2**31) <= radius < 2**31:
        raise ValueError(f"-psf_radius: {radius:g} is outside the range of a C int")
    bits = int(v.get("bits", 16))
    if bits not in (16, 32):
        raise ValueError(f"-bits: {bits} is not valid; expected 16 or 32")
    psf = v.get("psf") or None
    return ResponseConfig(
        scale=float(v.get("scale", 1.0)),
        fluence_per_m2=float(v.get("fluence", ResponseConfig.fluence_per_m2)),
        flicker=float(v.get("flicker", 0.0)), calibration=float(v.get("calibration", 0.03)),
        readout_adu=float(v.get("readout", 0.0)), gain_adu_per_photon=float(v.get("gain", 1.0)),
        adc_offset_adu=float(v.get("adc", 40.0)), psf=None if psf is None else str(psf),
        psf_fwhm_um=float(v.get("psf_fwhm_um", 46.0)), psf_radius_px=int(radius), bits=bits,
        noise=not command.nonoise, seed=int(v["seed"]) if "seed" in v else None,
        calibration_seed=int(v["calib_seed"]) if "calib_seed" in v else None,
        pixel_size_mm=frame.pixel_m * 1000.0, distance_mm=frame.distance_m * 1000.0,
        wavelength_A=float(v.get("wavelength_A", 1.0)),
        beam_center_mm=(frame.xbeam_m * 1000.0, frame.ybeam_m * 1000.0),
        phi_deg=float(v.get("phi", 0.0)), osc_deg=float(v.get("osc", 1.0)))


def run(argv: Sequence[str], out: TextIO | None = None) -> int:
    """Run one command line, the log to ``out`` (default stdout); errors are raised."""
    out = out or sys.stdout
    command = parse_noisify(argv)
    if command.floatfile is None:
        raise UsageError("no input image: give -floatfile FILE")
    if command.backend not in ("c", "torch"):
        raise UsageError(f"-backend: {command.backend!r} is not an engine; expected c or torch")
    file_pixels = os.path.getsize(command.floatfile) // 4
    frame = resolve_frame(command, file_pixels)
    config = response_config(command, frame)
    validate_response(config, c_parity=command.c_parity)
    outputs = OutputSet()
    outputs.add(command.intfile, label="-intfile")
    if not command.nopgm:
        outputs.add(command.pgmfile, label="-pgmfile")
    if not command.nonoise:
        outputs.add(command.noisefile, label="-noisefile")
    outputs.check()
    # on a terminal, a bar over the three steps: read, respond, write
    bar = terminal_progress(True)
    image = read_image(command.floatfile, frame, c_parity=command.c_parity)
    if bar is not None:
        bar(1, 3)
    log = Log(out)
    log.before(command, frame, config)
    response = detector_response(image, config, backend=command.backend,
                                 c_parity=command.c_parity, device=command.device)
    if bar is not None:
        bar(2, 3)
    log.after(command, frame, image, response)
    bytes_per_pixel = 2 if config.bits == 16 else 4
    outputs.put(command.intfile, response.smv_chunks(noisy=False, header=frame.header))
    if not command.nopgm:
        outputs.put(command.pgmfile, pgm_chunks(response))
    if response.noisy is not None:
        outputs.put(command.noisefile, response.smv_chunks(header=frame.header))
    log.writing(command, frame, bytes_per_pixel, response)
    outputs.commit()
    if bar is not None:
        bar(3, 3)
    return 0


def pgm_chunks(response: Response) -> list[bytes]:
    slow, fast = response.expected.shape
    head = f"P5\n{fast} {slow}\n# pixels scaled by 1\n255\n".encode("ascii")
    return [head, response.pgm_pixels().tobytes()]


class Log:
    """The original's log lines, in its order."""

    def __init__(self, out: TextIO):
        self.out = out

    def line(self, text: str = "") -> None:
        self.out.write(text + "\n")

    def before(self, command: NoisifyCommand, frame: Frame, config: ResponseConfig) -> None:
        self.line(BANNER)
        for word in command.psf_unknown:
            self.line(f"WARNING: unknown psf type: {word}")
        if command.header is not None:
            self.line(f"taking header from {command.header}")
            self.line(f"reading {command.header}")
        if frame.guessed:
            self.line("WARNING: guessing xy pixel dimensions.")
        self.line("importing %d pixel intensites: %s" % (frame.fpixels * frame.spixels,
                                                         command.floatfile))
        self.line("  distance=%g detsize=%gx%g  pixel=%g meters (%dx%d pixels)"
                  % (frame.distance_m, frame.detsize_x_m, frame.detsize_y_m, frame.pixel_m,
                     frame.fpixels, frame.spixels))
        self.line("  Xbeam=%g Ybeam=%g" % (frame.xbeam_m, frame.ybeam_m))
        fwhm_um = float(np.float32(config.psf_fwhm_um / 1e6)) * 1e6
        if config.psf is not None:
            kind = "Gaussian" if config.psf == "gauss" else "fiber"
            self.out.write("  %s PSF fwhm = %g um " % (kind, fwhm_um))
            if config.psf_radius_px == 0:
                self.line("  with automatic rendering radius")
            if config.psf_radius_px >= 0:
                self.line("  with rendering radius: %d" % config.psf_radius_px)
        self.config = config

    def after(self, command: NoisifyCommand, frame: Frame, image: np.ndarray,
              response: Response) -> None:
        config = self.config
        self.line("  seed: %d" % response.seed)
        calibration_seed = (123456789 if config.calibration_seed is None
                            else -int(config.calibration_seed))
        self.line("  calibration noise seed: %d" % calibration_seed)
        noise = config.noise
        self.line("  calibration_noise = %g %%" % ((config.calibration if noise else 0.0) * 100))
        self.line("  input file scale = %g" % config.scale)
        self.line("  readout_noise = %g ADU" % (config.readout_adu if noise else 0.0))
        self.line("  flicker_noise = %g %%" % ((config.flicker if noise else 0.0) * 100))
        self.line("  quantum_gain = %g ADU/photon" % config.gain_adu_per_photon)
        self.line("  adc_offset = %g ADU" % config.adc_offset_adu)
        self.line()
        flat = image.ravel()
        negative = flat < 0.0
        for value in flat[negative] if negative.any() else ():
            self.line("WARNING: negative intensity in %s: %g" % (command.floatfile, value))
        max_value = response.info.max_value
        self.line("maximum value in input file: %g ( %g on photon scale)"
                  % (max_value, max_value * config.scale * config.fluence_per_m2
                     * R_E_SQUARED_M2))

    def psf(self, response: Response, *, noiseless: bool) -> None:
        config, info = response.config, response.info
        if noiseless:
            self.line("  applying PSF to noiseless image width = %g pixels"
                      % (float(np.float32(config.psf_fwhm_um / 1e6))
                         / (config.pixel_size_mm / 1000.0)))
        else:
            self.line("%.0f photons on noise image before PSF" % info.photons_before_psf)
            self.line("  applying PSF width = %g um"
                      % (float(np.float32(config.psf_fwhm_um / 1e6)) * 1e6))
        if config.psf_radius_px <= 0:
            self.line("  maximum input photon/pixel: %g" % info.psf_max_photons)
            if info.psf_radius_px == 0:
                self.line("WARNING: no photons, PSF skipped")
                return
            self.line("  auto-selected psf_radius = %d pixels" % info.psf_radius_px)
        self.line("adding back %g lost photons" % info.lost_photons)

    def writing(self, command: NoisifyCommand, frame: Frame, bytes_per_pixel: int,
                response: Response) -> None:
        blurred = response.info.psf_applied
        if blurred and not response.config.noise:
            self.psf(response, noiseless=True)
        self.line("writing %s as %d %d-byte integers"
                  % (command.intfile, frame.fpixels * frame.spixels, bytes_per_pixel))
        if not command.nopgm:
            self.line("writing %s as 1-byte integers" % command.pgmfile)
        if response.noisy is None:
            return
        if blurred:
            self.psf(response, noiseless=False)
        self.line("%.0f photons on noise image (%d overloads)"
                  % (response.info.photons, response.info.overloads))
        self.line("writing %s as %d-byte integers" % (command.noisefile, bytes_per_pixel))
