"""File formats of nanoBragg: readers and writers matching the original program's bytes.

Modules, each named for its format: :mod:`.hkl` (text structure factors),
:mod:`.fdump` (binary structure-factor cache), :mod:`.matrix` (MOSFLM orientation
matrix), :mod:`.sourcefile` (source list), :mod:`.smv` (SMV/ADSC images), :mod:`.pgm`
(PGM preview images) and :mod:`.rawfloat` (raw float32 images).  Malformed or truncated
content raises :class:`FormatError` (a ValueError) naming the file and where; a missing
file raises :class:`FileNotFoundError`.  Writers replace their target atomically;
:class:`OutputSet` (:mod:`.outputs`) writes several files all together or not at all,
and every writer is one such set, so a file that cannot be written raises
:class:`OutputError` (an OSError) naming it.
"""

from .errors import FormatError, HKLWarning
from .fdump import fdump_bytes, read_fdump, write_fdump
from .hkl import DEFAULT_MAX_CELLS, StructureFactors, read_hkl
from .matrix import read_mosflm_matrix
from .outputs import OutputError, OutputSet
from .pgm import pgm_bytes, read_pgm, write_pgm
from .rawfloat import float_image_bytes, read_float_image, write_float_image
from .smv import SMVImage, format_smv_header, header_value, read_smv, smv_bytes, write_smv
from .sourcefile import read_source_file, read_text_columns

__all__ = [
    "DEFAULT_MAX_CELLS",
    "FormatError",
    "HKLWarning",
    "OutputError",
    "OutputSet",
    "SMVImage",
    "StructureFactors",
    "fdump_bytes",
    "float_image_bytes",
    "format_smv_header",
    "header_value",
    "pgm_bytes",
    "read_fdump",
    "read_float_image",
    "read_hkl",
    "read_mosflm_matrix",
    "read_pgm",
    "read_smv",
    "read_source_file",
    "read_text_columns",
    "smv_bytes",
    "write_fdump",
    "write_float_image",
    "write_pgm",
    "write_smv",
]
