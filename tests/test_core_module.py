"""The compiled module's face: its type stub, its field lists and its enum codes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import nanobragg
from nanobragg import _core

STUB = ast.parse(Path(nanobragg.__file__).with_name("_core.pyi").read_text())

STRUCTS = {"detector_spec", "detector_geometry", "crystal_spec", "crystal_vectors",
           "source_spec", "mosaic_spec", "render_params", "render_info", "trace_term",
           "trace_final", "noise_spec", "response_spec", "response_info",
           "scatterer_params", "amorphous_spec", "amorphous_info"}


def stub_functions() -> dict[str, ast.FunctionDef]:
    """Every function of the stub by qualified name (class methods as Class.method)."""
    functions = {}
    for node in STUB.body:
        if isinstance(node, ast.FunctionDef):
            functions[node.name] = node
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    functions[f"{node.name}.{item.name}"] = item
    return functions


def compiled(qualified: str):
    target = _core
    for part in qualified.split("."):
        target = getattr(target, part)
    return target


def split_top_level(text: str) -> list[str]:
    """text split at the commas outside brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [part.strip() for part in parts if part.strip()]


def reported_arguments(function) -> list[tuple[str, bool]]:
    """(name, has a default) of each argument in pybind11's signature line."""
    line = function.__doc__.splitlines()[0]
    name = function.__name__
    assert line.startswith(name + "("), line
    depth, end = 0, None
    for i, ch in enumerate(line[len(name):], start=len(name)):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth == 0:
            end = i
            break
    arguments = split_top_level(line[len(name) + 1:end])
    return [(argument.split(":")[0].split("=")[0].strip(), "=" in argument)
            for argument in arguments]


def stub_arguments(node: ast.FunctionDef) -> list[tuple[str, bool]]:
    positional = node.args.posonlyargs + node.args.args
    first_default = len(positional) - len(node.args.defaults)
    return [(argument.arg, i >= first_default) for i, argument in enumerate(positional)]


def test_stub_names_every_binding_and_nothing_else():
    typed = {node.name for node in STUB.body
             if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_")}
    typed |= {node.target.id for node in STUB.body if isinstance(node, ast.AnnAssign)}
    assert typed == {name for name in dir(_core) if not name.startswith("_")}


def test_stub_names_every_method_of_legacy_random():
    methods = {name for name in vars(_core.LegacyRandom) if not name.startswith("_")}
    stubbed = {name.split(".")[1] for name in stub_functions() if name.startswith("LegacyRandom.")}
    assert stubbed - {"__init__"} == methods


@pytest.mark.parametrize("qualified", sorted(stub_functions()))
def test_stub_arguments_match_the_compiled_signature(qualified):
    """Names, order and which have defaults, as pybind11 reports them."""
    assert stub_arguments(stub_functions()[qualified]) == reported_arguments(compiled(qualified))


def test_fields_name_every_struct_of_the_contract_once():
    assert set(_core.FIELDS) == STRUCTS
    for struct, names in _core.FIELDS.items():
        assert isinstance(names, tuple), struct
        assert names, struct
        assert all(isinstance(name, str) and name.isidentifier() for name in names), struct
        assert len(set(names)) == len(names), f"{struct} repeats a field"


def test_render_params_hold_no_run_control_or_arrays():
    moved = {"threads", "progress", "progress_user", "nsources", "mosaic_domains", "mask",
             "Fhkl", "hkls", "h_min", "source_direction", "mosaic_umats"}
    assert not moved & set(_core.FIELDS["render_params"])


def test_codes():
    assert _core.CODES == {
        "convention": {"custom": 0, "adxv": 1, "mosflm": 2, "xds": 3, "dials": 4, "denzo": 5},
        "pivot": {"auto": -1, "sample": 0, "beam": 1},
        "shape": {"square": 0, "round": 1, "gauss": 2, "tophat": 3},
        "psf": {"none": 0, "gauss": 1, "fiber": 2},
    }
