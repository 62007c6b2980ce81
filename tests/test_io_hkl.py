"""Tests of nanobragg.io.hkl (text HKL files) and of the C number-parsing emulation."""

from __future__ import annotations

import ctypes
import math
import pickle
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import GOLDEN
from nanobragg.io import FormatError, HKLWarning, StructureFactors, _cscan, read_hkl
from nanobragg.io.hkl import _parity_bounds, _read_parity

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hkl")


def write(folder: Path, content: bytes | str, name: str = "t.hkl") -> Path:
    path = folder / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def stored(sf: StructureFactors, default: float) -> dict[tuple[int, int, int], float]:
    """The cells that differ from ``default``, keyed by (h, k, l)."""
    out = {}
    for index in np.argwhere(sf.values != default):
        hkl = tuple(int(i) + int(o) for i, o in zip(index, sf.hkl_min, strict=True))
        out[hkl] = float(sf.values[tuple(index)])
    return out


def read_parity(path: Path, default_F: float = 0.0) -> tuple[StructureFactors, list[str]]:
    messages: list[str] = []
    sf = read_hkl(path, c_parity=True, default_F=default_F, warn=messages.append)
    return sf, messages


# ---------------------------------------------------------------- line-based mode


def test_small_hkl_line_mode() -> None:
    path = GOLDEN / "inputs/small.hkl"
    sf = read_hkl(path)
    assert sf.hkl_min == (-4, -4, -4)
    assert sf.hkl_max == (4, 4, 4)
    assert sf.values.shape == (9, 9, 9)
    assert sf.count == 729
    assert sf.values.dtype == np.float64
    assert sf.values.flags.c_contiguous
    first = path.read_text().split()
    h, k, l_, f = (float(v) for v in first[:4])
    assert sf.get(int(h), int(k), int(l_)) == f
    for line in path.read_text().splitlines()[::37]:
        h, k, l_, f = line.split()[:4]
        assert sf.get(int(h), int(k), int(l_)) == float(f)


def test_sparse_default_F() -> None:
    path = GOLDEN / "inputs/sparse.hkl"
    listed = {tuple(int(v) for v in line.split()[:3]) for line in path.read_text().splitlines()}
    sf = read_hkl(path, default_F=3.5)
    assert sf.count == len(listed)
    missing = [
        (h, k, l_)
        for h in range(sf.hkl_min[0], sf.hkl_max[0] + 1)
        for k in range(sf.hkl_min[1], sf.hkl_max[1] + 1)
        for l_ in range(sf.hkl_min[2], sf.hkl_max[2] + 1)
        if (h, k, l_) not in listed
    ]
    assert missing
    assert all(sf.get(*hkl) == 3.5 for hkl in missing)
    assert np.count_nonzero(read_hkl(path).values == 0.0) >= len(missing)


def test_extra_columns_line_mode() -> None:
    path = GOLDEN / "inputs/phases.hkl"
    sf = read_hkl(path, default_F=20)
    assert sf.count == 125
    assert sf.hkl_min == (-2, -2, -2)
    assert sf.hkl_max == (2, 2, 2)
    assert sf.get(-2, -2, -2) == 2.04
    assert sf.get(-2, -2, -1) == 8.51


def test_line_mode_details(scratch: Path) -> None:
    text = "\n  \n1 2 3 4.5\r\n-1 0 +2 1e2 extra junk\n\n1 2 3 7\n"
    sf = read_hkl(write(scratch, text), default_F=-1)
    assert sf.count == 3  # the duplicate counts, and keeps its last value
    assert sf.get(1, 2, 3) == 7.0
    assert sf.get(-1, 0, 2) == 100.0
    assert sf.get(0, 1, 2) == -1.0
    assert sf.get(0, 0, 0) == 0.0
    assert sf.get(9, 9, 9, default=5.0) == 5.0
    assert sf.contains(0, 1, 3)
    assert not sf.contains(2, 2, 3)


def test_line_mode_non_integer_index_warns_and_rounds(scratch: Path) -> None:
    path = write(scratch, "1.5 -2.5 0.2 1\n0 0 0 2\n")
    with pytest.warns(HKLWarning, match="line 1") as record:
        sf = read_hkl(path)
    assert len(record) == 3
    assert sf.hkl_min == (0, -3, 0)
    assert sf.hkl_max == (2, 0, 0)
    assert sf.get(2, -3, 0) == 1.0
    messages: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_hkl(path, warn=messages.append)
    assert len(messages) == 3
    assert "rounded to 2" in messages[0]


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("1 2 3 4\n1 2 3\n", 2, "at least 4"),
        ("1 2 3 4\n\n1 two 3 4\n", 3, "for k"),
        ("1 2 3 0x10\n", 1, "for F"),
        ("inf 2 3 4\n", 1, "finite"),
        ("1 2 nan 4\n", 1, "finite"),
    ],
)
def test_line_mode_errors_name_the_line(scratch: Path, text: str, line: int, what: str) -> None:
    path = write(scratch, text)
    with pytest.raises(FormatError, match=what) as info:
        read_hkl(path)
    assert info.value.line == line
    assert info.value.path == str(path)
    assert f"line {line}" in str(info.value)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("c_parity", [False, True])
def test_empty_files_are_errors(scratch: Path, c_parity: bool) -> None:
    for text in ("", "\n \n\t\n", "1 2 3\n"):
        with pytest.raises(FormatError):
            read_hkl(write(scratch, text), c_parity=c_parity)


@pytest.mark.parametrize("c_parity", [False, True])
def test_missing_file(tmp_path: Path, c_parity: bool) -> None:
    path = tmp_path / "nope.hkl"
    with pytest.raises(FileNotFoundError) as info:
        read_hkl(path, c_parity=c_parity)
    assert isinstance(info.value, OSError)
    assert info.value.filename == str(path)


@pytest.mark.parametrize("c_parity", [False, True])
def test_grid_size_limit(scratch: Path, c_parity: bool) -> None:
    path = write(scratch, "-1000 -1000 -1000 1\n1000 1000 1000 2\n")
    with pytest.raises(FormatError, match=r"h -1000\.\.1000"):
        read_hkl(path, c_parity=c_parity)
    with pytest.raises(FormatError, match="limit of 100"):
        read_hkl(write(scratch, "0 0 0 1\n4 4 4 1\n"), c_parity=c_parity, max_cells=100)
    assert read_hkl(write(scratch, "0 0 0 1\n4 4 3 1\n"), c_parity=c_parity, max_cells=100)


# ---------------------------------------------------------------- parity mode


def test_parity_small_matches_line_mode() -> None:
    path = GOLDEN / "inputs/small.hkl"
    sf, messages = read_parity(path)
    assert messages == []
    line = read_hkl(path)
    assert sf.hkl_min == line.hkl_min
    assert sf.hkl_max == line.hkl_max
    assert sf.count == 729
    np.testing.assert_array_equal(sf.values, line.values)


def test_parity_hkl_extra_columns_golden() -> None:
    """The six-column file of golden case hkl_extra_columns, read like the original."""
    path = GOLDEN / "inputs/phases.hkl"
    sf, messages = read_parity(path, default_F=20)
    assert sf.count == 187  # stdout: "187 initialized hkls (all others =20)"
    assert sf.hkl_min == (-168, -2, -177)
    assert sf.hkl_max == (172, 29, 177)
    assert stored(sf, 20.0) == {(-2, -2, -2): 2.04}
    golden = GOLDEN / "cases/hkl_extra_columns/stdout.txt"
    expected = [
        line for line in golden.read_text().splitlines() if line.startswith("WARNING: non-int")
    ]
    assert len(expected) == 234
    assert messages == expected


def test_parity_warnings_go_to_warnings_module(scratch: Path) -> None:
    path = write(scratch, "0 0 0 1\n1.5 0 0 2\n")
    with pytest.warns(HKLWarning, match=r"non-integer value for h \(1\.5\) at line 1"):
        read_hkl(path, c_parity=True)


# Each case was checked against the compiled original (its Fdump.bin and stdout).
PARITY_CASES = [
    # line breaks do not matter: numbers are taken four at a time
    ("stream", b"1 2\n3 4\n5 6 7 8\n", 2, (1, 2, 3), (5, 6, 7), {(1, 2, 3): 4.0, (5, 6, 7): 8.0}),
    # %d stops at '.', the next %d fails: the second pass ends at the 1.5
    ("h_fraction", b"0 0 0 1\n1.5 0 0 2\n1 1 1 3\n", 3, (0, 0, 0), (1, 1, 1), {(0, 0, 0): 1.0}),
    # 2.5 in the l position: %d reads 2, %lg reads .5, the rest is read out of step
    (
        "misaligned",
        b"0 0 0 1\n0 0 2.5 0\n0 1 9\n",
        2,
        (0, 0, 0),
        (0, 0, 2),
        {(0, 0, 0): 1.0, (0, 0, 2): 0.5, (0, 0, 1): 9.0},
    ),
    # %lg collects "1e+" and converts its "1"
    (
        "exponent_tail",
        b"0 0 0 1e+ 1 1 1 2\n",
        2,
        (0, 0, 0),
        (1, 1, 1),
        {(0, 0, 0): 1.0, (1, 1, 1): 2.0},
    ),
    (
        "partial_group",
        b"0 0 0 1\n1 1 1 2\n5 5\n",
        2,
        (0, 0, 0),
        (1, 1, 1),
        {(0, 0, 0): 1.0, (1, 1, 1): 2.0},
    ),
    (
        "hex_F",
        b"0 0 0 0x1p1\n1 1 1 -0x.8\n",
        2,
        (0, 0, 0),
        (1, 1, 1),
        {(0, 0, 0): 2.0, (1, 1, 1): -0.5},
    ),
    # 1e1 counts as h = 10 but %d reads 1 and fails on "e1"
    ("exp_index", b"0 0 0 1\n1e1 1 1 2\n1 1 1 3\n", 3, (0, 0, 0), (10, 1, 1), {(0, 0, 0): 1.0}),
    # six integer columns: groups (0 0 0 5) (9 9 1 1) (1 6 9 9)
    (
        "extra_int_columns",
        b"0 0 0 5 9 9\n1 1 1 6 9 9\n",
        3,
        (0, 0, 0),
        (9, 9, 9),
        {(0, 0, 0): 5.0, (9, 9, 1): 1.0, (1, 6, 9): 9.0},
    ),
    # -0.5 truncates to 0 for the range; %d reads "-0" and fails on ".5"
    ("negative_half", b"-0.5 0 0 1\n2 0 0 2\n", 2, (0, 0, 0), (2, 0, 0), {}),
    ("sign_alone", b"0 0 0 1\n1 1 1 - 2 2 2 2\n", 1, (0, 0, 0), (0, 0, 0), {(0, 0, 0): 1.0}),
    # "1.2.3" reads as 1.2 then .3
    ("two_dots", b"0 0 0 1.2.3 1 1 1\n", 2, (0, 0, 0), (0, 1, 1), {(0, 0, 0): 1.2}),
    ("signs", b"+1 +0 -0 +4\n", 1, (1, 0, 0), (1, 0, 0), {(1, 0, 0): 4.0}),
    # "infx": %lg reads inf, the x stops the next group
    (
        "infx",
        b"0 0 0 1 1 1 1 infx 2 2 2 2\n",
        2,
        (0, 0, 0),
        (1, 1, 1),
        {(0, 0, 0): 1.0, (1, 1, 1): math.inf},
    ),
    (
        "nul_byte",
        b"0 0 0 1\n1 1 1 2\x00 3 3 3 3\n",
        2,
        (0, 0, 0),
        (1, 1, 1),
        {(0, 0, 0): 1.0, (1, 1, 1): 2.0},
    ),
    (
        "c_whitespace",
        b"\f0\v0\t0\r1 \n\n 1 1 1 2",
        2,
        (0, 0, 0),
        (1, 1, 1),
        {(0, 0, 0): 1.0, (1, 1, 1): 2.0},
    ),
    (
        "duplicate",
        b"0 0 0 1\n0 0 0 2\n1 1 1 3\n",
        3,
        (0, 0, 0),
        (1, 1, 1),
        {(0, 0, 0): 2.0, (1, 1, 1): 3.0},
    ),
    # 5000 leading zeros still make the integer 1
    (
        "long_zeros",
        b"0 0 0 1\n" + b"0" * 5000 + b"1 1 1 2\n",
        2,
        (0, 0, 0),
        (1, 1, 1),
        {(0, 0, 0): 1.0, (1, 1, 1): 2.0},
    ),
    # inf sets h_max to INT_MIN (x86 conversion), a later 1 puts it back; %d fails on inf
    ("inf_index", b"0 0 0 1\ninf 1 1 2\n1 1 1 3\n", 3, (0, 0, 0), (1, 1, 1), {(0, 0, 0): 1.0}),
    ("nan_index", b"0 0 0 1\nnan 1 1 2\n1 1 1 3\n", 3, (0, 0, 0), (1, 1, 1), {(0, 0, 0): 1.0}),
]


@pytest.mark.parametrize(
    ("name", "content", "count", "lo", "hi", "cells"),
    PARITY_CASES,
    ids=[c[0] for c in PARITY_CASES],
)
def test_parity_stream_semantics(
    scratch: Path,
    name: str,
    content: bytes,
    count: int,
    lo: tuple[int, int, int],
    hi: tuple[int, int, int],
    cells: dict[tuple[int, int, int], float],
) -> None:
    sf, _ = read_parity(write(scratch, content), default_F=7.0)
    assert (sf.count, sf.hkl_min, sf.hkl_max) == (count, lo, hi)
    assert stored(sf, 7.0) == cells
    # the exact scanner and the vectorised path agree
    slow = _read_parity("t", content, 7.0, lambda m: None, 2**20, fast=False)
    np.testing.assert_array_equal(slow.values, sf.values)


def test_parity_special_F_values(scratch: Path) -> None:
    sf, _ = read_parity(write(scratch, b"0 0 0 inf\n1 1 1 nan\n2 2 2 -Infinity\n"))
    assert sf.get(0, 0, 0) == math.inf
    assert math.isnan(sf.get(1, 1, 1))
    assert sf.get(2, 2, 2) == -math.inf
    assert sf.get(1, 0, 0) == 0.0


def test_parity_warning_text(scratch: Path) -> None:
    _, messages = read_parity(write(scratch, b"-0.5 0 0 1\nnan 1 2.6 2\n"))
    assert messages == [
        "WARNING: non-integer value for h (-0.5) at line 0",
        "WARNING: non-integer value for h (nan) at line 1",
        "WARNING: non-integer value for l (2.6) at line 1",
    ]


@pytest.mark.parametrize(
    "content",
    [
        b"0 0 0 1\n4294967297 0 0 2\n",  # converts to INT_MIN: the h range is negative
        b"nan 0 0 1\n",  # no h ever updates the running minimum or maximum
        b"0 0 0 1\n-inf 0 0 1\n",
    ],
)
def test_parity_unusable_ranges(scratch: Path, content: bytes) -> None:
    with pytest.raises(FormatError, match=r"HKL indices|grid cells"):
        read_parity(write(scratch, content))


def test_structure_factors_validation() -> None:
    with pytest.raises(ValueError, match="shape"):
        StructureFactors((0, 0, 0), (1, 1, 1), np.zeros((2, 2, 3)), 1)
    with pytest.raises(ValueError, match="empty"):
        StructureFactors((0, 0, 0), (-1, 1, 1), np.zeros((0, 2, 2)), 1)
    sf = StructureFactors((0, 0, 0), (1, 1, 1), np.arange(8).reshape(2, 2, 2), 8)
    assert sf.values.dtype == np.float64
    assert sf.ranges == (2, 2, 2)
    assert sf.get(1, 1, 1) == 7.0
    assert sf.hkl_min == (0, 0, 0)
    assert isinstance(sf.hkl_min[0], int)


def test_format_error_attributes_and_pickling() -> None:
    err = FormatError("f.hkl", "expected x", line=3)
    assert str(err) == "f.hkl: line 3: expected x"
    assert isinstance(err, ValueError)
    err2 = pickle.loads(pickle.dumps(FormatError("f.bin", "short", offset=9)))
    assert (err2.path, err2.reason, err2.offset, err2.line) == ("f.bin", "short", 9, None)


# ---------------------------------------------------------------- property tests

TOKENS = st.sampled_from(
    [
        "0", "1", "-2", "+3", "12", "1.5", "-0.5", ".5", "5.", "1e1", "2E-1", "1e", "1e+",
        "-", "+", ".", "nan", "NaN", "inf", "-Infinity", "infx", "in", "0x1p3", "0x", "0x.",
        "1.2.3", "x", "00012", "99999999999", "-2147483649", "1" * 30, "\x00", "#",
    ]
)  # fmt: skip
SEPARATORS = st.sampled_from([" ", " ", "\n", "\t", "", "\r\n", "\f", "\v", "  "])
STREAMS = st.lists(st.tuples(TOKENS | st.integers(-4, 4).map(str), SEPARATORS), max_size=40).map(
    lambda parts: "".join(a + b for a, b in parts).encode("latin-1")
)
CLEAN_STREAMS = st.lists(
    st.tuples(
        st.integers(-3, 3).map(str)
        | st.sampled_from(["1.5", "-0.5", ".5", "5.", "1e0", "2E-1", "+1", "-0", "007"]),
        st.sampled_from([" ", "\n", "\t", "  \n"]),
    ),
    max_size=40,
).map(lambda parts: "".join(a + b for a, b in parts).encode())


@FUZZ
@given(content=st.binary(max_size=200) | STREAMS)
def test_readers_never_crash_on_garbage(scratch: Path, content: bytes) -> None:
    path = write(scratch, content, "fuzz.hkl")
    for c_parity in (False, True):
        try:
            sf = read_hkl(path, c_parity=c_parity, warn=lambda m: None, max_cells=10**6)
        except FormatError:
            continue
        assert sf.values.shape == sf.ranges
        assert sf.count >= 1


@FUZZ
@given(content=CLEAN_STREAMS | STREAMS)
def test_fast_and_exact_parity_paths_agree(content: bytes) -> None:
    results = []
    for fast in (True, False):
        messages: list[str] = []
        try:
            sf = _read_parity("t", content, 7.0, messages.append, 10**6, fast=fast)
        except FormatError as err:
            results.append(("error", str(err), messages))
        else:
            results.append((sf.hkl_min, sf.hkl_max, sf.count, sf.values.tobytes(), messages))
    assert results[0] == results[1]


@FUZZ
@given(
    st.lists(
        st.tuples(
            *[
                st.floats(-50, 50)
                | st.integers(-50, 50).map(float)
                | st.floats(-3e9, 3e9)
                | st.sampled_from([math.nan, math.inf, -math.inf, 1e9, -1e9, 2.0**31, -(2.0**31)])
            ]
            * 3
        ),
        min_size=1,
        max_size=20,
    )
)
def test_parity_bounds_closed_form_matches_running_min_max(rows: list[tuple[float, ...]]) -> None:
    indices = np.array(rows, dtype=np.float64)
    lo = [1_000_000_000] * 3
    hi = [-1_000_000_000] * 3
    for row in rows:  # the original's loop
        for axis in range(3):
            if lo[axis] > row[axis]:
                lo[axis] = _cscan.c_double_to_int(row[axis])
            if hi[axis] < row[axis]:
                hi[axis] = _cscan.c_double_to_int(row[axis])
    assert _parity_bounds(indices) == (lo, hi)


# ---------------------------------------------------------------- glibc differential tests


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    if not hasattr(libc, "gnu_get_libc_version"):
        return None
    libc.fopen.restype = ctypes.c_void_p
    libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    libc.fscanf.restype = ctypes.c_int
    libc.strtod.restype = ctypes.c_double
    libc.strtod.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
    return libc


LIBC = _glibc()
needs_glibc = pytest.mark.skipif(LIBC is None, reason="needs GNU libc to compare with")


def _same_numbers(a: list[list[float | int]], b: list[list[float | int]]) -> bool:
    if len(a) != len(b):
        return False
    for row_a, row_b in zip(a, b, strict=True):
        for x, y in zip(row_a, row_b, strict=True):
            if isinstance(x, float) and math.isnan(x):
                if not (isinstance(y, float) and math.isnan(y)):
                    return False
            elif x != y or math.copysign(1, x) != math.copysign(1, y):
                return False
    return True


def _glibc_groups(path: Path, kinds: str) -> list[list[float | int]]:
    assert LIBC is not None
    fmt = "".join("%d" if k == "d" else "%lg" for k in kinds).encode()
    handle = LIBC.fopen(str(path).encode(), b"r")
    assert handle
    groups: list[list[float | int]] = []
    try:
        while True:
            slots = [ctypes.c_int() if k == "d" else ctypes.c_double() for k in kinds]
            got = LIBC.fscanf(ctypes.c_void_p(handle), fmt, *[ctypes.byref(s) for s in slots])
            if got != len(kinds):
                return groups
            groups.append([s.value for s in slots])
    finally:
        LIBC.fclose(handle)


def _our_groups(data: bytes, kinds: str) -> list[list[float | int]]:
    groups = []
    pos = 0
    while (got := _cscan.scan_group(data, pos, kinds)) is not None:
        groups.append(got[0])
        pos = got[1]
    return groups


@needs_glibc
@FUZZ
@given(content=STREAMS | st.binary(max_size=60).map(lambda b: bytes(c & 0x7F for c in b)))
def test_scanf_emulation_matches_glibc(scratch: Path, content: bytes) -> None:
    path = write(scratch, content, "scanf.txt")
    for kinds in ("gggg", "dddg", "g", "d", "ggg"):
        assert _same_numbers(_glibc_groups(path, kinds), _our_groups(content, kinds)), kinds


@needs_glibc
@FUZZ
@given(content=STREAMS | st.binary(max_size=40).map(lambda b: bytes(c & 0x7F for c in b)))
def test_strtod_emulation_matches_glibc(content: bytes) -> None:
    assert LIBC is not None
    text = content.split(b"\0")[0]
    buffer = ctypes.create_string_buffer(text)
    end = ctypes.c_void_p()
    value = LIBC.strtod(ctypes.addressof(buffer), ctypes.byref(end))
    used = (end.value or ctypes.addressof(buffer)) - ctypes.addressof(buffer)
    ours, our_end = _cscan.strtod(text, 0)
    assert our_end == used
    assert _same_numbers([[value]], [[ours]])


def test_scan_int_saturation_and_wrap() -> None:
    assert _cscan.scan_int(b" -12x", 0) == (-12, 4)
    assert _cscan.scan_int(b"4294967297", 0) == (1, 10)  # low 32 bits
    assert _cscan.scan_int(b"2147483648", 0) == (-(2**31), 10)
    assert _cscan.scan_int(b"99999999999999999999", 0) == (-1, 20)  # LONG_MAX -> -1
    assert _cscan.scan_int(b"-", 0) is None
    assert _cscan.scan_int(b"  ", 0) is None
    assert _cscan.c_double_to_int(-2.9) == -2
    assert _cscan.c_double_to_int(3e9) == -(2**31)
    assert _cscan.c_double_to_int(math.nan) == -(2**31)


def test_scan_double_cases() -> None:
    cases = {
        b"1e+ 5": (1.0, 3),
        b"  -.5e1x": (-5.0, 7),
        b"0x1.8p1": (3.0, 7),
        b"0x.": (0.0, 3),
        b"infinity": (math.inf, 8),
        b"-INF ": (-math.inf, 4),
        b"1.2.3": (1.2, 3),
    }
    for text, expected in cases.items():
        assert _cscan.scan_double(text, 0) == expected, text
    for text in (b"", b" \n", b".", b"-", b"+ 1", b"0x", b"0xg", b"na", b"infin", b"e5", b"x"):
        assert _cscan.scan_double(text, 0) is None, text
    value, end = _cscan.scan_double(b"nan(1)", 0)  # type: ignore[misc]
    assert math.isnan(value)
    assert end == 3
