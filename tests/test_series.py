"""The series description (nanobragg.Series) and the rendering of its images."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import nanobragg
from conftest import DATA
from nanobragg import AmorphousConfig, Config, ResponseConfig, simulate
from nanobragg.series import (
    Series,
    Stills,
    Sweep,
    background_from_flags,
    render_frame,
    response_from_flags,
    scan_points,
)
from nanobragg.series.orientation import matrix_to_misset_deg, misset_matrix, random_rotation
from nanobragg.series.render import frame_dtype

BASE = ("-cell 78 78 38 90 90 90 -default_F 100 -N 4 -lambda 1.5 -distance 60 "
        "-detpixels 32 -pixel 0.2 -phisteps 3 -mosaic 0.2 -mosaic_dom 2").split()
WATER = DATA / "golden" / "inputs" / "water.stol"


def base_config(*extra: str) -> Config:
    return Config.from_cli([*BASE, *extra])


def test_series_is_public():
    assert nanobragg.Series is Series
    assert "Series" in nanobragg.__all__


def full_series() -> list[Series]:
    config = base_config()
    stills = Stills(3, missets_deg=[(1, 2, 3), (4, 5, 6), (7, 8, 9)],
                    N_cells=[(3, 3, 3), (4, 4, 4), (5, 5, 5)],
                    crystal_size_mm=[(0, 0, 0)] * 3, fluence=[1e24, 2e24, 3e24],
                    source_paths=["a.txt", "b.txt", "c.txt"])
    return [
        Series(config, Sweep(10.0, 0.5, 4), seed=7),
        Series(config, stills, seed=3, backend="torch", c_parity=True, device="cpu",
               dtype="float64"),
        Series(config, Stills(5, orientation_seed=11), seed=1,
               background=AmorphousConfig(stol_file=str(WATER), fpixels=32, spixels=32,
                                          pixel_size_mm=0.2, distance_mm=60.0),
               response=ResponseConfig(readout_adu=2.0, psf="gauss", bits=32)),
    ]


@pytest.mark.parametrize("series", full_series(), ids=("sweep", "stills", "extras"))
@pytest.mark.parametrize("kind", ["toml", "json"])
def test_description_round_trips(series, kind):
    text = series.to_toml() if kind == "toml" else series.to_json()
    back = Series.from_toml(text) if kind == "toml" else Series.from_json(text)
    assert back == series
    assert back.fingerprint() == series.fingerprint()
    assert (back.to_toml() if kind == "toml" else back.to_json()) == text


def test_fingerprint_names_the_description():
    config = base_config()
    prints = {Series(config, Sweep(0, 1, 3), seed=s).fingerprint() for s in (0, 1)}
    prints.add(Series(config, Sweep(0, 1, 4)).fingerprint())
    prints.add(Series(base_config("-N", "5"), Sweep(0, 1, 3)).fingerprint())
    assert len(prints) == 4


def test_in_memory_config_is_refused_by_to_toml_but_has_a_fingerprint():
    config = base_config().replace(detector=dataclasses.replace(
        base_config().detector, mask=np.ones((32, 32))))
    series = Series(config, Sweep(0, 1, 2))
    with pytest.raises(ValueError, match=r"^config: cannot be written as nanoBragg flags "
                                         r"\(detector.mask holds in-memory data"):
        series.to_toml()
    masked = config.replace(detector=dataclasses.replace(config.detector,
                                                         mask=np.zeros((32, 32))))
    assert series.fingerprint() != Series(masked, Sweep(0, 1, 2)).fingerprint()


@pytest.mark.parametrize(("make", "message"), [
    (lambda c: Series(c, Sweep(0, 0, 3)), (r"^sweep.osc_deg: 0 is not valid; expected a "
                                            r"finite number > 0$")),
    (lambda c: Series(c, Sweep(0, 1, 0)), r"^sweep.images: 0 is not valid"),
    (lambda c: Series(c, Sweep(float("nan"), 1, 3)), r"^sweep.start_deg: nan"),
    (lambda c: Series(c, Sweep(0, 1, 3), seed=-1), r"^seed: -1 is not valid"),
    (lambda c: Series(c, Sweep(0, 1, 3), backend="gpu"), r"^backend: 'gpu' is not valid"),
    (lambda c: Series(c, Sweep(0, 1, 3), device="cuda"), r"^device: 'cuda' is for the torch"),
    (lambda c: Series(c, Sweep(0, 1, 3), backend="torch", dtype="half"),
     r"^dtype: 'half' is not valid"),
    (lambda c: Series(c.replace(output=dataclasses.replace(c.output, seed=3)),
                      Sweep(0, 1, 3)), r"^config.output.seed: 3 is set by the series"),
    (lambda c: Series(c.replace(crystal=dataclasses.replace(c.crystal, osc_deg=2.0)),
                      Sweep(0, 1, 3)), r"^config.crystal.osc_deg: 2.0 is set by the sweep"),
    (lambda c: Series(c, Stills(2, orientation_seed=1, missets_deg=[(0, 0, 0)] * 2)),
     r"^stills.missets_deg: give one of orientation_seed"),
    (lambda c: Series(c, Stills(2, fluence=[1e24])), r"^stills.fluence: expected 2 values"),
    (lambda c: Series(c, Stills(2, N_cells=[(1, 2)] * 2)), r"^stills.N_cells: expected 2 rows"),
    (lambda c: Series(c, Stills(2, fluence=1e24)), r"^stills.fluence: expected 2 values"),
    (lambda c: Series(c, Stills(2, source_paths="ab")), r"^stills.source_paths: expected 2"),
    (lambda c: Series(c, Stills(2, source_paths=["a", 3])),
     r"^stills.source_paths: 3 is not valid; expected a file name"),
    (lambda c: Series(c, Stills(2), response=ResponseConfig(readout_adu="x")),
     r"^response.readout_adu: "),
    (lambda c: Series(c, Stills(2), response=ResponseConfig(seed=4)),
     r"^response.seed: 4 is set by the series"),
    (lambda c: Series(c, Stills(1, matrices=[np.diag([1.0, 1.0, -1.0])])),
     r"^stills.matrices\[0\]: not a rotation"),
    (lambda c: Series(c.replace(crystal=dataclasses.replace(c.crystal, misset_random=True)),
                      Stills(2, orientation_seed=1)), r"^config.crystal.misset_random"),
])
def test_validation_names_the_field(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make(base_config())


@pytest.mark.parametrize(("text", "message"), [
    ("[series]\nconfig = '-N 3'\n", r"^series: give exactly one of \[sweep\] and \[stills\]"),
    ("[series]\nconfig = '-N 3'\ncolour = 1\n[series.sweep]\n", r"^series: unknown key 'colour'"),
    ("[series]\nconfig = 3\n[series.sweep]\nimages = 1\n", r"^config: 3 is not valid"),
    ("[series]\nconfig = '-N 3'\n[series.sweep]\nimages = 2\nosc = 1\n",
     r"^sweep.osc: unknown field"),
    ("[series]\nconfig = '-N 3'\n[series.sweep]\nimages = 2\n", r"^sweep: .*missing"),
    ("[series]\nconfig = '-N'\n[series.sweep]\nimages = 2\nstart_deg = 0\nosc_deg = 1\n",
     r"^config: -N: needs 1 value"),
    ("[series]\nconfig = '-N 3 \"x'\n[series.stills]\nimages = 2\n",
     r"^config: No closing quotation in "),
    ("[series]\nconfig = '-nosuch'\n[series.stills]\nimages = 2\n",
     r"^config: unknown flag '-nosuch'"),
    (("[series]\nconfig = '-N 3'\n[series.stills]\nimages = 2\n[series.response]\n"
      "psf = 'square'\n"), r"^response.psf: 'square' is not valid"),
    ("[other]\n", r"^series TOML: expected one \[series\] table"),
    ("[series\n", r"^series TOML: "),
])
def test_file_errors_are_one_line(text, message):
    with pytest.raises(ValueError, match=message) as caught:
        Series.from_toml(text)
    assert "\n" not in str(caught.value)


def test_sweep_image_is_the_standalone_nanobragg_image(engine, c_parity):
    series = Series(base_config(), Sweep(5.0, 0.7, 3), seed=2, backend=engine,
                    c_parity=c_parity)
    for index in range(3):
        seeds = series.image_seeds(index)
        alone = Config.from_cli([*BASE, "-phi", repr(5.0 + index * 0.7), "-osc", "0.7",
                                 "-seed", str(seeds.noise)])
        result = simulate(alone, engine, c_parity)
        frame = render_frame(series, index)
        assert frame.scan == scan_points(series)[index]
        assert frame.data.dtype == np.uint16
        np.testing.assert_array_equal(frame.data, result.noise_image()[0])
        photons = Series(base_config("-nonoise"), series.scan, seed=2, backend=engine,
                         c_parity=c_parity)
        np.testing.assert_array_equal(render_frame(photons, index).data, result.image)


def test_seeds_depend_on_the_seed_and_index_only():
    short = Series(base_config(), Stills(3, orientation_seed=4), seed=9)
    long = Series(base_config(), Stills(6, orientation_seed=4), seed=9)
    backwards = [render_frame(long, i).checksum for i in (2, 1, 0)]
    assert backwards[::-1] == [render_frame(short, i).checksum for i in range(3)]
    seeds = [long.image_seeds(i) for i in range(6)]
    assert len({s.noise for s in seeds}) == len({s.mosaic for s in seeds}) == 6
    assert seeds[0] != Series(base_config(), Stills(3), seed=10).image_seeds(0)
    sweep = Series(base_config(), Sweep(0, 1, 3), seed=9)
    # every image of a sweep shows the same crystal: the base's mosaic domains
    assert {sweep.image_seeds(i).mosaic for i in range(3)} == {12345678}


def test_still_orientations_are_reproducible_and_uniform():
    stills = Stills(4, orientation_seed=21)
    again = [Stills(4, orientation_seed=21).misset_deg(i) for i in range(4)]
    assert [stills.misset_deg(i) for i in range(4)] == again
    assert len(set(again)) == 4
    assert Stills(4, orientation_seed=22).misset_deg(0) != again[0]
    rng = np.random.default_rng(5)
    rotations = np.array([random_rotation(rng) for _ in range(4000)])
    # a uniform (Haar) rotation has mean matrix 0 and a trace of mean 0
    assert np.abs(rotations.mean(axis=0)).max() < 0.05
    assert abs(np.trace(rotations, axis1=1, axis2=2).mean()) < 0.05


def test_still_matrix_is_applied_as_its_misset():
    rotation = random_rotation(np.random.default_rng(3))
    misset = matrix_to_misset_deg(rotation)
    np.testing.assert_allclose(misset_matrix(misset), rotation, atol=1e-12)
    series = Series(base_config(), Stills(1, matrices=[rotation]))
    config = series.image_config(0)
    assert config.crystal.misset_deg == pytest.approx(misset)
    base = simulate(base_config("-nonoise"), "c").crystal
    turned = simulate(config, "c").crystal
    for name in ("a_star_per_A", "b_star_per_A", "c_star_per_A", "a_m"):
        np.testing.assert_allclose(np.asarray(getattr(turned, name)),
                                   rotation @ np.asarray(getattr(base, name)), rtol=1e-9,
                                   atol=1e-12)


def test_stills_per_shot_values_reach_the_image_config():
    series = Series(base_config(), Stills(2, missets_deg=[(1, 2, 3), (4, 5, 6)],
                                          N_cells=[(3, 3, 3), (6, 6, 6)],
                                          fluence=[1e24, 2e24], source_paths=["a", "b"]))
    config = series.image_config(1)
    assert config.crystal.misset_deg == (4, 5, 6)
    assert tuple(config.crystal.N_cells) == (6, 6, 6)
    assert config.beam.fluence == 2e24
    assert config.beam.source_path == "b"
    assert config.crystal.osc_deg == 0.0
    assert config.output.seed == series.image_seeds(1).noise
    assert scan_points(series)[1].misset_deg == (4, 5, 6)


def test_frame_types():
    config = base_config()
    assert frame_dtype(Series(config, Sweep(0, 1, 1))) == np.uint16
    assert frame_dtype(Series(base_config("-nonoise"), Sweep(0, 1, 1))) == np.float32
    response = ResponseConfig(bits=32)
    assert frame_dtype(Series(config, Sweep(0, 1, 1), response=response)) == np.int32


def test_background_and_response_plug_in(engine):
    background = background_from_flags(
        f"-stol {WATER} -detpixels 32 -pixel 0.2 -distance 60 -lambda 1.5".split())
    photons = Series(base_config("-nonoise"), Sweep(0, 1, 2), backend=engine)
    with_water = dataclasses.replace(photons, background=background)
    water = nanobragg.amorphous(background, backend=engine).image
    np.testing.assert_allclose(render_frame(with_water, 1).data,
                               render_frame(photons, 1).data.astype(np.float64) + water,
                               rtol=1e-6)
    response = response_from_flags("-readout 2 -gain 2 -bits 32".split(), photons.config)
    assert response.pixel_size_mm == pytest.approx(0.2)
    counted = dataclasses.replace(with_water, response=response)
    frame = render_frame(counted, 1)
    assert frame.data.dtype == np.int32
    expected = nanobragg.detector_response(
        render_frame(with_water, 1).data, response.replace(seed=counted.image_seeds(1).response),
        backend=engine)
    np.testing.assert_array_equal(frame.data, expected.noisy)


def test_background_of_another_detector_is_refused():
    background = AmorphousConfig(stol_file=str(WATER), fpixels=16, spixels=16)
    series = Series(base_config(), Sweep(0, 1, 1), background=background)
    with pytest.raises(ValueError, match=r"^background: its detector is 16 x 16 pixels, the "
                                         r"series' 32 x 32"):
        render_frame(series, 0)


def test_response_seed_comes_from_the_series():
    with pytest.raises(ValueError, match=r"^response -seed: set by the series"):
        response_from_flags(["-seed", "4"], base_config())


def test_still_orientations_are_uniform_as_missets():
    """Through the misset angles the image configs get: the rotation angle follows the
    Haar law, P(angle <= t) = (t - sin t) / pi, and the turned z axis is uniform on the
    sphere (its z component uniform in [-1, 1])."""
    stills = Stills(2000, orientation_seed=11)
    matrices = np.array([misset_matrix(stills.misset_deg(i)) for i in range(stills.images)])
    cosine = np.clip((np.trace(matrices, axis1=1, axis2=2) - 1.0) / 2.0, -1.0, 1.0)
    angles = np.sort(np.arccos(cosine))
    expected = (angles - np.sin(angles)) / np.pi
    observed = np.arange(1, angles.size + 1) / angles.size
    # Kolmogorov-Smirnov: 1.63 / sqrt(n) is the 1% level
    assert np.abs(observed - expected).max() < 1.63 / np.sqrt(angles.size)
    z = np.sort(matrices[:, 2, 2])
    assert np.abs(observed - (z + 1.0) / 2.0).max() < 1.63 / np.sqrt(z.size)


def test_an_edited_input_file_makes_another_series(tmp_path, monkeypatch):
    from nanobragg.series import SeriesMismatch, run_series

    monkeypatch.chdir(tmp_path)
    Path("P1.hkl").write_text("0 0 1 100\n1 0 0 80\n0 1 0 60\n")
    argv = [*BASE, "-hkl", "P1.hkl", "-nonoise"]
    first = Series(Config.from_cli(argv), Sweep(0, 1, 2))
    run_series(first, "out", format="nexus")
    before = first.fingerprint()
    Path("P1.hkl").write_text("0 0 1 100\n1 0 0 80\n0 1 0 61\n")
    edited = Series(Config.from_cli(argv), Sweep(0, 1, 2))
    assert edited.fingerprint() != before
    with pytest.raises(SeriesMismatch, match="holds images of another series"):
        run_series(edited, "out", format="nexus")
