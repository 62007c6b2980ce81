"""The ``nanoBragg -h`` text, generated from the flag tables of :mod:`nanobragg.flags`."""

from __future__ import annotations

import textwrap

from nanobragg.flags import FLAGS, PROGRAM_FLAGS, Flag, ProgramFlag

__all__ = ["USAGE", "format_usage"]

_GROUP_ORDER = (
    "Crystal",
    "Structure factors",
    "Beam",
    "Detector",
    "Sampling",
    "Output",
    "Accepted, without effect",
)

_INTRO = """\
usage: nanoBragg [flags]

Simulates the diffraction image of a small crystal, like the original nanoBragg
program, whose flags it reads.  A crystal needs a cell (-cell or -mat) and structure
factors (-hkl, an Fdump.bin left by an earlier run, or -default_F).

By default flags must be spelt exactly and numbers must be numbers.  With -c_parity the
command line is read exactly like the original reads it: a flag is recognised when its
name occurs anywhere in an argument (so -twotheta_axis also sets -twotheta, and
-misset_seed N also reads as -misset N A B), numbers are read with C atof/atoi, and the
order of the flags matters.  Headers of -mask and -img files are read before any flag;
flags given on the command line win over them.
"""

_WIDTH = 100
_LEFT = 30


def _entry(head: str, text: str) -> list[str]:
    indent = " " * _LEFT
    if len(head) + 2 <= _LEFT - 1:
        first = f"  {head}".ljust(_LEFT)
        return textwrap.wrap(text, _WIDTH, initial_indent=first, subsequent_indent=indent)
    return [f"  {head}", *textwrap.wrap(text, _WIDTH, initial_indent=indent,
                                        subsequent_indent=indent)]


def _flag_text(flag: Flag) -> str:
    parts = [flag.help]
    details = []
    if flag.unit:
        details.append(flag.unit)
    if flag.default:
        details.append(f"default: {flag.default}")
    if details:
        parts.append(f"[{'; '.join(details)}]")
    text = " ".join(parts)
    if flag.synonyms:
        text += f"; also spelt {', '.join(flag.synonyms)}"
    return text


def _program_text(flag: ProgramFlag) -> str:
    if flag.synonyms:
        return f"{flag.help}; also spelt {', '.join(flag.synonyms)}"
    return flag.help


def format_usage() -> str:
    """The help text: every flag with its values, units, default and synonyms."""
    lines = [_INTRO]
    lines.append("This program:")
    for pflag in PROGRAM_FLAGS:
        lines.extend(_entry(" ".join((pflag.name, *pflag.metavars)), _program_text(pflag)))
    for group in _GROUP_ORDER:
        lines.append("")
        lines.append(f"{group}:")
        for flag in FLAGS:
            if flag.group == group:
                lines.extend(_entry(" ".join((flag.name, *flag.metavars)), _flag_text(flag)))
    lines.append("")
    return "\n".join(lines)


USAGE: str = format_usage()
"""Help text listing every flag with its units and defaults."""
