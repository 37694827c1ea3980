"""`Plain`: the base of the record classes the hook hot path creates.

They were dataclasses. ``import dataclasses`` pulls in ``inspect``, ``ast``, ``dis`` and
``tokenize`` (~10-15 ms), and every ``@dataclass`` ``exec``s generated code when its
module is imported: together a third of a hook's import time, paid before every Edit.
So each class writes its ``__init__`` by hand and names its fields, in order, in
``FIELDS``; this base gives the dataclass ``__eq__`` (same class, equal field tuples)
and ``__repr__`` (``Name(field=value, ...)``) over them. Like a dataclass with ``eq``,
instances are unhashable unless a subclass says otherwise.

Standard library only, and no import at all: it is on the hot path.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar


class Plain:
    """Dataclass-style equality and repr over the fields a subclass lists in ``FIELDS``."""

    __slots__ = ()
    FIELDS: ClassVar[tuple[str, ...]] = ()
    __hash__ = None  # type: ignore[assignment]  # mutable and compared by value

    def _astuple(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.FIELDS)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._astuple() == other._astuple()  # type: ignore[attr-defined, no-any-return]
        return NotImplemented

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.FIELDS)
        return f"{self.__class__.__qualname__}({args})"
