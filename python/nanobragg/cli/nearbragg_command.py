"""The ``nearBragg`` command: the original's flags, files and log lines, on our engines.

Its own flags, taken out before the original's are read: ``-backend c|torch``,
``-c_parity`` (the original's parsing, reader and quirks), ``-device``, ``-dtype``."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

from nanobragg.cli.nearbragg_printout import atom_debug_lines, printout_lines
from nanobragg.cli.progress import legacy_percentages, terminal_progress
from nanobragg.errors import UsageError
from nanobragg.flags.near import NEAR_FLAGS, NearRecord, parse_near
from nanobragg.flags.suite import split_own_flags
from nanobragg.image_counts import auto_int_scale, smv_counts
from nanobragg.io.atoms import read_atoms
from nanobragg.io.outputs import OutputSet
from nanobragg.io.smv import smv_bytes
from nanobragg.result import image_statistics
from nanobragg.scatterers import ScattererConfig, ScattererResult, point_scatterers
from nanobragg.stages.scatterers import (
    LEGACY_PI,
    beam_centre_m,
    detector_counts,
    detector_size_m,
    oversample,
    source_grids,
)

BANNER = "nearBragg assumption-free diffraction simulator - James Holton 11-21-17"
OWN_FLAGS = {"-backend": 1, "-c_parity": 0, "-device": 1, "-dtype": 1}


def _read_image(path: str, shape: tuple[int, int], what: str, c_parity: bool,
                log: list[str]) -> np.ndarray | None:
    """An image to accumulate into: None (zeros) when the file is missing."""
    file = Path(path)
    if not file.exists():
        log.append(f"WARNING: no {path} {what}-file to read!")
        log.append({"float": "setting initial image to all zeroes...",
                    "sin": "setting initial Im(F) to all zeroes...",
                    "cos": "setting initial Re(F) to all zeroes..."}[what])
        return None
    data = np.fromfile(file, dtype="<f4")
    pixels = shape[0] * shape[1]
    log.append({"float": f"importing intensity: {path}", "sin": f"importing sin: {path}",
                "cos": f"importing cos: {path}"}[what])
    if data.size < pixels:
        if not c_parity:
            raise ValueError(f"{path}: {data.size} floats, expected {pixels} for a "
                             f"{shape[1]} x {shape[0]} detector")
        sys.stderr.write("ERROR: fread() did not read all pixels: Success\n")
        data = np.concatenate([data, np.zeros(pixels - data.size, dtype="<f4")])
    return data[:pixels].astype(np.float64).reshape(shape)


def _progress_lines(rec: NearRecord, result: ScattererResult) -> list[str]:
    """The percentages the original prints as it renders the ROI's pixels."""
    p = result.params
    total = (p.roi_xmax - p.roi_xmin + 1) * (p.roi_ymax - p.roi_ymin + 1)
    done = (min(p.roi_xmax, p.fpixels - 1) - p.roi_xmin + 1) * \
        (min(p.roi_ymax, p.spixels - 1) - p.roi_ymin + 1)
    if not rec.progress or rec.printout or done <= 0:
        return []
    return legacy_percentages(total, done)


def usage() -> str:
    """The flags, one a line, with what they take."""
    lines = [("usage: nearBragg -file atoms.txt [flags]   (atoms: x y z [occupancy [B "
              "[phase]]] per line, Angstrom, square Angstrom, degrees)")]
    for flag in NEAR_FLAGS:
        names = " ".join((flag.name, *flag.synonyms))
        values = " ".join(["V"] * flag.nvalues)
        lines.append(f"  {names} {values}".ljust(36) + flag.help)
    lines.append("  -backend c|torch -c_parity -device D -dtype float64|float32")
    return "\n".join(lines) + "\n"


def run(argv: Sequence[str], out: TextIO | None = None) -> int:
    out = sys.stdout if out is None else out
    if list(argv) in (["-h"], ["--help"]):
        out.write(usage())
        return 0
    args, own = split_own_flags(argv, OWN_FLAGS)
    c_parity = bool(own.get("c_parity", False))
    rec = parse_near(args, c_parity=c_parity)
    if rec.atoms_path is None:
        raise UsageError("-file: an atom list is required (x y z [occupancy [B [phase]]] "
                         "per line)")
    log: list[str] = [BANNER]
    atoms = read_atoms(rec.atoms_path, c_parity=c_parity)
    counting, reading = (atom_debug_lines(rec.atoms_path, atoms, c_parity=c_parity)
                         if rec.debug else ([], []))
    log += counting
    log.append(f"counted {len(atoms)} atoms in {rec.atoms_path}")
    log.append(f"reading {rec.atoms_path}")
    log += reading
    config = ScattererConfig(atoms=atoms, **rec.config)
    chosen, recommended = oversample(config, atoms)
    if not config.oversample or config.oversample <= 0:
        log.append(f"auto-selected {chosen}-fold oversampling")
    if chosen < recommended:
        extent = float(np.max(np.ptp(atoms[:, :3], axis=0))) if len(atoms) else 0.0
        reciprocal = config.wavelength_A * config.distance_mm / config.pixel_size_mm
        log += [f"WARNING: maximum dimension of sample is {extent:g} A",
                f"         but reciprocal pixel size is {reciprocal:g} A",
                "         intensity may vary significantly across a pixel!",
                f"         recommend -oversample {recommended} to work around this"]
    fpixels, spixels = detector_counts(config)
    shape = (spixels, fpixels)
    image = real = imag = None
    if rec.accumulate and not config.coherent:
        image = _read_image(rec.files["floatfile"], shape, "float", c_parity, log)
    if rec.accumulate and config.coherent:
        imag = _read_image(rec.files["sinfile"], shape, "sin", c_parity, log)
        real = _read_image(rec.files["cosfile"], shape, "cos", c_parity, log)
    grids = source_grids(config, c_parity=c_parity)
    log += [f"divergence deviation: {h:g} {v:g}" for h, v in grids.divergence]
    log += [f"lambda{i} = {w:.15g}" for i, w in enumerate(grids.wavelengths_m)]
    log += [f"depth{i} = {d * 1e10:g} A" for i, d in enumerate(grids.depths_m)]
    outputs = OutputSet()
    files = rec.files
    outputs.add(files["floatfile"], label="-floatfile")
    if config.coherent:
        outputs.add(files["sinfile"], label="-sinfile")
        outputs.add(files["cosfile"], label="-cosfile")
    outputs.add(files["intfile"], label="-intfile")
    outputs.check()

    backend = str(own.get("backend", "c"))
    device = own.get("device")
    dtype = own.get("dtype")
    result = point_scatterers(config, backend=backend, c_parity=c_parity, image=image,
                              real=real, imag=imag,
                              device=None if device is None else str(device),
                              progress=terminal_progress(rec.progress and not rec.printout),
                              dtype=None if dtype is None else str(dtype))
    p = result.params
    width, height = detector_size_m(config)
    xbeam, ybeam = beam_centre_m(config, c_parity=c_parity)
    distance = "  source is VERY far away" if config.far_source else (
        f"  source at {config.source_distance_mm / 1000.0:g} meters and "
        f"{grids.depth.range:g} deep in {grids.depth.count} depth steps")
    log += [f"  {len(atoms)} atoms",
            (f"  wave={config.wavelength_A / 1e10:g} meters +/- "
             f"{grids.dispersion.range * 100:g}% in {grids.dispersion.count} steps"),
            (f"  distance={p.distance_m:g} detsize={width:g}x{height:g}  pixel="
             f"{p.pixel_size_m:g} meters ({fpixels}x{spixels} pixels)"),
            f"  Xbeam={xbeam:g} Ybeam={ybeam:g}",
            f"  roi: {p.roi_xmin} < z < {p.roi_xmax} && {p.roi_ymin} < y < {p.roi_ymax}",
            f"  hdivrange={grids.hdiv.range:g} hdivstep={grids.hdiv.step:g}  radians",
            f"  vdivrange={grids.vdiv.range:g} vdivstep={grids.vdiv.step:g}  radians",
            f"  {len(grids.divergence)} divergence steps", distance,
            f"  {p.oversample} pixel oversample steps",
            f"  coherent source: {int(config.coherent)}"]
    log += _progress_lines(rec, result)
    if rec.printout:
        assert result.inputs is not None
        log += printout_lines(result.inputs, result.image, result.real, result.imag,
                              rec.printout_pixel, wavelength_m=config.wavelength_A / 1e10,
                              debug=rec.debug)
    log.append("")
    omega = result.omega_sum_sr
    pi = LEGACY_PI if c_parity else math.pi
    log.append(f"solid angle subtended by detector = {omega:g} steradian ( "
               f"{100 * omega / 4 / pi:g}% sphere)")

    floats = result.image.astype(np.float32)
    slow_index, fast_index = np.indices(shape)
    inside = ((fast_index >= p.roi_xmin) & (fast_index <= p.roi_xmax)
              & (slow_index >= p.roi_ymin) & (slow_index <= p.roi_ymax))
    stats = image_statistics(floats, inside, inside, p.pixel_size_m, p.oversample)
    max_x, max_y = stats.max_I_position_m

    log.append(f"writing {files['floatfile']} as {fpixels * spixels} 4-byte floats")
    outputs.put(files["floatfile"], floats.astype("<f4").tobytes())
    if config.coherent:
        log.append(f"writing {files['sinfile']} as {fpixels * spixels} 4-byte floats")
        log.append(f"writing {files['cosfile']} as {fpixels * spixels} 4-byte floats")
        outputs.put(files["sinfile"], result.imag.astype("<f4").tobytes())
        outputs.put(files["cosfile"], result.real.astype("<f4").tobytes())
    log.append(f"max_I = {stats.max_I:g}  at {max_x:g} {max_y:g}")
    log.append(f"mean= {stats.mean:g} rms= {stats.rms:g}")
    scale = auto_int_scale(rec.int_scale, stats.max_I)
    log.append(f"intfile_scale = {scale:g}")
    counts = smv_counts(floats, inside, scale, 40.0, round_to_nearest=False)
    phi = config.phi_deg
    header = [("PIXEL_SIZE", f"{p.pixel_size_m * 1000.0:g}"),
              ("DISTANCE", f"{p.distance_m * 1000.0:g}"),
              ("WAVELENGTH", f"{config.wavelength_A / 1e10 * 1e10:g}"),
              ("BEAM_CENTER_X", f"{xbeam * 1000.0:g}"),
              ("BEAM_CENTER_Y", f"{(height - ybeam) * 1000:g}"),
              ("PHI", f"{phi:g}"), ("OSC_START", f"{phi:g}"), ("OSC_RANGE", "0"),
              ("DETECTOR_SN", "000"), ("BEAMLINE", "fake")]
    log.append(f"writing {files['intfile']} as 2-byte integers")
    outputs.put(files["intfile"], smv_bytes(counts, [("SIZE1", str(fpixels)),
                                                      ("SIZE2", str(spixels)), *header]))
    outputs.commit()
    out.write("\n".join(log) + "\n")
    return 0
