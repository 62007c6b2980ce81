"""The stage contract: one field list per stage datum in Python and in C, one engine
interface with identical signatures, one registry that chooses an engine."""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest
import torch

import nanobragg as nb
from nanobragg import _core, codes, engines, stages
from nanobragg.engines.base import Engine
from nanobragg.engines.c import CEngine
from nanobragg.engines.torch import TorchEngine
from nanobragg.legacy_random import LegacyRandom
from nanobragg.stages.amorphous import AmorphousImage, AmorphousSpec
from nanobragg.stages.crystal import crystal_spec
from nanobragg.stages.geometry import detector_spec
from nanobragg.stages.response import ResponseInfo, ResponseSpec
from nanobragg.stages.scatterers import ScattererParams
from nanobragg.stages.trace import FINAL_KEYS, TERM_COLUMNS
from test_stages import rich_config

MIRRORED = {
    "detector_spec": stages.DetectorSpec,
    "detector_geometry": stages.DetectorGeometry,
    "crystal_spec": stages.CrystalSpec,
    "crystal_vectors": stages.CrystalVectors,
    "source_spec": stages.SourceSpec,
    "mosaic_spec": stages.MosaicSpec,
    "render_params": stages.RenderParams,
    "noise_spec": stages.NoiseSpec,
    "response_spec": ResponseSpec,
    "response_info": ResponseInfo,
    "scatterer_params": ScattererParams,
    "amorphous_spec": AmorphousSpec,
}
"""Each C struct (``_core.FIELDS`` key) and the dataclass that mirrors it."""


@pytest.mark.parametrize("struct", sorted(MIRRORED))
def test_each_dataclass_mirrors_its_c_struct(struct):
    names = tuple(field.name for field in dataclasses.fields(MIRRORED[struct]))
    assert names == _core.FIELDS[struct]


def test_outputs_without_a_dataclass_of_their_own_mirror_their_c_structs():
    render_output = tuple(f.name for f in dataclasses.fields(stages.RenderOutput))
    assert render_output == ("image", *_core.FIELDS["render_info"])
    assert TERM_COLUMNS == _core.FIELDS["trace_term"]
    assert FINAL_KEYS == _core.FIELDS["trace_final"]
    amorphous_image = tuple(f.name for f in dataclasses.fields(AmorphousImage))
    assert amorphous_image == ("image", *_core.FIELDS["amorphous_info"])
    assert set(_core.FIELDS) == {*MIRRORED, "render_info", "trace_term", "trace_final",
                                 "amorphous_info"}


def test_stage_data_is_frozen():
    geometry = CEngine().detector_geometry(detector_spec(rich_config(), c_parity=False))
    with pytest.raises(dataclasses.FrozenInstanceError):
        geometry.distance_m = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(("name", "enum"), [("convention", codes.Convention),
                                        ("pivot", codes.Pivot),
                                        ("shape", codes.CrystalShape),
                                        ("psf", codes.Psf)])
def test_codes_are_the_c_engine_s(name, enum):
    assert _core.CODES[name] == {member.name.lower(): member.value for member in enum}


STAGE_METHODS = ("detector_geometry", "crystal_vectors", "sources", "mosaic_rotations",
                 "render", "add_noise", "trace_pixel", "detector_response",
                 "point_scatterers", "amorphous")


@pytest.mark.parametrize("method", STAGE_METHODS)
def test_both_engines_implement_the_interface_with_one_signature(method):
    expected = inspect.signature(getattr(Engine, method))
    for engine_class in (CEngine, TorchEngine):
        assert inspect.signature(getattr(engine_class, method)) == expected, engine_class
    assert set(STAGE_METHODS) == {name for name in vars(Engine) if not name.startswith("_")
                                  and callable(getattr(Engine, name))}


def test_a_stage_output_feeds_the_other_engine():
    """Each engine takes the other's stage data (tensors into C, numpy into torch) and
    gives the same quantities; whole runs that mix engines are in test_stages.py."""
    config = rich_config()
    c, t = engines.create("c"), engines.create("torch")
    geometry = {"c": c.detector_geometry(detector_spec(config, c_parity=False)),
                "torch": t.detector_geometry(detector_spec(config, c_parity=False))}
    assert isinstance(geometry["c"].pix0_m, np.ndarray)
    assert isinstance(geometry["torch"].pix0_m, torch.Tensor)
    for name in ("fdet", "pix0_m", "Fbeam_m", "ORGX_px", "dials_origin_mm"):
        np.testing.assert_allclose(stages.to_numpy(getattr(geometry["torch"], name)),
                                   getattr(geometry["c"], name), rtol=1e-14, atol=1e-18)
    spec = crystal_spec(config, c_parity=False, matrix=None, wavelength_m=1.2e-10,
                        misset_seed=-1)
    crystal = t.crystal_vectors(stages.to_numpy(spec), LegacyRandom())
    again = c.crystal_vectors(stages.to_torch(spec, t.at64), LegacyRandom())
    np.testing.assert_allclose(stages.to_numpy(crystal).a_m, again.a_m, rtol=1e-14)


def test_unknown_engines_devices_and_dtypes_list_what_is_available():
    with pytest.raises(ValueError, match=r"backend: 'cuda' is not an engine; the engines are "
                                         r"c, torch \(nanobragg.engines.available\(\)"):
        nb.simulate(rich_config(), backend="cuda")
    with pytest.raises(ValueError, match="backend: 'gpu' is not an engine"):
        engines.create("gpu")
    with pytest.raises(ValueError, match=r"dtype: 'float16' is not one of float32, float64"):
        nb.simulate(rich_config(), backend="torch", dtype="float16")
    with pytest.raises(ValueError, match=r"device: 'tpu' is not available.*cpu"):
        nb.simulate(rich_config(), backend="torch", device="tpu")
    with pytest.raises(ValueError, match="options of the c engine must be COptions"):
        engines.create("c", engines.TorchOptions())
    listed = engines.available()
    assert "c (C, OpenMP; devices cpu; dtypes float64)" in listed
    assert "torch (PyTorch, differentiable; devices cpu" in listed
    assert "dtypes float32, float64" in listed


def test_options_check_their_own_values():
    with pytest.raises(ValueError, match="threads: -5 is not valid"):
        engines.COptions(threads=-5)
    with pytest.raises(ValueError, match="memory_budget: 0 is not valid"):
        engines.TorchOptions(memory_budget=0)
    with pytest.raises(ValueError, match="compile: 'yes' is not valid"):
        engines.TorchOptions(compile="yes")


def test_engine_options_are_one_object_per_engine():
    assert CEngine(engines.COptions(threads=1)).options.threads == 1
    engine = TorchEngine(engines.TorchOptions(dtype="float32", memory_budget=1 << 20))
    assert engine.at.dtype == torch.float32
    assert engine.at64.dtype == torch.float64
    assert engine.memory_budget == 1 << 20


@pytest.mark.parametrize("engine", ["c", "torch"])
def test_a_float32_tensor_field_converts_in_float64(engine):
    """Units convert in float64 whatever the dtype a tensor comes in: the same image as
    the plain number it holds."""
    value = torch.tensor(60.1, dtype=torch.float32, requires_grad=True)
    config = rich_config()
    config.detector.distance_mm = value
    config.detector.rotx_deg = torch.tensor(0.3, dtype=torch.float32)
    with_tensors = nb.simulate(config, backend=engine)
    assert detector_spec(config, c_parity=False).distance_m.dtype == torch.float64
    config.detector.distance_mm = float(value.detach())
    config.detector.rotx_deg = float(torch.tensor(0.3, dtype=torch.float32))
    plain = nb.simulate(config, backend=engine)
    assert np.array_equal(with_tensors.image_float64, plain.image_float64)
