"""The ``nb-series`` command: a rotation sweep or a set of stills, in process or on Dask,
written as NeXus, CBF or SMV, resumably.

``nb-series [options] -- NANOBRAGG_ARGS...``, or ``nb-series --series FILE.toml``; the
work is done by :mod:`nanobragg.series`.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from nanobragg.cli.main import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, command_main
from nanobragg.errors import UsageError

if TYPE_CHECKING:
    from nanobragg.series import ImageRecord, Series, SeriesReport

__all__ = ["build_parser", "main", "run"]

_DESCRIPTION = """\
Renders a dataset of many images: a rotation sweep (--sweep START OSC N: image i covers
phi from START + i*OSC to START + (i+1)*OSC, with the phi steps of the nanoBragg
arguments, exactly as nanoBragg -phi START+i*OSC -osc OSC makes it alone), or stills
(--stills N: one orientation a shot, random from --orientation-seed).  The nanoBragg
arguments after -- describe the base image; every image's random numbers come from
--seed and its index, so an image is the same wherever and in whatever order it is made.

Output (--out DIR): NeXus/NXmx DIR/series.nxs (frames in /entry/data/data), or
DIR/image_00001.cbf ... (--format cbf), DIR/image_00001.img ... (--format smv), and
DIR/manifest.json, which lists every finished image.  Running the same command again
resumes: images already there are skipped; another series in the same DIR is refused.
Frames hold nanoBragg's noise image (16-bit counts), or float photons with -nonoise
(NeXus only).  A series file (--series, written by --write-series) also describes an
amorphous background and a detector response (see docs/series.md).
"""

_EPILOG = f"""\
examples:
  nb-series --sweep 0 1 90 --out lyso -- -cell 79 79 38 90 90 90 -default_F 100 -N 10 \\
            -lambda 1 -distance 100 -detpixels 512 -phisteps 5
  nb-series --stills 1000 --orientation-seed 7 --workers 8 --format cbf --out xfel -- ...
  nb-series --series lyso.toml --scheduler tcp://10.0.0.1:8786 --out lyso

exit status:
  {EXIT_OK}  the series is complete in DIR
  2  usage error: bad options, no --, bad nanoBragg arguments
  {EXIT_FAILED}  a failure (an image could not be made or written, another series in DIR)
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C); the same command resumes
"""

_OWN = {"-backend": "--backend", "-c_parity": "--c-parity", "-device": "--device",
        "-dtype": "--dtype", "-seed": "--seed"}
"""nanoBragg flags that are nb-series options here."""


class _Parser(argparse.ArgumentParser):
    """Option errors raise :class:`UsageError` (one line) instead of exiting."""

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments"):
            message += " (the nanoBragg arguments go after --: nb-series [options] -- ARGS...)"
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nb-series",
                     usage="nb-series [options] -- NANOBRAGG_ARGS...  |  nb-series --series "
                           "FILE.toml [options]",
                     description=_DESCRIPTION, epilog=_EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    scan = parser.add_mutually_exclusive_group()
    scan.add_argument("--sweep", nargs=3, metavar=("START", "OSC", "N"),
                      help="a rotation sweep of N images of OSC degrees from START")
    scan.add_argument("--stills", type=int, metavar="N", help="N still shots")
    parser.add_argument("--orientation-seed", type=int, metavar="S",
                        help="--stills: random orientations from seed S (default: the "
                             "base image's orientation for every shot)")
    parser.add_argument("--series", metavar="FILE", help="read the series from a TOML (or "
                        ".json) file instead of --sweep/--stills and nanoBragg arguments")
    parser.add_argument("--write-series", metavar="FILE",
                        help="write the series description to FILE (TOML, or .json)")
    parser.add_argument("--dry-run", action="store_true",
                        help="check the series (and write --write-series) but render nothing")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, metavar="N",
                       help="run on a local Dask cluster of N worker processes")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on the Dask cluster of this scheduler (tcp://host:8786)")
    parser.add_argument("--format", choices=("nexus", "cbf", "smv"), default="nexus",
                        help="file format (default: nexus)")
    parser.add_argument("--out", default="nb-series-out", metavar="DIR",
                        help="output folder (default: nb-series-out)")
    parser.add_argument("--seed", type=int, metavar="S", help="the series seed (default 0)")
    parser.add_argument("--backend", choices=("c", "torch"), help="engine (default: c)")
    parser.add_argument("--device", metavar="DEVICE", help="torch device (cpu, cuda, cuda:N)")
    parser.add_argument("--dtype", choices=("float32", "float64"), help="torch dtype")
    parser.add_argument("--c-parity", action="store_true",
                        help="the original program's quirks (and its reading of the flags)")
    parser.add_argument("--block", type=int, default=1, metavar="B",
                        help="images per Dask task (default: 1)")
    parser.add_argument("--threads", type=int, metavar="T",
                        help="C engine threads per image (default: all cores in process, "
                             "1 on Dask)")
    return parser


def _split(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    argv = list(argv)
    cut = argv.index("--") if "--" in argv else len(argv)
    options = build_parser().parse_args(argv[:cut])
    return options, argv[cut + 1:]


def describe(options: argparse.Namespace, nanobragg_args: list[str]) -> Series:
    """The series the options (or their --series file) describe."""
    from nanobragg import Config
    from nanobragg.series import Series, Stills, Sweep

    if options.series is not None:
        given = [name for name in ("sweep", "stills", "orientation_seed", "seed", "backend",
                                   "device", "dtype") if getattr(options, name) is not None]
        given += ["c_parity"] * options.c_parity + ["nanoBragg arguments"] * bool(nanobragg_args)
        if given:
            raise UsageError(f"--series {options.series} describes the whole series; leave out "
                             + ", ".join("--" + g.replace("_", "-") if " " not in g else g
                                         for g in given))
        path = Path(options.series)
        try:
            text = path.read_text()
        except OSError as error:
            raise UsageError(f"--series {path}: {error.strerror or error}") from None
        reader = Series.from_json if path.suffix == ".json" else Series.from_toml
        try:
            return reader(text)
        except (ValueError, TypeError) as error:
            raise UsageError(f"--series {path}: {error}") from None
    if options.sweep is None and options.stills is None:
        raise UsageError("give --sweep START OSC N, --stills N or --series FILE")
    if not nanobragg_args:
        raise UsageError("no nanoBragg arguments: write nb-series [options] -- "
                         "NANOBRAGG_ARGS...")
    for arg in nanobragg_args:
        if arg in _OWN:
            raise UsageError(f"{arg}: give nb-series {_OWN[arg]} instead (before the --)")
    if options.orientation_seed is not None and options.stills is None:
        raise UsageError("--orientation-seed: only with --stills")
    config = Config.from_cli(nanobragg_args, c_parity=options.c_parity)
    scan: Sweep | Stills
    try:
        if options.sweep is not None:
            start, osc, count = options.sweep
            scan = Sweep(_number("--sweep START", start), _number("--sweep OSC", osc),
                         _count("--sweep N", count))
        else:
            scan = Stills(options.stills, orientation_seed=options.orientation_seed)
        return Series(config, scan, seed=0 if options.seed is None else options.seed,
                      backend=options.backend or "c", c_parity=options.c_parity,
                      device=options.device, dtype=options.dtype)
    except (ValueError, TypeError) as error:
        raise UsageError(str(error)) from None


def _number(name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"{name}: {text!r} is not a number") from None


def _count(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"{name}: {text!r} is not a whole number") from None


def run(argv: Sequence[str], out: TextIO | None = None) -> int:
    """Run one command line, the log to ``out`` (default stdout); errors are raised."""
    out = out or sys.stdout
    options, nanobragg_args = _split(argv)
    for name in ("workers", "block", "threads"):
        value = getattr(options, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name}: expected a whole number >= 1, got {value}")
    series = describe(options, nanobragg_args)
    if options.write_series is not None:
        _write_description(series, Path(options.write_series))
        out.write(f"wrote the series description to {options.write_series}\n")
    if options.dry_run:
        out.write(f"{_what(series)}; not rendered (--dry-run)\n")
        return EXIT_OK
    from nanobragg.series import run_series

    progress = _progress(out, sys.stderr)
    try:
        with _client(options) as client:
            report = run_series(series, options.out, format=options.format, client=client,
                                block=options.block, threads=options.threads,
                                progress=progress)
    except ModuleNotFoundError as error:
        if "nanobragg[series]" not in str(error):
            raise
        sys.stderr.write(f"nb-series: {error}\n")
        return EXIT_FAILED
    except KeyboardInterrupt:
        sys.stderr.write(f"nb-series: interrupted; the images finished are in {options.out}, "
                         "and the same command resumes\n")
        return EXIT_INTERRUPTED
    out.write(_summary(series, report) + "\n")
    return EXIT_OK


def _write_description(series: Series, path: Path) -> None:
    from nanobragg.io.outputs import atomic_write

    text = series.to_json() if path.suffix == ".json" else series.to_toml()
    atomic_write(path, [text.encode()])


def _what(series: Series) -> str:
    from nanobragg.series import Sweep

    scan = series.scan
    kind = (f"a sweep of {scan.images} images of {scan.osc_deg:g} deg from "
            f"{scan.start_deg:g} deg" if isinstance(scan, Sweep)
            else f"{scan.images} stills")
    return f"{kind} (series {series.fingerprint()[:12]}, seed {series.seed}, {series.backend})"


@contextlib.contextmanager
def _client(options: argparse.Namespace) -> Iterator[Any]:
    """None (in process), a scheduler address, or a Client of a LocalCluster made here."""
    if options.scheduler is not None:
        yield options.scheduler
        return
    if options.workers is None:
        yield None
        return
    from nanobragg.series.runner import _distributed

    distributed = _distributed()
    with distributed.LocalCluster(n_workers=options.workers, threads_per_worker=1,
                                  processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        yield client


def _progress(out: TextIO, terminal: TextIO) -> Callable[[int, int, ImageRecord], bool]:
    """A progress bar on a terminal, one line an image otherwise."""
    bar = terminal.isatty()

    def show(done: int, total: int, record: ImageRecord) -> bool:
        if bar:
            width = 40
            filled = width * done // max(total, 1)
            terminal.write("\r[%s%s] %d/%d images" % ("#" * filled, "." * (width - filled),
                                                      done, total))
            if done >= total:
                terminal.write("\n")
            terminal.flush()
        else:
            scan = record.scan
            where = (f"misset {', '.join('%g' % v for v in scan.misset_deg)} deg"
                     if scan.misset_deg is not None
                     else f"phi {scan.phi_start_deg:g} to {scan.phi_start_deg + scan.osc_deg:g}"
                          " deg")
            out.write(f"image {record.index + 1} ({done}/{total}): {where}, rendered in "
                      f"{record.render_s:.3f} s, written in {record.write_s:.3f} s\n")
            out.flush()
        return True

    return show


def _summary(series: Series, report: SeriesReport) -> str:
    made = f"{report.done} made, {report.skipped} already there"
    lines = [f"{_what(series)} in {report.out_dir} as {report.format}: {made}"]
    if report.done:
        lines.append(f"{report.seconds:.2f} s: {report.images_per_s:.3g} images/s, "
                     f"{report.seconds_per_image:.3g} s per image (rendering "
                     f"{report.render_s / report.done:.3g} s, writing "
                     f"{report.write_s / report.done:.3g} s per image)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    return command_main("nb-series", lambda: run, argv,
                        usage="{error}\n(nb-series --help shows the usage)")


if __name__ == "__main__":
    sys.exit(main())
