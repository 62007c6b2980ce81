"""Both c_parity modes of every quirk in the render, geometry and crystal stages.

Each test states a property the corrected physics must have and shows that the
legacy mode breaks it in the way the original does.
"""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import numpy as np
import pytest

import nanobragg as nb
from nanobragg.io import StructureFactors, write_fdump
from nanobragg.parity import QUIRKS


def small_config(**changes) -> nb.Config:
    config = nb.Config()
    config.crystal.cell = (40.0, 40.0, 40.0, 90.0, 90.0, 90.0)
    config.crystal.N_cells = (5.0, 5.0, 5.0)
    config.structure_factors.default_F = 100.0
    config.detector.fpixels = config.detector.spixels = 24
    config.detector.distance_mm = 40.0
    config.detector.pixel_size_mm = 0.2
    config.beam.wavelength_A = 1.0
    config.sampling.oversample = 1
    config.output.seed = 1
    for group, fields in changes.items():
        setattr(config, group, dataclasses.replace(getattr(config, group), **fields))
    return config


def render(config: nb.Config, engine: str, c_parity: bool) -> np.ndarray:
    return nb.simulate(config, backend=engine, c_parity=c_parity).image.astype(np.float64)


def close(a: np.ndarray, b: np.ndarray, rtol: float = 1e-9) -> bool:
    return bool(np.allclose(a, b, rtol=rtol, atol=rtol * float(np.abs(b).max())))


BUGS = Path(__file__).resolve().parents[1] / "bugs"


@pytest.mark.parametrize("name", sorted(QUIRKS))
def test_bug_file_reproduction_runs(name, capsys):
    """Every quirk has its bugs/ file, and its Python reproduction runs."""
    text = (BUGS / f"{name}.md").read_text()
    for block in text.split("```python")[1:]:
        exec(compile(block.split("```")[0], f"bugs/{name}.md", "exec"), {})
        difference = float(capsys.readouterr().out.split()[-1])
        assert difference > 0.0, f"{name}: the two modes agree in its reproduction"


def test_phi_carryover(engine, c_parity):
    """A sweep of 3 phi steps is the mean of its 3 single-step images, unless carried over."""
    osc = 3.0
    sweep = render(small_config(crystal={"phi_deg": 0.0, "osc_deg": osc, "phi_steps": 3,
                                         "misset_deg": (5.0, 10.0, 3.0)}), engine, c_parity)
    singles = [render(small_config(crystal={"phi_deg": phi, "osc_deg": 0.0, "phi_steps": 1,
                                            "misset_deg": (5.0, 10.0, 3.0)}),
                      engine, c_parity) for phi in (0.0, 1.0, 2.0)]
    mean = sum(singles) / 3
    assert close(sweep, mean, 1e-6) is (not c_parity)


def test_factors_from_first_subpixel(engine, c_parity):
    """Oversampling 3x3 equals rendering 3x finer pixels and summing 3x3 blocks."""
    # XDS places the beam by the detector centre, which both grids share
    coarse = small_config(sampling={"oversample": 3},
                          detector={"fpixels": 8, "spixels": 8, "pixel_size_mm": 0.6,
                                    "convention": "xds"})
    fine = small_config(sampling={"oversample": 1},
                        detector={"fpixels": 24, "spixels": 24, "pixel_size_mm": 0.2,
                                  "convention": "xds"})
    a = render(coarse, engine, c_parity)
    b = render(fine, engine, c_parity).reshape(8, 3, 8, 3).sum(axis=(1, 3))
    assert close(a, b, 1e-6) is (not c_parity)


@pytest.mark.parametrize("flag", ["oversample_omega", "oversample_polar", "oversample_thick"])
def test_running_sum_factors(engine, c_parity, flag):
    """The oversample_* flags cannot change corrected images; legacy ones change a lot."""
    base = {"oversample": 2}
    detector = {"thickness_um": 100.0, "thickness_steps": 2}
    plain = render(small_config(sampling=base, detector=detector), engine, c_parity)
    flagged = render(small_config(sampling={**base, flag: True}, detector=detector), engine,
                     c_parity)
    if c_parity:
        assert not close(plain, flagged, 1e-3)
    else:
        assert close(plain, flagged, 1e-12)


def test_oversample_thick_without_thickness(engine, c_parity):
    image = render(small_config(sampling={"oversample_thick": True}), engine, c_parity)
    assert bool(image.max() == 0.0) is c_parity


def test_nopolar_overridden_by_oversample_polar(engine, c_parity):
    beam = {"nopolar": True}
    plain = render(small_config(beam=beam), engine, c_parity)
    flagged = render(small_config(beam=beam, sampling={"oversample_polar": True}), engine,
                     c_parity)
    assert close(plain, flagged, 1e-12) is (not c_parity)


def zero_structure_factors():
    return StructureFactors(hkl_min=(-1, -1, -1), hkl_max=(1, 1, 1),
                            values=np.zeros((3, 3, 3)), count=27)


def test_dmin_kills_background(engine, c_parity):
    """With water and a dmin cutting every pixel, the corrected image keeps the background."""
    config = small_config(beam={"water_um": 50.0}, structure_factors={"dmin_A": 1000.0})
    image = render(config, engine, c_parity)
    assert bool(image.max() == 0.0) is c_parity


def test_water_background_scaling(engine, c_parity):
    """The corrected background does not depend on the number of phi steps."""
    def background(steps):
        config = small_config(beam={"water_um": 50.0},
                              structure_factors={"default_F": 0.0,
                                                 "structure_factors": zero_structure_factors()},
                              crystal={"phi_steps": steps, "osc_deg": 0.5})
        return render(config, engine, c_parity)
    one, four = background(1), background(4)
    assert one.max() > 0
    assert close(one, four, 1e-9) is (not c_parity)


def test_source_weight_unused(engine, c_parity):
    """Weights (1, 0) on two sources equal the first source alone, when weights are used."""
    table = np.array([[-10.0, 0.0, 0.0, 1.0, 1.0e-10], [-10.0, 0.05, 0.0, 0.0, 1.1e-10]])
    both = render(small_config(beam={"sources": table}), engine, c_parity)
    first = render(small_config(beam={"sources": table[:1]}), engine, c_parity)
    assert close(both, first, 1e-9) is (not c_parity)


def test_random_misset(engine, c_parity):
    """A random misset is reproducible per seed and differs between seeds, in both modes."""
    def image(seed):
        return render(small_config(crystal={"misset_random": True, "misset_seed": seed}),
                      engine, c_parity)
    assert np.array_equal(image(3), image(3))
    assert not close(image(3), image(4), 1e-3)


def test_random_misset_cap_in_radians(c_parity):
    result = nb.simulate(small_config(crystal={"misset_random": True, "misset_seed": 11}),
                         c_parity=c_parity)
    angles = result.crystal.misset_rad
    assert np.all(np.abs(angles) <= np.pi + 1e-12)


def test_odet_replaced_when_not_unit(engine, c_parity):
    """fdet x sdet points away from the sample here, so replacing odet changes the image."""
    custom = {"convention": "custom", "fdet_vector": (0.0, 0.0, 1.0),
              "sdet_vector": (0.0, 1.0, 0.0), "beam_x_mm": 2.4, "beam_y_mm": 2.4}
    beam = {"wavelength_A": 1.3}  # 2a/lambda not whole, so back and front patterns differ
    unit = render(small_config(beam=beam, detector={**custom, "odet_vector": (1.0, 0.0, 0.0)}),
                  engine, c_parity)
    long = render(small_config(beam=beam, detector={**custom, "odet_vector": (2.0, 0.0, 0.0)}),
                  engine, c_parity)
    assert close(unit, long, 1e-12) is (not c_parity)


def test_pivot_forced_by_convention(engine, c_parity):
    rotated = {"rotx_deg": 5.0, "roty_deg": 4.0}
    beam = render(small_config(detector={**rotated, "pivot": "beam"}), engine, c_parity)
    sample = render(small_config(detector={**rotated, "pivot": "sample"}), engine, c_parity)
    assert close(beam, sample, 1e-12) is c_parity


def test_pix0_vector_ignored(engine, c_parity):
    custom = {"convention": "custom", "pix0_vector_m": (0.04, 0.001, -0.001)}
    given = render(small_config(detector=custom), engine, c_parity)
    default = render(small_config(detector={"convention": "custom"}), engine, c_parity)
    assert close(given, default, 1e-12) is c_parity


def test_triclinic_cstar_z(c_parity):
    """The corrected cell has exactly the requested angles."""
    result = nb.simulate(small_config(crystal={"cell": (70.0, 80.0, 90.0, 60.0, 70.0, 80.0)}),
                         c_parity=c_parity)
    angles = np.degrees(result.crystal.cell_angles_rad)
    assert bool(np.allclose(angles, (60.0, 70.0, 80.0), atol=1e-9)) is (not c_parity)
    assert np.allclose(result.crystal.cell_lengths_A, (70.0, 80.0, 90.0))


@pytest.mark.parametrize("shape", ["gauss", "tophat"])
def test_spot_radius_units(engine, shape):
    """For a cubic cell the legacy radius is the corrected one times a^-2 N^4."""
    a, n = 40.0, 5.0
    corrected = render(small_config(crystal={"shape": shape, "fudge": 1.0}), engine, False)
    legacy = render(small_config(crystal={"shape": shape, "fudge": a * a / n**4}), engine, True)
    plain_legacy = render(small_config(crystal={"shape": shape, "fudge": 1.0}), engine, True)
    assert close(corrected, legacy, 1e-9)
    assert not close(corrected, plain_legacy, 1e-3)


def test_thicksteps_overcount(c_parity):
    config = small_config(detector={"thickness_um": 100.0, "thickness_steps": 4})
    sweep = nb.simulate(config, c_parity=c_parity).sampling.thickness
    assert sweep.steps == 4
    assert sweep.step * sweep.steps == pytest.approx(100e-6 * (4 / 3 if c_parity else 1.0))


def test_polar_vector_not_orthogonalised(engine, c_parity):
    """Vertical divergence turns the beam about the E vector; only its normal part counts."""
    def image(polar):
        return render(small_config(detector={"convention": "custom"},
                                   beam={"beam_vector": (1.0, 0.0, 0.0), "polar_vector": polar,
                                         "polarization": 0.9, "vdiv_range_mrad": 20.0,
                                         "vdiv_steps": 3, "round_div": False}),
                      engine, c_parity)
    assert close(image((1.0, 0.0, 1.0)), image((0.0, 0.0, 1.0)), 1e-12) is (not c_parity)


def test_polar_vector_parallel_to_beam_is_an_error(engine, c_parity):
    config = small_config(detector={"convention": "custom"},
                          beam={"beam_vector": (1.0, 0.0, 0.0), "polar_vector": (2.0, 0.0, 0.0)})
    with pytest.raises(ValueError, match=r"beam\.polar_vector"):
        nb.simulate(config, backend=engine, c_parity=c_parity)


def test_misset_seed_ignores_seed(engine, c_parity):
    def image(**crystal):
        config = small_config(crystal={"misset_random": True, **crystal})
        config.output.seed = 7
        return render(config, engine, c_parity)
    assert bool(np.array_equal(image(), image(misset_seed=7))) is (not c_parity)


@pytest.mark.parametrize("N", [(5.0, 5.0, 5.0), (3.0, 7.0, 70.0), (1.0, 4.0, 2.0)])
def test_modes_agree_where_no_quirk_applies(engine, N):
    """One sub-pixel, source, phi step and domain: the two modes differ only in how they
    evaluate the lattice factor, which must agree to rounding for whole N."""
    config = small_config(crystal={"N_cells": N, "misset_deg": (7.0, 11.0, 13.0)})
    assert close(render(config, engine, False), render(config, engine, True), 1e-9)


def test_fractional_N_lattice_factor_is_periodic(engine, c_parity):
    """sin(N pi h) / sin(pi h) repeats at every whole h only for whole N: with N = 2.5
    the original's form has a pole at l = 1 (sin(2.5 pi) = 1 over sin(pi) = 0); the
    corrected form, of the distance to the nearest lattice point, peaks at N there too."""
    config = small_config(crystal={"N_cells": (1.0, 1.0, 2.5)},
                          detector={"fpixels": 64, "spixels": 64, "pixel_size_mm": 0.05})
    result = nb.simulate(config, backend=engine, c_parity=c_parity)
    g = result.geometry
    s, f = np.mgrid[0:64, 0:64]
    pixel = 0.05e-3
    position = (np.asarray(g.pix0_m, float) + ((f + 0.5) * pixel)[..., None] * g.fdet
                + ((s + 0.5) * pixel)[..., None] * g.sdet)
    diffracted = position / np.linalg.norm(position, axis=-1, keepdims=True)
    l_index = (diffracted - np.asarray(g.beam, float)) @ (np.asarray(result.crystal.c_m) * 1e10)
    image = result.image.astype(np.float64)
    ratio = image[np.abs(l_index - 1) < 0.5].max() / image[np.abs(l_index) < 0.5].max()
    assert bool(ratio > 10.0) is c_parity
    assert c_parity or 0.5 < ratio < 2.0


def test_step_overrides_count(c_parity):
    config = small_config(crystal={"phi_step_deg": 0.1, "phi_steps": 10},
                          beam={"hdiv_step_mrad": 0.5, "hdiv_steps": 5})
    sampling = nb.simulate(config, c_parity=c_parity).sampling
    assert (sampling.phi.steps, sampling.hdiv.steps) == ((2, 2) if c_parity else (10, 5))


def test_off_centre_grid(c_parity):
    config = small_config(beam={"hdiv_range_mrad": 0.3, "hdiv_step_mrad": 0.04,
                                "round_div": False})
    result = nb.simulate(config, c_parity=c_parity)
    # horizontal divergence turns the beam (along x) about beam x polarization = -y
    angles = np.arctan2(result.sources.direction[:, 2], -result.sources.direction[:, 0])
    assert bool(np.isclose(angles.max(), -angles.min(), rtol=1e-9)) is (not c_parity)


def test_transparent_sensor_captures_nothing(engine, c_parity):
    config = small_config(detector={"attenuation_length_um": float("inf"),
                                    "thickness_um": 100.0})
    image = render(config, engine, c_parity)
    assert bool(image.max() == 0.0) is c_parity


def test_divergence_count_spans_one_radian(engine, c_parity):
    config = small_config(beam={"hdiv_steps": 3})
    if c_parity:
        assert nb.simulate(config, backend=engine, c_parity=True).sampling.hdiv.range == 1.0
    else:
        with pytest.raises(ValueError, match=r"beam\.hdiv_steps"):
            nb.simulate(config, backend=engine, c_parity=False)


def test_one_divergence_step_alone(engine, c_parity):
    """The original tilts the only source by half a radian; corrected, it is the beam."""
    config = small_config(beam={"hdiv_steps": 1})
    direction = nb.simulate(config, backend=engine, c_parity=c_parity).sources.direction
    assert direction.shape == (1, 3)
    on_axis = bool(np.allclose(direction[0], (-1.0, 0.0, 0.0), rtol=0, atol=1e-15))
    assert on_axis is (not c_parity)


def test_stol_file_unused(engine, c_parity, tmp_path):
    table = tmp_path / "water.stol"
    table.write_text("0.0 2.57\n0.5 1.0\n")
    config = small_config()
    plain = render(config, engine, True)
    config.structure_factors.stol_path = str(table)
    if c_parity:
        assert np.array_equal(render(config, engine, True), plain)
    else:
        with pytest.raises(ValueError, match=r"structure_factors\.stol_path"):
            nb.simulate(config, backend=engine, c_parity=False)


def test_curved_detector_lab_axes(engine, c_parity):
    """Crystal planes normal to c (lab z, the MOSFLM fast axis): on a curved detector
    l, and so the image, changes along the fast axis only, and is the same in every row."""
    config = small_config(crystal={"N_cells": (1.0, 1.0, 8.0), "cell": (30, 30, 30, 90, 90, 90)},
                          detector={"curved": True, "pixel_size_mm": 0.5},
                          beam={"nopolar": True})
    image = render(config, engine, c_parity)
    rows_identical = close(image, np.broadcast_to(image[0:1, :], image.shape), 1e-12)
    assert rows_identical is (not c_parity)


def test_distance_ratio_before_twotheta(engine, c_parity):
    """The reported distance and beam centre are where the beam meets the detector."""
    config = small_config(detector={"twotheta_deg": 20.0})
    g = nb.simulate(config, backend=engine, c_parity=c_parity).geometry
    impact = g.distance_m * np.asarray(g.beam) - np.asarray(g.pix0_m)
    on_plane = abs(float(np.dot(impact, g.odet))) < 1e-12
    at_centre = (abs(float(np.dot(impact, g.fdet)) - g.Fbeam_m) < 1e-12
                 and abs(float(np.dot(impact, g.sdet)) - g.Sbeam_m) < 1e-12)
    assert on_plane is (not c_parity)
    assert at_centre


@pytest.mark.filterwarnings("ignore::nanobragg.inputs.FdumpReuseWarning")
def test_fdump_header_whitespace(engine, c_parity, tmp_path):
    first = struct.unpack("<d", struct.pack("<Q", 0x3FF0000000000009))[0]  # low byte 0x09
    grid = StructureFactors((0, 0, 0), (0, 0, 1), np.array([[[first, 5.0]]]), 2)
    config = small_config()
    config.structure_factors.dump_path = str(tmp_path / "Fdump.bin")
    write_fdump(config.structure_factors.dump_path, grid)
    read = nb.simulate(config, backend=engine, c_parity=c_parity).structure_factors.values
    assert np.array_equal(read, grid.values) is (not c_parity)


def test_oversample_rounding_noise(engine, c_parity):
    """3 x size / (wavelength x distance / pixel) is 3 but for the cell's rounding here."""
    config = small_config(crystal={"cell": (70.0, 80.0, 90.0, 75.0, 85.0, 95.0),
                                   "N_cells": (5.0, 5.0, 5.0)},
                          beam={"wavelength_A": 1.5},
                          detector={"distance_mm": 30.0, "pixel_size_mm": 0.1},
                          sampling={"oversample": None})
    assert nb.simulate(config, backend=engine, c_parity=c_parity).oversample == (
        4 if c_parity else 3)
