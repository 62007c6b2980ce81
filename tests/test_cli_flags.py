"""The command line: the original's flags read into a Config, and back.

Golden command lines (``tests/data/golden/cases/*/args.txt``) are checked against what the
original printed about them (``stdout.txt`` next to them); the quirks of the original's
argument loop each get a test; strict parsing, errors, C number parsing and round trips
(Config -> flags -> Config) are covered too.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import math
import re
import string
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nanobragg as nb
from nanobragg.cli.usage import USAGE
from nanobragg.config import CONVENTIONS, Config
from nanobragg.errors import ConventionWarning, ParityWarning, UsageError
from nanobragg.flags import (
    FLAG_BY_NAME,
    FLAGS,
    PROGRAM_FLAGS,
    c_atof,
    c_atoi,
    config_from_argv,
    config_to_argv,
    parse_command_line,
)

GOLDEN = Path(__file__).resolve().parent / "data" / "golden"
CASES = GOLDEN / "cases"
INPUTS = GOLDEN / "inputs"

BASE = ["-cell", "70", "80", "90", "75", "85", "95", "-default_F", "100"]


def parse(argv: list[str], c_parity: bool = True) -> Config:
    return config_from_argv(list(argv), c_parity=c_parity)


def read_args(case: Path) -> list[str]:
    return [line for line in (case / "args.txt").read_text().split("\n") if line != ""]


# ---------------------------------------------------------------------------------------
# Golden command lines against the original's own report of them

CASE_DIRS = sorted(p for p in CASES.glob("*") if (p / "args.txt").exists()) if CASES.exists() \
    else []

SHAPE_WORDS = {"parallelpiped": "square", "ellipsoidal": "round", "gaussian": "gauss",
               "tophat-spot": "tophat"}


def close(a: float, b: float, rel: float = 2e-5) -> bool:
    """Numbers printed with %g (6 significant digits) against ours."""
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


def stdout_facts(text: str) -> dict[str, re.Match[str]]:
    patterns = {
        "convention": r"^(\w+) convention selected\.",
        "pivot": r"^pivoting detector around (direct beam spot|sample)",
        "cell": r"^Unit Cell: (\S+) (\S+) (\S+) (\S+) (\S+) (\S+)",
        "xtal": r"^  (\S+) xtal: (\d+)x(\d+)x(\d+) cells",
        "oversample": r"^  (\d+)x(\d+) pixel oversample steps(.*)$",
        "wave": r"^  wave=(\S+) meters \+/- (\S+)% in (\d+) steps",
        "detector": r"^  distance=(\S+) detsize=(\S+)x(\S+)  pixel=(\S+) meters "
                    r"\((\d+)x(\d+) pixels\)",
        "sensor": r"^  sensor is (\S+) m thick in (\d+) layers with mu= (\S+)",
        "kahn": r"^  Kahn polarization factor: (\S+)",
        "nopolar": r"^  polarization effect disabled",
        "fluence": r"^  incident fluence: (\S+) photons",
        "beam": r"^  Xbeam=(\S+) Ybeam=(\S+)",
        "roi": r"^  roi: (\d+) < x < (\d+) && (\d+) < y < (\d+)",
        "hdiv": r"^  hdivrange=(\S+) hdivstep=(\S+)",
        "vdiv": r"^  vdivrange=(\S+) vdivstep=(\S+)",
        "mosaic": r"^  (\d+) mosaic domains over mosaic spread of (\S+) degrees",
        "phi": r"^  (\d+) phi steps from (\S+) to (\S+) degrees",
        "seed": r"^  seed: (-?\d+)",
        "water": r"^  water droplet size: (\S+) m",
        "reading": r"^reading (\S+)$",
    }
    facts = {}
    for key, pattern in patterns.items():
        m = re.search(pattern, text, re.MULTILINE)
        if m is not None:
            facts[key] = m
    return facts


def pixels_after_fill(config: Config) -> tuple[int, int]:
    """The original's pixel counts after its 'fill in blanks' step."""
    det = config.detector
    pixel = det.pixel_size_mm / 1000.0
    size_f = det.detsize_f_mm / 1000.0
    size_s = det.detsize_s_mm / 1000.0
    if det.fpixels:
        size_f = pixel * det.fpixels
    if det.spixels:
        size_s = pixel * det.spixels
    return math.ceil(size_f / pixel - 0.5), math.ceil(size_s / pixel - 0.5)


@pytest.mark.skipif(not CASE_DIRS, reason="golden command lines not present")
@pytest.mark.parametrize("case", CASE_DIRS, ids=[p.name for p in CASE_DIRS])
def test_golden_case_matches_the_original_report(case: Path, monkeypatch) -> None:
    if not (case / "stdout.txt").exists():
        pytest.skip("no stdout.txt for this case")
    if INPUTS.exists():
        monkeypatch.chdir(INPUTS)
    args = read_args(case)
    if any(a in ("-img", "-mask") for a in args) and not INPUTS.exists():
        pytest.skip("input images not present")
    config = parse(args)
    facts = stdout_facts((case / "stdout.txt").read_text())
    xtal, beam, det = config.crystal, config.beam, config.detector

    assert facts["convention"].group(1) == det.convention
    if det.convention == "custom":
        expected = "beam" if facts["pivot"].group(1).startswith("direct") else "sample"
        assert det.pivot == expected
    else:
        assert det.pivot is None

    if xtal.cell is not None:
        printed = [float(v) for v in facts["cell"].groups()]
        for k in range(3):
            assert close(printed[k], xtal.cell[k])
        for k in range(3, 6):  # the original reprints angles after its own arithmetic
            assert abs(printed[k] - xtal.cell[k]) < 0.1

    shape, *cells = facts["xtal"].groups()
    assert SHAPE_WORDS[shape] == xtal.shape
    for k in range(3):
        if xtal.size_mm[k] == 0:
            assert int(cells[k]) == max(int(xtal.N_cells[k]), 1)

    over = facts["oversample"]
    if config.sampling.oversample is not None and config.sampling.oversample > 0:
        assert int(over.group(1)) == config.sampling.oversample
    suffix = over.group(3)
    assert ("+thick" in suffix) == config.sampling.oversample_thick
    assert ("+polar" in suffix) == config.sampling.oversample_polar
    assert ("+omega" in suffix) == config.sampling.oversample_omega

    wave = facts["wave"]
    assert close(float(wave.group(1)), beam.wavelength_A * 1e-10)
    assert close(float(wave.group(2)), beam.dispersion_pct)
    if beam.dispersion_steps is not None:
        assert int(wave.group(3)) == beam.dispersion_steps

    detector = facts["detector"]
    assert close(float(detector.group(4)), det.pixel_size_mm / 1000.0)
    assert (int(detector.group(5)), int(detector.group(6))) == pixels_after_fill(config)
    untilted = (det.rotx_deg, det.roty_deg, det.rotz_deg, det.twotheta_deg) == (0, 0, 0, 0)
    beam_pivot = det.convention in ("mosflm", "denzo", "adxv")  # custom vectors may tilt
    if untilted and beam_pivot and det.close_distance_mm is None:
        assert close(float(detector.group(1)), det.distance_mm / 1000.0)

    sensor = facts["sensor"]
    assert close(float(sensor.group(1)), det.thickness_um * 1e-6)
    if det.thickness_steps is not None:
        assert int(sensor.group(2)) == det.thickness_steps
    if det.attenuation_length_um is not None and math.isfinite(det.attenuation_length_um):
        assert close(float(sensor.group(3)), 1.0 / (det.attenuation_length_um * 1e-6))

    if beam.nopolar:
        assert "nopolar" in facts
    else:
        assert close(float(facts["kahn"].group(1)), beam.polarization)
    if beam.flux == 0:
        assert close(float(facts["fluence"].group(1)), beam.fluence)

    xbeam, ybeam = (float(v) for v in facts["beam"].groups())
    if det.beam_x_mm is not None:
        assert close(xbeam, det.beam_x_mm / 1000.0)
    if det.beam_y_mm is not None:
        assert close(ybeam, det.beam_y_mm / 1000.0)

    if config.sampling.roi is not None:
        assert tuple(int(v) for v in facts["roi"].groups()) == tuple(config.sampling.roi)
    if beam.hdiv_range_mrad is not None:
        assert close(float(facts["hdiv"].group(1)), beam.hdiv_range_mrad / 1000.0)
    if beam.vdiv_range_mrad is not None:
        assert close(float(facts["vdiv"].group(1)), beam.vdiv_range_mrad / 1000.0)

    mosaic = facts["mosaic"]
    if xtal.mosaic_spread_deg is not None:
        assert close(float(mosaic.group(2)), xtal.mosaic_spread_deg)
    if xtal.mosaic_domains is not None:
        assert int(mosaic.group(1)) == xtal.mosaic_domains

    phi = facts["phi"]
    assert close(float(phi.group(2)), xtal.phi_deg)
    if xtal.phi_steps is not None:
        assert int(phi.group(1)) == xtal.phi_steps

    if "seed" in facts:
        printed_seed = int(facts["seed"].group(1))
        if config.output.seed is None:
            assert printed_seed < -1_000_000  # from the clock
        else:
            assert printed_seed == -config.output.seed
    if "water" in facts:
        assert close(float(facts["water"].group(1)), beam.water_um * 1e-6)
    if det.mask_path is not None:
        assert facts["reading"].group(1) == det.mask_path


@pytest.mark.skipif(not CASE_DIRS, reason="golden command lines not present")
@pytest.mark.parametrize("case", CASE_DIRS, ids=[p.name for p in CASE_DIRS])
def test_golden_case_round_trips(case: Path, monkeypatch) -> None:
    if INPUTS.exists():
        monkeypatch.chdir(INPUTS)
    args = read_args(case)
    if any(a in ("-img", "-mask") for a in args) and not INPUTS.exists():
        pytest.skip("input images not present")
    config = parse(args)
    argv = config_to_argv(config)
    assert parse(argv, c_parity=False) == config
    assert parse(argv, c_parity=True) == config


def test_golden_specific_values(monkeypatch) -> None:
    """Facts of individual cases that the generic check cannot see."""
    def case(name: str) -> Config:
        path = CASES / name
        if not path.exists():
            pytest.skip(f"case {name} not present")
        return parse(read_args(path))

    c = case("N_axes_zero_wave")
    assert c.crystal.N_cells == (0.0, 3.0, 8.0)
    assert c.beam.wavelength_A == 1.3
    c = case("xtalsize_axes")
    assert c.crystal.size_mm == (0.0004, 0.0003, 0.0002)
    c = case("flux_beamsize_clip")
    assert c.crystal.size_mm == (0.0003, 0.0003, 0.0003)
    assert (c.beam.flux, c.beam.exposure_s, c.beam.beamsize_mm) == (1e13, 0.5, 0.0002)
    c = case("mat_energy_rescale")
    assert c.crystal.matrix_path == "A.mat"
    assert c.beam.wavelength_A == 12398.42 / 8265.6
    c = case("misset_random_seed")
    assert c.crystal.misset_random
    assert c.crystal.misset_seed == 7
    assert c.crystal.misset_deg == (7.0, 0.0, 0.0)  # "-misset_seed 7 -misset random" as -misset
    assert c.output.seed is None
    c = case("mosaic_domains_seed")
    assert (c.crystal.mosaic_seed, c.crystal.mosaic_domains) == (5, 12)
    assert c.output.seed is None
    c = case("mosaic_auto_domains")
    assert c.crystal.mosaic_seed == 12345678
    assert c.crystal.mosaic_domains is None
    c = case("twotheta_axis_custom")
    assert c.detector.twotheta_axis == (0.0, 1.0, 0.0)
    assert c.detector.twotheta_deg == 20.0
    assert c.detector.pivot == "beam"  # -distance comes after -twotheta
    c = case("custom_pivot_beam_pix0")
    assert c.detector.pix0_vector_m == (0.2, 0.01, -0.02)
    c = case("noop_flags")
    assert c.output.printout
    assert c.output.printout_pixel == (20, 30)
    c = case("dmin_water_stol")
    assert c.structure_factors.stol_path == "water.stol"
    assert (c.structure_factors.dmin_A, c.beam.water_um) == (14.0, 0.05)
    c = case("detector_thick_abs")
    assert (c.detector.thickness_um, c.detector.attenuation_length_um) == (450.0, 320.0)
    assert c.detector.thickness_steps == 4
    c = case("pgm_scale")
    assert c.output.write_pgm
    assert not c.output.write_noise
    assert c.output.pgm_scale == 3.0
    c = case("divergence_square")
    assert not c.beam.round_div
    assert (c.beam.hdiv_steps, c.beam.vdiv_steps) == (4, 4)
    assert (c.beam.hdiv_range_mrad, c.beam.vdiv_range_mrad) == (0.4, 0.4)
    c = case("custom_vectors_all")
    assert c.beam.beam_vector == (1.0, 0.01, -0.005)
    assert c.crystal.spindle_axis == (0.0, 0.2, 1.0)
    assert c.detector.twotheta_axis == (0.0, 1.0, 0.0)  # the original's CUSTOM default


# ---------------------------------------------------------------------------------------
# Quirks of the original's argument loop (c_parity), and their absence in strict mode


def test_misset_seed_is_also_read_as_misset() -> None:
    c = parse(["-misset_seed", "7", "-misset", "random"])
    assert c.crystal.misset_seed == 7
    assert c.crystal.misset_random
    assert c.crystal.misset_deg == (7.0, 0.0, 0.0)
    s = parse(["-misset_seed", "7", "-misset", "random"], c_parity=False)
    assert s.crystal.misset_seed == 7
    assert s.crystal.misset_random
    assert s.crystal.misset_deg is None


def test_misset_seed_after_misset_random_cancels_it() -> None:
    argv = ["-misset", "random", "-misset_seed", "7", "-N", "5"]
    c = parse(argv)
    assert not c.crystal.misset_random
    assert c.crystal.misset_deg == (7.0, 0.0, 5.0)  # atof("-N") = 0
    assert c.crystal.N_cells == (5.0, 5.0, 5.0)
    assert parse(argv, c_parity=False).crystal.misset_random


def test_misset_seed_at_the_end_sets_only_the_seed() -> None:
    c = parse(["-misset", "random", "-misset_seed", "7"])
    assert c.crystal.misset_random
    assert c.crystal.misset_seed == 7
    assert c.crystal.misset_deg is None


def test_misset_seed_with_rand_is_misset_random() -> None:
    c = parse(["-misset_seed", "random"])
    assert c.crystal.misset_random
    assert c.crystal.misset_seed is None  # the original's loop stops before the seed rule
    with pytest.raises(UsageError, match="-misset_seed"):
        parse(["-misset_seed", "random"], c_parity=False)


def test_seed_flags_do_not_touch_each_other() -> None:
    # "-seed" is not a substring of "-mosaic_seed" or "-misset_seed" ("_seed")
    c = parse(["-mosaic_seed", "5", "-misset_seed", "6"])
    assert c.output.seed is None
    assert (c.crystal.mosaic_seed, c.crystal.misset_seed) == (5, 6)
    assert parse(["-seed", "9"]).output.seed == 9
    assert parse(["-seed", "-9"]).output.seed == -9


def test_misset_rand_is_a_substring_test() -> None:
    assert parse(["-misset", "xxrandxx"]).crystal.misset_random
    with pytest.raises(UsageError, match="-misset"):
        parse(["-misset", "xxrandxx"], c_parity=False)
    assert parse(["-misset", "rand"], c_parity=False).crystal.misset_random


def test_twotheta_axis_also_sets_twotheta() -> None:
    c = parse(["-twotheta_axis", "5", "1", "0"])
    assert c.detector.twotheta_deg == 5.0
    assert c.detector.pivot == "sample"
    assert c.detector.convention == "custom"
    s = parse(["-twotheta_axis", "5", "1", "0"], c_parity=False)
    assert s.detector.twotheta_deg == 0.0
    assert s.detector.pivot == "beam"
    # order matters: a later -twotheta wins, an earlier one is overwritten
    assert parse(["-twotheta_axis", "5", "1", "0", "-twotheta", "20"]).detector.twotheta_deg == 20
    assert parse(["-twotheta", "20", "-twotheta_axis", "5", "1", "0"]).detector.twotheta_deg == 5


def test_printout_pixel_also_turns_printout_on() -> None:
    assert parse(["-printout_pixel", "3", "4"]).output.printout
    s = parse(["-printout_pixel", "3", "4"], c_parity=False)
    assert not s.output.printout
    assert s.output.printout_pixel == (3, 4)


def test_detector_abs_inf_drops_the_thickness_given_before() -> None:
    c = parse(["-detector_thick", "300", "-detector_abs", "inf"])
    assert c.detector.thickness_um == 0.0
    assert c.detector.attenuation_length_um == math.inf
    c = parse(["-detector_abs", "inf", "-detector_thick", "300"])
    assert c.detector.thickness_um == 300.0
    assert c.detector.attenuation_length_um == math.inf
    c = parse(["-detector_thick", "300", "-detector_abs", "0"])
    assert c.detector.thickness_um == 0.0
    assert c.detector.attenuation_length_um == 0.0
    c = parse(["-detector_thick", "300", "-detector_abs", "250"])
    assert c.detector.thickness_um == 300.0
    assert c.detector.attenuation_length_um == 250.0
    # the same in strict mode: it is the flag's own effect
    c = parse(["-detector_thick", "300", "-detector_absorb", "inf"], c_parity=False)
    assert c.detector.thickness_um == 0.0
    # any argument containing "inf", whatever its number
    assert parse(["-detector_abs", "5inf"]).detector.attenuation_length_um == math.inf


def test_detector_thick_needs_the_exact_name() -> None:
    with pytest.raises(UsageError, match="unknown flag '-detector_thickness'"):
        parse(["-detector_thickness", "5"])
    c = parse(["-detector_thicksteps", "3"])
    assert c.detector.thickness_steps == 3
    assert c.detector.thickness_um == 0.0


@pytest.mark.parametrize("flag", ["-detector_abs", "-detector_thick", "-detector_thicksteps",
                                  "-thicksteps"])
def test_unchecked_flags_at_the_end_are_errors(flag: str) -> None:
    with pytest.raises(UsageError, match=flag):
        parse(["-N", "1", flag])


def test_cell_stops_at_a_value_starting_with_a_dash() -> None:
    c = parse(["-cell", "40", "50", "-N", "5"])
    assert c.crystal.cell == (40.0, 50.0, 0.0, 0.0, 0.0, 0.0)
    assert c.crystal.N_cells == (5.0, 5.0, 5.0)
    with pytest.raises(UsageError, match="-cell"):
        parse(["-cell", "40", "50", "-N", "5"], c_parity=False)
    # a negative length ends the cell, and is then an unknown flag
    with pytest.raises(UsageError, match="unknown flag '-40'"):
        parse(["-cell", "-40", "40", "40", "90", "90", "90"])
    c = parse(["-cell", "-40", "40", "40", "90", "90", "90"], c_parity=False)
    assert c.crystal.cell == (-40.0, 40.0, 40.0, 90.0, 90.0, 90.0)


def test_negative_numbers_as_values() -> None:
    argv = ["-misset", "2", "-3", "4", "-fdet_vector", "0", "-1", "0", "-detector_roty", "-4"]
    for mode in (True, False):
        c = parse(argv, c_parity=mode)
        assert c.crystal.misset_deg == (2.0, -3.0, 4.0)
        assert c.detector.fdet_vector == (0.0, -1.0, 0.0)
        assert c.detector.roty_deg == -4.0


def test_a_value_that_looks_like_a_flag_is_also_a_flag() -> None:
    c = parse(["-floatfile", "-xds"])
    assert c.output.floatfile == "-xds"
    assert c.detector.convention == "xds"
    s = parse(["-floatfile", "-xds"], c_parity=False)
    assert s.output.floatfile == "-xds"
    assert s.detector.convention == "mosflm"


def test_pivot_value_is_a_substring_test() -> None:
    vec = ["-fdet_vector", "0", "0", "1"]
    assert parse([*vec, "-pivot", "xxsamplexx"]).detector.pivot == "sample"
    assert parse([*vec, "-pivot", "samplebeam"]).detector.pivot == "beam"
    assert parse([*vec, "-pivot", "nothing"]).detector.pivot == "beam"
    with pytest.raises(UsageError, match="-pivot"):
        parse([*vec, "-pivot", "xxsamplexx"], c_parity=False)


def test_pivot_is_kept_only_by_the_custom_convention() -> None:
    vec = ["-fdet_vector", "0", "0", "1"]
    assert parse(["-pivot", "sample", "-distance", "100", *vec]).detector.pivot == "beam"
    assert parse(["-distance", "100", "-pivot", "sample", *vec]).detector.pivot == "sample"
    assert parse([*vec, "-close_distance", "80"]).detector.pivot == "sample"
    assert parse([*vec, "-Xclose", "3"]).detector.pivot == "sample"
    assert parse([*vec, "-ORGY", "3"]).detector.pivot == "sample"
    assert parse([*vec, "-ORGY", "3", "-Ybeam", "2"]).detector.pivot == "beam"
    assert parse([*vec, "-twotheta", "3"]).detector.pivot == "sample"
    assert parse([*vec, "-twotheta", "3"], c_parity=False).detector.pivot == "sample"
    assert parse([*vec]).detector.pivot == "beam"
    for convention in ("-mosflm", "-xds", "-adxv", "-denzo", "-dials"):
        c = parse(["-pivot", "sample", convention])
        assert c.detector.pivot is None
        assert c.detector.convention == convention[1:]


def test_vectors_select_custom_and_order_matters() -> None:
    assert parse(["-fdet_vector", "0", "0", "1", "-xds"]).detector.convention == "xds"
    assert parse(["-xds", "-fdet_vector", "0", "0", "1"]).detector.convention == "custom"
    assert parse(["-pix0_vector", "1", "2", "3"]).detector.convention == "custom"
    for name in ("-sdet_vector", "-odet_vector", "-beam_vector", "-polar_vector",
                 "-spindle_axis", "-twotheta_axis"):
        assert parse([name, "0", "0", "1"], c_parity=False).detector.convention == "custom"


VECTOR_FLAGS = ["-fdet_vector", "-sdet_vector", "-odet_vector", "-beam_vector",
                "-polar_vector", "-spindle_axis", "-twotheta_axis", "-pix0_vector"]
CONVENTION_FLAGS = ["-mosflm", "-xds", "-adxv", "-denzo", "-dials"]


def parse_quietly(argv: list[str], c_parity: bool) -> tuple[Config, list[str]]:
    """The Config and the ConventionWarning messages of one parse."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        config = parse(argv, c_parity=c_parity)
    assert all(w.category is ConventionWarning for w in caught)
    return config, [str(w.message) for w in caught]


@pytest.mark.parametrize("vector", VECTOR_FLAGS)
@pytest.mark.parametrize("convention", CONVENTION_FLAGS)
def test_vector_after_a_convention_flag_warns_in_strict_mode(vector: str,
                                                             convention: str) -> None:
    argv = [convention, vector, "0", "0", "1"]
    # the original switches silently, and so does the parity parse
    c, messages = parse_quietly(argv, c_parity=True)
    assert c.detector.convention == "custom"
    assert messages == []
    # strict keeps the switch and names the flag and the convention replaced
    name = convention[1:].upper()
    with pytest.warns(ConventionWarning,
                      match=rf"^{vector} replaces the {name} convention \(selected by "
                            rf"{convention}\) with CUSTOM"):
        s = parse(argv, c_parity=False)
    assert s.detector.convention == "custom"
    if vector != "-twotheta_axis":  # which also sets -twotheta in parity mode
        assert s == c


def test_convention_warning_details() -> None:
    assert issubclass(ConventionWarning, UserWarning)
    vec = ["-fdet_vector", "0", "0", "1"]
    beam = ["-beam_vector", "1", "0", "0"]
    for mode in (True, False):
        # no flag selected a convention: vectors are the way to ask for CUSTOM
        c, messages = parse_quietly([*vec, *beam], c_parity=mode)
        assert c.detector.convention == "custom"
        assert messages == []
        # vectors before the convention flag: the convention wins, nothing is replaced
        c, messages = parse_quietly([*vec, "-xds"], c_parity=mode)
        assert c.detector.convention == "xds"
        assert messages == []
    # once CUSTOM is in force, further vectors replace nothing: one warning
    c, messages = parse_quietly(["-adxv", *vec, *beam], c_parity=False)
    assert c.detector.convention == "custom"
    assert len(messages) == 1
    assert messages[0].startswith("-fdet_vector replaces the ADXV convention")
    # a convention flag after CUSTOM, then a vector again: a second warning
    c, messages = parse_quietly(["-adxv", *vec, "-dials", *beam], c_parity=False)
    assert c.detector.convention == "custom"
    assert len(messages) == 2
    assert messages[1].startswith("-beam_vector replaces the DIALS convention (selected by "
                                  "-dials)")
    # a malformed vector is an error, without a warning first
    with pytest.raises(UsageError, match="-fdet_vector"):
        parse_quietly(["-xds", "-fdet_vector", "0", "x", "1"], c_parity=False)
    # through parse_command_line too
    with pytest.warns(ConventionWarning, match="-spindle_axis replaces the MOSFLM"):
        command = parse_command_line(["-mosflm", "-spindle_axis", "1", "0", "0"])
    assert command.config.detector.convention == "custom"
    command = parse_command_line(["-c_parity", "-mosflm", "-spindle_axis", "1", "0", "0"])
    assert command.config.detector.convention == "custom"


def test_custom_convention_keeps_the_original_initial_vectors() -> None:
    c = parse(["-fdet_vector", "0", "0", "1"])
    assert c.detector.twotheta_axis == (0.0, 1.0, 0.0)
    assert c.detector.sdet_vector == (0.0, -1.0, 0.0)
    assert c.beam.polar_vector == (0.0, 0.0, 1.0)
    # other conventions: only vectors actually given are stored
    c = parse(["-spindle_axis", "1", "0", "0", "-mosflm"])
    assert c.crystal.spindle_axis == (1.0, 0.0, 0.0)
    assert c.detector.twotheta_axis == Config().detector.twotheta_axis


def test_curved_det_as_last_argument_is_ignored() -> None:
    with pytest.warns(ParityWarning, match="-curved_det"):
        c = parse(["-N", "5", "-curved_det"])
    assert not c.detector.curved
    assert parse(["-curved_det", "-N", "5"]).detector.curved
    assert parse(["-N", "5", "-curved_det"], c_parity=False).detector.curved


def test_switches_whose_order_matters() -> None:
    assert parse(["-nonoise", "-noisefile", "n.img"]).output.write_noise
    assert not parse(["-noisefile", "n.img", "-nonoise"]).output.write_noise
    assert parse(["-nopgm", "-pgmscale", "2"]).output.write_pgm
    assert parse(["-nopgm", "-pgmfile", "p.pgm"]).output.write_pgm
    assert not parse(["-pgmfile", "p.pgm", "-nopgm"]).output.write_pgm
    assert not parse(["-nopolar", "-polar", "0.5"]).beam.nopolar
    assert parse(["-polar", "0.5", "-nopolar"]).beam.nopolar
    assert parse(["-interpolate", "-nointerpolate"]).structure_factors.interpolate is False
    assert parse(["-round_xtal", "-gauss_xtal"]).crystal.shape == "gauss"
    assert parse(["-square_div", "-round_div"]).beam.round_div
    assert not parse(["-noprogress"]).output.progress
    assert parse(["-noprogress", "-progress"]).output.progress


def test_oversample_switches_stop_before_the_oversample_rule() -> None:
    c = parse(["-oversample_thick", "-oversample", "2", "-oversample_omega"])
    assert c.sampling.oversample == 2
    assert c.sampling.oversample_thick
    assert c.sampling.oversample_omega
    assert not c.sampling.oversample_polar


def test_whole_word_rules() -> None:
    c = parse(["-mosaic_domains", "5"])
    assert c.crystal.mosaic_spread_deg is None
    assert c.crystal.mosaic_domains == 5
    assert parse(["-mosaicity", "0.3"]).crystal.mosaic_spread_deg == 0.3
    assert parse(["-mosaic_spread", "0.3"]).crystal.mosaic_spread_deg == 0.3
    c = parse(["-detsize_f", "10"])
    assert (c.detector.detsize_f_mm, c.detector.detsize_s_mm) == (10.0, 102.4)
    c = parse(["-detpixels_s", "48"])
    assert (c.detector.fpixels, c.detector.spixels) == (None, 48)
    c = parse(["-hdivsteps", "3"])
    assert c.beam.hdiv_steps == 3
    assert c.beam.hdiv_step_mrad is None
    c = parse(["-phisteps", "3"])
    assert c.crystal.phi_steps == 3
    assert c.crystal.phi_step_deg is None
    assert c.crystal.phi_deg == 0
    c = parse(["-polar_vector", "0", "1", "0"])
    assert c.beam.polarization == 0.0
    assert parse(["-stolout", "x.out"]).structure_factors.stol_path is None
    assert parse(["-4stol", "w.stol"]).structure_factors.stol_path == "w.stol"
    assert parse(["-Q", "w.stol"]).structure_factors.stol_path == "w.stol"


def test_substring_variants_are_read_in_parity_mode_only() -> None:
    assert parse(["-Xbeam_mm", "5"]).detector.beam_x_mm == 5.0
    assert parse(["-Nax", "3"]).crystal.N_cells == (3.0, 1.0, 1.0)
    assert parse(["--distance", "50"]).detector.distance_mm == 50.0
    assert parse(["-pixel_size", "0.2"]).detector.pixel_size_mm == 0.2
    assert parse(["-wavelength", "1.5"]).beam.wavelength_A == 1.5
    for flag in ("-Xbeam_mm", "-Nax", "--distance", "-pixel_size"):
        with pytest.raises(UsageError, match="unknown flag"):
            parse([flag, "5"], c_parity=False)
    assert parse(["-wavelength", "1.5"], c_parity=False).beam.wavelength_A == 1.5


def test_c_number_semantics_in_parity_mode() -> None:
    assert parse(["-N", "3.7"]).crystal.N_cells == (3.0, 3.0, 3.0)
    assert parse(["-N", "12abc"]).crystal.N_cells == (12.0, 12.0, 12.0)
    assert parse(["-distance", "abc"]).detector.distance_mm == 0.0
    assert parse(["-lambda", "1e5x"]).beam.wavelength_A == 100000.0
    assert parse(["-lambda", "  1.5"]).beam.wavelength_A == 1.5
    assert parse(["-energy", "12398.42"]).beam.wavelength_A == 1.0
    assert parse(["-energy", "0"]).beam.wavelength_A == math.inf
    assert parse(["-seed", "4294967297"]).output.seed == 1  # (int) of a long keeps 32 bits
    for argv in (["-N", "3.7"], ["-N", "12abc"], ["-distance", "abc"], ["-lambda", "1e5x"],
                 ["-lambda", "  1.5"], ["-seed", "4294967297"], ["-roi", "1", "2", "3", "x"]):
        with pytest.raises(UsageError, match=re.escape(argv[0])):
            parse(argv, c_parity=False)


def test_integer_flags_read_with_atoi() -> None:
    c = parse(["-detpixels", "96.5", "-seed", "1e3", "-mosaic_domains", " 7x"])
    assert (c.detector.fpixels, c.detector.spixels) == (96, 96)
    assert c.output.seed == 1
    assert c.crystal.mosaic_domains == 7


def test_header_twotheta_is_ignored_in_parity_mode_only(tmp_path: Path) -> None:
    path = make_smv(tmp_path / "t.img", 8, 4, "TWOTHETA=10;\nDISTANCE=50;\n")
    mask = make_smv(tmp_path / "m.img", 8, 4, "TWOTHETA=20;\n")
    # the original reads it into a variable it never uses
    for argv in (["-img", str(path)], ["-mask", str(mask)],
                 ["-mask", str(mask), "-img", str(path)]):
        c = parse(argv)
        assert c.detector.twotheta_deg == 0.0
        assert c.detector.pivot is None
    assert parse(["-img", str(path)]).detector.distance_mm == 50.0
    # strict mode applies it, the image's over the mask's
    s = parse(["-img", str(path)], c_parity=False)
    assert s.detector.twotheta_deg == 10.0
    assert s.detector.distance_mm == 50.0
    assert parse(["-mask", str(mask)], c_parity=False).detector.twotheta_deg == 20.0
    s = parse(["-img", str(path), "-mask", str(mask)], c_parity=False)
    assert s.detector.twotheta_deg == 10.0
    # a flag wins over the header wherever it is; the header leaves the pivot alone
    for argv in (["-twotheta", "3", "-img", str(path)], ["-img", str(path), "-twotheta", "3"]):
        assert parse(argv, c_parity=False).detector.twotheta_deg == 3.0
    vec = ["-fdet_vector", "0", "0", "1"]
    s = parse(["-img", str(path), *vec], c_parity=False)
    assert (s.detector.twotheta_deg, s.detector.pivot) == (10.0, "beam")
    assert parse(["-img", str(path), *vec]).detector.twotheta_deg == 0.0


# ---------------------------------------------------------------------------------------
# Header ingestion


def make_smv(path: Path, width: int, height: int, fields: str) -> Path:
    header = ("{\nHEADER_BYTES=512;\nDIM=2;\nBYTE_ORDER=little_endian;\nTYPE=unsigned_short;\n"
              f"SIZE1={width};\nSIZE2={height};\n{fields}}}\f")
    data = header.encode("latin-1").ljust(512, b" ") + bytes(2 * width * height)
    path.write_bytes(data)
    return path


def test_mask_header_sets_geometry_and_flips_y(tmp_path: Path) -> None:
    mask = make_smv(tmp_path / "m.img", 64, 32, "PIXEL_SIZE=0.1;\nDISTANCE=90;\n"
                    "WAVELENGTH=1.1;\nBEAM_CENTER_X=3.0;\nBEAM_CENTER_Y=1.0;\nPHI=2;\n"
                    "OSC_RANGE=0.5;\nORGX=10;\nORGY=12;\nCLOSE_DISTANCE=85;\n")
    for mode in (True, False):
        c = parse(["-mask", str(mask)], c_parity=mode)
        det = c.detector
        assert (det.fpixels, det.spixels) == (64, 32)
        assert det.pixel_size_mm == 0.1
        assert (det.detsize_f_mm / 1000.0, det.detsize_s_mm / 1000.0) == (0.1e-3 * 64,
                                                                          0.1e-3 * 32)
        assert det.beam_x_mm == 3.0
        assert det.beam_y_mm / 1000.0 == 0.1e-3 * 32 - 1.0 / 1000.0  # 3.2 - 1.0 mm
        assert math.isclose(det.beam_y_mm, 2.2)
        assert (det.orgx_px, det.orgy_px) == (10.0, 12.0)
        # DISTANCE also matches inside CLOSE_DISTANCE, the last occurrence wins
        assert det.distance_mm == 85.0
        assert det.close_distance_mm == 85.0
        assert c.beam.wavelength_A == 1.1
        assert (c.crystal.phi_deg, c.crystal.osc_deg) == (2.0, 0.5)
        assert det.mask_path == str(mask)


def test_img_header_y_is_taken_as_is_and_wins_over_mask(tmp_path: Path) -> None:
    mask = make_smv(tmp_path / "m.img", 64, 32, "PIXEL_SIZE=0.1;\nBEAM_CENTER_Y=1.0;\n"
                    "WAVELENGTH=1.1;\nDISTANCE=90;\n")
    img = make_smv(tmp_path / "h.img", 16, 8, "PIXEL_SIZE=0.2;\nBEAM_CENTER_Y=1.5;\n")
    for mode in (True, False):
        # the mask is read first whatever the order on the command line
        c = parse(["-img", str(img), "-mask", str(mask)], c_parity=mode)
        det = c.detector
        assert (det.fpixels, det.spixels, det.pixel_size_mm) == (16, 8, 0.2)
        assert det.beam_y_mm == 1.5
        # from the mask
        assert det.distance_mm == 90.0
        assert c.beam.wavelength_A == 1.1
        assert det.mask_path == str(mask)


def test_flags_win_over_headers_wherever_they_are(tmp_path: Path) -> None:
    img = make_smv(tmp_path / "h.img", 16, 8, "PIXEL_SIZE=0.2;\nDISTANCE=80;\n"
                   "BEAM_CENTER_X=1;\n")
    for mode in (True, False):
        c = parse(["-distance", "50", "-img", str(img), "-pixel", "0.3"], c_parity=mode)
        assert c.detector.distance_mm == 50.0
        assert c.detector.pixel_size_mm == 0.3
        assert c.detector.beam_x_mm == 1.0
        assert c.detector.fpixels == 16


def test_golden_header_images() -> None:
    if not (INPUTS / "mask.img").exists():
        pytest.skip("golden input images not present")
    c = parse(["-mask", str(INPUTS / "mask.img")])
    assert math.isclose(c.detector.beam_y_mm, 6.4 - 3.5)
    assert (c.detector.distance_mm, c.beam.wavelength_A) == (90.0, 1.1)
    c = parse(["-img", str(INPUTS / "header.img")])
    det = c.detector
    assert (det.fpixels, det.spixels, det.pixel_size_mm, det.distance_mm) == (96, 72, 0.12, 80.0)
    assert (det.beam_x_mm, det.beam_y_mm, c.beam.wavelength_A) == (4.1, 5.3, 1.3)
    assert (c.crystal.phi_deg, c.crystal.osc_deg) == (5.0, 1.0)


def test_header_files_are_found_by_substring_in_parity_mode(tmp_path: Path) -> None:
    img = make_smv(tmp_path / "h.img", 16, 8, "DISTANCE=80;\n")
    assert parse(["-imgfile", str(img)]).detector.distance_mm == 80.0
    assert parse(["-maskfile", str(img)]).detector.mask_path == str(img)
    with pytest.raises(UsageError, match="-imgfile"):
        parse(["-imgfile", str(img)], c_parity=False)


def test_unreadable_header_files(tmp_path: Path) -> None:
    for flag in ("-img", "-mask"):
        for mode in (True, False):
            with pytest.raises(FileNotFoundError):
                parse([flag, str(tmp_path / "absent.img")], c_parity=mode)
    bad = tmp_path / "bad.img"
    bad.write_bytes(b"not an image" * 100)
    with pytest.raises(ValueError, match=r"bad\.img"):
        parse(["-img", str(bad)])


def test_other_files_are_not_read_at_parse_time(tmp_path: Path) -> None:
    absent = str(tmp_path / "absent")
    c = parse(["-hkl", absent, "-mat", absent, "-sourcefile", absent, "-stol", absent])
    assert c.structure_factors.hkl_path == absent
    assert c.crystal.matrix_path == absent


# ---------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize("mode", [True, False], ids=["c_parity", "strict"])
@pytest.mark.parametrize(("argv", "match"), [
    (["-frobnicate"], "unknown flag '-frobnicate'"),
    (["-hdiv", "0.3"], "unknown flag '-hdiv'"),  # in the original's own usage example
    (["-dispstep", "3"], "unknown flag '-dispstep'"),
    (["-N", "5", "7"], "unexpected argument '7'"),
    (["stray"], "unexpected argument 'stray'"),
    (["-distance"], "-distance: needs 1 value"),
    (["-misset", "1", "2"], "-misset: needs 3 value"),
    (["-cell", "1", "2", "3"], "-cell: needs 6 value"),
    (["-roi", "1", "2", "3"], "-roi: needs 4 value"),
    (["-printout_pixel", "1"], "-printout_pixel: needs 2 value"),
    (["-twotheta_axis", "0", "1"], "-twotheta_axis: needs 3 value"),
    (["-mask"], "-mask"),
])
def test_usage_errors(argv: list[str], match: str, mode: bool) -> None:
    with pytest.raises(UsageError, match=match):
        parse(argv, c_parity=mode)


def test_usage_error_is_a_value_error_with_one_line() -> None:
    with pytest.raises(ValueError, match="expected a number") as info:
        parse(["-distance", "x"], c_parity=False)
    assert isinstance(info.value, UsageError)
    assert "\n" not in str(info.value)
    assert "'x'" in str(info.value)


def test_substring_variant_missing_its_value_is_an_error() -> None:
    with pytest.raises(UsageError, match="--distance"):
        parse(["--distance"])


# ---------------------------------------------------------------------------------------
# C atof / atoi

ATOF_CASES = [
    ("abc", 0.0), ("", 0.0), ("1.5", 1.5), ("  \t\n1.5", 1.5), ("1e5x", 100000.0),
    ("1e", 1.0), ("1e+", 1.0), (".5", 0.5), ("-.5e-3", -0.0005), ("+5", 5.0), ("- 5", 0.0),
    ("5.", 5.0), (".", 0.0), ("0x10", 16.0), ("0x1p3", 8.0), ("0x", 0.0), ("0x.8", 0.5),
    ("1e400", math.inf), ("-1e400", -math.inf), ("inf", math.inf), ("-Infinity", -math.inf),
    ("infinite", math.inf), ("1,5", 1.0), ("3.7abc", 3.7), ("\v2", 2.0),
]


@pytest.mark.parametrize(("text", "value"), ATOF_CASES)
def test_c_atof(text: str, value: float) -> None:
    result = c_atof(text)
    assert result == value
    assert math.copysign(1, result) == math.copysign(1, value)


def test_c_atof_nan() -> None:
    assert math.isnan(c_atof("nan"))
    assert math.isnan(c_atof("-NaN(123)"))
    assert math.copysign(1, c_atof("-nan")) == -1


ATOI_CASES = [
    ("abc", 0), ("3.7", 3), ("12abc", 12), ("  -42", -42), ("+7", 7), ("0x10", 0),
    ("2147483647", 2147483647), ("2147483648", -2147483648), ("4294967297", 1),
    ("99999999999", 1215752191), ("9999999999999999999999", -1),
    ("-9999999999999999999999", 0), ("- 5", 0), ("007", 7), ("\f3", 3),
]


@pytest.mark.parametrize(("text", "value"), ATOI_CASES)
def test_c_atoi(text: str, value: int) -> None:
    assert c_atoi(text) == value


def _libc():
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    lib.atof.restype = ctypes.c_double
    lib.atof.argtypes = [ctypes.c_char_p]
    lib.atoi.restype = ctypes.c_int
    lib.atoi.argtypes = [ctypes.c_char_p]
    return lib


LIBC = _libc()
NUMBERISH = st.text(alphabet="0123456789+-.eExXpPabcdfinINFaty \t\n()_", max_size=14)


@pytest.mark.skipif(LIBC is None, reason="no C library to compare with")
@settings(max_examples=400, deadline=None)
@given(text=NUMBERISH)
def test_c_atof_and_atoi_agree_with_the_c_library(text: str) -> None:
    raw = text.encode("ascii")
    expected = LIBC.atof(raw)
    result = c_atof(text)
    if math.isnan(expected):
        assert math.isnan(result)
    else:
        assert result == expected
        assert math.copysign(1, result) == math.copysign(1, expected)
    assert c_atoi(text) == LIBC.atoi(raw)


# ---------------------------------------------------------------------------------------
# This program's own flags


def test_parse_command_line_strips_program_flags() -> None:
    command = parse_command_line(["-backend", "torch", "-N", "3", "-device", "cuda:0",
                                  "-dtype", "float32", "-trace_pixel", "10", "20"])
    assert command.backend == "torch"
    assert command.device == "cuda:0"
    assert command.dtype == "float32"
    assert command.trace_pixel == (10, 20)
    assert not command.c_parity
    assert not command.help
    assert command.config.crystal.N_cells == (3.0, 3.0, 3.0)
    command = parse_command_line(["-N", "3"])
    assert (command.backend, command.device, command.dtype, command.trace_pixel) == (
        "c", None, None, None)


def test_c_parity_flag_selects_the_parity_parse() -> None:
    assert parse_command_line(["-c_parity", "-twotheta_axis", "5", "1", "0"]
                              ).config.detector.twotheta_deg == 5.0
    assert parse_command_line(["-twotheta_axis", "5", "1", "0"]
                              ).config.detector.twotheta_deg == 0.0
    with pytest.raises(UsageError):
        parse_command_line(["-N", "3.5"])
    assert parse_command_line(["-N", "3.5", "-c_parity"]).config.crystal.N_cells[0] == 3.0


def test_program_flags_are_removed_before_the_original_rules() -> None:
    # the original would not see -c_parity: -curved_det is its last argument
    with pytest.warns(ParityWarning):
        command = parse_command_line(["-curved_det", "-c_parity"])
    assert not command.config.detector.curved


@pytest.mark.parametrize(("argv", "match"), [
    (["-backend", "fortran"], "-backend"),
    (["-backend"], "-backend"),
    (["-dtype", "float16"], "-dtype"),
    (["-trace_pixel", "1"], "-trace_pixel"),
    (["-trace_pixel", "1", "x"], "-trace_pixel"),
    (["-device"], "-device"),
])
def test_program_flag_errors(argv: list[str], match: str) -> None:
    with pytest.raises(UsageError, match=match):
        parse_command_line(argv)


@pytest.mark.parametrize("flag", ["-h", "-help", "--help"])
def test_help(flag: str) -> None:
    command = parse_command_line(["-N", "x", flag, "-frobnicate"])
    assert command.help
    assert command.config == Config()


# ---------------------------------------------------------------------------------------
# Config.from_cli: the command's reading by default, the original's when asked


@pytest.mark.parametrize("argv", [
    ["-twotheta_axis", "5", "1", "0"],  # the original also reads -twotheta 5
    ["-misset_seed", "7", "-N", "3"],  # ... and -misset 7 -N 3
    [*BASE, "-distance", "120", "-detpixels", "64", "-mosflm"],
], ids=("twotheta_axis", "misset_seed", "plain"))
def test_from_cli_reads_as_the_command_does(argv: list[str]) -> None:
    assert Config.from_cli(argv) == parse_command_line(argv).config
    assert Config.from_cli(argv) == config_from_argv(argv, c_parity=False)
    assert Config.from_cli(argv, c_parity=True) == parse_command_line(
        ["-c_parity", *argv]).config


def test_from_cli_is_strict_unless_asked_for_the_original_reading() -> None:
    with pytest.raises(UsageError, match="-N"):
        Config.from_cli(["-N", "3.5"])
    assert Config.from_cli(["-N", "3.5"], c_parity=True).crystal.N_cells == (3.0, 3.0, 3.0)
    assert Config.from_cli(["-twotheta_axis", "5", "1", "0"]).detector.twotheta_deg == 0.0
    assert Config.from_cli(["-twotheta_axis", "5", "1", "0"],
                           c_parity=True).detector.twotheta_deg == 5.0


@pytest.mark.parametrize("c_parity", [False, True], ids=("strict", "parity"))
@pytest.mark.parametrize(("argv", "where"), [
    (["-backend", "torch"], "backend= to nanobragg.simulate"),
    (["-device", "cpu"], "device= to nanobragg.simulate"),
    (["-dtype", "float32"], "dtype= to nanobragg.simulate"),
    (["-trace_pixel", "1", "2"], "nanobragg.trace_pixel"),
    (["-c_parity"], "c_parity=True to Config.from_cli"),
    (["-h"], "nanobragg.flags.FLAGS"),
    (["-help"], "nanobragg.flags.FLAGS"),
    (["--help"], "nanobragg.flags.FLAGS"),
], ids=lambda v: v[0] if isinstance(v, list) else "")
def test_from_cli_refuses_the_command_s_own_flags(argv: list[str], where: str,
                                                  c_parity: bool) -> None:
    with pytest.raises(UsageError) as info:
        Config.from_cli([*BASE, *argv, "-N", "3"], c_parity=c_parity)
    message = str(info.value)
    assert message.startswith(f"{argv[0]} is an option of the nanoBragg command")
    assert where in message


def test_every_program_flag_is_refused_by_from_cli() -> None:
    for pflag in PROGRAM_FLAGS:
        for name in (pflag.name, *pflag.synonyms):
            with pytest.raises(UsageError, match=re.escape(name)):
                Config.from_cli([name, *["1"] * len(pflag.metavars)])


# ---------------------------------------------------------------------------------------
# The table and the help text


def test_every_flag_name_is_unique_and_matches_itself() -> None:
    names = [name for flag in FLAGS for name in flag.names]
    assert len(names) == len(set(names))
    for flag in FLAGS:
        for name in flag.names:
            assert flag.c_matches(name), name
            assert FLAG_BY_NAME[name] is flag


def test_substring_side_effects_between_flag_names() -> None:
    """Which spelt-out names the original's other rules also take up."""
    found = {}
    for flag in FLAGS:
        for name in flag.names:
            others = sorted(g.name for g in FLAGS if g is not flag and g.c_matches(name))
            if others:
                found[name] = others
    assert found == {
        "-twotheta_axis": ["-twotheta"],
        "-misset_seed": ["-misset"],
        "-printout_pixel": ["-printout"],
        # these stop the original's loop before its -oversample rule
        "-oversample_thick": ["-oversample"],
        "-oversample_polar": ["-oversample"],
        "-oversample_omega": ["-oversample"],
    }
    order = [flag.name for flag in FLAGS]
    for name in ("-oversample_thick", "-oversample_polar", "-oversample_omega"):
        assert FLAG_BY_NAME[name].c_stop
        assert order.index(name) < order.index("-oversample")


def test_usage_lists_every_flag() -> None:
    for flag in FLAGS:
        assert f"  {flag.name} " in USAGE or f"  {flag.name}\n" in USAGE, flag.name
        for synonym in flag.synonyms:
            assert synonym in USAGE
        if flag.unit:
            assert flag.unit in USAGE
    for pflag in PROGRAM_FLAGS:
        assert pflag.name in USAGE
    assert max(len(line) for line in USAGE.splitlines()) <= 100


def test_spec_describes_every_flag() -> None:
    spec = Path(__file__).resolve().parent.parent / "specs" / "flags.md"
    if not spec.exists():
        pytest.skip("specs/flags.md not present")
    text = spec.read_text()
    for flag in FLAGS:
        for name in flag.names:
            assert f"`{name}`" in text, name
    for pflag in PROGRAM_FLAGS:
        assert f"`{pflag.name}`" in text


def _fields(obj: object, prefix: str = "") -> list[str]:
    out = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            out.extend(_fields(value, f"{f.name}."))
        else:
            out.append(prefix + f.name)
    return out


def test_every_config_field_has_a_command_line_form() -> None:
    covered = {flag.field.split("[")[0] for flag in FLAGS if flag.field is not None}
    special = {"detector.convention", "detector.pivot", "crystal.misset_random",
               "crystal.misset_seed", "crystal.N_cells"}
    in_memory = {"crystal.mosflm_matrix", "structure_factors.structure_factors",
                 "beam.sources", "detector.mask"}
    missing = set(_fields(Config())) - covered - special - in_memory
    assert not missing


# ---------------------------------------------------------------------------------------
# Config -> command line -> Config


def test_default_config_has_an_empty_command_line() -> None:
    assert config_to_argv(Config()) == []
    assert parse([]) == Config() == parse([], c_parity=False)


def test_to_argv_orders_flags_against_side_effects() -> None:
    c = Config()
    c.detector.convention = "custom"
    c.detector.pivot = "beam"
    c.detector.twotheta_axis = (1.0, 0.0, 0.0)
    c.detector.twotheta_deg = 0.0
    c.crystal.misset_seed = 3
    argv = config_to_argv(c)
    assert argv.index("-twotheta_axis") < argv.index("-twotheta")
    assert argv[-2:] == ["-misset_seed", "3"]
    assert argv[-4:-2] == ["-pivot", "beam"]
    assert parse(argv) == c == parse(argv, c_parity=False)


def test_to_argv_curved_alone() -> None:
    c = Config()
    c.detector.curved = True
    argv = config_to_argv(c)
    assert argv[0] == "-curved_det"
    assert len(argv) > 1
    assert parse(argv) == c == parse(argv, c_parity=False)


def test_to_argv_custom_without_vectors() -> None:
    c = Config()
    c.detector.convention = "custom"
    c.detector.pivot = "sample"
    c.detector.twotheta_axis = (0.0, 1.0, 0.0)
    argv = config_to_argv(c)
    assert "-fdet_vector" in argv
    assert parse(argv) == c == parse(argv, c_parity=False)


@pytest.mark.parametrize("path", ["crystal.mosflm_matrix", "structure_factors.structure_factors",
                                  "beam.sources", "detector.mask"])
def test_to_argv_rejects_in_memory_data(path: str) -> None:
    c = Config()
    group, name = path.split(".")
    setattr(getattr(c, group), name, [[1.0]])
    with pytest.raises(ValueError, match=re.escape(path)):
        config_to_argv(c)


def test_to_argv_rejects_what_the_command_line_cannot_say() -> None:
    c = Config()
    c.detector.pivot = "sample"  # mosflm imposes the beam pivot
    with pytest.raises(ValueError, match=r"detector\.pivot"):
        config_to_argv(c)
    c = Config()
    c.crystal.N_cells = (2.5, 1.0, 1.0)
    with pytest.raises(ValueError, match="N_cells"):
        config_to_argv(c)
    c = Config()
    c.sampling.roi = (1, 2, 3)
    with pytest.raises(ValueError, match="roi"):
        config_to_argv(c)
    c = Config()
    c.detector.convention = "sideways"
    with pytest.raises(ValueError, match="convention"):
        config_to_argv(c)


def test_to_argv_with_a_mask_repeats_the_header_geometry(tmp_path: Path) -> None:
    mask = make_smv(tmp_path / "m.img", 16, 8, "PIXEL_SIZE=0.2;\nDISTANCE=80;\n"
                    "WAVELENGTH=1.2;\nBEAM_CENTER_Y=0.4;\n")
    c = parse(["-mask", str(mask), "-distance", "100", "-lambda", "1"])
    assert (c.detector.distance_mm, c.beam.wavelength_A) == (100.0, 1.0)
    argv = config_to_argv(c)
    assert "-distance" in argv
    assert "-lambda" in argv
    assert parse(argv) == c == parse(argv, c_parity=False)
    # a header TWOTHETA counts in strict mode: -twotheta is written even at 0
    mask = make_smv(tmp_path / "t.img", 16, 8, "PIXEL_SIZE=0.2;\nTWOTHETA=15;\n")
    c = parse(["-mask", str(mask)])
    assert c.detector.twotheta_deg == 0.0
    argv = config_to_argv(c)
    assert argv[argv.index("-twotheta") + 1] == "0.0"
    assert parse(argv) == c == parse(argv, c_parity=False)
    s = parse(["-mask", str(mask)], c_parity=False)
    assert s.detector.twotheta_deg == 15.0
    assert parse(config_to_argv(s), c_parity=False) == s
    c.detector.convention, c.detector.pivot = "custom", "sample"
    c.detector.twotheta_axis = (0.0, 1.0, 0.0)
    argv = config_to_argv(c)
    assert parse(argv) == c == parse(argv, c_parity=False)


floats = st.floats(allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=0.0, allow_nan=False, allow_infinity=False)
ints = st.integers(min_value=-(2**31), max_value=2**31 - 1)
vec3 = st.tuples(floats, floats, floats)
paths = st.text(alphabet=string.ascii_letters + string.digits + "._/", min_size=1, max_size=10)


def optional(strategy):
    return st.none() | strategy


@st.composite
def configs(draw, parity_safe: bool = False) -> Config:
    c = Config()
    x, sf, b, d, s, o = (c.crystal, c.structure_factors, c.beam, c.detector, c.sampling,
                         c.output)
    maybe = st.booleans()

    if draw(maybe):
        x.cell = draw(st.tuples(*[positive] * 6))
    if draw(maybe):
        x.matrix_path = draw(paths)
    x.misset_deg = draw(optional(vec3))
    x.misset_random = draw(maybe)
    x.misset_seed = draw(optional(ints))
    if draw(maybe):
        x.N_cells = tuple(float(v) for v in draw(st.tuples(ints, ints, ints)))
    if draw(maybe):
        x.size_mm = draw(vec3)
    x.shape = draw(st.sampled_from(("square", "round", "gauss", "tophat")))
    if draw(maybe):
        x.fudge = draw(floats)
    x.mosaic_spread_deg = draw(optional(floats))
    x.mosaic_domains = draw(optional(ints))
    if draw(maybe):
        x.mosaic_seed = draw(ints)
    if draw(maybe):
        x.phi_deg = draw(floats)
    x.osc_deg = draw(optional(floats))
    x.phi_step_deg = draw(optional(floats))
    x.phi_steps = draw(optional(ints))

    sf.hkl_path = draw(optional(paths))
    if draw(maybe):
        sf.default_F = draw(floats)
    if draw(maybe):
        sf.dump_path = draw(paths)
    sf.interpolate = draw(st.sampled_from((None, True, False)))
    if draw(maybe):
        sf.dmin_A = draw(floats)
    sf.stol_path = draw(optional(paths))

    if draw(maybe):
        b.wavelength_A = draw(floats)
    if draw(maybe):
        b.dispersion_pct = draw(floats)
    b.dispersion_steps = draw(optional(ints))
    b.hdiv_range_mrad = draw(optional(floats))
    b.vdiv_range_mrad = draw(optional(floats))
    b.hdiv_step_mrad = draw(optional(floats))
    b.vdiv_step_mrad = draw(optional(floats))
    b.hdiv_steps = draw(optional(ints))
    b.vdiv_steps = draw(optional(ints))
    b.round_div = draw(maybe)
    for name in ("fluence", "flux", "exposure_s", "beamsize_mm", "polarization", "water_um"):
        if draw(maybe):
            setattr(b, name, draw(floats))
    b.nopolar = draw(maybe)
    b.source_path = draw(optional(paths))

    d.convention = draw(st.sampled_from(CONVENTIONS))
    d.pivot = draw(st.sampled_from(("beam", "sample"))) if d.convention == "custom" else None
    for name in ("distance_mm", "pixel_size_mm", "detsize_f_mm", "detsize_s_mm", "rotx_deg",
                 "roty_deg", "rotz_deg", "twotheta_deg", "thickness_um"):
        if draw(maybe):
            setattr(d, name, draw(floats))
    for name in ("close_distance_mm", "beam_x_mm", "beam_y_mm", "close_x_mm", "close_y_mm",
                 "orgx_px", "orgy_px"):
        setattr(d, name, draw(optional(floats)))
    d.fpixels = draw(optional(ints))
    d.spixels = draw(optional(ints))
    for name in ("fdet_vector", "sdet_vector", "odet_vector", "twotheta_axis"):
        if draw(maybe):
            setattr(d, name, draw(vec3))
    for name in ("beam_vector", "polar_vector"):
        if draw(maybe):
            setattr(b, name, draw(vec3))
    if draw(maybe):
        x.spindle_axis = draw(vec3)
    if d.convention == "custom" and draw(maybe):
        d.twotheta_axis = (0.0, 1.0, 0.0)  # the original's own default under CUSTOM
    d.pix0_vector_m = draw(optional(vec3))
    d.curved = draw(maybe)
    d.point_pixel = draw(maybe)
    d.attenuation_length_um = draw(st.none() | st.just(math.inf) | positive)
    d.thickness_steps = draw(optional(ints))

    s.oversample = draw(optional(ints))
    s.oversample_thick = draw(maybe)
    s.oversample_polar = draw(maybe)
    s.oversample_omega = draw(maybe)
    s.roi = draw(optional(st.tuples(ints, ints, ints, ints)))

    o.seed = draw(optional(ints))
    for name in ("adc_offset", "int_scale", "pgm_scale"):
        if draw(maybe):
            setattr(o, name, draw(floats))
    for name in ("floatfile", "intfile", "noisefile", "pgmfile"):
        if draw(maybe):
            setattr(o, name, draw(paths))
    o.write_pgm = draw(maybe)
    o.write_noise = draw(maybe)
    o.progress = draw(maybe)
    o.printout = draw(maybe)
    o.printout_pixel = draw(optional(st.tuples(ints, ints)))
    if parity_safe and o.printout_pixel is not None:
        o.printout = True  # -printout_pixel also turns -printout on
    return c


ROUND_TRIP = settings(max_examples=300, deadline=None,
                      suppress_health_check=[HealthCheck.too_slow])


@ROUND_TRIP
@given(config=configs())
def test_round_trip_strict(config: Config) -> None:
    argv = config_to_argv(config)
    assert all(isinstance(arg, str) for arg in argv)
    assert config_from_argv(argv, c_parity=False) == config


@ROUND_TRIP
@given(config=configs(parity_safe=True))
def test_round_trip_parity(config: Config) -> None:
    argv = config_to_argv(config)
    assert config_from_argv(argv, c_parity=True) == config


@ROUND_TRIP
@given(config=configs())
def test_round_trip_through_parse_command_line(config: Config) -> None:
    argv = config_to_argv(config)
    assert parse_command_line(argv).config == config


def test_header_close_distance_overrides(tmp_path: Path) -> None:
    """An image the original wrote carries CLOSE_DISTANCE; an explicit -distance must
    still set the distance (corrected), where the original keeps the header's."""
    img = make_smv(tmp_path / "h.img", 16, 8, "PIXEL_SIZE=0.2;\nDISTANCE=80;\n"
                   "CLOSE_DISTANCE=80;\n")
    for c_parity in (True, False):
        config = parse(["-img", str(img), "-distance", "50", "-cell", "40", "40", "40",
                        "90", "90", "90", "-default_F", "1"], c_parity=c_parity)
        distance = nb.simulate(config, c_parity=c_parity).geometry.distance_m
        assert distance == pytest.approx(0.080 if c_parity else 0.050)
        explicit = parse(["-img", str(img), "-distance", "50", "-close_distance", "60"],
                         c_parity=c_parity)
        assert explicit.detector.close_distance_mm == 60.0
