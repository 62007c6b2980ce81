"""nanobragg: nanoBragg diffraction images from Python, on a C or a PyTorch engine.

The public names are loaded when first used, so that importing the package (or one of
its commands) costs nothing until a simulation is asked for.
"""

from __future__ import annotations

import importlib
import os as _os
from typing import TYPE_CHECKING, Any

# OpenMP threads that wait for work sleep instead of spinning, in the C engine and in
# torch: each runtime reads this when it loads, after this line unless torch came first.
# A busy neighbour then costs a render its share of the CPUs, not their spinning on top
# (README, "Threads").  An OMP_WAIT_POLICY set before the import is kept.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

if TYPE_CHECKING:
    from nanobragg.amorphous_scattering import AmorphousConfig, AmorphousResult, amorphous
    from nanobragg.config import (
        BeamConfig,
        Config,
        CrystalConfig,
        DetectorConfig,
        OutputConfig,
        SamplingConfig,
        StructureFactorConfig,
    )
    from nanobragg.response import Response, ResponseConfig, detector_response
    from nanobragg.result import Result, Statistics
    from nanobragg.scatterers import ScattererConfig, point_scatterers
    from nanobragg.series.description import Series
    from nanobragg.simulation import simulate
    from nanobragg.trace import trace_pixel

__version__ = "0.1.0"

_PUBLIC = {
    "BeamConfig": "nanobragg.config",
    "Config": "nanobragg.config",
    "CrystalConfig": "nanobragg.config",
    "DetectorConfig": "nanobragg.config",
    "OutputConfig": "nanobragg.config",
    "SamplingConfig": "nanobragg.config",
    "StructureFactorConfig": "nanobragg.config",
    "Response": "nanobragg.response",
    "ResponseConfig": "nanobragg.response",
    "Result": "nanobragg.result",
    "Statistics": "nanobragg.result",
    "detector_response": "nanobragg.response",
    "simulate": "nanobragg.simulation",
    "trace_pixel": "nanobragg.trace",
    "ScattererConfig": "nanobragg.scatterers",
    "point_scatterers": "nanobragg.scatterers",
    "AmorphousConfig": "nanobragg.amorphous_scattering",
    "AmorphousResult": "nanobragg.amorphous_scattering",
    "amorphous": "nanobragg.amorphous_scattering",
    "Series": "nanobragg.series.description",
}

__all__ = [
    "AmorphousConfig",
    "AmorphousResult",
    "BeamConfig",
    "Config",
    "CrystalConfig",
    "DetectorConfig",
    "OutputConfig",
    "Response",
    "ResponseConfig",
    "Result",
    "SamplingConfig",
    "ScattererConfig",
    "Series",
    "Statistics",
    "StructureFactorConfig",
    "amorphous",
    "detector_response",
    "point_scatterers",
    "simulate",
    "trace_pixel",
]


def _load_public(package: str, public: dict[str, str], namespace: dict[str, Any],
                 name: str) -> Any:
    """A package's public name, imported from its module (``public``) when first used and
    kept in the package's namespace; the packages' ``__getattr__``."""
    module = public.get(name)
    if module is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    namespace[name] = value
    return value


def __getattr__(name: str) -> Any:
    return _load_public(__name__, _PUBLIC, globals(), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})
