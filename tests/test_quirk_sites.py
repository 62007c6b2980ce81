"""Every quirk can be found by name: the registry lists where each one is implemented,
and every implementation site carries the marker ``quirk <name>``.

A marker is the word ``quirk``, one space and a registered name (a snake_case word with
at least one underscore) in a comment or docstring inside the function that implements
it.  The tests fail when a registered site has lost its marker or its function, when a
marker names a quirk that is not registered or lies in a function the quirk's entry does
not list, when an engine-stage quirk lacks a site in either engine, and when a quirk has
no ``bugs/`` file.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from nanobragg.parity import QUIRKS, Quirk, Site

ROOT = Path(__file__).resolve().parents[1]
SCANNED = (("python/nanobragg", (".py",)), ("csrc", (".c", ".h", ".cpp", ".hpp")))
ENGINE_STAGES = {"detector_geometry", "crystal_vectors", "sources", "mosaic_rotations",
                 "render", "add_noise", "detector_response", "point_scatterers",
                 "amorphous"}
C_ENGINE = "csrc/"
TORCH_ENGINE = "python/nanobragg/engines/torch/"
MARKER = re.compile(r"\bquirk ([a-z][a-z0-9]*(?:_[a-z0-9]+)+)\b")


@dataclass(frozen=True)
class Function:
    name: str
    """Python: the qualified name (``Class.method``, ``outer.inner``); C: the name."""
    first: int
    last: int
    """First and last line (1-based) of the definition, its signature included."""


def _python_functions(text: str) -> list[Function]:
    found: list[Function] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + child.name
                if not isinstance(child, ast.ClassDef):
                    first = min([child.lineno] + [d.lineno for d in child.decorator_list])
                    found.append(Function(name, first, child.end_lineno or child.lineno))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(ast.parse(text), "")
    return found


_C_TOKENS = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'',
                       re.DOTALL)
_C_PREPROCESSOR = re.compile(r"^[ \t]*#(?:[^\n]*\\\n)*[^\n]*", re.MULTILINE)
_C_QUALIFIERS = re.compile(r"(?:\s*\b(?:const|noexcept|override)\b)+\s*$")
_C_NOT_FUNCTIONS = {"if", "for", "while", "switch", "catch", "return", "sizeof"}


def _blank(match: re.Match[str]) -> str:
    """The match with every character but the line breaks turned into spaces."""
    return re.sub(r"[^\n]", " ", match.group(0))


def _c_function_name(code: str, start: int, end: int) -> tuple[str, int] | None:
    """The name and offset of the function whose header is code[start:end] (what precedes
    a '{'): the identifier before the parenthesis that closes at the header's end."""
    header = _C_QUALIFIERS.sub("", code[start:end].rstrip())
    if not header.endswith(")"):
        return None
    depth = 0
    for k in range(len(header) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(header[k], 0)
        if depth == 0:
            break
    match = re.search(r"([A-Za-z_]\w*)\s*$", header[:k])
    if match is None or match.group(1) in _C_NOT_FUNCTIONS:
        return None
    return match.group(1), start + match.start(1)


def _c_functions(text: str) -> list[Function]:
    """Function definitions of a C or C++ file: a block at file level (or inside a
    namespace, extern "C", struct or class block) whose header ends in ``name(...)``;
    from the line of the name to the closing brace."""
    code = _C_PREPROCESSOR.sub(_blank, _C_TOKENS.sub(_blank, text))
    found: list[Function] = []
    start = i = 0
    while i < len(code):
        if code[i] in ";}":
            start = i + 1
        elif code[i] == "{":
            named = _c_function_name(code, start, i)
            if named is None:
                # a namespace, extern "C", struct or class block: look inside it
                start = i + 1
            else:
                depth, i = 1, i + 1
                while depth and i < len(code):
                    depth += {"{": 1, "}": -1}.get(code[i], 0)
                    i += 1
                found.append(Function(named[0], code.count("\n", 0, named[1]) + 1,
                                      code.count("\n", 0, i) + 1))
                start = i
                continue
        i += 1
    return found


@cache
def _source(path: str) -> tuple[list[str], list[Function]]:
    """The lines of a file (from the repository root) and its function definitions."""
    text = (ROOT / path).read_text(encoding="utf-8")
    functions = _python_functions(text) if path.endswith(".py") else _c_functions(text)
    return text.splitlines(), functions


def _scanned_files() -> list[str]:
    return [path.relative_to(ROOT).as_posix()
            for folder, suffixes in SCANNED for path in sorted((ROOT / folder).rglob("*"))
            if path.suffix in suffixes and path.is_file()]


def _markers() -> list[tuple[str, int, str]]:
    """Every (file, line, name) of a ``quirk <name>`` marker in the scanned code."""
    found = []
    for path in _scanned_files():
        lines, _ = _source(path)
        for number, line in enumerate(lines, start=1):
            found.extend((path, number, name) for name in MARKER.findall(line))
    return found


def _site_id(site: Site) -> str:
    return f"{site.path}:{site.function}"


SITES = [pytest.param(quirk, site, id=f"{quirk.name}@{_site_id(site)}")
         for quirk in QUIRKS.values() for site in quirk.sites]


@pytest.mark.parametrize(("quirk", "site"), SITES)
def test_registered_site_carries_its_marker(quirk: Quirk, site: Site) -> None:
    """(a) The site's file exists, defines its function, and that function's body
    holds ``quirk <name>``."""
    where = f"quirk {quirk.name}: registered site {_site_id(site)}"
    assert (ROOT / site.path).is_file(), f"{where}: no file {site.path}"
    lines, functions = _source(site.path)
    defined = [f for f in functions if f.name == site.function]
    assert defined, (f"{where}: {site.path} defines no function {site.function!r} "
                     f"(it defines {sorted({f.name for f in functions})})")
    marker = f"quirk {quirk.name}"
    holding = [f for f in defined
               if any(quirk.name in MARKER.findall(line) for line in lines[f.first - 1:f.last])]
    assert holding, (f"{where}: the body of {site.function} (lines "
                     f"{', '.join(f'{f.first}-{f.last}' for f in defined)}) does not contain "
                     f"{marker!r}")


def test_every_marker_is_registered_at_its_site() -> None:
    """(b) Every marker names a registered quirk and lies in a function that the
    quirk's entry lists as one of its sites."""
    problems = []
    for path, number, name in _markers():
        quirk = QUIRKS.get(name)
        if quirk is None:
            problems.append(f"{path}:{number}: 'quirk {name}' names no registered quirk "
                            "(nanobragg.parity.QUIRKS)")
            continue
        _, functions = _source(path)
        enclosing = [f.name for f in functions if f.first <= number <= f.last]
        if not enclosing:
            problems.append(f"{path}:{number}: 'quirk {name}' lies outside every function; "
                            "a marker belongs in the function that implements the quirk")
            continue
        listed = {s.function for s in quirk.sites if s.path == path}
        if not listed.intersection(enclosing):
            problems.append(f"{path}:{number}: 'quirk {name}' lies in {enclosing[-1]}, which "
                            f"QUIRKS[{name!r}].sites does not list: add "
                            f"Site({path!r}, {enclosing[-1]!r})")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", sorted(QUIRKS))
def test_engine_stage_quirk_has_sites_in_both_engines(name: str) -> None:
    """(c) A quirk of an engine stage is implemented (or replaced by its correction) in
    the C engine and in the torch engine."""
    quirk = QUIRKS[name]
    assert quirk.sites, f"quirk {name}: its registry entry lists no sites"
    if quirk.stage not in ENGINE_STAGES:
        return
    c = [s for s in quirk.sites if s.path.startswith(C_ENGINE)]
    torch = [s for s in quirk.sites if s.path.startswith(TORCH_ENGINE)]
    missing = [engine for engine, sites in (("C (csrc/)", c), ("torch (" + TORCH_ENGINE + ")",
                                                                torch)) if not sites]
    assert not missing, (f"quirk {name} (stage {quirk.stage}): no site in the "
                         f"{' or the '.join(missing)} engine; sites: "
                         f"{[_site_id(s) for s in quirk.sites]}")


@pytest.mark.parametrize("name", sorted(QUIRKS))
def test_quirk_has_its_bug_file(name: str) -> None:
    """(d) Each quirk has bugs/<name>.md, which names the registry's stage."""
    path = ROOT / "bugs" / f"{name}.md"
    assert path.is_file(), f"quirk {name}: no bugs/{name}.md"
    stage = QUIRKS[name].stage
    assert f"Stage: `{stage}`." in path.read_text(encoding="utf-8"), (
        f"quirk {name}: bugs/{name}.md does not say 'Stage: `{stage}`.' as the registry does")


def test_the_scan_finds_markers_in_both_languages() -> None:
    """The scan itself: it reads both trees and finds C and Python function bodies."""
    paths = {path for path, _, _ in _markers()}
    assert any(p.startswith(C_ENGINE) for p in paths), "no marker found under csrc/"
    assert any(p.startswith(TORCH_ENGINE) for p in paths), f"no marker found under {TORCH_ENGINE}"
    _, functions = _source("csrc/engine/nb_lattice.h")
    assert "nb_lattice_factor" in {f.name for f in functions}
