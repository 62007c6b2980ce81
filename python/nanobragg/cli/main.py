"""The ``nanoBragg`` command: the original program's flags, our engines."""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, TextIO

import numpy as np

from nanobragg.cli.printout import printout_block
from nanobragg.cli.report import Report
from nanobragg.cli.usage import USAGE
from nanobragg.config import as_float
from nanobragg.errors import UsageError
from nanobragg.flags import parse_command_line
from nanobragg.seeds import with_clock_seeds
from nanobragg.stages.sources import wavelength_m
from nanobragg.trace import PixelTracer

if TYPE_CHECKING:
    from nanobragg.result import Result

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_FAILED = 1


def _progress_bar(stream: TextIO) -> Callable[[int, int], bool]:
    """A one-line progress bar for terminals; returns the render callback."""
    def show(done: int, total: int) -> bool:
        width = 40
        filled = width * done // max(total, 1)
        stream.write("\r[%s%s] %3d%%" % ("#" * filled, "." * (width - filled),
                                         100 * done // max(total, 1)))
        if done >= total:
            stream.write("\n")
        stream.flush()
        return True

    return show


@contextlib.contextmanager
def _recorded_warnings() -> Iterator[list[warnings.WarningMessage]]:
    """Warnings recorded for the log, which gives each one's text as one line (Python's
    own display adds the file and source line of the code that warned)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught


def run(argv: Sequence[str], out: TextIO | None = None) -> int:
    out = out or sys.stdout
    from nanobragg import simulate
    from nanobragg.io import write_fdump
    from nanobragg.writers import write_float, write_int_image, write_noise_image, write_pgm_image

    with _recorded_warnings() as parse_warnings:
        command = parse_command_line(list(argv))
    if command.help:
        out.write(USAGE)
        return EXIT_OK
    # one clock reading for the image and any trace of it
    config = command.config = with_clock_seeds(command.config, c_parity=command.c_parity)
    report = Report(out)
    progress = None
    if config.output.progress and not config.output.printout and sys.stderr.isatty():
        progress = _progress_bar(sys.stderr)
    report.banner(config)
    for warning in parse_warnings:
        report.line(str(warning.message))
    with _recorded_warnings() as caught:
        result = simulate(config, backend=command.backend, c_parity=command.c_parity,
                          progress=progress, device=command.device, dtype=command.dtype,
                          max_terms=command.max_terms)
    for warning in caught:
        report.line(str(warning.message))
    # traces are prepared before any file is written, so a bad pixel leaves no output behind
    printout = _printout_pixels(result)
    trace_text = None
    if command.trace_pixel is not None:
        trace_text = PixelTracer.of(result).trace(*command.trace_pixel).to_text()
    sf = config.structure_factors
    if sf.hkl_path is not None and result.structure_factors is not None:
        # the original caches every HKL file it reads for runs without -hkl
        try:
            write_fdump(sf.dump_path, result.structure_factors)
            report.line(f"writing dump file for next time: {sf.dump_path}")
        except OSError:
            report.line(f"WARNING: unable to open dump file: {sf.dump_path}")
    report.setup(result)
    if printout is not None:
        tracer, pixels = printout
        for slow, fast in pixels:
            for line in printout_block(tracer.trace(slow, fast), float(result.image[slow, fast]),
                                       as_float(wavelength_m(config))):
                report.line(line)
    report.solid_angle(result)
    output = config.output
    report.line(f"writing {output.floatfile} as {result.image.size} 4-byte floats")
    write_float(result, output.floatfile)
    report.statistics(result)
    report.line("intfile_scale = %g" % result.int_scale())
    report.line(f"writing {output.intfile} as 2-byte integers")
    write_int_image(result, output.intfile)
    if output.write_pgm:
        report.line("pgm_scale = %g" % result.pgm_scale())
        report.line(f"writing {output.pgmfile} as 1-byte integers")
        write_pgm_image(result, output.pgmfile)
    if output.write_noise:
        noise, photons, overloads = result.noise_image()
        report.line("%.0f photons on noise image (%d overloads)" % (photons, overloads))
        report.line(f"writing {output.noisefile} as 2-byte integers")
        write_noise_image(result, output.noisefile, noise)
    if trace_text is not None:
        out.write(trace_text)
    return EXIT_OK


def _printout_pixels(result: Result) -> tuple[PixelTracer, Iterable[tuple[int, int]]] | None:
    """-printout: a tracer and the pixels to print, in the render's order: every rendered
    pixel, or the -printout_pixel one (fast, slow) when it is rendered; a negative fast
    index means every pixel, as in the original.  None when there is nothing to print."""
    output = result.config.output
    if not output.printout:
        return None
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


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        return run(argv)
    except UsageError as error:
        sys.stderr.write(f"nanoBragg: {error}\n(nanoBragg -h lists the flags)\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("nanoBragg: interrupted\n")
        return 130
    except (ValueError, OSError, NotImplementedError) as error:
        sys.stderr.write(f"nanoBragg: {error}\n")
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
