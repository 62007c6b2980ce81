"""The engines, and the one place that chooses between them.

:data:`REGISTRY` names every engine with what it runs on; :func:`create` builds one
from its options; a :class:`Route` says which engine runs each stage of a run (all on
``backend``, or each as ``stages`` says) and checks that every option given applies to
an engine of the route.  ``simulate``, ``prepare``, ``trace_pixel`` and a Result's noise
all take their engines from a Route.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from nanobragg.engines.base import COptions, Engine, TorchOptions, max_threads
from nanobragg.stages import STAGES


@dataclass(frozen=True)
class EngineEntry:
    """One engine of the registry."""

    name: str
    summary: str
    module: str
    """The module that defines the engine class (imported when the engine is built)."""
    cls: str
    options: type
    dtypes: tuple[str, ...]
    devices: Callable[[], tuple[str, ...]]
    """The devices it can use on this machine (asked only when needed: it may import
    the engine's library)."""

    def describe(self) -> str:
        return (f"{self.name} ({self.summary}; devices {', '.join(self.devices())}; "
                f"dtypes {', '.join(self.dtypes)})")


def _cpu_only() -> tuple[str, ...]:
    return ("cpu",)


def _torch_devices() -> tuple[str, ...]:
    from nanobragg.engines.torch.vectors import devices

    return devices()


REGISTRY: dict[str, EngineEntry] = {
    "c": EngineEntry("c", "C, OpenMP", "nanobragg.engines.c", "CEngine", COptions,
                     ("float64",), _cpu_only),
    "torch": EngineEntry("torch", "PyTorch, differentiable", "nanobragg.engines.torch",
                         "TorchEngine", TorchOptions, ("float32", "float64"), _torch_devices),
}
DTYPES = tuple(dict.fromkeys(dtype for entry in REGISTRY.values() for dtype in entry.dtypes))
"""Every dtype some engine renders in."""


def _unknown_engine(field: str, name: object) -> ValueError:
    """Names only: listing the devices would import every engine's library."""
    return ValueError(f"{field}: {name!r} is not an engine; the engines are "
                      f"{', '.join(REGISTRY)} (nanobragg.engines.available() lists their "
                      "devices and dtypes)")


def available() -> str:
    """The engines, each with the devices and dtypes it can use here."""
    return "; ".join(entry.describe() for entry in REGISTRY.values())


def create(name: str, options: Any = None) -> Engine:
    """The engine called ``name`` with its options (a :class:`COptions` or
    :class:`TorchOptions`; None: the defaults)."""
    if name not in REGISTRY:
        raise _unknown_engine("backend", name)
    entry = REGISTRY[name]
    options = entry.options() if options is None else options
    if not isinstance(options, entry.options):
        raise ValueError(f"options of the {name} engine must be {entry.options.__name__}, "
                         f"not {type(options).__name__}")
    engine_class = getattr(importlib.import_module(entry.module), entry.cls)
    engine: Engine = engine_class(options)
    return engine


def resolve_stages(backend: str, stages: Mapping[str, str] | None) -> dict[str, str]:
    """The engine name of every stage: those named in ``stages``, the rest on ``backend``."""
    if backend not in REGISTRY:
        raise _unknown_engine("backend", backend)
    route = dict.fromkeys(STAGES, backend)
    if stages is None:
        return route
    if not isinstance(stages, Mapping):
        raise ValueError(f"stages: {stages!r} is not a mapping of stage name to engine")
    for name, engine in stages.items():
        if name not in route:
            raise ValueError(f"stages: {name!r} is not a stage; the stages are "
                             f"{', '.join(STAGES)}")
        if engine not in REGISTRY:
            raise ValueError(f"stages[{name!r}]: {engine!r} is not one of "
                             f"{', '.join(REGISTRY)}")
        route[name] = engine
    return route


class Route:
    """Which engine runs each stage of one run, each engine built once with its options.

    Options apply to one engine: ``threads`` to a C render; ``memory_budget`` and
    ``compile`` to a torch render; ``dtype`` to a torch render (the set-up stages compute
    in float64 on either engine); ``device`` to any stage on torch.  An option that no
    engine of the route takes is an error, not silently ignored."""

    def __init__(self, backend: str = "c", stages: Mapping[str, str] | None = None, *,
                 threads: Any = None, device: Any = None, dtype: Any = None,
                 memory_budget: Any = None, compile: bool = False):
        self.names = resolve_stages(backend, stages)
        render = self.names["render"]
        # each options object checks its own values; here, which engine they apply to
        options = {"c": COptions(threads=threads),
                   "torch": TorchOptions(device=device, dtype=dtype,
                                         memory_budget=memory_budget, compile=bool(compile))}
        if render == "c" and (memory_budget is not None or compile):
            raise ValueError("memory_budget and compile apply to a torch render only")
        if render == "torch" and threads is not None:
            raise ValueError("threads applies to a C render only; use torch.set_num_threads")
        if render != "torch" and dtype is not None and str(dtype) not in (
                "float64", "torch.float64"):
            raise ValueError(f"dtype: {dtype!r} applies to a torch render only; the C engine "
                             "and the set-up stages compute in float64")
        if "torch" not in self.names.values() and device is not None and str(device) != "cpu":
            raise ValueError(f"device: {device!r} applies to the torch engine only; the C "
                             "engine computes on the CPU")
        self._engines = {name: create(name, options[name])
                         for name in dict.fromkeys(self.names.values())}

    def __getitem__(self, stage: str) -> Engine:
        """The engine of a stage; ``trace_pixel`` runs on the render's."""
        return self._engines[self.names["render" if stage == "trace_pixel" else stage]]


__all__ = ["DTYPES", "REGISTRY", "COptions", "Engine", "EngineEntry", "Route",
           "TorchOptions", "available", "create", "max_threads", "resolve_stages"]
