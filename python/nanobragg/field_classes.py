"""The classes of Config fields, and what a value of each class may be.

Every field of every Config group belongs to one class (the table
:data:`nanobragg.validation.FIELDS` says which).  A class's ``check(field, value)``
raises TypeError for a value of the wrong type and ValueError for a wrong value; both
messages name the field, show the value as Python writes the plain value (numpy scalars
as Python numbers) and say what the field accepts.  ``specs/config.md`` lists the
classes for users.
"""

from __future__ import annotations

import math
import os
import reprlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np

from nanobragg.config import is_tensor
from nanobragg.io import StructureFactors

MAX_COUNT = 1 << 20
"""Largest step count, domain count or oversampling of any one sweep."""
MAX_SEED = (1 << 31) - 1
"""Seeds are negated and fed to a 32-bit style generator; larger ones overflow."""
MAX_INDEX = (1 << 31) - 1
"""Pixel indices (ROI bounds, printout pixel) reach the engines as C ints."""

NUMBER_TYPES = (int, float, np.integer, np.floating)
"""What a real number may be (bools, though ints to Python and numpy, are refused)."""
FLAG_TYPES = (bool, np.bool_)
"""A numpy bool is accepted in a flag: it is what numpy's comparisons and ``any()`` give,
and it holds True or False only."""

NOT_DIFFERENTIABLE = "a tensor only in the differentiable fields"

_REPR = reprlib.Repr()
_REPR.maxlist = _REPR.maxtuple = 8
_REPR.maxstring = _REPR.maxother = 80
_LONG_ARRAY = 16
"""Arrays with more elements than this are shown by shape and dtype."""


def plain(value: Any) -> Any:
    """The value with numpy scalars and short arrays as Python numbers and lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if type(value) in (list, tuple):
        return type(value)(plain(item) for item in value)
    return value


def shown(value: Any) -> str:
    """How a message shows a value: the repr of the plain value, shortened; a long
    array by its shape and dtype."""
    if isinstance(value, np.ndarray) and value.size > _LONG_ARRAY:
        return f"<array of shape {value.shape}, {value.dtype}>"
    if is_tensor(value):
        # a tensor's repr spans lines (its dtype on the next); a message is one line
        return " ".join(_REPR.repr(value).split())
    return _REPR.repr(plain(value))


def fail(field: str, value: Any, accepted: str, error: type[Exception] = ValueError) -> NoReturn:
    raise error(f"{field}: {shown(value)} is not valid; expected {accepted}")


def _or_none(accepted: str, optional: bool) -> str:
    return f"{accepted}, or None" if optional else accepted


def _number(field: str, item: Any, differentiable: bool, accepted: str,
            whole: Any = None) -> float:
    """One real number as a float: an int, float or numpy scalar, or (differentiable
    fields only) a 0-d real tensor.  ``whole``: the value the message shows (the
    sequence the item is in)."""
    value = item if whole is None else whole
    if is_tensor(item):
        import torch

        if not differentiable:
            fail(field, value, f"{accepted} ({NOT_DIFFERENTIABLE})", TypeError)
        if not isinstance(item, torch.Tensor) or item.dtype == torch.bool or item.is_complex():
            fail(field, value, accepted, TypeError)
        if item.ndim != 0:
            fail(field, value, f"{accepted}; got a tensor of shape {tuple(item.shape)}")
        return float(item.detach().item())
    if isinstance(item, FLAG_TYPES) or not isinstance(item, NUMBER_TYPES):
        fail(field, value, accepted, TypeError)
    return float(item)


def _bound(at_least: float | None, above: float | None) -> str:
    if above is not None:
        return f" > {above:g}"
    if at_least is not None:
        return f" >= {at_least:g}"
    return ""


@dataclass(frozen=True)
class Real:
    """A real number: int, float or numpy scalar; a 0-d tensor where differentiable."""

    differentiable: bool = False
    optional: bool = False
    above: float | None = None
    at_least: float | None = None
    infinite: bool = False
    """+inf is accepted too (an attenuation length: no absorption)."""

    def accepted(self) -> str:
        text = f"a finite number{_bound(self.at_least, self.above)}"
        if self.infinite:
            text += " or inf"
        if self.differentiable:
            text += " or a 0-d tensor"
        return _or_none(text, self.optional)

    def check(self, field: str, value: Any) -> None:
        if value is None and self.optional:
            return
        number = _number(field, value, self.differentiable, self.accepted())
        if math.isinf(number) and number > 0 and self.infinite:
            return
        if (not math.isfinite(number) or (self.above is not None and number <= self.above)
                or (self.at_least is not None and number < self.at_least)):
            fail(field, value, self.accepted())


@dataclass(frozen=True)
class Vector:
    """n finite numbers: a sequence of them, a 1-D array, or (differentiable) a 1-D
    tensor or a sequence holding 0-d tensors."""

    n: int
    fewest: int | None = None
    """With a variable length (the cell): the fewest numbers accepted."""
    differentiable: bool = False
    optional: bool = False
    at_least: float | None = None
    meaning: str = ""

    def accepted(self) -> str:
        count = f"{self.n}" if self.fewest is None else f"{self.fewest} to {self.n}"
        text = f"{count} finite numbers{_bound(self.at_least, None)}"
        if self.meaning:
            text += f" ({self.meaning})"
        if self.differentiable:
            text += " as a sequence, array or 1-D tensor"
        else:
            text += " as a sequence or array"
        return _or_none(text, self.optional)

    def check(self, field: str, value: Any) -> None:
        if value is None and self.optional:
            return
        numbers = self._numbers(field, value)
        if not (self.fewest or self.n) <= len(numbers) <= self.n:
            fail(field, value, self.accepted())
        if not all(math.isfinite(v) for v in numbers) or (
                self.at_least is not None and any(v < self.at_least for v in numbers)):
            fail(field, value, self.accepted())

    def _numbers(self, field: str, value: Any) -> list[float]:
        accepted = self.accepted()
        if is_tensor(value):
            import torch

            if not self.differentiable:
                fail(field, value, f"{accepted} ({NOT_DIFFERENTIABLE})", TypeError)
            if (not isinstance(value, torch.Tensor) or value.dtype == torch.bool
                    or value.is_complex()):
                fail(field, value, accepted, TypeError)
            if value.ndim != 1:
                fail(field, value, f"{accepted}; got a tensor of shape {tuple(value.shape)}")
            return [float(v) for v in value.detach().cpu().tolist()]
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in "iuf":
                fail(field, value, accepted, TypeError)
            if value.ndim != 1:
                fail(field, value, f"{accepted}; got an array of shape {value.shape}")
            return [float(v) for v in value.tolist()]
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            fail(field, value, accepted, TypeError)
        return [_number(field, item, self.differentiable, accepted, whole=value)
                for item in value]


def _whole(field: str, item: Any, accepted: str, whole: Any, lowest: int,
           highest: int) -> int:
    """A whole number: an int or numpy integer, or a float with a whole value."""
    if isinstance(item, FLAG_TYPES) or not isinstance(item, NUMBER_TYPES):
        fail(field, whole, accepted, TypeError)
    if isinstance(item, float | np.floating) and not (math.isfinite(item) and item.is_integer()):
        fail(field, whole, accepted)
    if not lowest <= item <= highest:
        fail(field, whole, accepted)
    return int(item)


@dataclass(frozen=True)
class Count:
    """A whole number of steps, domains, pixels or sub-pixels; None: automatic."""

    maximum: int = MAX_COUNT

    def accepted(self) -> str:
        return f"a whole number from 0 to {self.maximum}, or None"

    def check(self, field: str, value: Any) -> None:
        if value is not None:
            _whole(field, value, self.accepted(), value, 0, self.maximum)


@dataclass(frozen=True)
class Seed:
    """A seed of the legacy generator: an int or numpy integer within +-(2^31 - 1)."""

    optional: bool = True

    def accepted(self) -> str:
        return _or_none(f"a whole number from -{MAX_SEED} to {MAX_SEED}", self.optional)

    def check(self, field: str, value: Any) -> None:
        if value is None and self.optional:
            return
        if isinstance(value, FLAG_TYPES) or not isinstance(value, int | np.integer):
            fail(field, value, self.accepted(), TypeError)
        if abs(int(value)) > MAX_SEED:
            fail(field, value, self.accepted())


@dataclass(frozen=True)
class WholeNumbers:
    """n whole numbers (pixel indices): a sequence or 1-D array of ints (or whole floats)."""

    n: int
    meaning: str

    def accepted(self) -> str:
        return (f"{self.n} whole numbers {self.meaning} from -{MAX_INDEX} to {MAX_INDEX}, "
                "or None")

    def check(self, field: str, value: Any) -> None:
        if value is None:
            return
        items = value.tolist() if isinstance(value, np.ndarray) and value.ndim == 1 else value
        if isinstance(items, str | bytes) or not isinstance(items, Sequence):
            fail(field, value, self.accepted(), TypeError)
        for item in items:
            _whole(field, item, self.accepted(), value, -MAX_INDEX, MAX_INDEX)
        if len(items) != self.n:
            fail(field, value, self.accepted())


@dataclass(frozen=True)
class Flag:
    """True or False (a bool or numpy bool); not 1, 1.0 or 'yes'."""

    optional: bool = False

    def accepted(self) -> str:
        return _or_none("True or False", self.optional)

    def check(self, field: str, value: Any) -> None:
        if not (isinstance(value, FLAG_TYPES) or (value is None and self.optional)):
            fail(field, value, self.accepted(), TypeError)


@dataclass(frozen=True)
class Path:
    """A file name: a str or os.PathLike of a str, not empty.  An int would be taken by
    ``open`` as a file descriptor (1 is the host's stdout), bytes are not file names here."""

    optional: bool = False

    def accepted(self) -> str:
        return _or_none("a file name (a non-empty str or os.PathLike)", self.optional)

    def check(self, field: str, value: Any) -> None:
        if value is None and self.optional:
            return
        if not isinstance(value, str | os.PathLike):
            fail(field, value, self.accepted(), TypeError)
        name = os.fspath(value)
        if not isinstance(name, str):
            fail(field, value, self.accepted(), TypeError)
        if not name or "\0" in name:
            fail(field, value, self.accepted())


@dataclass(frozen=True)
class Choice:
    """One of a few names."""

    options: tuple[str, ...]
    optional: bool = False

    def accepted(self) -> str:
        return _or_none(" / ".join(self.options), self.optional)

    def check(self, field: str, value: Any) -> None:
        if value is None and self.optional:
            return
        if not isinstance(value, str):
            fail(field, value, self.accepted(), TypeError)
        if value not in self.options:
            fail(field, value, self.accepted())


@dataclass(frozen=True)
class Array:
    """An array of numbers (a numpy array or nested sequences) of the shapes ``shapes``
    describes (-1: any length >= 1); ``kinds``: the numpy dtype kinds accepted."""

    shapes: tuple[tuple[int, ...], ...]
    kinds: str
    meaning: str
    finite: bool = True

    def accepted(self) -> str:
        return f"{self.meaning}, or None"

    def check(self, field: str, value: Any) -> None:
        if value is None:
            return
        if (is_tensor(value) or isinstance(value, str | bytes)
                or not isinstance(value, np.ndarray | Sequence)):
            fail(field, value, self.accepted(), TypeError)
        try:
            array = np.asarray(value)
        except (ValueError, TypeError, RuntimeError):
            fail(field, value, self.accepted(), TypeError)
        if array.dtype.kind not in self.kinds:
            fail(field, value, self.accepted(), TypeError)
        if not any(len(shape) == array.ndim
                   and all(want == got or (want == -1 and got >= 1)
                           for want, got in zip(shape, array.shape, strict=True))
                   for shape in self.shapes):
            fail(field, value, f"{self.accepted()}; got shape {array.shape}")
        if self.finite and not np.isfinite(array).all():
            fail(field, value, self.accepted())


@dataclass(frozen=True)
class Grid:
    """An in-memory structure-factor grid."""

    def accepted(self) -> str:
        return "a nanobragg.io.StructureFactors, or None"

    def check(self, field: str, value: Any) -> None:
        if value is not None and not isinstance(value, StructureFactors):
            fail(field, value, self.accepted(), TypeError)


FieldClass = Real | Vector | Count | Seed | WholeNumbers | Flag | Path | Choice | Array | Grid
