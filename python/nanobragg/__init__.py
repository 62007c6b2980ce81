"""nanobragg: nanoBragg diffraction images from Python, on a C or a PyTorch engine."""

from nanobragg.config import (
    BeamConfig,
    Config,
    CrystalConfig,
    DetectorConfig,
    OutputConfig,
    SamplingConfig,
    StructureFactorConfig,
)
from nanobragg.result import Result, Statistics
from nanobragg.simulate import simulate
from nanobragg.trace import trace_pixel

__all__ = [
    "BeamConfig",
    "Config",
    "CrystalConfig",
    "DetectorConfig",
    "OutputConfig",
    "Result",
    "SamplingConfig",
    "Statistics",
    "StructureFactorConfig",
    "simulate",
    "trace_pixel",
]
__version__ = "0.1.0"
