"""Tests of nanobragg.io.fdump (the binary Fdump.bin structure-factor cache)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from conftest import GOLDEN
from nanobragg.io import FormatError, StructureFactors, read_fdump, read_hkl, write_fdump
from nanobragg.io.fdump import fdump_bytes

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WHITESPACE = b" \t\n\v\f\r"


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fdump")


def golden_default_F(args: Path) -> float:
    lines = args.read_text().split("\n")
    return float(lines[lines.index("-default_F") + 1]) if "-default_F" in lines else 0.0


def test_write_matches_golden_fdump_write(tmp_path: Path) -> None:
    """read_hkl (parity) + write_fdump reproduce the original's Fdump.bin byte for byte."""
    args = GOLDEN / "cases/fdump_write/args.txt"
    lines = args.read_text().split("\n")
    hkl_name = lines[lines.index("-hkl") + 1]
    assert hkl_name == "small.hkl"
    hkl = GOLDEN / f"inputs/{hkl_name}"
    golden = GOLDEN / "cases/fdump_write/Fdump.bin"
    sf = read_hkl(hkl, c_parity=True, default_F=golden_default_F(args))
    out = tmp_path / "Fdump.bin"
    write_fdump(out, sf)
    assert out.read_bytes() == golden.read_bytes()
    assert fdump_bytes(sf) == golden.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["Fdump.bin"]  # no temporary left


def test_read_golden_fdump_reuse() -> None:
    dump = GOLDEN / "cases/fdump_reuse/extra_inputs/Fdump.bin"
    sf = read_fdump(dump)
    assert sf.hkl_min == (-4, -4, -4)
    assert sf.hkl_max == (4, 4, 4)
    assert sf.count == 729
    assert sf.values.shape == (9, 9, 9)
    assert sf.values.dtype == np.float64
    assert sf.values.flags.c_contiguous
    hkl = read_hkl(GOLDEN / "inputs/small.hkl")
    np.testing.assert_array_equal(sf.values, hkl.values)
    np.testing.assert_array_equal(read_fdump(dump, c_parity=False).values, hkl.values)
    # the file's padding slots are zero, as the original leaves them
    raw = dump.read_bytes()
    grid = np.frombuffer(raw[raw.index(b"\f") + 1 :], "<f8").reshape(10, 10, 10)
    assert not grid[9].any()
    assert not grid[:, 9].any()
    assert not grid[:, :, 9].any()


def test_also_golden_reuse_file_when_available() -> None:
    reuse = GOLDEN / "cases" / "fdump_reuse" / "extra_inputs" / "Fdump.bin"
    if not reuse.exists():
        pytest.skip("golden corpus not available")
    sf = read_fdump(reuse)
    assert fdump_bytes(sf) == reuse.read_bytes()


def test_layout_and_padding(tmp_path: Path) -> None:
    values = np.arange(2 * 3 * 4, dtype=np.float64).reshape(2, 3, 4) + 0.25
    sf = StructureFactors((-1, 0, 5), (0, 2, 8), values, 7)
    path = tmp_path / "F.bin"
    write_fdump(path, sf)
    raw = path.read_bytes()
    header = b"-1 0 0 2 5 8\n\f"
    assert raw.startswith(header)
    assert len(raw) == len(header) + 8 * 3 * 4 * 5
    grid = np.frombuffer(raw[len(header) :], "<f8").reshape(3, 4, 5)
    np.testing.assert_array_equal(grid[:2, :3, :4], values)
    assert grid.sum() == values.sum()  # all padding is zero
    back = read_fdump(path)
    assert (back.hkl_min, back.hkl_max, back.count) == ((-1, 0, 5), (0, 2, 8), 24)
    np.testing.assert_array_equal(back.values, values)


def test_nonzero_padding_is_dropped(tmp_path: Path) -> None:
    grid = np.full((2, 2, 3), 9.0)
    grid[0, 0, :2] = [1.0, 2.0]
    path = tmp_path / "F.bin"
    path.write_bytes(b"0 0 0 0 3 4\n\f" + grid.astype("<f8").tobytes())
    sf = read_fdump(path)
    assert sf.values.shape == (1, 1, 2)
    assert sf.values.ravel().tolist() == [1.0, 2.0]


def test_whitespace_quirk_reproduced(tmp_path: Path) -> None:
    """A first amplitude whose low byte is whitespace gets skipped, as by the original."""
    first = struct.unpack("<d", struct.pack("<Q", 0x3FF0000000000009))[0]
    assert first == 1.000000000000002
    sf = StructureFactors((0, 0, 0), (0, 0, 1), np.array([[[first, 5.0]]]), 2)
    path = tmp_path / "F.bin"
    write_fdump(path, sf)
    raw = path.read_bytes()
    data = raw[raw.index(b"\f") + 1 :]
    shifted = np.frombuffer(data[1:] + b"\0", "<f8")  # what C's fread gets
    parity = read_fdump(path)
    np.testing.assert_array_equal(parity.values.ravel(), shifted[:2])
    assert parity.values[0, 0, 0] != first
    exact = read_fdump(path, c_parity=False)
    np.testing.assert_array_equal(exact.values, sf.values)


def test_header_whitespace_variants(tmp_path: Path) -> None:
    payload = np.arange(8, dtype="<f8").tobytes()
    for header in (b"0 0 0 0 0 0\n\f", b"  0\t0 0\n0 0 0 \n\n\f\f ", b"+0 -0 0 0 0 0\n"):
        path = tmp_path / "F.bin"
        path.write_bytes(header + payload)
        sf = read_fdump(path)
        assert sf.values.shape == (1, 1, 1)
        assert sf.values[0, 0, 0] == 0.0
    with pytest.raises(FormatError, match=r"'\\n\\f'"):
        read_fdump(path, c_parity=False)


@pytest.mark.parametrize(
    ("content", "match", "offset"),
    [
        (b"", "h_min", 0),
        (b"0 0 0 0 0\n\f", "l_max", 11),
        (b"0 0 x 0 0 0\n\f", "k_min", 4),
        (b"0 -1 0 0 0 0\n\f", "empty index range", 0),
        (b"0 0 0 0 0 0\n\f" + bytes(63), "truncated", 76),
        (b"0 1 0 1 0 1\n\f" + bytes(8 * 27 - 1), "truncated", None),
        (b"0 100000 0 100000 0 100000\n\f", "limit", 0),
    ],
)
def test_malformed_files(tmp_path: Path, content: bytes, match: str, offset: int | None) -> None:
    path = tmp_path / "F.bin"
    path.write_bytes(content)
    with pytest.raises(FormatError, match=match) as info:
        read_fdump(path)
    assert info.value.path == str(path)
    assert str(path) in str(info.value)
    if offset is not None:
        assert info.value.offset == offset


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        read_fdump(tmp_path / "Fdump.bin")
    assert info.value.filename == str(tmp_path / "Fdump.bin")


def test_failed_write_leaves_old_file(tmp_path: Path) -> None:
    path = tmp_path / "Fdump.bin"
    path.write_bytes(b"old")

    class Broken(StructureFactors):
        @property
        def ranges(self) -> tuple[int, int, int]:
            raise RuntimeError("boom")

    broken = Broken((0, 0, 0), (0, 0, 0), np.zeros((1, 1, 1)), 1)
    with pytest.raises(RuntimeError):
        write_fdump(path, broken)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["Fdump.bin"]


GRIDS = st.tuples(st.integers(-5, 5), st.integers(-5, 5), st.integers(-5, 5)).flatmap(
    lambda lo: st.tuples(
        st.just(lo),
        hnp.arrays(
            np.float64,
            st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4)),
            elements=st.floats(allow_nan=False, width=64),
        ),
    )
)


@FUZZ
@given(grid=GRIDS)
def test_round_trip(scratch: Path, grid: tuple[tuple[int, int, int], np.ndarray]) -> None:
    lo, values = grid
    hi = tuple(a + n - 1 for a, n in zip(lo, values.shape, strict=True))
    sf = StructureFactors(lo, hi, values, values.size)
    path = scratch / "rt.bin"
    write_fdump(path, sf)
    exact = read_fdump(path, c_parity=False)
    assert (exact.hkl_min, exact.hkl_max, exact.count) == (sf.hkl_min, sf.hkl_max, values.size)
    np.testing.assert_array_equal(exact.values, values)
    if values.tobytes()[:1] not in [bytes([c]) for c in WHITESPACE]:
        np.testing.assert_array_equal(read_fdump(path).values, values)


@FUZZ
@given(
    content=st.binary(max_size=300)
    | st.builds(
        lambda h, tail: h.encode() + tail,
        st.lists(st.integers(-3, 3).map(str), min_size=6, max_size=6).map(" ".join),
        st.binary(max_size=600),
    )
)
def test_garbage_gives_format_error_or_grid(scratch: Path, content: bytes) -> None:
    path = scratch / "fuzz.bin"
    path.write_bytes(content)
    for c_parity in (True, False):
        try:
            sf = read_fdump(path, c_parity=c_parity)
        except FormatError:
            continue
        assert sf.values.shape == sf.ranges
        assert sf.count == sf.values.size
