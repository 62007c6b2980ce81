"""nonBragg -img: the header's geometry, the F-by-row file (-stolout), -ignore, -gain, in
both modes on both engines, against the original's outputs."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest

from conftest import DATA
from nanobragg.cli.nonbragg_command import run
from nanobragg.errors import UsageError
from nanobragg.io import read_smv

CORPUS = DATA / "nonbragg_img"
CASES = sorted(p.name for p in (CORPUS / "cases").iterdir())
ENGINE_FLAGS = {"c": ["-backend", "c"], "torch": ["-backend", "torch", "-dtype", "float64"]}


def _setup(folder) -> None:
    shutil.copy(CORPUS / "inputs" / "in.img", folder / "in.img")
    shutil.copy(DATA / "golden-suite" / "nonBragg" / "inputs" / "water.stol",
                folder / "water.stol")


def _run(args, *extra) -> str:
    out = io.StringIO()
    assert run([*args, *extra], out) == 0
    return out.getvalue()


@pytest.mark.parametrize("case", CASES)
def test_golden_img_case(case, engine, tmp_path, monkeypatch):
    """Log, stolout file, float and SMV images as the original's (but the address)."""
    monkeypatch.chdir(tmp_path)
    _setup(tmp_path)
    folder = CORPUS / "cases" / case
    args = [a for a in (folder / "args.txt").read_text().splitlines() if a]
    log = _run(args, "-c_parity", *ENGINE_FLAGS[engine])
    expected = (folder / "stdout.txt").read_text().splitlines()
    actual = log.splitlines()
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        if want.startswith("mmap("):
            assert got == want.split(" = ")[0] + " = (nil)"
        else:
            assert got == want
    stol = next(p.name for p in folder.iterdir() if p.suffix == ".stol")
    assert (tmp_path / stol).read_text() == (folder / stol).read_text()
    want_float = np.fromfile(folder / "floatimage.bin", "<f4")
    got_float = np.fromfile(tmp_path / "floatimage.bin", "<f4")
    if engine == "c":
        assert np.array_equal(got_float, want_float)
    else:
        np.testing.assert_allclose(got_float, want_float, rtol=1e-6, atol=0)
    for name in ("intimage.img", "noiseimage.img"):
        if (folder / name).exists():
            want_smv, got_smv = read_smv(folder / name), read_smv(tmp_path / name)
            assert np.array_equal(got_smv.data, want_smv.data)
            assert got_smv.header_text == want_smv.header_text


def _both(tmp_path, *flags) -> tuple[str, str, list[str], list[str]]:
    _setup(tmp_path)
    base = ["-stol", "water.stol", "-img", "in.img", "-nonoise", "-noprogress", "-fluence",
            "1e17", *flags]
    legacy = _run(base, "-c_parity")
    legacy_rows = (tmp_path / "output.stol").read_text().splitlines()
    corrected = _run(base)
    corrected_rows = (tmp_path / "output.stol").read_text().splitlines()
    return legacy, corrected, legacy_rows, corrected_rows


def test_header_sets_the_detector_and_flags_override(tmp_path, monkeypatch, engine):
    monkeypatch.chdir(tmp_path)
    _setup(tmp_path)
    log = _run(["-stol", "water.stol", "-img", "in.img", "-nonoise", "-noprogress",
                "-backend", engine, "-c_parity"])
    assert "  distance=0.0590885 detsize=0.012x0.012  pixel=0.0003 meters (40x40 pixels)" in log
    log = _run(["-stol", "water.stol", "-img", "in.img", "-nonoise", "-noprogress",
                "-backend", engine, "-c_parity", "-pixel", "0.2"])
    assert "  distance=0.0590885 detsize=0.008x0.008  pixel=0.0002 meters (40x40 pixels)" in log


def test_header_twotheta_swings_the_detector_only_when_corrected(tmp_path, monkeypatch,
                                                                 engine):
    monkeypatch.chdir(tmp_path)
    legacy, corrected, _, _ = _both(tmp_path, "-backend", engine)
    assert "DIRECTION_OF_DETECTOR_X-AXIS= 0 0 1" in legacy
    assert "DIRECTION_OF_DETECTOR_X-AXIS= 0.173648 0 0.984808" in corrected
    assert "mmap(in.img) = (nil)" in legacy
    assert "mmap(" not in corrected


def test_statistics_count_and_median(tmp_path, monkeypatch):
    """Legacy divides the mean by the last row's count and writes a median and MAD of 0;
    corrected, the mean of the ROI and the real median and MAD."""
    monkeypatch.chdir(tmp_path)
    legacy, corrected, legacy_rows, corrected_rows = _both(tmp_path)
    def mean(log: str) -> str:
        return next(line for line in log.splitlines() if line.startswith("mean="))

    assert mean(legacy) != mean(corrected)
    assert all(row.split()[3:5] == ["0", "0"] for row in legacy_rows)
    for row in corrected_rows:
        stol, avg, rmsd, median, mad, count = (float(v) for v in row.split())
        assert stol > 0.0
        assert rmsd > 0.0
        assert median == pytest.approx(avg, rel=0.05)
        assert mad > 0.0
        assert count > 100


def test_roi_pixels_overwrite_the_rows_only_in_legacy(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _, _, legacy_rows, corrected_rows = _both(tmp_path, "-roi", "5", "35", "3", "30")
    legacy_means = [float(r.split()[1]) for r in legacy_rows]
    corrected_means = [float(r.split()[1]) for r in corrected_rows]
    assert 0.0 in legacy_means
    assert min(corrected_means) > 0.5 * max(corrected_means)


def test_ignore_and_gain(tmp_path, monkeypatch, c_parity):
    """-ignore leaves pixels out of the rows; -gain divides the counts before F."""
    monkeypatch.chdir(tmp_path)
    _setup(tmp_path)
    base = ["-stol", "water.stol", "-img", "in.img", "-nonoise", "-noprogress", "-fluence",
            "1e17", *(["-c_parity"] if c_parity else [])]

    def rows(*flags: str) -> np.ndarray:
        _run(base, *flags)
        return np.loadtxt(tmp_path / "output.stol", ndmin=2)

    plain, gained = rows(), rows("-gain", "4")
    np.testing.assert_allclose(gained[:, 1], plain[:, 1] / 2, rtol=1e-5)
    pixels = read_smv(tmp_path / "in.img").data
    assert np.count_nonzero(pixels == 44) > 100
    ignored = rows("-ignore", "44")
    assert 0 < ignored[:, 5].sum() < plain[:, 5].sum()


@pytest.mark.parametrize(("flags", "message"), [
    (["-img", "missing.img"], "-img missing.img: no such file"),
    (["-img", "water.stol"], "-img water.stol:"),
    (["-img", "in.img", "-ignore", "1.5"], "-ignore: '1.5' is not a pixel value"),
    (["-img", "in.img", "-ignore", "70000"], "-ignore: '70000' is not a pixel value"),
    (["-img", "in.img", "-detpixels", "20"], "-img in.img: 40x40 pixels, but the detector"),
])
def test_bad_img_input(tmp_path, monkeypatch, flags, message):
    monkeypatch.chdir(tmp_path)
    _setup(tmp_path)
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        run(["-stol", "water.stol", "-nonoise", "-noprogress", *flags], io.StringIO())
    assert not (tmp_path / "floatimage.bin").exists()
    assert not (tmp_path / "output.stol").exists()


def test_big_endian_image(tmp_path, monkeypatch, c_parity):
    """Corrected, a big-endian copy of the image gives the same rows; legacy reads its
    pixels byte-swapped, as the original does."""
    monkeypatch.chdir(tmp_path)
    _setup(tmp_path)
    data = (tmp_path / "in.img").read_bytes()
    header = data[:512].replace(b"little_endian;", b"big_endian;   ")
    swapped = np.frombuffer(data[512:], dtype="<u2").astype(">u2").tobytes()
    (tmp_path / "big.img").write_bytes(header + swapped)
    mode = ["-c_parity"] if c_parity else []
    base = ["-stol", "water.stol", "-nonoise", "-noprogress", "-fluence", "1e17", *mode]
    _run([*base, "-img", "in.img"])
    little = (tmp_path / "output.stol").read_text()
    _run([*base, "-img", "big.img"])
    big = (tmp_path / "output.stol").read_text()
    assert (big == little) is not c_parity
