"""What reading a command line raises and warns.

Shared by the flag language (:mod:`nanobragg.flags`), the commands (:mod:`nanobragg.cli`)
and :mod:`nanobragg.compare`; it imports nothing of the package, so that each of them can
import it without depending on another.
"""

from __future__ import annotations

__all__ = ["ConventionWarning", "ParityWarning", "UsageError"]


class UsageError(ValueError):
    """A command line that cannot be read; the one-line message names the flag or value."""


class ParityWarning(UserWarning):
    """In ``c_parity`` mode: the original silently ignores something that was written."""


class ConventionWarning(UserWarning):
    """Strict mode: a vector flag replaced the convention an earlier flag selected by CUSTOM.

    The original switches silently (quirk ``vector_flags_select_custom``); the switch is
    kept, and named.
    """
