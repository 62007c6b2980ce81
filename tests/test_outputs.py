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
    real_link = os.link
    monkeypatch.setattr(os, "link", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        outputs.commit()
    monkeypatch.setattr(os, "link", real_link)
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
