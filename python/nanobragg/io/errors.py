"""Exception and warning types of :mod:`nanobragg.io`."""

from __future__ import annotations

import os

__all__ = ["FormatError", "HKLWarning"]


class FormatError(ValueError):
    """A file's content is malformed or truncated.

    Attributes
    ----------
    path:
        The file that was being read (``None`` when unknown).
    reason:
        What was expected and what was found.
    line:
        1-based line number of the problem, when the format is line based.
    offset:
        0-based byte offset of the problem, when the format is a byte stream.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        reason: str,
        line: int | None = None,
        offset: int | None = None,
    ) -> None:
        self.path = None if path is None else os.fspath(path)
        self.reason = reason
        self.line = line
        self.offset = offset
        parts = [] if self.path is None else [self.path]
        if line is not None:
            parts.append(f"line {line}")
        if offset is not None:
            parts.append(f"byte offset {offset}")
        parts.append(reason)
        super().__init__(": ".join(parts))

    def __reduce__(self) -> tuple[type[FormatError], tuple[object, ...]]:
        return (type(self), (self.path, self.reason, self.line, self.offset))


class HKLWarning(UserWarning):
    """Suspicious but readable content in an HKL file (e.g. a non-integer Miller index)."""
