"""The original program's flag language: its command line, read into a
:class:`~nanobragg.config.Config`, and a Config written back as flags.

This package is the reader's public face (import from here); the work is done in its
modules:

==========================  ============================================================
:mod:`~.cnumbers`           C ``atof``/``atoi`` on strings, strict numbers
:mod:`~.record`             the record of the original's variables; the flag actions
:mod:`~.table`              :class:`Flag`, :data:`FLAGS`, :data:`PROGRAM_FLAGS`
:mod:`~.headers`            the ``-mask``/``-img`` headers, read before any flag
:mod:`~.legacy`             the ``c_parity=True`` parse (the original's loop)
:mod:`~.strict`             the ``c_parity=False`` parse (exact names)
:mod:`~.mapping`            record -> Config (:func:`config_from_argv`), Config -> argv
:mod:`~.command`            the ``nanoBragg`` command's own flags
                            (:func:`parse_command_line`)
==========================  ============================================================

What it raises and warns (:class:`~nanobragg.errors.UsageError`,
:class:`~nanobragg.errors.ParityWarning`, :class:`~nanobragg.errors.ConventionWarning`)
lives in :mod:`nanobragg.errors`, which the commands (:mod:`nanobragg.cli`) and
:mod:`nanobragg.compare` share.  The commands themselves are in :mod:`nanobragg.cli`.

Two ways of reading the same flags; the strict one is the default, as in the
``nanoBragg`` command, and the original's is asked for with ``c_parity=True``:

``c_parity=True``
    The original's own way, quirks included.  Every argument that starts with ``-`` is
    tested against every rule of :data:`FLAGS`, in the table's order, by *substring*
    (``-twotheta_axis`` also contains ``-twotheta``, so it also sets the two-theta angle);
    some rules ask for the whole argument instead (``-phi``, ``-polar``, ``-detsize``...),
    a few stop the later rules from seeing the argument, values are read with C
    ``atof``/``atoi`` (``"abc"`` reads as 0, ``"3.7"`` as the integer 3), and a value
    is taken from the next arguments whether or not it looks like a flag.

``c_parity=False``
    Strict: each flag must be spelt exactly (one of the names or synonyms of the table),
    consumes exactly its values, and numbers must be numbers.  The substring side
    effects are gone; what a flag does by itself stays (vectors still select the CUSTOM
    convention, with a :class:`~nanobragg.errors.ConventionWarning` when they replace a
    convention a flag selected; ``-distance`` still selects the beam pivot...).  A
    header's TWOTHETA, which the original ignores, sets the detector's two-theta.

Both first read the headers of the ``-mask`` and then the ``-img`` file (so the image's
values win), then apply the flags in command-line order (so flags win over headers).
The parse fills a record of the original's own variables (kept in the user's units:
mm, um, Angstrom, degrees, mrad, percent) which is turned into a Config at the end.

The command's own flags (``-backend``, ``-c_parity``, ``-device``, ``-dtype``,
``-trace_pixel``, ``-h``) are not flags of a Config: :func:`config_from_argv` refuses them
with a :class:`~nanobragg.errors.UsageError` saying what a Python caller passes instead.

Errors are :class:`~nanobragg.errors.UsageError` (a ValueError) with a one-line
message; a missing or malformed ``-img``/``-mask`` file raises FileNotFoundError or
:class:`nanobragg.io.FormatError`.  ``specs/flags.md`` describes every flag and rule.
"""

from __future__ import annotations

from nanobragg.flags.cnumbers import c_atof, c_atoi
from nanobragg.flags.command import ParsedCommand, parse_command_line
from nanobragg.flags.mapping import config_from_argv, config_to_argv
from nanobragg.flags.table import FLAG_BY_NAME, FLAGS, PROGRAM_FLAGS, Flag, ProgramFlag

__all__ = [
    "FLAGS",
    "FLAG_BY_NAME",
    "PROGRAM_FLAGS",
    "Flag",
    "ParsedCommand",
    "ProgramFlag",
    "c_atof",
    "c_atoi",
    "config_from_argv",
    "config_to_argv",
    "parse_command_line",
]
