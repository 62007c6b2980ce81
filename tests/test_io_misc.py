"""Tests of the smaller nanobragg.io formats: matrix, source file, PGM, raw float; writers."""

from __future__ import annotations

import errno
import math
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nanobragg.io as nio
from conftest import GOLDEN
from nanobragg.io import (
    FormatError,
    OutputError,
    read_float_image,
    read_mosflm_matrix,
    read_pgm,
    read_source_file,
    read_text_columns,
    write_float_image,
    write_pgm,
)
from nanobragg.io.outputs import atomic_write
from nanobragg.io.pgm import pgm_bytes

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAN = math.nan


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("misc")


def write(folder: Path, content: bytes | str, name: str = "t.txt") -> Path:
    path = folder / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def test_public_api() -> None:
    for name in nio.__all__:
        assert hasattr(nio, name), name
    assert issubclass(nio.FormatError, ValueError)
    assert issubclass(nio.HKLWarning, Warning)


# ---------------------------------------------------------------- MOSFLM matrix


def test_golden_matrix() -> None:
    matrix = read_mosflm_matrix(GOLDEN / "inputs/A.mat")
    assert matrix.shape == (3, 3)
    assert matrix.dtype == np.float64
    assert matrix[0].tolist() == [0.01045160, -0.01124797, -0.00265976]
    assert matrix[:, 2].tolist() == [-0.00265976, -0.00617596, 0.01288276]  # c* (times lambda)


def test_matrix_stream_semantics(scratch: Path) -> None:
    text = "1 2\n3 4 5 6\n7\n8 9 10 11\n  MISSETTING 0 0 0\n"
    matrix = read_mosflm_matrix(write(scratch, text))
    assert matrix.ravel().tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    matrix = read_mosflm_matrix(write(scratch, "1e+ 2 3\n4 5 6\n7 8 0x1p3"))
    assert matrix.ravel().tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 8]


@pytest.mark.parametrize(("text", "count"), [("", 0), ("1 2 3\n4 5 6\n7 8\n", 8), ("1 x 3", 1)])
def test_matrix_too_few_numbers(scratch: Path, text: str, count: int) -> None:
    path = write(scratch, text)
    with pytest.raises(FormatError, match=f"only {count}") as info:
        read_mosflm_matrix(path)
    assert info.value.path == str(path)
    assert info.value.offset is not None


def test_matrix_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_mosflm_matrix(tmp_path / "A.mat")


@FUZZ
@given(content=st.binary(max_size=120))
def test_matrix_garbage(scratch: Path, content: bytes) -> None:
    try:
        matrix = read_mosflm_matrix(write(scratch, content, "fuzz.mat"))
    except FormatError:
        return
    assert matrix.shape == (3, 3)


# ---------------------------------------------------------------- source file


def test_golden_sources() -> None:
    sources = read_source_file(GOLDEN / "inputs/sources.txt")
    expected = [
        [-10.0, 0.0, 0.0, 1.0, 1.0e-10],
        [-10.0, 0.002, 0.0, 0.5, 1.0e-10],
        [-10.0, 0.0, -0.002, 0.5, 1.02e-10],
        [-10.0, -0.0015, 0.0015, 2.0, 0.98e-10],
    ]
    assert sources.shape == (4, 5)
    assert sources.tolist() == expected


def rows(array: np.ndarray) -> list[list[float | str]]:
    return [["nan" if math.isnan(v) else v for v in row] for row in array.tolist()]


# Expected results follow the original's read_text_file (checked against it compiled).
SOURCE_CASES = [
    ("missing columns are NaN", "1 2\n", [[1, 2, NAN, NAN, NAN]]),
    (
        "blank lines skipped",
        "\n  \n1\n\t,;\n2 3\n",
        [[1, NAN, NAN, NAN, NAN], [2, 3, NAN, NAN, NAN]],
    ),
    ("separators", "1,2;3:4!5\n", [[1, 2, 3, 4, 5]]),
    ("extra columns ignored", "1 2 3 4 5 6 7\n", [[1, 2, 3, 4, 5]]),
    ("no final newline: zeros", "1 2", [[1, 2, 0, 0, 0]]),
    ("CRLF: zeros", "1 2\r\n", [[1, 2, 0, 0, 0]]),
    ("trailing blank", "1 2 \n", [[1, 2, NAN, NAN, NAN]]),
    ("word is 0", "abc 2\n", [[0, 2, NAN, NAN, NAN]]),
    ("number then junk", "1.5x 2\n", [[1.5, 2, NAN, NAN, NAN]]),
    ("nan field", "nan 1\n", [[NAN, 1, NAN, NAN, NAN]]),
    ("NUL ends the line", "1 2\x00 3\n4\n", [[1, 2, 0, 0, 0], [4, NAN, NAN, NAN, NAN]]),
    ("only junk: zeros", "x\n", [[0, 0, 0, 0, 0]]),
]


@pytest.mark.parametrize(
    ("name", "text", "expected"), SOURCE_CASES, ids=[c[0] for c in SOURCE_CASES]
)
def test_source_file_rules(
    scratch: Path, name: str, text: str, expected: list[list[float]]
) -> None:
    got = read_source_file(write(scratch, text))
    assert rows(got) == rows(np.array(expected, dtype=np.float64))


def test_source_file_long_line_is_split(scratch: Path) -> None:
    """fgets reads 10239 bytes at a time: a longer line is read as two lines."""
    line = "1" + " " * 10237 + "2 3\n"  # the first 10239 bytes end with the 2
    got = read_source_file(write(scratch, line))
    assert rows(got) == [[1, 2, 0, 0, 0], [3, "nan", "nan", "nan", "nan"]]


@pytest.mark.parametrize("text", ["", "\n\n", " \t\n,\n"])
def test_source_file_without_lines(scratch: Path, text: str) -> None:
    with pytest.raises(FormatError, match="no lines"):
        read_source_file(write(scratch, text))


def test_text_columns_stol() -> None:
    table = read_text_columns(GOLDEN / "inputs/water.stol", 2)
    assert table.shape[1] == 2
    assert table[0].tolist() == [0.0, 2.57]


@FUZZ
@given(
    content=st.binary(max_size=200)
    | st.lists(st.sampled_from(["1", "-2.5e-3", " ", "\t", ",", "\n", "x", "\r", "nan", ";"]))
    .map("".join)
    .map(str.encode)
)
def test_source_file_garbage(scratch: Path, content: bytes) -> None:
    try:
        sources = read_source_file(write(scratch, content, "fuzz.txt"))
    except FormatError:
        return
    assert sources.ndim == 2
    assert sources.shape[1] == 5
    assert sources.shape[0] >= 1


# ---------------------------------------------------------------- PGM


def test_golden_pgm_round_trip(tmp_path: Path) -> None:
    path = GOLDEN / "cases/pgm_scale/image.pgm"
    pixels, comment = read_pgm(path)
    assert pixels.shape == (64, 64)
    assert pixels.dtype == np.uint8
    assert comment == "pixels scaled by 3"
    out = tmp_path / "image.pgm"
    write_pgm(out, pixels, 3.0)
    assert out.read_bytes() == path.read_bytes()


def test_every_golden_pgm_round_trips() -> None:
    paths = sorted((GOLDEN / "cases").glob("*/*.pgm")) if GOLDEN.exists() else []
    if not paths:
        pytest.skip("golden corpus not available")
    for path in paths:
        pixels, comment = read_pgm(path)
        scale = float(comment.rsplit(" ", 1)[1])
        assert pgm_bytes(pixels, scale) == path.read_bytes(), path


def test_pgm_header_format() -> None:
    raw = pgm_bytes(np.zeros((2, 3), dtype=np.uint8), 1.0 / 3.0)
    assert raw == b"P5\n3 2\n# pixels scaled by 0.333333\n255\n" + bytes(6)
    assert pgm_bytes(np.zeros((1, 1), dtype=np.uint8), 1e7).startswith(
        b"P5\n1 1\n# pixels scaled by 1e+07\n"
    )


@FUZZ
@given(
    pixels=hnp.arrays(np.uint8, st.tuples(st.integers(1, 9), st.integers(1, 9))),
    scale=st.floats(0.0, 1e6),
)
def test_pgm_round_trip(scratch: Path, pixels: np.ndarray, scale: float) -> None:
    path = scratch / "rt.pgm"
    write_pgm(path, pixels, scale)
    back, comment = read_pgm(path)
    np.testing.assert_array_equal(back, pixels)
    assert comment == f"pixels scaled by {scale:g}"


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"P6\n1 1\n255\n\0", "P5"),
        (b"P5\n1\n", "height"),
        (b"P5\n2 2\n255\n\0\0\0", "truncated"),
        (b"P5\n2 2\n255", "whitespace"),
        (b"P5 0 2 255\n", "bad size"),
    ],
)
def test_pgm_errors(scratch: Path, content: bytes, match: str) -> None:
    with pytest.raises(FormatError, match=match):
        read_pgm(write(scratch, content, "bad.pgm"))


def test_pgm_writer_checks(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"0\.\.255"):
        write_pgm(tmp_path / "x.pgm", np.full((2, 2), 256), 1.0)
    with pytest.raises(ValueError, match="2-D"):
        write_pgm(tmp_path / "x.pgm", np.zeros(3, dtype=np.uint8), 1.0)
    assert not list(tmp_path.iterdir())


@FUZZ
@given(content=st.binary(max_size=100) | st.binary(max_size=60).map(lambda b: b"P5 3 2 255\n" + b))
def test_pgm_garbage(scratch: Path, content: bytes) -> None:
    try:
        pixels, comment = read_pgm(write(scratch, content, "fuzz.pgm"))
    except FormatError:
        return
    assert pixels.ndim == 2
    assert isinstance(comment, str)


# ---------------------------------------------------------------- raw float images


def test_float_image_layout(tmp_path: Path) -> None:
    image = np.arange(6, dtype=np.float32).reshape(2, 3)
    path = tmp_path / "float.bin"
    write_float_image(path, image)
    assert path.read_bytes() == np.array([0, 1, 2, 3, 4, 5], "<f4").tobytes()
    np.testing.assert_array_equal(read_float_image(path, (2, 3)), image)
    write_float_image(path, np.array([[0.1]], dtype=np.float64))  # rounded to float32
    assert read_float_image(path, (1, 1))[0, 0] == np.float32(0.1)


def test_golden_float_image() -> None:
    path = GOLDEN / "cases" / "pgm_scale" / "float.bin"
    if not path.exists():
        pytest.skip("golden corpus not available")
    image = read_float_image(path, (64, 64))
    np.testing.assert_array_equal(image, np.fromfile(path, "<f4").reshape(64, 64))


def test_float_image_errors(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(bytes(15))
    with pytest.raises(FormatError, match="truncated"):
        read_float_image(path, (2, 2))
    with pytest.raises(FormatError, match="too long"):
        read_float_image(path, (1, 3))
    with pytest.raises(FileNotFoundError):
        read_float_image(tmp_path / "none.bin", (1, 1))
    with pytest.raises(ValueError, match="floating-point"):
        write_float_image(path, np.zeros((2, 2), dtype=np.int32))
    with pytest.raises(ValueError, match="2-D"):
        write_float_image(path, np.zeros(4, dtype=np.float32))
    assert path.read_bytes() == bytes(15)


@FUZZ
@given(image=hnp.arrays(np.float32, st.tuples(st.integers(0, 6), st.integers(0, 6))))
def test_float_image_round_trip(scratch: Path, image: np.ndarray) -> None:
    path = scratch / "rt.bin"
    write_float_image(path, image)
    back = read_float_image(path, image.shape)
    assert back.dtype == np.float32
    assert back.tobytes() == image.astype("<f4").tobytes()


# ---------------------------------------------------------------- atomic writes


def test_atomic_write_failure_keeps_old_file(tmp_path: Path) -> None:
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")

    def chunks():
        yield b"new"
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        atomic_write(path, chunks())
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
    atomic_write(path, [b"new", b"er"])
    assert path.read_bytes() == b"newer"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_atomic_write_permissions_follow_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        atomic_write(tmp_path / "p.bin", [b"x"])
    finally:
        os.umask(old)
    assert (tmp_path / "p.bin").stat().st_mode & 0o777 == 0o640


def test_atomic_write_missing_folder(tmp_path: Path) -> None:
    path = tmp_path / "no" / "x.pgm"
    with pytest.raises(OutputError) as info:
        write_pgm(path, np.zeros((1, 1), dtype=np.uint8), 1.0)
    assert info.value.errno == errno.ENOENT
    assert info.value.filename == str(path)
    assert str(info.value) == f"{path}: the folder {path.parent} does not exist"
