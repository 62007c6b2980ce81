"""Series geometry and writers: the files they write open in fabio (and h5py) with the
pixels, the dimensions and the geometry of the configuration."""

from __future__ import annotations

import dataclasses

import fabio
import fabio.cbfimage
import h5py
import hdf5plugin
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


def test_the_mosflm_lab_rotation_is_the_fixed_one() -> None:
    x, y, z = np.eye(3)
    np.testing.assert_array_equal(mcstas_rotation(x), NB_TO_MCSTAS)
    np.testing.assert_array_equal(mcstas_rotation(x, z), NB_TO_MCSTAS)
    for beam, spindle in ((z, None), (y, None), ([0.3, -0.2, 0.9], None), (z, x),
                          ([0.3, -0.2, 0.9], [1.0, 2.0, 0.0]), (x, 2 * x)):
        rotation = mcstas_rotation(np.array(beam), None if spindle is None else np.array(spindle))
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(rotation) == pytest.approx(1.0)
        np.testing.assert_allclose(rotation @ beam, [0.0, 0.0, np.linalg.norm(beam)], atol=1e-12)
        if spindle is not None and np.linalg.norm(np.cross(spindle, beam)) > 0:
            turned = rotation @ spindle
            assert turned[0] < 0.0
            assert turned[1] == pytest.approx(0.0, abs=1e-12)


def test_the_xds_convention_turns_to_the_standard_layout() -> None:
    g = series_geometry(small_config(convention="xds"))
    np.testing.assert_allclose(g.fast_axis, [-1.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(g.slow_axis, [0.0, -1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(g.spindle_axis, [-1.0, 0.0, 0.0], atol=1e-12)


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
    assert writer.written() == {0, 2}
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
    for point in (ScanPoint(float("nan"), 1.0), ScanPoint(0.0, float("inf")),
                  ScanPoint(0.0, 0.0, (1.0, 2.0))):  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"scan\[1\]: ScanPoint.* needs finite angles"):
            open_writer("nexus", tmp_path, g, [ScanPoint(0.0, 1.0), point], np.uint16)
    assert list(tmp_path.iterdir()) == []


# -- NeXus ------------------------------------------------------------------------------


def _axis_matrix(dataset: h5py.Dataset, frame: int) -> np.ndarray:
    """The 4x4 NXtransformations matrix of one axis (its value at ``frame``)."""
    values = np.atleast_1d(dataset[()]).astype(np.float64)
    value = values[frame if values.size > 1 else 0]
    vector = np.asarray(dataset.attrs["vector"], dtype=np.float64)
    matrix = np.eye(4)
    kind = dataset.attrs["transformation_type"]
    if kind == "rotation":
        assert dataset.attrs["units"] == "deg"
        angle = np.radians(value)
        k = np.array([[0, -vector[2], vector[1]], [vector[2], 0, -vector[0]],
                      [-vector[1], vector[0], 0]])
        matrix[:3, :3] = np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k
    else:
        assert kind == "translation"
        assert dataset.attrs["units"] == "mm"
        matrix[:3, 3] = value * vector
    assert dataset.attrs["offset_units"] == "mm"
    matrix[:3, 3] += dataset.attrs["offset"]
    return matrix


def _chain(file: h5py.File, path: str, frame: int = 0) -> tuple[np.ndarray, list[str]]:
    """The cumulative transformation of ``path``'s depends_on chain (the axis itself
    first, applied last) and the paths it went through."""
    matrix, paths = np.eye(4), []
    while path != ".":
        dataset = file[path]
        matrix = _axis_matrix(dataset, frame) @ matrix
        paths.append(path)
        path = dataset.attrs["depends_on"]
    return matrix, paths


def read_nexus_geometry(path) -> dict[str, object]:
    """Geometry rebuilt from an NXmx file's transformations alone."""
    with h5py.File(path, "r") as file:
        assert file["/entry/definition"][()].decode() == "NXmx"
        detector = file["/entry/instrument/detector"]
        module = detector["module"]
        fast_ds, slow_ds = module["fast_pixel_direction"], module["slow_pixel_direction"]
        cumulative, paths = _chain(file, fast_ds.attrs["depends_on"])
        assert paths[-1] == detector["depends_on"][()].decode()
        origin = cumulative[:3, 3]
        fast = cumulative[:3, :3] @ fast_ds.attrs["vector"]
        slow = cumulative[:3, :3] @ slow_ds.attrs["vector"]
        pixel_mm = float(fast_ds[()])
        assert float(slow_ds[()]) == pixel_mm
        normal = np.cross(fast, slow)
        beam = np.array([0.0, 0.0, 1.0])
        distance = float(origin @ normal / (beam @ normal))
        offset = distance * beam - origin
        sample = file["/entry/sample"]
        phi_path = sample["depends_on"][()].decode()
        phi = file[phi_path]
        assert phi.attrs["transformation_type"] == "rotation"
        assert phi.attrs["depends_on"] == "."
        return {
            "origin_mm": origin, "fast": fast, "slow": slow, "distance_mm": distance,
            "beam_center_px": (float(offset @ fast) / pixel_mm,
                               float(offset @ slow) / pixel_mm),
            "size": tuple(int(v) for v in module["data_size"][()]),
            "spindle": np.asarray(phi.attrs["vector"]),
            "phi_start": phi[()], "phi_end": file[phi_path + "_end"][()],
            "wavelength_A": float(file["/entry/instrument/beam/incident_wavelength"][()]),
            "distance_field": float(detector["distance"][()]),
            "beam_center_fields": (float(detector["beam_center_x"][()]),
                                   float(detector["beam_center_y"][()])),
        }


@pytest.mark.parametrize("tilt", TILTED.values(), ids=TILTED.keys())
def test_nexus_geometry_rebuilt_from_its_transformations(tmp_path, tilt) -> None:
    config = small_config(**tilt)
    g = series_geometry(config, saturation_value=65535)
    scan = sweep(4, start=-3.0, osc=0.25)
    writer = open_writer("nexus", tmp_path, g, scan, np.uint16)
    for index in (3, 1, 0, 2):
        writer.write(Frame(index, frame_data(np.uint16, index), scan[index]))
    writer.close(complete=True)
    read = read_nexus_geometry(tmp_path / "series.nxs")

    nb = create("c").detector_geometry(detector_spec(config, c_parity=False))
    np.testing.assert_allclose(dials_frame(read["origin_mm"]), nb.dials_origin_mm, atol=1e-9)
    np.testing.assert_allclose(read["fast"], nb.fdet @ NB_TO_MCSTAS.T, atol=1e-12)
    np.testing.assert_allclose(read["slow"], nb.sdet @ NB_TO_MCSTAS.T, atol=1e-12)
    pixel_m = config.detector.pixel_size_mm / 1000.0
    assert read["beam_center_px"] == pytest.approx((nb.Fbeam_m / pixel_m, nb.Sbeam_m / pixel_m),
                                                   abs=1e-9)
    assert read["beam_center_fields"] == pytest.approx(read["beam_center_px"], abs=1e-9)
    assert read["distance_mm"] == pytest.approx(nb.distance_m * 1000.0, abs=1e-9)
    assert read["distance_field"] == pytest.approx(read["distance_mm"], abs=1e-9)
    assert read["size"] == (SLOW, FAST)
    np.testing.assert_allclose(dials_frame(read["spindle"]), [1.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(read["phi_start"], [-3.0, -2.75, -2.5, -2.25])
    np.testing.assert_allclose(read["phi_end"] - read["phi_start"], 0.25)
    assert read["wavelength_A"] == pytest.approx(1.2)


@pytest.mark.parametrize("convention", ["xds", "dials"])
def test_nexus_geometry_of_other_conventions(tmp_path, convention: str) -> None:
    config = small_config(convention=convention, rotx_deg=2.0, twotheta_deg=10.0)
    g = series_geometry(config)
    writer = open_writer("nexus", tmp_path, g, [ScanPoint(0.0, 1.0)], np.int32)
    writer.write(Frame(0, frame_data(np.int32), ScanPoint(0.0, 1.0)))
    writer.close(complete=True)
    read = read_nexus_geometry(tmp_path / "series.nxs")
    nb = create("c").detector_geometry(detector_spec(config, c_parity=False))
    pixel_m = config.detector.pixel_size_mm / 1000.0
    assert read["beam_center_px"] == pytest.approx((nb.Fbeam_m / pixel_m, nb.Sbeam_m / pixel_m),
                                                   abs=1e-9)
    assert read["distance_mm"] == pytest.approx(nb.distance_m * 1000.0, abs=1e-9)
    # the angles between the detector axes, the beam and the spindle are the engine's
    rotation = g.lab_rotation
    for ours, theirs in ((read["fast"], nb.fdet), (read["slow"], nb.sdet),
                         (read["spindle"], nb.spindle), ([0.0, 0.0, 1.0], nb.beam)):
        np.testing.assert_allclose(ours, rotation @ theirs, atol=1e-12)
        assert np.dot(ours, [0.0, 0.0, 1.0]) == pytest.approx(np.dot(theirs, nb.beam))


@pytest.mark.parametrize("dtype", [np.uint16, np.int32, np.float32])
def test_nexus_stack_opens_in_h5py_and_fabio(tmp_path, dtype: type) -> None:
    g = series_geometry(small_config(), saturation_value=None if dtype is np.float32 else 65535)
    scan = sweep(3)
    writer = open_writer("nexus", tmp_path, g, scan, dtype)
    for index in (1, 2, 0):
        writer.write(Frame(index, frame_data(dtype, index), scan[index]))
    writer.close(complete=True)
    path = tmp_path / "series.nxs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["series.nxs"]
    with h5py.File(path, "r") as file:
        data = file["/entry/data/data"]
        assert data.shape == (3, SLOW, FAST)
        assert data.dtype == dtype
        assert data.chunks == (1, SLOW, FAST)
        filter_id, _, options, _ = data.id.get_create_plist().get_filter(0)
        assert filter_id == hdf5plugin.BSHUF_ID
        assert options[-1] == 2  # LZ4 (bitshuffle's compression codes: 2 LZ4, 3 zstd)
        assert file["/entry/instrument/detector/data"] == data
        for index in range(3):
            np.testing.assert_array_equal(data[index], frame_data(dtype, index))
        detector = file["/entry/instrument/detector"]
        assert ("saturation_value" in detector) == (dtype is not np.float32)
        assert float(detector["count_time"][()]) == 1.0
        assert "misset_deg" not in file["/entry/nanobragg"]
    image = fabio.open(str(path))
    assert image.nframes == 3
    for index in range(3):
        np.testing.assert_array_equal(image.getframe(index).data, frame_data(dtype, index))


def test_nexus_stills_record_each_misset(tmp_path) -> None:
    g = series_geometry(small_config())
    scan = [ScanPoint(5.0, 0.0, (1.0, 2.0, 3.0)), ScanPoint(5.0, 0.0, (-4.0, 0.5, 90.0))]
    writer = open_writer("nexus", tmp_path, g, scan, np.uint16)
    for index, point in enumerate(scan):
        writer.write(Frame(index, frame_data(np.uint16, index), point))
    writer.close(complete=True)
    with h5py.File(tmp_path / "series.nxs", "r") as file:
        np.testing.assert_array_equal(file["/entry/nanobragg/misset_deg"][()],
                                      [[1.0, 2.0, 3.0], [-4.0, 0.5, 90.0]])
        np.testing.assert_allclose(file["/entry/nanobragg/lab_axes"][()], NB_TO_MCSTAS.T)
        phi = file["/entry/sample/transformations/phi"]
        np.testing.assert_array_equal(phi[()], [5.0, 5.0])
        np.testing.assert_array_equal(file["/entry/sample/transformations/phi_end"][()],
                                      [5.0, 5.0])
        assert file["/entry/sample/transformations/phi_increment_set"][()] == 0.0


def test_nexus_part_file_resumes_and_is_published_complete(tmp_path) -> None:
    g = series_geometry(small_config())
    scan = sweep(3)
    writer = open_writer("nexus", tmp_path, g, scan, np.uint16)
    writer.write(Frame(2, frame_data(np.uint16, 2), scan[2]))
    writer.write(Frame(0, frame_data(np.uint16, 99), scan[0]))
    writer.write(Frame(0, frame_data(np.uint16, 0), scan[0]))
    assert writer.written() == {0, 2}
    with pytest.raises(ValueError, match="1 of 3 frames are not written"):
        writer.close(complete=True)
    writer.close(complete=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["series.nxs.part"]

    again = open_writer("nexus", tmp_path, g, scan, np.uint16)
    assert again.written() == {0, 2}
    again.write(Frame(1, frame_data(np.uint16, 1), scan[1]))
    again.close(complete=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["series.nxs"]
    with h5py.File(tmp_path / "series.nxs", "r") as file:
        for index in range(3):
            np.testing.assert_array_equal(file["/entry/data/data"][index],
                                          frame_data(np.uint16, index))
    with pytest.raises(ValueError, match="the writer is closed"):
        again.write(Frame(1, frame_data(np.uint16, 1), scan[1]))


@pytest.mark.parametrize("change", ["dtype", "frames", "angles", "garbage"])
def test_nexus_stale_part_file_is_replaced(tmp_path, change: str) -> None:
    g = series_geometry(small_config())
    scan = sweep(3)
    writer = open_writer("nexus", tmp_path, g, scan, np.uint16)
    writer.write(Frame(0, frame_data(np.uint16), scan[0]))
    writer.close(complete=False)
    dtype: type = np.uint16
    if change == "dtype":
        dtype = np.int32
    elif change == "frames":
        scan = sweep(4)
    elif change == "angles":
        scan = sweep(3, osc=0.2)
    else:
        (tmp_path / "series.nxs.part").write_bytes(b"not HDF5")
    again = open_writer("nexus", tmp_path, g, scan, dtype)
    assert again.written() == frozenset()
    again.close(complete=False)


# -- CBF --------------------------------------------------------------------------------


def dxtbx_style_header(path) -> dict[str, str]:
    """``# Key value`` lines of a miniCBF header split as dxtbx's miniCBF reader splits
    them: ``=`` and ``:`` dropped, the first word the key."""
    text = path.read_bytes().split(b"--CIF-BINARY-FORMAT-SECTION--")[0].decode("ascii")
    found = {}
    for record in text.splitlines():
        if not record.startswith("#"):
            continue
        if len(record[1:].split()) <= 2 and record.count(":") == 2:
            found["timestamp"] = record[1:].strip()
            continue
        tokens = record.replace("=", "").replace(":", "").split()
        found[tokens[1]] = " ".join(tokens[2:])
    return found


@pytest.mark.parametrize("dtype", [np.uint16, np.int32])
def test_cbf_files_open_in_fabio_with_pilatus_headers(tmp_path, dtype: type) -> None:
    config = small_config(thickness_um=320.0, beam_x_mm=1.1, beam_y_mm=0.7)
    config = dataclasses.replace(config, beam=dataclasses.replace(
        config.beam, exposure_s=0.5, polarization=0.98))
    g = series_geometry(config, saturation_value=65535 if dtype is np.uint16 else 1048575)
    scan = sweep(3, start=-1.0, osc=0.1)
    writer = open_writer("cbf", tmp_path, g, scan, dtype)
    for index in (2, 1):
        data = frame_data(dtype, index)
        if dtype is np.int32:
            data[0, :3] = (-1, -2, 2**31 - 1)  # Pilatus' bad and gap pixels, the 32-bit top
        writer.write(Frame(index, data, scan[index]))
    writer.close(complete=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["image_00002.cbf", "image_00003.cbf"]
    assert writer.written() == {1, 2}

    [path] = writer.final_paths(2)
    image = fabio.open(str(path))
    assert image.data.shape == (SLOW, FAST)
    assert image.data.dtype == np.int32
    expected = frame_data(dtype, 2).astype(np.int32)
    if dtype is np.int32:
        expected[0, :3] = (-1, -2, 2**31 - 1)
    np.testing.assert_array_equal(image.data, expected)
    assert image.header["_array_data.header_convention"] == "PILATUS_1.2"

    pilatus = image.pilatus_headers
    assert pilatus["Pixel_size"] == pytest.approx((1e-4, 1e-4))
    assert pilatus["Detector_distance"] == pytest.approx(0.1)
    assert pilatus["Wavelength"] == pytest.approx(1.2)
    assert pilatus["Beam_xy"] == pytest.approx((7.5, 11.5))
    assert pilatus["Start_angle"] == pytest.approx(-0.8)
    assert pilatus["Angle_increment"] == pytest.approx(0.1)
    assert pilatus["Exposure_time"] == pytest.approx(0.5)
    assert pilatus["Count_cutoff"] == g.saturation_value
    assert pilatus["Polarization"] == pytest.approx(0.99)

    header = dxtbx_style_header(path)
    assert float(header["Silicon"].split()[2]) == pytest.approx(320e-6)
    assert float(header["Exposure_period"].split()[0]) == 0.5
    assert header["Beam_xy"].replace("(", "").replace(")", "").replace(",", "").split()[:2] == [
        "7.5", "11.5"]
    assert [float(v) for v in header["Pixel_size"].replace("m", "").replace("x", "").split()] \
        == pytest.approx([1e-4, 1e-4])
    assert float(header["Phi"].split()[0]) == pytest.approx(-0.8)
    assert header["timestamp"] == "1970-01-01T00:00:01.000"
    assert header["Oscillation_axis"] == "X, CW"


def test_cbf_refuses_photons_and_tilted_detectors(tmp_path) -> None:
    g = series_geometry(small_config())
    with pytest.raises(ValueError, match="cbf frames of float32 cannot be written; cbf "
                                         "takes uint16, int32"):
        open_writer("cbf", tmp_path, g, sweep(), np.float32)
    for tilt in ({"twotheta_deg": 10.0}, {"rotz_deg": 1.0}, {"convention": "adxv"}):
        with pytest.raises(ValueError, match="cannot state this detector's orientation"):
            open_writer("cbf", tmp_path, series_geometry(small_config(**tilt)), sweep(),
                        np.int32)
    custom = dataclasses.replace(g, spindle_axis=np.array([-0.6, 0.0, 0.8]))
    with pytest.raises(ValueError, match="cannot state this goniometer"):
        open_writer("cbf", tmp_path, custom, sweep(), np.int32)
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_cbf_write_leaves_nothing(tmp_path, monkeypatch) -> None:
    g = series_geometry(small_config())
    scan = sweep(1)
    writer = open_writer("cbf", tmp_path, g, scan, np.int32)

    def interrupted(self: object, fname: str) -> None:
        with open(fname, "wb") as handle:
            handle.write(b"###CBF: half")
        raise KeyboardInterrupt

    monkeypatch.setattr(fabio.cbfimage.CbfImage, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        writer.write(Frame(0, frame_data(np.int32), scan[0]))
    assert list(tmp_path.iterdir()) == []
    assert writer.written() == frozenset()


# -- the files against the images: spots land where each file's geometry puts them -------

SPOTS_BASE = ("-cell 40 50 60 90 90 90 -misset 10 20 30 -default_F 100 -N 12 -lambda 1 "
              "-distance 100 -detpixels 100 -pixel 0.5 -phisteps 4 -mosaic 0").split()


def _rotation(axis: np.ndarray, angle_deg: float) -> np.ndarray:
    """Right-handed rotation by ``angle_deg`` about ``axis`` (Rodrigues)."""
    k = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    cross = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    t = np.radians(angle_deg)
    return np.eye(3) + np.sin(t) * cross + (1.0 - np.cos(t)) * cross @ cross


def _frame_of(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Columns: an orthonormal frame built from two directions."""
    e1 = first / np.linalg.norm(first)
    e2 = second - e1 * (e1 @ second)
    e2 = e2 / np.linalg.norm(e2)
    return np.stack([e1, e2, np.cross(e1, e2)], axis=1)


def spot_errors(image: np.ndarray, config: Config, file: dict[str, object],
                sense: float) -> np.ndarray:
    """For each reflection the file's geometry puts on the detector during the frame
    (rotating the crystal by ``sense`` x phi about the file's spindle), the distance in
    pixels from there to the centroid of the image around it.  The crystal at phi = 0
    is the engine's, turned into the file's frame by the rotation that takes nanoBragg's
    beam and spindle to the file's: nothing else of our mapping is used."""
    from nanobragg.simulation import prepare
    from nanobragg.stages import to_numpy

    setup = prepare(config)
    crystal, g = to_numpy(setup.crystal), to_numpy(setup.geometry)
    beam, axis = np.asarray(file["beam"]), np.asarray(file["spindle"])
    turn = _frame_of(beam, axis) @ _frame_of(np.asarray(g.beam), np.asarray(g.spindle)).T
    stars = np.stack([turn @ np.asarray(v) for v in (crystal.a_star_per_A,
                                                      crystal.b_star_per_A,
                                                      crystal.c_star_per_A)], axis=1)
    origin, fast, slow = (np.asarray(file[k]) for k in ("origin_mm", "fast", "slow"))
    normal = np.cross(fast, slow)
    normal = normal if origin @ normal > 0 else -normal
    s0 = beam / float(file["wavelength_A"])
    h = np.arange(-10, 11)
    hkl = np.stack(np.meshgrid(h, h, h, indexing="ij"), -1).reshape(-1, 3)
    hkl = hkl[np.abs(hkl).sum(axis=1) > 0]
    start, end = float(file["phi_start"][0]), float(file["phi_end"][0])
    phis = np.linspace(start, end, 41)
    r0 = hkl @ stars.T
    # Ewald condition |s0 + r|^2 - |s0|^2 at each phi; a reflection crosses where it changes sign
    ewald = np.array([2.0 * (r0 @ _rotation(axis, sense * p).T) @ s0
                      + np.einsum("ij,ij->i", r0, r0) for p in phis])
    crossing = np.sign(ewald[:-1]) != np.sign(ewald[1:])
    errors = []
    for i in np.flatnonzero(crossing.any(axis=0)):
        phi = phis[np.argmax(crossing[:, i])]
        s1 = s0 + r0[i] @ _rotation(axis, sense * phi).T
        if s1 @ normal <= 0:
            continue
        hit = (origin @ normal) / (s1 @ normal) * s1 - origin
        x, y = hit @ fast / float(file["pixel_mm"]), hit @ slow / float(file["pixel_mm"])
        if not (3 < x < image.shape[1] - 3 and 3 < y < image.shape[0] - 3):
            continue
        row, column = int(y), int(x)
        window = image[row - 3:row + 4, column - 3:column + 4]
        rows, columns = np.mgrid[row - 3:row + 4, column - 3:column + 4] + 0.5
        weight = window.sum()
        errors.append(np.hypot((columns * window).sum() / weight - x,
                               (rows * window).sum() / weight - y) if weight > 0 else 9.0)
    return np.array(errors)


def assert_spots_land(image: np.ndarray, config: Config, file: dict[str, object]) -> None:
    right = spot_errors(image, config, file, +1.0)
    assert len(right) >= 20
    # within a pixel (spots a few pixels wide, some overlapping their neighbours)
    assert np.median(right) < 0.5
    assert np.mean(right < 0.75) > 0.7
    # the same with phi turning the other way does not fit: the test can tell
    wrong = spot_errors(image, config, file, -1.0)
    assert np.median(wrong) > 1.0


@pytest.mark.parametrize("flags", [[], ["-xds"], ["-adxv"], ["-twotheta", "20"],
                                   ["-detector_rotx", "5", "-detector_roty", "-4"],
                                   ["-spindle_axis", "0", "-1", "0"]],
                         ids=("mosflm", "xds", "adxv", "twotheta", "rotated",
                              "vertical-spindle"))
def test_nexus_spots_land_where_its_geometry_puts_them(flags, tmp_path) -> None:
    from nanobragg.series import Series, Sweep, run_series

    series = Series(Config.from_cli([*SPOTS_BASE, "-nonoise", *flags]), Sweep(30.0, 1.0, 1))
    run_series(series, tmp_path, format="nexus")
    read = read_nexus_geometry(tmp_path / "series.nxs")
    with h5py.File(tmp_path / "series.nxs") as nexus:
        image = nexus["/entry/data/data"][0].astype(np.float64)
    fast_ds_mm = 0.5
    file = {**read, "beam": np.array([0.0, 0.0, 1.0]), "pixel_mm": fast_ds_mm}
    assert_spots_land(image, series.image_config(0), file)


def _pilatus_header(text: str) -> dict[str, str]:
    """The header as dxtbx's FormatCBFMini reads it: '# Key value' lines."""
    values = {}
    for line in text.replace("\r", "").split("\n"):
        tokens = line.replace("=", "").replace(":", "").split()
        if line.startswith("#") and len(tokens) > 2:
            values[tokens[1]] = " ".join(tokens[2:])
    return values


@pytest.mark.parametrize("flags", [["-Xbeam", "22", "-Ybeam", "28"], ["-xds"]],
                         ids=("mosflm", "xds"))
def test_cbf_spots_land_where_a_pilatus_reader_puts_them(flags, tmp_path) -> None:
    from nanobragg.series import Series, Sweep, run_series

    series = Series(Config.from_cli([*SPOTS_BASE, *flags]), Sweep(30.0, 1.0, 1))
    run_series(series, tmp_path, format="cbf")
    header = _pilatus_header(fabio.open(str(tmp_path / "image_00001.cbf"))
                             .header["_array_data.header_contents"])
    # dxtbx's reading, in the imgCIF frame: fast +x, slow -y, beam -z, spindle +x
    pixel_mm = float(header["Pixel_size"].split()[0].replace("e-6", "")) / 1000.0
    beam_x, beam_y = (float(v) for v in
                      header["Beam_xy"].strip("()pixels ").replace(",", " ").split())
    distance = float(header["Detector_distance"].split()[0]) * 1000.0
    fast, slow = np.array([1.0, 0.0, 0.0]), np.array([0.0, -1.0, 0.0])
    start = float(header["Start_angle"].split()[0])
    file = {"beam": np.array([0.0, 0.0, -1.0]), "spindle": np.array([1.0, 0.0, 0.0]),
            "origin_mm": distance * np.array([0.0, 0.0, -1.0]) - fast * beam_x * pixel_mm
            - slow * beam_y * pixel_mm, "fast": fast, "slow": slow, "pixel_mm": pixel_mm,
            "wavelength_A": float(header["Wavelength"].split()[0]),
            "phi_start": [start],
            "phi_end": [start + float(header["Angle_increment"].split()[0])]}
    config = series.image_config(0)
    photons = simulate_photons(config)
    assert_spots_land(photons, config, file)


def simulate_photons(config: Config) -> np.ndarray:
    from nanobragg import simulate

    quiet = dataclasses.replace(config, output=dataclasses.replace(config.output,
                                                                   write_noise=False))
    return simulate(quiet).image_float64
