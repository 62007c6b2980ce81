"""The ``nonBragg`` command: the original's flags, log and files, on our engines."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import TextIO

import numpy as np

from nanobragg.amorphous_scattering import (
    AmorphousConfig,
    AmorphousResult,
    amorphous,
    detector_size,
    sample,
)
from nanobragg.cli.nonbragg_img import (
    ImageInput,
    check_image_shape,
    last_terms,
    read_image_input,
    stol_bins,
)
from nanobragg.cli.progress import legacy_percentages, terminal_progress
from nanobragg.errors import UsageError
from nanobragg.flags.nonbragg import NONBRAGG_FLAGS, NonBraggArgs, parse_nonbragg
from nanobragg.io import OutputSet

BANNER = ("nonBragg amorphous material diffraction simulator - James Holton and Ken Frankel "
          "3-19-16")


def usage() -> str:
    lines = ["usage: nonBragg -stol water.stol [flags]", "flags:"]
    lines += [f"\t{' '.join(flag.names)}\t{flag.help}" for flag in NONBRAGG_FLAGS]
    lines.append("\t-backend c|torch -device NAME -dtype float32|float64 -threads N -c_parity")
    return "\n".join(lines) + "\n"


def _g(value: float) -> str:
    return "%g" % value


def config_from_args(args: NonBraggArgs, image: ImageInput | None = None) -> AmorphousConfig:
    """The AmorphousConfig a parsed command line asks for (over the settings of the -img
    image's header, when given)."""
    if "stol_file" not in args.config:
        raise UsageError("no -stol table given: nonBragg -stol water.stol (see -h)")
    settings = {} if image is None else dict(image.settings)
    settings.update(args.config)
    try:
        return AmorphousConfig(**settings)
    except TypeError as error:
        raise UsageError(str(error)) from None


def _sources_log(result: AmorphousResult, out: list[str]) -> None:
    spec = result.extras["source_spec"]
    table = result.extras["source_table"]
    if table is None:
        for h in range(spec.hdiv_steps):
            for v in range(spec.vdiv_steps):
                hdiv = spec.hdiv_step_rad * h - spec.hdiv_range_rad / 2.0
                vdiv = spec.vdiv_step_rad * v - spec.vdiv_range_rad / 2.0
                with np.errstate(all="ignore"):
                    test = ((np.float64(hdiv) ** 2 - np.float64(spec.hdiv_step_rad) ** 2 / 4.0
                             * (1 - spec.hdiv_steps % 2)) / np.float64(spec.hdiv_range_rad)
                            / spec.hdiv_range_rad)
                    test += ((np.float64(vdiv) ** 2 - np.float64(spec.vdiv_step_rad) ** 2 / 4.0
                              * (1 - spec.vdiv_steps % 2)) / np.float64(spec.vdiv_range_rad)
                             / spec.vdiv_range_rad)
                if spec.round_div and test * 4.0 > 1.1:
                    continue
                out.append(f"divergence deviation: {_g(hdiv)} {_g(vdiv)}")
        for d in range(spec.dispersion_steps):
            lam = spec.wavelength_m * (1.0 + spec.dispersion_step * d
                                       - spec.dispersion_range / 2.0)
            out.append(f"lambda{d} = {lam:.15g}")
    sources = result.sources
    out.append(f"  created a total of {len(sources.weight)} sources:")
    distance = spec.source_distance_m
    for i, direction in enumerate(np.asarray(sources.direction)):
        if table is not None:
            row = table[i]
            position = [(-distance * spec.beam[k] + 0.0) if math.isnan(row[k]) else row[k]
                        for k in range(3)]
            weight = 1.0 if math.isnan(row[3]) else row[3]
            lam = spec.wavelength_m if math.isnan(row[4]) else row[4]
        else:
            position = list(direction * distance)
            weight, lam = 1.0, float(sources.wavelength_m[i])
        out.append("%s %s %s   %s %s" % (*(_g(p) for p in position), _g(weight), _g(lam)))


def _report(result: AmorphousResult, args: NonBraggArgs) -> list[str]:
    cfg, g, spec = result.config, result.geometry, result.spec
    pivot = ("pivoting detector around sample" if cfg.pivot == "sample"
             else "pivoting detector around direct beam spot")
    lines = [BANNER, pivot, f"reading {cfg.stol_file}"]
    _sources_log(result, lines)
    hdiv = result.extras["source_spec"]
    fluence, x, y, z, density, molecules = sample(cfg)
    lines += [
        (f"  {len(result.table.F)} initialized F points (will cubic-spline interpolate "
         "between them)"),
        "  wave=%g meters +/- %g%% in %d steps" % (cfg.wavelength_A / 1e10,
                                                  hdiv.dispersion_range * 100,
                                                  hdiv.dispersion_steps),
        "  polarization effect disabled" if cfg.nopolar
        else "  Kahn polarization factor: %f" % cfg.polarization,
    ]
    if cfg.curved_detector:
        lines.append("  curved detector: all pixels same distance from origin")
    if cfg.point_pixel:
        lines.append("  pixel obliquity effect disabled")
    if cfg.Fmap:
        lines.append("  Fmap mode: plotting structure factor at every pixel")
    width = g.pixel_size_m * g.fpixels if cfg.fpixels else cfg.detsize_f_mm / 1000.0
    lines += [
        "  incident fluence: %g photons/m^2" % fluence,
        "  sample is %g m thick x %g m high x %g m wide, %g g/cm^3 and %g g/mol (%g molecules)"
        % (x, y, z, density / 1e6, cfg.molecular_weight_g_mol, molecules),
        "  distance=%g detsize=%gx%g  pixel=%g meters (%dx%d pixels)"
        % (g.distance_m, width, result.detsize_s_m, g.pixel_size_m, g.fpixels, g.spixels),
        "  Xbeam=%g Ybeam=%g" % (g.Fbeam_m, g.Sbeam_m),
        "  detector origin: %g %g %g" % tuple(g.pix0_m),
        "  DIRECTION_OF_DETECTOR_X-AXIS= %g %g %g" % tuple(g.fdet),
        "  DIRECTION_OF_DETECTOR_Y-AXIS= %g %g %g" % tuple(g.sdet),
        "  INCIDENT_BEAM_DIRECTION= %g %g %g" % tuple(g.beam),
        "  POLARIZATION_PLANE_NORMAL= %g %g %g" % tuple(g.polar),
        "  roi: %d < x < %d && %d < y < %d" % (spec.roi_xmin, spec.roi_xmax, spec.roi_ymin,
                                              spec.roi_ymax),
        "  hdivrange=%g hdivstep=%g  radians" % (hdiv.hdiv_range_rad, hdiv.hdiv_step_rad),
        "  vdivrange=%g vdivstep=%g  radians" % (hdiv.vdiv_range_rad, hdiv.vdiv_step_rad),
        # a source file leaves the original's count at its initial -1
        "  %d divergence steps" % (-1 if result.extras["source_table"] is not None
                                   else result.sources.divergence_steps),
        "  %d sources" % len(result.sources.weight),
        "  %d pixel oversample steps" % spec.oversample,
    ]
    if args.write_noise:
        lines += ["", "  noise image paramters:", "  seed: %d" % result.internal_seed]
    return lines


def _progress_lines(result: AmorphousResult) -> list[str]:
    """The original's progress meter, counted over the pixels it renders."""
    spec = result.spec
    total = (spec.roi_xmax - spec.roi_xmin + 1) * (spec.roi_ymax - spec.roi_ymin + 1)
    return legacy_percentages(total, int(result.roi_mask().sum()))


def _printout_lines(result: AmorphousResult, pixel: tuple[int, int] | None) -> list[str]:
    """The original's -printout block for each rendered pixel (or the one asked for).
    Its F is never set (0) and its I is the last source's weight."""
    lines: list[str] = []
    image, inside = result.image, result.roi_mask()
    weight = 1.0 if result.extras["source_table"] is None else float(
        np.nan_to_num(result.extras["source_table"][-1, 3], nan=1.0))
    steps = result.output.steps
    terms = last_terms(result)
    for spixel, fpixel in zip(*np.nonzero(inside), strict=True):
        if pixel is not None and pixel != (fpixel, spixel):
            continue
        term = {name: float(values[spixel, fpixel]) for name, values in terms.items()}
        lines += ["%4d %4d : stol = %g or %g" % (fpixel, spixel, term["stol"], term["test"]),
                  " F=%g    I = %g" % (0.0, weight),
                  "I/steps %15.10g" % (weight / steps),
                  "polar   %15.10g" % term["polar"],
                  "omega   %15.10g" % term["omega"],
                  "pixel   %15.10g" % image[spixel, fpixel]]
    return lines


def run(argv: Sequence[str], out: TextIO | None = None) -> int:
    out = sys.stdout if out is None else out
    if any(arg in ("-h", "-help", "--help") for arg in argv):
        out.write(usage())
        return 0
    args = parse_nonbragg(argv)
    image = None if args.image_file is None else read_image_input(args.image_file,
                                                             c_parity=args.c_parity)
    cfg = config_from_args(args, image)
    if image is not None:
        _, _, fpixels, spixels = detector_size(cfg)
        check_image_shape(image, fpixels, spixels)
    if args.backend not in ("c", "torch"):
        raise UsageError(f"-backend: {args.backend!r} is not an engine; expected c or torch")
    # quirk nopgm_ignored: the original reads -nopgm and writes the PGM all the same
    args.write_pgm = args.write_pgm or args.c_parity
    # every file is checked before the render and written after it, all or none
    outputs = OutputSet()
    names = [("-floatfile", args.floatfile), ("-intfile", args.intfile)]
    names += [("-pgmfile", args.pgmfile)] if args.write_pgm else []
    names += [("-noisefile", args.noisefile)] if args.write_noise else []
    names += [("-stolout", args.stolout)] if image is not None else []
    for label, path in names:
        outputs.add(path, label=label)
    outputs.check()
    result = amorphous(cfg, backend=args.backend, c_parity=args.c_parity,
                       threads=args.threads, device=args.device, dtype=args.dtype,
                       progress=terminal_progress(args.progress and not args.printout))
    beamsize = cfg.beam_size_mm / 1000.0
    warnings = []
    for size, what in ((cfg.sample_width_mm / 1000, "high"), (cfg.sample_height_mm / 1000,
                                                              "wide")):
        if beamsize >= 0 and beamsize < size:
            warnings.append("WARNING: clipping sample (%g m %s) with beam (%g m)"
                            % (size, what, beamsize))
    lines = _report(result, args)
    lines[1:1] = warnings
    if image is not None:
        # quirk img_mmap_address: the original prints where it loaded the image
        lines[0:0] = [f"reading {image.path}"] + (
            [f"mmap({image.path}) = (nil)"] if args.c_parity else [])
    if args.printout:
        lines += _printout_lines(result, args.printout_pixel)
    elif args.progress:
        lines += _progress_lines(result)
    omega = result.output.omega_sum_sr
    if not args.c_parity:
        # quirk amorphous_solid_angle_oversampled: the original sums every sub-pixel's
        # pixel-sized solid angle; corrected, the detector's
        omega /= result.spec.oversample ** 2
    pixels = result.geometry.fpixels * result.geometry.spixels
    lines += ["", "solid angle subtended by detector = %g steradian ( %g%% sphere)"
              % (omega, 100 * omega / 4 / math.pi)]
    if image is not None:
        bins = stol_bins(result, image, gain=args.gain, ignore=args.ignore_values,
                         c_parity=args.c_parity)
        lines += [*bins.log, "wrote %s as %d lines of text" % (args.stolout, len(bins.lines))]
        outputs.put(args.stolout, "".join(line + "\n" for line in bins.lines).encode())
        if args.c_parity:
            result.mean_count = bins.last_count
    stats = result.statistics
    lines += ["writing %s as %d 4-byte floats" % (args.floatfile, pixels),
              "max_I = %g  at %g %g" % (stats.max_I, stats.max_I_fast_m, stats.max_I_slow_m),
              "mean= %g rms= %g rmsd= %g" % (stats.mean, stats.rms, stats.rmsd),
              "intfile_scale = %g" % result.int_scale,
              "writing %s as 2-byte integers" % args.intfile,
              "pgm_scale = %g" % result.pgm_scale]
    outputs.put(args.floatfile, result.float_bytes())
    outputs.put(args.intfile, result.int_image_bytes())
    if args.write_pgm:
        lines.append("writing %s as 1-byte integers" % args.pgmfile)
        outputs.put(args.pgmfile, result.pgm_bytes())
    if args.write_noise:
        counts, photons, overloads = result.noise_image()
        lines += ["%.0f photons on noise image (%d overloads)" % (photons, overloads),
                  "writing %s as 2-byte integers" % args.noisefile]
        outputs.put(args.noisefile, result.noise_image_bytes(counts))
    outputs.commit()
    out.write("\n".join(lines) + "\n")
    return 0
