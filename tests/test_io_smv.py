"""Tests of nanobragg.io.smv (SMV/ADSC images)."""

from __future__ import annotations

import sys
from pathlib import Path

import fabio
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from conftest import GOLDEN
from nanobragg.io import FormatError, format_smv_header, header_value, read_smv, write_smv
from nanobragg.io.smv import SMVField, smv_bytes

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GOLDEN_IMAGES = [
    "cases/roi_noise/int.img",
    "cases/noise_seed_scale_adc/noise.img",
    "cases/img_header/int.img",
]
PREAMBLE = b"{\nHEADER_BYTES=512;\nDIM=2;\nBYTE_ORDER=little_endian;\nTYPE=unsigned_short;\n"


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("smv")


def header_fields(raw: bytes) -> list[SMVField]:
    """The fields of an original-written header after its four fixed lines."""
    text = raw[:512].decode("ascii")
    assert text.startswith(PREAMBLE.decode())
    body = text[len(PREAMBLE) : text.index("}\f")]
    fields: list[SMVField] = []
    for line in body.split("\n")[:-1]:
        if line.endswith(";"):
            key, value = line[:-1].split("=", 1)
            fields.append((key, value))
        else:
            fields.append(line)  # DIALS_ORIGIN=x,y,z has no ';'
    return fields


def all_golden_smv() -> list[Path]:
    return sorted((GOLDEN / "cases").glob("*/*.img")) if GOLDEN.exists() else []


@pytest.mark.parametrize("golden", GOLDEN_IMAGES)
def test_rewrite_golden_images_byte_identical(tmp_path: Path, golden: str) -> None:
    path = GOLDEN / golden
    raw = path.read_bytes()
    fields = header_fields(raw)
    assert any(isinstance(f, str) and f.startswith("DIALS_ORIGIN=") for f in fields)
    assert format_smv_header(fields) == raw[:512]
    image = read_smv(path)
    out = tmp_path / "out.img"
    write_smv(out, image.data, fields)
    assert out.read_bytes() == raw
    # SIZE1/SIZE2 are supplied from the array when the caller leaves them out
    rest = [f for f in fields if not (isinstance(f, tuple) and f[0] in ("SIZE1", "SIZE2"))]
    assert smv_bytes(image.data, rest) == raw


def test_every_golden_smv_round_trips() -> None:
    paths = all_golden_smv()
    if not paths:
        pytest.skip("golden corpus not available")
    for path in paths:
        raw = path.read_bytes()
        image = read_smv(path)
        assert smv_bytes(image.data, header_fields(raw)) == raw, path


def test_read_golden_image() -> None:
    path = GOLDEN / "cases/roi_noise/int.img"
    image = read_smv(path)
    assert (image.width, image.height, image.header_bytes) == (96, 96, 512)
    assert image.data is not None
    assert image.data.dtype == np.uint16
    expected = np.frombuffer(path.read_bytes()[512:], "<u2").reshape(96, 96)
    np.testing.assert_array_equal(image.data, expected)
    # -roi 10 50 20 70
    assert image.data[:20].max() == 0
    assert image.data[20:71, 10:51].max() > 0
    assert image.value("DISTANCE") == 70.0
    assert image.value("WAVELENGTH") == 1.5
    assert image.value("DIALS_ORIGIN") == -4.9  # atof stops at the comma
    assert len(image.header_text) == 512


def test_read_nonsquare_golden_and_inputs() -> None:
    image = read_smv(GOLDEN / "cases/img_header/int.img")
    assert (image.width, image.height) == (96, 72)
    assert image.data.shape == (72, 96)
    header = read_smv(GOLDEN / "inputs/header.img", with_data=False)
    assert (header.width, header.height, header.data) == (96, 72, None)
    values = {k: header.value(k) for k in ("PIXEL_SIZE", "DISTANCE", "WAVELENGTH", "PHI")}
    assert values == {"PIXEL_SIZE": 0.12, "DISTANCE": 80.0, "WAVELENGTH": 1.3, "PHI": 5.0}
    assert header.value("CLOSE_DISTANCE") is None
    assert header.value("ORGX") is None
    mask = read_smv(GOLDEN / "inputs/mask.img")
    assert (mask.width, mask.height) == (64, 64)
    assert mask.data.min() == 0
    assert mask.data.max() > 0
    assert mask.value("BEAM_CENTER_Y") == 3.5


def test_header_value_semantics() -> None:
    text = "{\nDISTANCE=100;\nCLOSE_DISTANCE=90;\nPHI = 3.5;\nX=abc;\nY\n}"
    assert header_value(text, "DISTANCE") == 90.0  # last occurrence, as a substring
    assert header_value(text, "PHI") == 3.5  # atof skips the leading blank
    assert header_value(text, "X") == 0.0  # not a number
    assert header_value(text, "Y") == 0.0  # no '=' after the key
    assert header_value(text, "Z") is None
    assert header_value("A=1;\0B=2;", "B") is None  # the header is a C string
    assert header_value("AAA=5", "AA") == 5.0
    assert header_value("K=1e3;", "K") == 1000.0
    assert header_value("K=0x10", "K") == 16.0
    with pytest.raises(ValueError, match="must not be empty"):
        header_value(text, "")


def test_written_file_opens_in_fabio(tmp_path: Path) -> None:
    data = (np.arange(7 * 12).reshape(7, 12) * 700).astype(np.uint16)
    fields: list[SMVField] = [
        ("PIXEL_SIZE", "0.1"),
        ("DISTANCE", f"{100.0:g}"),
        ("WAVELENGTH", f"{1.2:g}"),
        "DIALS_ORIGIN=-4.9,4.9,-70",
        ("BEAMLINE", "fake"),
    ]
    path = tmp_path / "x.img"
    write_smv(path, data, fields)
    image = fabio.open(str(path))
    assert image.shape == (7, 12)
    np.testing.assert_array_equal(image.data, data)
    assert image.header["SIZE1"] == "12"
    assert image.header["SIZE2"] == "7"
    assert float(image.header["DISTANCE"]) == 100.0
    assert float(image.header["WAVELENGTH"]) == 1.2
    assert image.header["BYTE_ORDER"] == "little_endian"
    ours = read_smv(path)
    np.testing.assert_array_equal(ours.data, data)


def test_golden_file_opens_in_fabio() -> None:
    path = GOLDEN / "cases/roi_noise/int.img"
    image = fabio.open(str(path))
    np.testing.assert_array_equal(image.data, read_smv(path).data)


def build(header: str, pixels: bytes = b"", size: int = 512) -> bytes:
    head = header.encode("latin-1")
    return head + b" " * (size - len(head)) + pixels


def test_big_endian_is_swapped(tmp_path: Path) -> None:
    values = np.array([[1, 2, 0x0102]], dtype=np.uint16)
    path = tmp_path / "be.img"
    order = "big_endian" if sys.byteorder == "little" else "little_endian"
    other = ">u2" if sys.byteorder == "little" else "<u2"
    path.write_bytes(
        build(f"{{\nHEADER_BYTES=512;\nBYTE_ORDER={order};\nSIZE1=3;\nSIZE2=1;\n}}\f")
        + values.astype(other).tobytes()
    )
    image = read_smv(path)
    np.testing.assert_array_equal(image.data, values)
    assert image.data.dtype == np.dtype(np.uint16)


def test_other_header_sizes(tmp_path: Path) -> None:
    pixels = np.arange(6, dtype="<u2").tobytes()
    header = "{\nHEADER_BYTES=1024;\nBYTE_ORDER=little_endian;\nSIZE1=3;\nSIZE2=2;\n}\f"
    path = tmp_path / "big.img"
    path.write_bytes(build(header, pixels, 1024))
    image = read_smv(path)
    assert image.header_bytes == 1024
    assert len(image.header_text) == 1024
    assert image.data.ravel().tolist() == list(range(6))
    # an odd size: like the original, the pixels start at the even byte below it
    odd = "{\nHEADER_BYTES=513;\nBYTE_ORDER=little_endian;\nSIZE1=3;\nSIZE2=2;\n}\f"
    path.write_bytes(build(odd, b"", 512) + pixels + b"\0")
    assert read_smv(path).data.ravel().tolist() == list(range(6))


def test_detector_dimensions_fallback(tmp_path: Path) -> None:
    path = tmp_path / "dd.img"
    header = "{\nHEADER_BYTES=512;\nBYTE_ORDER=little_endian;\nSIZE1=0;\nDETECTOR_DIMENSIONS=2;\n}"
    path.write_bytes(build(header, bytes(8)))
    image = read_smv(path)
    assert (image.width, image.height) == (2, 2)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "truncated"),
        (b"{\nHEADER_BYTES=512;" + b" " * 100, "truncated"),
        (build("{ HEADER_BYTES=512;"), "not an SMV"),
        (build("P5\n"), "not an SMV"),
        (build("{\nHEADER_BYTX=512;"), "HEADER_BYTES"),
        (build("{\nHEADER_BYTES=-4;"), "HEADER_BYTES"),
        (build("{\nHEADER_BYTES=4096;"), "truncated"),
        (build("{\nHEADER_BYTES=512;\nSIZE1=2;\nSIZE2=2;\n}"), "BYTE_ORDER"),
        (build("{\nHEADER_BYTES=512;\nBYTE_ORDER=little_endian;\nSIZE2=2;\n}"), "SIZE1"),
        (build("{\nHEADER_BYTES=512;\nBYTE_ORDER=little_endian;\nSIZE1=2;\nSIZE2=-1;}"), "SIZE"),
        (build("{\nHEADER_BYTES=512;\nBYTE_ORDER=little_endian;\nSIZE1=4;\nSIZE2=2;}", bytes(15)),
         "truncated"),
    ],
)  # fmt: skip
def test_malformed_images(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "bad.img"
    path.write_bytes(content)
    with pytest.raises(FormatError, match=match) as info:
        read_smv(path, with_data=False)
    assert info.value.path == str(path)
    with pytest.raises(FormatError):
        read_smv(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        read_smv(tmp_path / "none.img")
    assert info.value.filename == str(tmp_path / "none.img")


def test_writer_argument_checks(tmp_path: Path) -> None:
    data = np.zeros((2, 3), dtype=np.uint16)
    with pytest.raises(ValueError, match="disagrees"):
        smv_bytes(data, [("SIZE1", "4")])
    with pytest.raises(ValueError, match="512"):
        format_smv_header([("K" * 600, "1")])
    with pytest.raises(ValueError, match=r"0\.\.65535"):
        smv_bytes(np.full((2, 2), 70000), [])
    with pytest.raises(ValueError, match="2-D"):
        smv_bytes(np.zeros(4, dtype=np.uint16), [])
    with pytest.raises(ValueError, match="uint16"):
        smv_bytes(np.zeros((2, 2)), [])
    assert smv_bytes(np.ones((2, 2), dtype=np.int64), [])[512:] == np.ones(4, "<u2").tobytes()
    path = tmp_path / "keep.img"
    path.write_bytes(b"old")
    with pytest.raises(ValueError, match=r"0\.\.65535"):
        write_smv(path, np.full((2, 2), -1), [])
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.img"]


def test_header_layout() -> None:
    header = format_smv_header([("SIZE1", "4"), "RAW=1,2", ("B", "x")])
    text = header.decode("ascii")
    assert len(header) == 512
    assert text.startswith(PREAMBLE.decode() + "SIZE1=4;\nRAW=1,2\nB=x;\n}\f ")
    assert text.rstrip(" ").endswith("}\f")


FIELDS = st.lists(
    st.tuples(
        st.sampled_from(["ALPHA", "BRAVO", "CHARLIE", "DELTA", "ECHO_X", "PIXEL_SIZE"]),
        st.floats(allow_nan=False, allow_infinity=False).map(lambda v: f"{v:g}"),
    ),
    max_size=8,
    unique_by=lambda field: field[0],
)


@FUZZ
@given(
    data=hnp.arrays(
        np.uint16,
        st.tuples(st.integers(1, 9), st.integers(1, 9)),
        elements=st.integers(0, 65535),
    ),
    fields=FIELDS,
)
def test_round_trip(scratch: Path, data: np.ndarray, fields: list[tuple[str, str]]) -> None:
    path = scratch / "rt.img"
    write_smv(path, data, fields)
    image = read_smv(path)
    np.testing.assert_array_equal(image.data, data)
    assert (image.width, image.height) == (data.shape[1], data.shape[0])
    for key, value in fields:
        assert image.value(key) == float(value)


@FUZZ
@given(
    content=st.binary(max_size=700)
    | st.builds(
        lambda head, tail: (b"{\nHEADER_BYT" + head + b" " * 512)[:512] + tail,
        st.binary(max_size=200)
        | st.sampled_from(
            [b"ES=512;BYTE_ORDER=little_endian;SIZE1=3;SIZE2=2;", b"ES=600;SIZE1=1e9;"]
        ),
        st.binary(max_size=64),
    )
)
def test_garbage_gives_format_error_or_image(scratch: Path, content: bytes) -> None:
    path = scratch / "fuzz.img"
    path.write_bytes(content)
    try:
        image = read_smv(path)
    except FormatError:
        return
    assert image.data is not None
    assert image.data.shape == (image.height, image.width)


@FUZZ
@given(text=st.text(max_size=200), key=st.text(min_size=1, max_size=5))
def test_header_value_never_crashes(text: str, key: str) -> None:
    value = header_value(text, key)
    assert value is None or isinstance(value, float)
