"""Series geometry and writers: the files they write open in fabio (and h5py) with the
pixels, the dimensions and the geometry of the configuration."""

from __future__ import annotations

import dataclasses

import fabio
import numpy as np
import pytest

from nanobragg import Config
from nanobragg.engines import create
from nanobragg.io.smv import header_value, read_smv
from nanobragg.series.frame import NB_TO_MCSTAS, Frame, ScanPoint, mcstas_rotation
from nanobragg.series.geometry import series_geometry
from nanobragg.series.writer import FORMATS, open_writer
from nanobragg.stages.geometry import detector_spec

FAST, SLOW = 32, 24
"""A small non-square detector, so that a fast/slow mix-up shows."""


def small_config(**detector: object) -> Config:
    config = Config.from_cli(["-cell", "50", "60", "70", "90", "90", "90", "-default_F", "1",
                              "-detpixels_f", str(FAST), "-detpixels_s", str(SLOW),
                              "-pixel", "0.1", "-distance", "100", "-lambda", "1.2"])
    return dataclasses.replace(config, detector=dataclasses.replace(config.detector, **detector))


TILTED = {
    "plain": {},
    "offset": {"beam_x_mm": 1.1, "beam_y_mm": 0.7},
    "rotated": {"rotx_deg": 3.0, "roty_deg": -2.0, "rotz_deg": 5.0},
    "twotheta_beam": {"twotheta_deg": 20.0, "pivot": "beam"},
    "twotheta_sample": {"twotheta_deg": 15.0, "pivot": "sample"},
}


def dials_frame(vector_mcstas: np.ndarray) -> np.ndarray:
    """McStas to the DIALS (imgCIF) lab frame: 180 degrees about y."""
    return np.asarray(vector_mcstas) * np.array([-1.0, 1.0, -1.0])


def sweep(n: int = 3, start: float = 10.0, osc: float = 0.5) -> list[ScanPoint]:
    return [ScanPoint(start + i * osc, osc) for i in range(n)]


def frame_data(dtype: type, index: int = 0) -> np.ndarray:
    """Distinct values in every pixel and every frame, in range of ``dtype``."""
    values = np.arange(SLOW * FAST).reshape(SLOW, FAST) * 7 + 1000 * index
    if dtype is np.int32:
        values = values * 1000
    return values.astype(dtype)


# -- geometry ---------------------------------------------------------------------------


@pytest.mark.parametrize("c_parity", [False, True], ids=("corrected", "c_parity"))
@pytest.mark.parametrize("tilt", TILTED.values(), ids=TILTED.keys())
def test_origin_matches_nanobraggs_dials_origin(tilt: dict[str, object], c_parity: bool) -> None:
    config = small_config(**tilt)
    g = series_geometry(config, c_parity=c_parity)
    nb = create("c").detector_geometry(detector_spec(config, c_parity=c_parity))
    np.testing.assert_allclose(dials_frame(g.origin_mm), nb.dials_origin_mm, atol=1e-9)
    # the MOSFLM goniometer is DIALS's standard one
    np.testing.assert_allclose(dials_frame(g.spindle_axis), [1.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(g.beam_direction, [0.0, 0.0, 1.0], atol=1e-12)


@pytest.mark.parametrize("convention", ["mosflm", "xds", "dials", "denzo", "adxv"])
@pytest.mark.parametrize("tilt", TILTED.values(), ids=TILTED.keys())
def test_beam_centre_is_where_the_beam_meets_the_detector(tilt: dict[str, object],
                                                         convention: str) -> None:
    g = series_geometry(small_config(convention=convention, **tilt))
    np.testing.assert_allclose(g.beam_direction, [0.0, 0.0, 1.0], atol=1e-12)
    # fast x slow is the normal or (ADXV) its opposite
    assert abs(np.dot(np.cross(g.fast_axis, g.slow_axis), g.normal)) == pytest.approx(1.0)
    assert g.normal[2] > 0.0
    hit = (g.origin_mm + g.pixel_size_mm * (g.beam_center_fast_px * g.fast_axis
                                            + g.beam_center_slow_px * g.slow_axis))
    np.testing.assert_allclose(hit, [0.0, 0.0, g.distance_mm], atol=1e-9)


@pytest.mark.parametrize("tilt", ["plain", "offset", "rotated"])
def test_beam_centre_agrees_with_the_engine(tilt: str) -> None:
    config = small_config(**TILTED[tilt])
    g = series_geometry(config)
    nb = create("c").detector_geometry(detector_spec(config, c_parity=False))
    pixel_m = config.detector.pixel_size_mm / 1000.0
    assert g.beam_center_fast_px == pytest.approx(nb.Fbeam_m / pixel_m, abs=1e-9)
    assert g.beam_center_slow_px == pytest.approx(nb.Sbeam_m / pixel_m, abs=1e-9)
    assert g.distance_mm == pytest.approx(nb.distance_m * 1000.0, abs=1e-9)


def test_xds_beam_centre_is_orgx_from_the_first_pixels_corner() -> None:
    config = small_config(convention="xds", orgx_px=12.25, orgy_px=20.5)
    g = series_geometry(config)
    assert (g.beam_center_fast_px, g.beam_center_slow_px) == pytest.approx((11.75, 20.0))
    assert (g.fpixels, g.spixels) == (FAST, SLOW)


def test_the_default_lab_rotation_is_the_fixed_one() -> None:
    np.testing.assert_array_equal(mcstas_rotation(np.array([1.0, 0.0, 0.0])), NB_TO_MCSTAS)
    for beam in ([0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.3, -0.2, 0.9]):
        rotation = mcstas_rotation(np.array(beam))
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(rotation) == pytest.approx(1.0)
        np.testing.assert_allclose(rotation @ beam, [0.0, 0.0, np.linalg.norm(beam)], atol=1e-12)


def test_beam_and_sensor_values() -> None:
    config = small_config(thickness_um=450.0)
    config = dataclasses.replace(config, beam=dataclasses.replace(
        config.beam, polarization=0.9, exposure_s=0.25))
    g = series_geometry(config, saturation_value=65535, underload_value=-1)
    assert g.wavelength_A == pytest.approx(1.2)
    assert g.polarization_fraction == pytest.approx(0.95)
    assert g.exposure_s == 0.25
    assert g.sensor_thickness_mm == pytest.approx(0.45)
    assert (g.saturation_value, g.underload_value) == (65535, -1)
    # the E vector of the MOSFLM convention is horizontal
    np.testing.assert_allclose(np.abs(g.polarization_axis), [1.0, 0.0, 0.0], atol=1e-12)
    assert dict(f for f in g.smv_fields if isinstance(f, tuple))["WAVELENGTH"] == "1.2"


@pytest.mark.parametrize(("options", "message"), [
    ({"saturation_value": -5}, "saturation_value: -5"),
    ({"saturation_value": 2.5}, "saturation_value: 2.5"),
    ({"underload_value": 0.5}, "underload_value: 0.5"),
])
def test_bad_geometry_options(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        series_geometry(small_config(), **options)  # type: ignore[arg-type]


def test_a_detector_along_the_beam_has_no_beam_centre() -> None:
    with pytest.raises(ValueError, match="parallel to the detector plane"):
        series_geometry(small_config(twotheta_deg=90.0, pivot="sample"))


# -- SMV --------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint16, np.int32])
def test_smv_files_open_in_fabio_with_their_scan_point(tmp_path, dtype: type) -> None:
    g = series_geometry(small_config(), saturation_value=65535)
    scan = sweep()
    writer = open_writer("smv", tmp_path / "out", g, scan, dtype)
    for index in (2, 0):
        writer.write(Frame(index, frame_data(dtype, index), scan[index]))
    writer.close(complete=True)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["image_00001.img",
                                                                    "image_00003.img"]
    for index in (0, 2):
        [path] = writer.final_paths(index)
        image = fabio.open(str(path))
        assert image.data.shape == (SLOW, FAST)
        np.testing.assert_array_equal(image.data, frame_data(dtype, index))
        header = read_smv(path, with_data=False).header_text
        assert header_value(header, "PHI") == scan[index].phi_start_deg
        assert header_value(header, "OSC_START") == scan[index].phi_start_deg
        assert header_value(header, "OSC_RANGE") == 0.5
        assert header_value(header, "CLOSE_DISTANCE") == 100.0
        assert header_value(header, "SIZE1") == FAST
        assert header.count("PHI=") == 1


def test_smv_16_bit_header_is_nanobraggs_own(tmp_path) -> None:
    g = series_geometry(small_config())
    scan = [ScanPoint(0.0, 0.0)]
    writer = open_writer("smv", tmp_path, g, scan, np.uint16)
    writer.write(Frame(0, frame_data(np.uint16), scan[0]))
    image = read_smv(writer.final_paths(0)[0])
    expected = {f[0]: f[1] for f in g.smv_fields if isinstance(f, tuple)}
    for key, value in expected.items():
        assert f"\n{key}={value};\n" in image.header_text
    assert "TYPE=unsigned_short;" in image.header_text


def test_smv_refuses_what_it_cannot_hold(tmp_path) -> None:
    g = series_geometry(small_config())
    scan = sweep(2)
    with pytest.raises(ValueError, match="smv frames of float32 cannot be written"):
        open_writer("smv", tmp_path, g, scan, np.float32)
    writer = open_writer("smv", tmp_path, g, scan, np.int32)
    with pytest.raises(ValueError, match="negative counts"):
        writer.write(Frame(0, -frame_data(np.int32) - 1, scan[0]))
    assert list(tmp_path.iterdir()) == []


# -- every writer -----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_writers_refuse_frames_of_another_series(tmp_path, fmt: str) -> None:
    g = series_geometry(small_config())
    scan = sweep(2)
    writer = open_writer(fmt, tmp_path, g, scan, np.int32)
    bad = [
        (Frame(2, frame_data(np.int32), scan[1]), "Frame.index: 2 is past"),
        (Frame(0, frame_data(np.int32).T.copy(), scan[0]), r"shape \(24, 32\)"),
        (Frame(0, frame_data(np.uint16), scan[0]), "the series' frames are int32"),
        (Frame(1, frame_data(np.int32), scan[0]), "Frame.scan: frame 1"),
    ]
    for frame, message in bad:
        with pytest.raises(ValueError, match=message):
            writer.write(frame)
    with pytest.raises(ValueError, match="index: 5 is not a frame"):
        writer.final_paths(5)
    writer.close(complete=False)
    assert not any(p.name.startswith("image_") or p.name == "series.nxs"
                   for p in tmp_path.iterdir())


def test_open_writer_names_the_formats(tmp_path) -> None:
    g = series_geometry(small_config())
    with pytest.raises(ValueError, match="'tiff' is not a series format; the formats are "
                                         + ", ".join(FORMATS)):
        open_writer("tiff", tmp_path, g, sweep(), np.uint16)
    with pytest.raises(ValueError, match="scan: a series needs one ScanPoint"):
        open_writer("smv", tmp_path, g, [], np.uint16)
    with pytest.raises(ValueError, match="dtype: 'pixels' is not a pixel type"):
        open_writer("smv", tmp_path, g, sweep(), "pixels")
