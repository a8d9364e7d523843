"""Records kept as parallel lists and read as a sequence of records.

100,000 record objects cost more to make than most of the work done with them: the plan keeps its rows
as columns, and makes a record only for the few that are shown or handed on one at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar, overload

Record = TypeVar("Record")


class Columns(Sequence[Record]):
    """A subclass says how many records there are (__len__) and how to make one (record())."""

    def record(self, index: int) -> Record:
        raise NotImplementedError

    @overload
    def __getitem__(self, index: int) -> Record: ...
    @overload
    def __getitem__(self, index: slice) -> list[Record]: ...
    def __getitem__(self, index: int | slice) -> Record | list[Record]:
        if isinstance(index, slice):
            return [self.record(i) for i in range(len(self))[index]]
        return self.record(range(len(self))[index])  # negative indexes, and IndexError

    def __iter__(self) -> Iterator[Record]:
        return map(self.record, range(len(self)))
