"""What reading a command line raises and warns."""

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
