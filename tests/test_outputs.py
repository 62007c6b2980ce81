"""Outputs all together or not at all: nanobragg.io.OutputSet, and the commands built on it.

Every failure leaves the folder as it was (no new file, no temporary, old files with
their old content) and names the user's path, never a temporary.
"""

from __future__ import annotations

import errno
import os
import pickle
import signal
from pathlib import Path

import pytest

from nanobragg.io import OutputError, OutputSet
from nanobragg.io import outputs as outputs_module

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def listing(folder: Path) -> dict[str, bytes | None]:
    """Every name under ``folder`` (hidden ones included), with the files' bytes."""
    return {str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes()
            for p in sorted(folder.rglob("*"))}


@pytest.fixture
def old(tmp_path: Path) -> dict[str, bytes | None]:
    """A folder with one earlier file, ``a.bin``; the listing to expect after a failure."""
    (tmp_path / "a.bin").write_bytes(b"old a")
    return listing(tmp_path)


# --- writing ---------------------------------------------------------------------------------


def test_commit_writes_every_file(tmp_path: Path, old) -> None:
    outputs = OutputSet()
    outputs.add(tmp_path / "a.bin", b"new a")
    outputs.add(tmp_path / "b.bin", label="-b")
    outputs.put(tmp_path / "b.bin", iter([b"new ", b"b"]))
    assert outputs.commit() == []
    assert listing(tmp_path) == {"a.bin": b"new a", "b.bin": b"new b"}


def test_a_failing_content_leaves_everything_as_it_was(tmp_path: Path, old) -> None:
    def chunks():
        yield b"half"
        raise RuntimeError("disk on fire")

    outputs = OutputSet()
    outputs.add(tmp_path / "a.bin", b"new a")
    outputs.add(tmp_path / "b.bin", chunks())
    with pytest.raises(RuntimeError):
        outputs.commit()
    assert listing(tmp_path) == old


@pytest.mark.parametrize("failing", [1, 2])
def test_a_failing_rename_puts_the_earlier_files_back(tmp_path: Path, old, monkeypatch,
                                                      failing) -> None:
    """The second rename fails: the first target is back to its old content (or gone
    when it is new), and every temporary and set-aside file is removed."""
    real_replace = os.replace
    calls = []

    def replace(source, target):
        calls.append(target)
        if len(calls) == failing + 1:
            raise PermissionError(errno.EPERM, "Operation not permitted", str(source))
        real_replace(source, target)

    outputs = OutputSet()
    for name in ("a.bin", "b.bin", "c.bin"):
        outputs.add(tmp_path / name, b"new " + name.encode())
    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OutputError) as info:
        outputs.commit()
    monkeypatch.setattr(os, "replace", real_replace)
    assert listing(tmp_path) == old
    assert ".tmp" not in str(info.value)


def test_ctrl_c_while_renaming_waits_and_undoes_the_renames(tmp_path: Path, old,
                                                            monkeypatch) -> None:
    """SIGINT between two renames: it is held until every rename is done, then the
    renames are undone and KeyboardInterrupt raised."""
    real_replace = os.replace
    calls = []

    def replace(source, target):
        real_replace(source, target)
        calls.append(target)
        if len(calls) == 1:
            signal.raise_signal(signal.SIGINT)

    outputs = OutputSet()
    outputs.add(tmp_path / "a.bin", b"new a")
    outputs.add(tmp_path / "b.bin", b"new b")
    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        outputs.commit()
    monkeypatch.setattr(os, "replace", real_replace)
    assert len(calls) >= 2  # the second rename still ran
    assert listing(tmp_path) == old
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_while_writing_removes_the_temporaries(tmp_path: Path, old) -> None:
    def chunks():
        yield b"half"
        raise KeyboardInterrupt

    outputs = OutputSet()
    outputs.add(tmp_path / "a.bin", b"new a")
    outputs.add(tmp_path / "b.bin", chunks())
    with pytest.raises(KeyboardInterrupt):
        outputs.commit()
    assert listing(tmp_path) == old


def test_a_write_error_names_the_users_path(tmp_path: Path, old) -> None:
    def chunks():
        yield b"half"
        raise OSError(errno.ENOSPC, "No space left on device")

    outputs = OutputSet()
    outputs.add(tmp_path / "b.bin", chunks(), label="-intfile")
    with pytest.raises(OutputError) as info:
        outputs.commit()
    assert str(info.value) == f"-intfile {tmp_path / 'b.bin'}: No space left on device"
    assert info.value.errno == errno.ENOSPC
    assert listing(tmp_path) == old


def test_content_must_be_given(tmp_path: Path) -> None:
    outputs = OutputSet()
    outputs.add(tmp_path / "a.bin", label="-floatfile")
    with pytest.raises(ValueError, match=r"-floatfile .*a\.bin: no content given"):
        outputs.commit()
    assert listing(tmp_path) == {}


# --- checks ----------------------------------------------------------------------------------


def check_error(path: Path | str, **options) -> OutputError:
    outputs = OutputSet(**options)
    outputs.add(path, b"x", label="-out")
    with pytest.raises(OutputError) as info:
        outputs.check()
    assert ".tmp" not in str(info.value)
    return info.value


def test_checks(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_bytes(b"")
    error = check_error("nodir/x.img")
    assert (str(error), error.errno) == ("-out nodir/x.img: the folder nodir does not exist",
                                         errno.ENOENT)
    error = check_error("folder")
    assert (str(error), error.errno) == ("-out folder: is a folder", errno.EISDIR)
    error = check_error("file/x.img")
    assert (str(error), error.errno) == ("-out file/x.img: file is a file, not a folder",
                                         errno.ENOTDIR)
    error = check_error("file/deeper/x.img", make_folders=True)
    assert str(error) == "-out file/deeper/x.img: file is a file, not a folder"
    assert listing(tmp_path) == {"file": b"", "folder": None}


@pytest.mark.skipif(AS_ROOT, reason="permissions do not apply to root")
def test_an_unwritable_folder(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        error = check_error(folder / "x.img")
        assert str(error) == (f"-out {folder / 'x.img'}: no permission to write in the "
                              f"folder {folder}")
        assert error.errno == errno.EACCES
    finally:
        folder.chmod(0o755)


def test_a_folder_the_system_says_is_unwritable(tmp_path: Path, monkeypatch) -> None:
    """Whatever the user, the check asks the system (os.access, which a read-only file
    system answers for root too)."""
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: real_access(path, mode)
                        and Path(path) != tmp_path)
    error = check_error(tmp_path / "x.img")
    assert str(error).endswith(f": no permission to write in the folder {tmp_path}")


@pytest.mark.parametrize("other", ["x.img", "./x.img", "sub/../x.img", "link/x.img"])
def test_two_outputs_naming_one_file(tmp_path: Path, monkeypatch, other) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "link").symlink_to(tmp_path)
    outputs = OutputSet()
    outputs.add("x.img", label="-intfile")
    with pytest.raises(ValueError, match=f"-noisefile {other} and -intfile x.img name the same "
                                         "file"):
        outputs.add(other, label="-noisefile")


def test_a_link_as_target_is_replaced_not_followed(tmp_path: Path) -> None:
    """As a single atomic write always did: the link is replaced by the new file."""
    (tmp_path / "real.img").write_bytes(b"real")
    (tmp_path / "x.img").symlink_to("real.img")
    outputs = OutputSet()
    outputs.add(tmp_path / "x.img", b"new x")
    outputs.add(tmp_path / "real.img", b"new real")
    outputs.commit()
    assert listing(tmp_path) == {"real.img": b"new real", "x.img": b"new x"}
    assert not (tmp_path / "x.img").is_symlink()


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="no /dev/null")
def test_a_device_is_written_in_place(tmp_path: Path) -> None:
    outputs = OutputSet()
    outputs.add("/dev/null", b"nothing")
    outputs.add(tmp_path / "a.bin", b"a")
    outputs.commit()
    assert Path("/dev/null").is_char_device()
    assert listing(tmp_path) == {"a.bin": b"a"}


# --- optional outputs, removals, folders -----------------------------------------------------


def test_an_optional_output_that_cannot_be_written_is_left_out(tmp_path: Path) -> None:
    outputs = OutputSet()
    outputs.add(tmp_path / "a.bin", b"a")
    outputs.add(tmp_path / "nodir" / "cache.bin", b"c", optional=True, label="-dump")
    outputs.add(tmp_path / "none.bin", optional=True)
    left_out = outputs.check()
    assert [str(p) for p in left_out] == [
        f"-dump {tmp_path / 'nodir' / 'cache.bin'}: the folder {tmp_path / 'nodir'} does not exist"]
    assert outputs.commit() == []
    assert listing(tmp_path) == {"a.bin": b"a"}


def test_an_optional_output_failing_to_write_is_left_out(tmp_path: Path) -> None:
    def chunks():
        raise OSError(errno.ENOSPC, "No space left on device")
        yield b""

    outputs = OutputSet()
    outputs.add(tmp_path / "a.bin", b"a")
    outputs.add(tmp_path / "cache.bin", chunks(), optional=True)
    assert [p.errno for p in outputs.commit()] == [errno.ENOSPC]
    assert listing(tmp_path) == {"a.bin": b"a"}


def test_removals_happen_with_the_commit(tmp_path: Path, old, monkeypatch) -> None:
    (tmp_path / "stale.txt").write_bytes(b"stale")
    before = listing(tmp_path)
    outputs = OutputSet()
    outputs.add(tmp_path / "a.bin", b"new a")
    outputs.add(tmp_path / "stale.txt")
    outputs.add(tmp_path / "never.txt")
    outputs.remove(tmp_path / "stale.txt")
    outputs.remove(tmp_path / "never.txt")
    real_replace = os.replace
    moved = []

    def replace(source, target):
        real_replace(source, target)
        moved.append(Path(source).name)
        if len(moved) == 1:
            signal.raise_signal(signal.SIGINT)

    # Ctrl-C at the first rename: the removal is still done, then undone with the rest
    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        outputs.commit()
    monkeypatch.setattr(os, "replace", real_replace)
    assert "stale.txt" in moved
    assert listing(tmp_path) == before
    outputs.commit()
    assert listing(tmp_path) == {"a.bin": b"new a"}


def test_without_hard_links_the_earlier_file_is_moved_aside(tmp_path: Path, old,
                                                           monkeypatch) -> None:
    def no_link(*args, **kwargs):
        raise OSError(errno.EPERM, "Operation not permitted")

    real_replace = os.replace
    calls = []

    def replace(source, target):
        calls.append(target)
        if len(calls) == 3:  # a.bin moved aside, then onto a.bin, then b.bin fails
            raise OSError(errno.EIO, "Input/output error")
        real_replace(source, target)

    outputs = OutputSet()
    outputs.add(tmp_path / "a.bin", b"new a")
    outputs.add(tmp_path / "b.bin", b"new b")
    monkeypatch.setattr(os, "link", no_link)
    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="Input/output error"):
        outputs.commit()
    monkeypatch.setattr(os, "replace", real_replace)
    assert listing(tmp_path) == old


def test_folders_made_by_a_failed_commit_are_removed(tmp_path: Path) -> None:
    def chunks():
        raise KeyboardInterrupt
        yield b""

    outputs = OutputSet(make_folders=True)
    outputs.add(tmp_path / "new" / "deeper" / "a.bin", b"a")
    outputs.add(tmp_path / "new" / "b.bin", chunks())
    with pytest.raises(KeyboardInterrupt):
        outputs.commit()
    assert listing(tmp_path) == {}
    outputs.put(tmp_path / "new" / "b.bin", b"b")
    outputs.commit()
    assert listing(tmp_path) == {"new": None, "new/b.bin": b"b", "new/deeper": None,
                                 "new/deeper/a.bin": b"a"}


def test_output_errors_pickle() -> None:
    error = OutputError("x/y.img", "the folder x does not exist", errno.ENOENT, "-intfile")
    again = pickle.loads(pickle.dumps(error))
    assert (str(again), again.errno, again.label) == (str(error), errno.ENOENT, "-intfile")
    assert isinstance(again, OSError)


def test_commits_work_outside_the_main_thread(tmp_path: Path) -> None:
    """Signal handlers can be set only in the main thread; elsewhere none is held."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        pool.submit(outputs_module.atomic_write, tmp_path / "a.bin", [b"a"]).result()
    assert listing(tmp_path) == {"a.bin": b"a"}


# --- the nanoBragg command -------------------------------------------------------------------

SMALL = ["-cell", "70", "80", "90", "75", "85", "95", "-default_F", "100", "-N", "5",
         "-detpixels", "6", "-distance", "70", "-oversample", "2", "-noprogress"]
"""Renders in milliseconds."""
EVERY_FILE = {"floatimage.bin", "intimage.img", "image.pgm", "noiseimage.img"}


@pytest.fixture
def here(tmp_path: Path, monkeypatch) -> dict[str, bytes | None]:
    """The working folder, holding a folder ``d``, a file ``f`` and an earlier
    ``floatimage.bin``; the listing to expect after a failure."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_bytes(b"a file")
    (tmp_path / "floatimage.bin").write_bytes(b"an earlier image")
    return listing(tmp_path)


def write_hkl(path: Path) -> None:
    path.write_text("".join(f"{h} {k} {m} {10 + abs(h + 2 * k + 3 * m)}\n"
                            for h in range(-3, 4) for k in range(-3, 4) for m in range(-3, 4)))


def no_render(monkeypatch) -> None:
    import nanobragg.simulation

    def render(*args, **kwargs):
        raise AssertionError("rendered")

    monkeypatch.setattr(nanobragg.simulation, "run_prepared", render)


@pytest.mark.parametrize(("flags", "message"), [
    (["-intfile", "nodir/x.img"], "-intfile nodir/x.img: the folder nodir does not exist"),
    (["-noisefile", "d"], "-noisefile d: is a folder"),
    (["-pixel", "1e-320"], ("-intfile intimage.img and -noisefile noiseimage.img: SMV header "
                            "needs 540 bytes, more than the 512 available")),
    (["-intfile", "x.img", "-noisefile", "x.img"],
     "-noisefile x.img and -intfile x.img name the same file"),
    (["-pgmfile", "./intimage.img"],
     "-pgmfile ./intimage.img and -intfile intimage.img name the same file"),
    (["-floatfile", "f/x.bin"], "-floatfile f/x.bin: f is a file, not a folder"),
], ids=["no-folder", "a-folder", "header-overflow", "same-file", "same-file-spelt-apart",
        "under-a-file"])
def test_a_bad_output_fails_before_the_render(engine, here, monkeypatch, capsys, flags,
                                              message):
    from nanobragg.cli.main import main

    no_render(monkeypatch)
    assert main([*SMALL, "-backend", engine, *flags]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"nanoBragg: {message}")
    assert err.count("\n") == 1
    assert ".tmp" not in err
    assert listing(Path.cwd()) == here


@pytest.mark.skipif(AS_ROOT, reason="permissions do not apply to root")
def test_an_unwritable_folder_fails_before_the_render(here, monkeypatch, capsys):
    from nanobragg.cli.main import main

    no_render(monkeypatch)
    Path("d").chmod(0o555)
    try:
        assert main([*SMALL, "-noisefile", "d/noise.img"]) == 1
    finally:
        Path("d").chmod(0o755)
    assert "-noisefile d/noise.img: no permission to write in the folder d" in \
        capsys.readouterr().err
    assert listing(Path.cwd()) == here


def test_a_failing_rename_leaves_the_earlier_files(engine, here, monkeypatch, capsys):
    """The third file's rename (the PGM's) fails: the two before are undone, the earlier
    float image is back, and the message names the user's file."""
    from nanobragg.cli.main import main

    real_replace = os.replace
    renamed = []

    def replace(source, target):
        if Path(source).name.endswith(".tmp") and Path(target).name in EVERY_FILE:
            renamed.append(target)
            if len(renamed) == 3:
                raise OSError(errno.EIO, "Input/output error")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    assert main([*SMALL, "-backend", engine]) == 1
    monkeypatch.setattr(os, "replace", real_replace)
    assert capsys.readouterr().err == "nanoBragg: -pgmfile image.pgm: Input/output error\n"
    assert listing(Path.cwd()) == here


@pytest.mark.parametrize("where", ["render", "writing"])
def test_ctrl_c_leaves_no_file(engine, here, monkeypatch, capsys, where):
    """Ctrl-C in the render (from the progress callback) or while the files are made:
    exit status 130, one line, no file and no temporary."""
    import nanobragg.writers
    from nanobragg.cli import main as command
    from nanobragg.cli import nanobragg_command

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    if where == "render":
        monkeypatch.setattr(nanobragg_command, "terminal_progress", lambda wanted: interrupt)
    else:
        monkeypatch.setattr(nanobragg.writers, "noise_image_bytes", interrupt)
    flags = [flag for flag in SMALL if flag != "-noprogress"]
    assert command.main([*flags, "-detpixels", "64", "-backend", engine]) == 130
    assert capsys.readouterr().err == "nanoBragg: interrupted\n"
    assert listing(Path.cwd()) == here


def test_the_structure_factor_cache_is_one_of_the_outputs(here, capsys):
    from nanobragg.cli.main import main

    write_hkl(Path("P1.hkl"))
    before = listing(Path.cwd())
    # a run that fails writes no cache either
    assert main([*SMALL, "-hkl", "P1.hkl", "-noisefile", "d"]) == 1
    assert listing(Path.cwd()) == before
    # nor one whose cache is named as another output
    assert main([*SMALL, "-hkl", "P1.hkl", "-intfile", "Fdump.bin"]) == 1
    assert "-dump Fdump.bin and -intfile Fdump.bin name the same file" in capsys.readouterr().err
    assert listing(Path.cwd()) == before
    # a cache that cannot be written is a warning, as in the original
    assert main([*SMALL, "-hkl", "P1.hkl", "-dump", "nodir/Fdump.bin"]) == 0
    assert "WARNING: unable to open dump file: nodir/Fdump.bin\n" in capsys.readouterr().out
    assert set(listing(Path.cwd())) == set(before) | EVERY_FILE
    assert main([*SMALL, "-hkl", "P1.hkl"]) == 0
    assert "writing dump file for next time: Fdump.bin\n" in capsys.readouterr().out
    assert set(listing(Path.cwd())) == set(before) | EVERY_FILE | {"Fdump.bin"}


@pytest.mark.parametrize("flags", [[], ["-twotheta", "20", "-phi", "10", "-osc", "3"],
                                   ["-pixel", "1e-7", "-distance", "1e-5", "-lambda", "1.7"],
                                   ["-dials", "-detector_rotx", "5"]],
                         ids=["default", "twotheta-phi", "tiny", "dials-rotated"])
def test_the_header_checked_before_the_render_is_the_one_written(engine, tmp_path,
                                                                 monkeypatch, flags):
    """The check builds the header from the geometry of the set-up stages, run before the
    render: byte for byte the header of the file written after it."""
    from nanobragg.cli.main import main
    from nanobragg.engines import Route
    from nanobragg.flags import parse_command_line
    from nanobragg.io import format_smv_header
    from nanobragg.sampling import resolve_sampling
    from nanobragg.stages import to_numpy
    from nanobragg.stages.geometry import detector_spec
    from nanobragg.writers import smv_fields

    monkeypatch.chdir(tmp_path)
    args = [*SMALL, *flags, "-backend", engine]
    assert main(args) == 0
    command = parse_command_line(args)
    geometry = Route(engine)["detector_geometry"].detector_geometry(
        detector_spec(command.config, c_parity=False))
    fields = smv_fields(command.config, to_numpy(geometry),
                        resolve_sampling(command.config, c_parity=False))
    assert (tmp_path / "intimage.img").read_bytes()[:512] == format_smv_header(fields)


# --- nb-compare ------------------------------------------------------------------------------

COMPARE_ARGS = ["--no-png", "--", "-detpixels", "16", "-pixel", "0.1", "-distance", "50",
                "-cell", "30", "30", "30", "90", "90", "90", "-N", "3", "-lambda", "1",
                "-default_F", "100", "-oversample", "1"]


def no_runs(monkeypatch) -> None:
    from nanobragg.compare.runners import Runner

    def run(self):
        raise AssertionError("ran")

    monkeypatch.setattr(Runner, "run", run)


@pytest.mark.parametrize(("out", "message"), [
    ("f", "--out f: f/a.bin: f is a file, not a folder"),
    ("f/cmp", "--out f/cmp: f/cmp/a.bin: f is a file, not a folder"),
    ("cmp", "--out cmp: cmp/summary.json: is a folder"),
])
def test_compare_checks_its_folder_before_the_runs(here, monkeypatch, capsys, out, message):
    from nanobragg.cli.compare import EXIT_USAGE, main

    Path("cmp").mkdir()
    Path("cmp/summary.json").mkdir()
    before = listing(Path.cwd())
    no_runs(monkeypatch)
    assert main(["--out", out, *COMPARE_ARGS]) == EXIT_USAGE
    assert capsys.readouterr().err == f"nb-compare: {message}\n"
    assert listing(Path.cwd()) == before


def test_compare_writing_fails_as_a_whole(here, monkeypatch, capsys):
    """The summary's rename fails: the earlier comparison is there as it was, and no new
    folder or temporary is left."""
    from nanobragg.cli.compare import EXIT_OK, EXIT_USAGE, main

    assert main(["--out", "cmp", "--trace", "1", "1", *COMPARE_ARGS]) == EXIT_OK
    capsys.readouterr()
    before = listing(Path.cwd())
    real_replace = os.replace

    def replace(source, target):
        if Path(target).name == "summary.json":
            raise OSError(errno.ENOSPC, "No space left on device")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    for out in ("cmp", "new/cmp"):
        assert main(["--out", out, *COMPARE_ARGS]) == EXIT_USAGE
        assert capsys.readouterr().err == (f"nb-compare: --out {out}: {out}/summary.json: No "
                                           "space left on device; nothing written\n")
        assert listing(Path.cwd()) == before
