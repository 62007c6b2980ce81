"""What the ``nanoBragg`` command does (:func:`run`): read the original's flags, prepare
the run on our engines, check every output, render, write the log and all the files
together.  :mod:`nanobragg.cli.main` is its entry point."""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, TextIO

import numpy as np

from nanobragg.cli.main import interrupts_deferred
from nanobragg.cli.progress import terminal_progress
from nanobragg.cli.report import Report
from nanobragg.config import Config, as_float
from nanobragg.flags import parse_command_line
from nanobragg.io import OutputSet, format_smv_header
from nanobragg.seeds import with_clock_seeds
from nanobragg.stages.sources import wavelength_m

if TYPE_CHECKING:
    from nanobragg.result import Result
    from nanobragg.simulation import Setup
    from nanobragg.trace import PixelTracer

EXIT_OK = 0


@contextlib.contextmanager
def _recorded_warnings() -> Iterator[list[warnings.WarningMessage]]:
    """Warnings recorded for the log, which gives each one's text as one line (Python's
    own display adds the file and source line of the code that warned)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught


def run(argv: Sequence[str], out: TextIO | None = None) -> int:
    out = out or sys.stdout
    with interrupts_deferred():
        from nanobragg.io import fdump_bytes
        from nanobragg.simulation import prepare, run_prepared
        from nanobragg.writers import (
            float_bytes,
            int_image_bytes,
            noise_image_bytes,
            pgm_image_bytes,
        )

    with _recorded_warnings() as parse_warnings:
        command = parse_command_line(list(argv))
    if command.help:
        with interrupts_deferred():
            from nanobragg.cli.usage import USAGE
        out.write(USAGE)
        return EXIT_OK
    # one clock reading for the image and any trace of it
    config = command.config = with_clock_seeds(command.config, c_parity=command.c_parity)
    report = Report(out)
    progress = terminal_progress(config.output.progress and not config.output.printout)
    report.banner(config)
    for warning in parse_warnings:
        report.line(str(warning.message))
    # every output is checked before the render and written after it, all together
    outputs = _output_set(config)
    dump_unwritable = bool(outputs.check())
    with _recorded_warnings() as caught:
        setup = prepare(config, command.backend, command.c_parity, device=command.device,
                        dtype=command.dtype, max_terms=command.max_terms)
        _check_smv_header(config, setup)
        result = run_prepared(setup, progress=progress)
    for warning in caught:
        report.line(str(warning.message))
    # traces are prepared before any file is written, so a bad pixel leaves no output behind
    printout = _printout_pixels(result)
    trace_text = None
    if command.trace_pixel is not None:
        with interrupts_deferred():
            from nanobragg.trace import PixelTracer
        trace_text = PixelTracer.of(result).trace(*command.trace_pixel).to_text()
    sf = config.structure_factors
    if sf.hkl_path is not None and result.structure_factors is not None:
        if dump_unwritable:
            report.line(f"WARNING: unable to open dump file: {sf.dump_path}")
        else:
            outputs.put(sf.dump_path, fdump_bytes(result.structure_factors))
            report.line(f"writing dump file for next time: {sf.dump_path}")
    report.setup(result)
    if printout is not None:
        with interrupts_deferred():
            from nanobragg.cli.printout import printout_block
        tracer, pixels = printout
        for slow, fast in pixels:
            for line in printout_block(tracer.trace(slow, fast), float(result.image[slow, fast]),
                                       as_float(wavelength_m(config))):
                report.line(line)
    report.solid_angle(result)
    output = config.output
    report.line(f"writing {output.floatfile} as {result.image.size} 4-byte floats")
    outputs.put(output.floatfile, float_bytes(result))
    report.statistics(result)
    report.line("intfile_scale = %g" % result.int_scale())
    report.line(f"writing {output.intfile} as 2-byte integers")
    outputs.put(output.intfile, int_image_bytes(result))
    if output.write_pgm:
        report.line("pgm_scale = %g" % result.pgm_scale())
        report.line(f"writing {output.pgmfile} as 1-byte integers")
        outputs.put(output.pgmfile, pgm_image_bytes(result))
    if output.write_noise:
        noise, photons, overloads = result.noise_image()
        report.line("%.0f photons on noise image (%d overloads)" % (photons, overloads))
        report.line(f"writing {output.noisefile} as 2-byte integers")
        outputs.put(output.noisefile, noise_image_bytes(result, noise))
    if trace_text is not None:
        out.write(trace_text)
    # the cache is the one optional output: one that could not be written after all
    for _ in outputs.commit():
        report.line(f"WARNING: unable to open dump file: {sf.dump_path}")
    return EXIT_OK


def _output_set(config: Config) -> OutputSet:
    """The command's files.  The structure-factor cache the original writes after reading
    -hkl is one of them, so that a run that fails leaves none, but an optional one: as
    in the original, a cache that cannot be written is a warning, not a failure."""
    output = config.output
    outputs = OutputSet()
    outputs.add(output.floatfile, label="-floatfile")
    outputs.add(output.intfile, label="-intfile")
    if output.write_pgm:
        outputs.add(output.pgmfile, label="-pgmfile")
    if output.write_noise:
        outputs.add(output.noisefile, label="-noisefile")
    sf = config.structure_factors
    if sf.hkl_path is not None:
        outputs.add(sf.dump_path, label="-dump", optional=True)
    return outputs


def _check_smv_header(config: Config, setup: Setup) -> None:
    """Fail before the render when the SMV header cannot hold its numbers in 512 bytes
    (as with -pixel 1e-320): the header is made from the prepared run's geometry and
    sampling, as it will be written."""
    from nanobragg.stages import to_numpy
    from nanobragg.writers import smv_fields

    try:
        format_smv_header(smv_fields(config, to_numpy(setup.geometry), setup.sampling))
    except ValueError as error:
        output = config.output
        files = [f"-intfile {output.intfile}"]
        if output.write_noise:
            files.append(f"-noisefile {output.noisefile}")
        raise ValueError(f"{' and '.join(files)}: {error}") from None


def _printout_pixels(result: Result) -> tuple[PixelTracer, Iterable[tuple[int, int]]] | None:
    """-printout: a tracer and the pixels to print, in the render's order: every rendered
    pixel, or the -printout_pixel one (fast, slow) when it is rendered; a negative fast
    index means every pixel, as in the original.  None when there is nothing to print."""
    output = result.config.output
    if not output.printout:
        return None
    with interrupts_deferred():
        from nanobragg.trace import PixelTracer
    rendered = result.rendered
    if output.printout_pixel is not None and int(output.printout_pixel[0]) >= 0:
        fast, slow = (int(v) for v in output.printout_pixel)
        inside = 0 <= slow < rendered.shape[0] and fast < rendered.shape[1]
        if not (inside and rendered[slow, fast]):
            return None
        pixels: Iterable[tuple[int, int]] = [(slow, fast)]
    else:
        pixels = ((int(s), int(f)) for s, f in np.argwhere(rendered))
    return PixelTracer.of(result), pixels
