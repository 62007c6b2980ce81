"""The package's layering: no import cycles, and the low layers load none of the high ones.

The static check reads every module of ``python/nanobragg`` with :mod:`ast` and follows
its module-level imports (those that run when it is imported; imports inside functions,
and under ``if TYPE_CHECKING:``, run later or never).  The run-time checks import one
module in a fresh interpreter and list what it loaded.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import nanobragg

PACKAGE_DIR = Path(nanobragg.__file__).resolve().parent
"""The package the tests import (the source tree with an editable install, the installed
copy otherwise): its graph is the one checked."""


def _module_names() -> dict[str, tuple[Path | None, bool]]:
    """Dotted name -> (source to read, is a package).  A stub (``_core.pyi``) stands for a
    compiled module: a name ``from nanobragg import _core`` can refer to, importing
    nothing of the package."""
    names: dict[str, tuple[Path | None, bool]] = {}
    root = PACKAGE_DIR.parent
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            names[".".join(parts[:-1])] = (path, True)
        else:
            names[".".join(parts)] = (path, False)
    for path in sorted(PACKAGE_DIR.rglob("*.pyi")):
        names.setdefault(".".join(path.relative_to(root).with_suffix("").parts), (None, False))
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _module_level_imports(body: list[ast.stmt]):
    """The import statements that run when the module is imported."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _module_level_imports(node.body)
            yield from _module_level_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, *(h.body for h in node.handlers), node.orelse,
                          node.finalbody):
                yield from _module_level_imports(block)
        elif isinstance(node, (ast.With, ast.ClassDef)):
            yield from _module_level_imports(node.body)


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports at module level.

    ``from x import y`` is an edge to ``x.y`` when that is a module and to ``x``
    otherwise; a parent package that Python runs on the way to a submodule is not an
    edge (every submodule would otherwise be in a cycle with the package's
    ``__init__``)."""
    names = _module_names()
    graph: dict[str, set[str]] = {}
    for name, (path, is_package) in names.items():
        edges: set[str] = set()
        if path is not None:
            for node in _module_level_imports(ast.parse(path.read_text(), str(path)).body):
                if isinstance(node, ast.Import):
                    edges.update(alias.name for alias in node.names if alias.name in names)
                    continue
                if node.level:
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[:len(base) - node.level + 1]
                    source = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    source = node.module or ""
                for alias in node.names:
                    if f"{source}.{alias.name}" in names:
                        edges.add(f"{source}.{alias.name}")
                    elif source in names:
                        edges.add(source)
        edges.discard(name)
        graph[name] = edges
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (``a -> b -> ... -> a``) through each strongly connected group of
    modules (Tarjan's algorithm, then a path back to the group's first module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_in(graph, group) for group in groups]


def _cycle_in(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for succ in sorted(graph[node] & group):
            if succ == start:
                return [*paths[node], start]
            if succ not in paths:
                paths[succ] = [*paths[node], succ]
                queue.append(succ)
    raise AssertionError(f"no cycle in {sorted(group)}")


def _describe(cycles: list[list[str]]) -> str:
    return "import cycles:\n" + "\n".join("  " + " -> ".join(cycle) for cycle in cycles)


def test_the_graph_sees_every_kind_of_import():
    graph = import_graph()
    assert "nanobragg.flags.command" in graph["nanobragg.flags"]  # from x import y, absolute
    assert "nanobragg.io.errors" in graph["nanobragg.io.pgm"]  # from .y import z, relative
    assert "nanobragg._core" in graph["nanobragg.engines.c"]  # from x import <compiled>
    assert "nanobragg.errors" in graph["nanobragg.flags.cnumbers"]
    assert graph["nanobragg.config"] == set()  # its flag imports are inside functions


def test_cycles_are_found_and_printed():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert import_cycles(graph) == [["a", "b", "c", "a"]]
    assert _describe([["a", "b", "a"]]) == "import cycles:\n  a -> b -> a"


def test_the_package_has_no_import_cycle():
    cycles = import_cycles(import_graph())
    assert not cycles, _describe(cycles)


def test_the_layers_import_downwards_only():
    """config imports neither the commands nor the flag language at module level (its
    from_cli/to_cli import the flags when called); the flag language, nb-compare's
    library and the series import no command; neither engine imports the other; the stage
    data imports no engine; the errors import nothing of the package."""
    graph = import_graph()
    below = {"nanobragg.config": ("nanobragg.cli", "nanobragg.flags"),
             "nanobragg.flags": ("nanobragg.cli", "nanobragg.compare"),
             "nanobragg.compare": ("nanobragg.cli",),
             "nanobragg.series": ("nanobragg.cli",),
             # the torch engine reaches the shared codes and the legacy generator through
             # neutral modules (nanobragg.codes, nanobragg.legacy_random)
             "nanobragg.engines.torch": ("nanobragg.engines.c", "nanobragg._core"),
             "nanobragg.engines.c": ("nanobragg.engines.torch",),
             "nanobragg.stages": ("nanobragg.engines", "nanobragg._core")}
    for module, imported in graph.items():
        for layer, forbidden in below.items():
            if module == layer or module.startswith(layer + "."):
                wrong = sorted(m for m in imported for f in forbidden
                               if m == f or m.startswith(f + "."))
                assert wrong == [], f"{module} imports {wrong}"
    assert graph["nanobragg.errors"] == set()


_LOADED = """\
import importlib, importlib.util, json, sys
# importing a submodule runs the package's __init__ first, and that imports simulate
# (with the engines) for the package's public names: registering the package unexecuted
# shows what the module itself depends on
sys.modules["nanobragg"] = importlib.util.module_from_spec(importlib.util.find_spec("nanobragg"))
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(name for name in sys.modules if name.startswith("nanobragg."))))
"""


def _loaded_by(module: str) -> list[str]:
    """The package's modules a fresh interpreter has loaded after importing ``module``."""
    done = subprocess.run([sys.executable, "-c", _LOADED, module], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, f"import {module} failed:\n{done.stderr}"
    return json.loads(done.stdout)


def _within(loaded: list[str], package: str) -> list[str]:
    return [name for name in loaded if name == package or name.startswith(package + ".")]


def test_config_loads_neither_the_commands_nor_the_flags_nor_the_engines():
    loaded = _loaded_by("nanobragg.config")
    assert "nanobragg.config" in loaded
    for package in ("nanobragg.cli", "nanobragg.flags", "nanobragg.engines"):
        assert _within(loaded, package) == [], package


def test_compare_loads_no_command():
    loaded = _loaded_by("nanobragg.compare")
    assert "nanobragg.compare.runners" in loaded
    assert _within(loaded, "nanobragg.cli") == []


def test_errors_load_nothing_else_of_the_package():
    assert _loaded_by("nanobragg.errors") == ["nanobragg.errors"]


def test_the_package_and_its_commands_import_nothing_before_use():
    """Importing nanobragg, or a command's entry point, loads none of its modules: the
    public names load when first used, and a Ctrl-C during a command's imports happens
    inside its main(), which reports it in one line."""
    commands = ["nanobragg.cli.compare", "nanobragg.cli.main", "nanobragg.cli.nearbragg_main",
                "nanobragg.cli.noisify", "nanobragg.cli.nonbragg_main", "nanobragg.cli.series"]
    script = (f"import json, sys, nanobragg, {', '.join(commands)}\n"
              "print(json.dumps(sorted(m for m in sys.modules if m.startswith('nanobragg'))))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["nanobragg", "nanobragg.cli", *commands,
                                       "nanobragg.errors"]
    import nanobragg

    assert nanobragg.simulate.__module__ == "nanobragg.simulation"
    assert set(nanobragg.__all__) <= set(dir(nanobragg))


_RUN = """\
import contextlib, io, json, sys
from nanobragg.cli.main import main
with contextlib.redirect_stdout(io.StringIO()):
    status = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("nanobragg", "torch"))
print(json.dumps([status, loaded]))
"""

_IMAGE = "-cell 100 100 100 90 90 90 -lambda 1 -N 5 -default_F 100 -distance 100 -detpixels 8"

_ON_REQUEST = ("nanobragg.trace", "nanobragg.cli.printout", "nanobragg.cli.usage",
               "nanobragg.stages.amorphous", "nanobragg.stages.response",
               "nanobragg.stages.scatterers", "torch")
"""What the nanoBragg command loads only for the flags that need it: pixel traces
(-printout, -trace_pixel), the help text (-h), the other programs' stages, torch."""


@pytest.mark.parametrize(("flags", "wanted"), [
    ("-backend c", ()),
    ("-backend c -c_parity", ()),
    ("-backend c -printout", ("nanobragg.trace", "nanobragg.cli.printout")),
    ("-backend c -trace_pixel 1 1", ("nanobragg.trace",)),
    ("-h", ("nanobragg.cli.usage",)),
])
def test_the_command_loads_what_its_flags_need(flags, wanted, tmp_path):
    """A C run of the nanoBragg command loads no pixel trace, help text, other program's
    stage or torch unless a flag asks for it: its start-up time is what it imports."""
    done = subprocess.run([sys.executable, "-c", _RUN, *f"{_IMAGE} {flags}".split()],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    status, loaded = json.loads(done.stdout)
    assert status == 0, done.stderr
    assert sorted(set(loaded) & set(_ON_REQUEST)) == sorted(wanted)
    assert ("nanobragg.engines.c" in loaded) == (flags != "-h")
