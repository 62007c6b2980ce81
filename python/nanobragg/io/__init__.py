"""File formats of nanoBragg: readers and writers matching the original program's bytes.

Modules, each named for its format: :mod:`.hkl` (text structure factors),
:mod:`.fdump` (binary structure-factor cache), :mod:`.matrix` (MOSFLM orientation
matrix), :mod:`.sourcefile` (source list), :mod:`.smv` (SMV/ADSC images), :mod:`.pgm`
(PGM preview images) and :mod:`.rawfloat` (raw float32 images).  Malformed or truncated
content raises :class:`FormatError` (a ValueError) naming the file and where; a missing
file raises :class:`FileNotFoundError`.  Writers replace their target atomically.
"""

from .errors import FormatError, HKLWarning
from .fdump import read_fdump, write_fdump
from .hkl import DEFAULT_MAX_CELLS, StructureFactors, read_hkl
from .matrix import read_mosflm_matrix
from .pgm import read_pgm, write_pgm
from .rawfloat import read_float_image, write_float_image
from .smv import SMVImage, format_smv_header, header_value, read_smv, write_smv
from .sourcefile import read_source_file, read_text_columns

__all__ = [
    "DEFAULT_MAX_CELLS",
    "FormatError",
    "HKLWarning",
    "SMVImage",
    "StructureFactors",
    "format_smv_header",
    "header_value",
    "read_fdump",
    "read_float_image",
    "read_hkl",
    "read_mosflm_matrix",
    "read_pgm",
    "read_smv",
    "read_source_file",
    "read_text_columns",
    "write_fdump",
    "write_float_image",
    "write_pgm",
    "write_smv",
]
