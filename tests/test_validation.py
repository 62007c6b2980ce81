"""Every Config field is checked by its class before any engine runs: TypeError for a
value of the wrong type, ValueError for a wrong value, each naming the field, showing
the value (plain Python, never a numpy repr) and saying what is accepted."""

from __future__ import annotations

import dataclasses
import io
import math
import pathlib
import re

import numpy as np
import pytest
import torch

import nanobragg as nb
from nanobragg.cli.main import run
from nanobragg.field_classes import Real, shown
from nanobragg.io import StructureFactors
from nanobragg.validation import FIELDS, GROUPS, validate_fields
from test_quirks_render import small_config

INF = math.inf


def with_value(field: str, value: object) -> nb.Config:
    config = small_config()
    group, name = field.split(".")
    setattr(getattr(config, group), name, value)
    return config


def group_fields() -> set[str]:
    config = nb.Config()
    return {f"{group.name}.{field.name}" for group in dataclasses.fields(config)
            for field in dataclasses.fields(getattr(config, group.name))}


def test_every_field_has_a_class():
    assert set(GROUPS) == {group.name for group in dataclasses.fields(nb.Config)}
    assert group_fields() - set(FIELDS) == set(), "fields without a class in FIELDS"
    assert set(FIELDS) - group_fields() == set(), "FIELDS names fields that do not exist"


def test_the_defaults_pass_every_field_check():
    validate_fields(nb.Config())


def test_the_differentiable_fields_are_the_documented_ones():
    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme[readme.index("- Differentiable fields"):]
    section = section[:section.index("\n- ")]
    documented, group = set(), ""
    for token in re.findall(r"`([\w.]+)`", section):
        # `detector.rotx_deg`/`roty_deg`: a bare name is in the group named before it
        group, name = token.split(".") if "." in token else (group, token)
        documented.add(f"{group}.{name}")
    differentiable = {name for name, kind in FIELDS.items()
                      if getattr(kind, "differentiable", False)}
    assert differentiable == documented


# a representative bad value of each field class: (class, field, value, error, shown)
BAD = [
    ("real: a string", "output.adc_offset", "5", TypeError, "'5'"),
    ("real: a bool", "beam.flux", True, TypeError, "True"),
    ("real: a list", "beam.polarization", [0.5], TypeError, "[0.5]"),
    ("real: NaN", "beam.exposure_s", math.nan, ValueError, "nan"),
    ("real: inf", "crystal.phi_deg", INF, ValueError, "inf"),
    ("real: out of range", "crystal.fudge", 0.0, ValueError, "0.0"),
    ("real: a tensor, not differentiable", "output.adc_offset", torch.tensor(5.0), TypeError,
     "tensor(5.)"),
    ("real: a 3-element tensor", "beam.wavelength_A", torch.tensor([1.0, 1.0, 1.0]),
     ValueError, "shape (3,)"),
    ("real: a bool tensor", "detector.distance_mm", torch.tensor(True), TypeError, "tensor"),
    ("vector: too short", "crystal.spindle_axis", (0.0, 1.0), ValueError, "(0.0, 1.0)"),
    ("vector: strings", "detector.fdet_vector", ("0", "0", "1"), TypeError, "('0', '0', '1')"),
    ("vector: a string", "beam.beam_vector", "100", TypeError, "'100'"),
    ("vector: inf", "detector.odet_vector", (1.0, 0.0, INF), ValueError, "inf"),
    ("vector: 2-D array", "beam.polar_vector", np.zeros((1, 3)), ValueError, "[[0.0, 0.0, 0.0]]"),
    ("vector: a tensor, not differentiable", "crystal.size_mm", torch.zeros(3), TypeError,
     "tensor"),
    ("vector: below the bound", "crystal.N_cells", (1.0, -2.0, 1.0), ValueError, "-2.0"),
    ("count: not whole", "crystal.mosaic_domains", 2.5, ValueError, "2.5"),
    ("count: a string", "crystal.phi_steps", "3", TypeError, "'3'"),
    ("count: negative", "detector.thickness_steps", np.int64(-1), ValueError, "-1"),
    ("count: a bool", "sampling.oversample", True, TypeError, "True"),
    ("seed: a float", "output.seed", 1.0, TypeError, "1.0"),
    ("seed: None where required", "crystal.mosaic_seed", None, TypeError, "None"),
    ("seed: too large", "crystal.misset_seed", 2 ** 40, ValueError, str(2 ** 40)),
    ("flag: 1.0", "detector.curved", 1.0, TypeError, "1.0"),
    ("flag: inf", "detector.point_pixel", INF, TypeError, "inf"),
    ("flag: 'yes'", "beam.nopolar", "yes", TypeError, "'yes'"),
    ("flag: 1", "sampling.oversample_omega", 1, TypeError, "1"),
    ("flag: not None", "output.write_pgm", None, TypeError, "None"),
    ("path: an int", "structure_factors.hkl_path", 1, TypeError, "1"),
    ("path: a bool", "structure_factors.hkl_path", True, TypeError, "True"),
    ("path: stdin", "detector.mask_path", 0, TypeError, "0"),
    ("path: bytes", "output.floatfile", b"float.bin", TypeError, "b'float.bin'"),
    ("path: empty", "structure_factors.dump_path", "", ValueError, "''"),
    ("choice: unknown", "crystal.shape", "cube", ValueError, "'cube'"),
    ("choice: not a string", "detector.pivot", 1, TypeError, "1"),
    ("choice: case", "detector.convention", "XDS", ValueError, "'XDS'"),
    ("whole numbers: not whole", "sampling.roi", (0, 1, 2, 3.5), ValueError, "3.5"),
    ("whole numbers: strings", "output.printout_pixel", ("1", "2"), TypeError, "('1', '2')"),
    ("whole numbers: too many", "output.printout_pixel", (1, 2, 3), ValueError, "(1, 2, 3)"),
    ("array: a 1-D mask", "detector.mask", np.ones(576), ValueError, "shape (576,)"),
    ("array: sources of 4 columns", "beam.sources", np.ones((1, 4)), ValueError,
     "[[1.0, 1.0, 1.0, 1.0]]"),
    ("array: a matrix of 8", "crystal.mosflm_matrix", [1.0] * 8, ValueError, "[1.0, 1.0"),
    ("array: a matrix of strings", "crystal.mosflm_matrix", [["1"] * 3] * 3, TypeError, "'1'"),
    ("grid: an array", "structure_factors.structure_factors", np.ones((2, 2, 2)), TypeError,
     "[[[1.0"),
]


@pytest.mark.parametrize(("field", "value", "error", "text"),
                         [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_a_bad_value_is_refused_before_any_engine(engine, field, value, error, text):
    config = with_value(field, value)
    with pytest.raises(error) as refused:
        config.validate()
    message = str(refused.value)
    assert message.startswith(f"{field}: ")
    assert text in message
    assert "expected" in message
    assert "np." not in message
    with pytest.raises(error, match=re.escape(message)):
        nb.simulate(config, backend=engine)


def test_the_issue_examples(engine, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cases = [
        ("output.adc_offset", "5", TypeError,
         "output.adc_offset: '5' is not valid; expected a finite number"),
        ("structure_factors.hkl_path", 1, TypeError, "structure_factors.hkl_path: 1 "),
        ("structure_factors.hkl_path", True, TypeError, "structure_factors.hkl_path: True "),
        ("beam.wavelength_A", torch.tensor([1.0, 2.0, 3.0]), ValueError, "beam.wavelength_A: "),
        ("detector.curved", INF, TypeError, "detector.curved: inf "),
        ("detector.curved", 1.0, TypeError, "detector.curved: 1.0 "),
        ("beam.wavelength_A", np.float64(-1e-10), ValueError, "beam.wavelength_A: -1e-10 "),
    ]
    for field, value, error, start in cases:
        with pytest.raises(error, match="^" + re.escape(start)):
            nb.simulate(with_value(field, value), backend=engine)


@pytest.mark.parametrize(("field", "value"), [
    ("beam.wavelength_A", np.float64(1.0)),
    ("beam.wavelength_A", np.float32(1.0)),
    ("detector.distance_mm", np.int64(40)),
    ("crystal.N_cells", np.array([5, 5, 5])),
    ("crystal.mosaic_domains", 1.0),
    ("crystal.mosaic_domains", np.int32(1)),
    ("output.seed", np.int64(1)),
    ("detector.curved", np.False_),
    ("sampling.roi", np.array([-1, -1, -1, -1])),
    ("crystal.spindle_axis", [0, 0, 1]),
    ("structure_factors.interpolate", None),
    ("detector.attenuation_length_um", INF),
])
def test_numpy_and_other_accepted_forms_give_the_same_image(field, value):
    plain = nb.simulate(small_config()).image
    assert np.array_equal(nb.simulate(with_value(field, value)).image, plain)


def test_a_path_object_is_a_file_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "one.hkl").write_text("0 0 0 100\n1 0 0 50\n")
    by_str = nb.simulate(small_config(structure_factors={"hkl_path": "one.hkl"}))
    by_path = nb.simulate(small_config(structure_factors={"hkl_path": tmp_path / "one.hkl"}))
    assert np.array_equal(by_str.image, by_path.image)


def test_tensors_are_accepted_in_the_differentiable_fields(engine):
    config = small_config()
    config.beam.wavelength_A = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    config.crystal.cell = torch.tensor((40.0, 40.0, 40.0, 90.0, 90.0, 90.0))
    config.crystal.misset_deg = [torch.tensor(1.0), 2.0, 3.0]
    nb.simulate(config, backend=engine)


@pytest.mark.parametrize(("roi", "why"), [
    ((30, 40, 0, 5), "right of the detector"),
    ((0, 5, 24, 30), "below the detector"),
    ((5, 4, 0, 5), "xmin > xmax"),
    ((0, 5, 6, 2), "ymin > ymax"),
    ((24, -1, 0, 5), "xmin beyond, xmax unset"),
])
def test_an_roi_selecting_no_pixel_is_an_error(engine, roi, why):
    config = small_config(sampling={"roi": roi, "oversample": 1})
    message = (f"sampling.roi: {roi!r} selects no pixel of the 24 x 24 (fast x slow) "
               "detector")
    with pytest.raises(ValueError, match=re.escape(message)):
        nb.simulate(config, backend=engine)


def test_an_roi_partly_outside_renders_the_pixels_inside(engine):
    result = nb.simulate(small_config(sampling={"roi": (20, 40, -5, 3)}), backend=engine)
    assert result.rendered[0:4, 20:24].all()
    assert result.rendered.sum() == 16


def test_messages_show_numpy_values_as_python_numbers():
    assert shown(np.float64(1e-10)) == "1e-10"
    assert shown((np.int64(3), np.float32(0.5))) == "(3, 0.5)"
    assert shown(np.array([1.0, 2.0])) == "[1.0, 2.0]"
    assert shown(np.zeros((100, 100))) == "<array of shape (100, 100), float64>"
    config = small_config(beam={"hdiv_steps": np.int64(3)})
    with pytest.raises(ValueError, match=r"^beam\.hdiv_steps: 3 divergence steps"):
        nb.simulate(config)
    config = small_config(beam={"sources": np.array([[-10.0, 0.0, 0.0, 1.0, -1e-10]])})
    with pytest.raises(ValueError, match=re.escape("got [-1e-10]")):
        nb.simulate(config)
    grid = StructureFactors(hkl_min=np.array([2 ** 31 - 1, 0, 0]),
                            hkl_max=np.array([2 ** 31 - 1, 0, 0]),
                            values=np.ones((1, 1, 1)), count=1)
    with pytest.raises(ValueError, match=re.escape("(2147483647, 0, 0, 2147483647, 0, 0)")):
        nb.simulate(small_config(structure_factors={"structure_factors": grid}))


def test_a_group_of_the_wrong_type_is_refused():
    config = small_config()
    config.beam = None
    with pytest.raises(TypeError, match=r"^beam: None is not valid; expected a "
                                        r"nanobragg\.config\.BeamConfig"):
        config.validate()


def test_real_field_accepts_inf_only_where_it_says_so():
    Real(infinite=True).check("f", INF)
    with pytest.raises(ValueError, match="f: -inf"):
        Real(infinite=True).check("f", -INF)


def test_command_line_warnings_are_one_clean_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    args = ["-xds", "-spindle_axis", "0", "0", "1", "-cell", "10", "10", "10", "90", "90", "90",
            "-default_F", "1", "-detpixels", "4", "-noprogress"]
    assert run(args, out=out) == 0
    log = out.getvalue().splitlines()
    warning = [line for line in log if "replaces the XDS convention" in line]
    assert warning == [("-spindle_axis replaces the XDS convention (selected by -xds) with "
                        "CUSTOM: XDS's axes, beam centre and pivot no longer apply")]
    assert log.index(warning[0]) == 2  # after the banner and its convention line
    captured = capsys.readouterr()
    assert "Warning" not in captured.err
    assert ".py" not in out.getvalue()
