"""Reading a mysqldump stream: rows per table and the completion marker, without holding it in memory.

mysqldump writes each extended INSERT on one line (`INSERT INTO `t` VALUES (..),(..);`) and escapes
newlines inside strings, so rows are counted per line: string literals are cut out first (a `),(`
inside a string is data), then the row separators are counted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

COMPLETION_MARKER = b"-- Dump completed"
_CREATE = re.compile(rb"^CREATE TABLE `((?:[^`]|``)+)`")
_INSERT = re.compile(rb"^INSERT INTO `((?:[^`]|``)+)` (?:\([^)]*\) )?VALUES\s?")
# A single-quoted SQL string with backslash escapes, written as an unrolled loop (fast in re).
_STRING = re.compile(rb"'[^'\\]*(?:\\.[^'\\]*)*'", re.S)


@dataclass
class DumpCount:
    rows: dict[str, int] = field(default_factory=dict)
    completed: bool = False
    lines: int = 0


class RowCounter:
    """Feed lines of a dump (bytes, with or without newline); read `.result`.

    Handles both layouts: MySQL's one line per INSERT, and MariaDB 10.11+'s INSERT header followed by
    one `(row),` line each. Rows are counted as row openings: a `(` starting a line of the statement
    plus every `),(` outside string literals.
    """

    def __init__(self) -> None:
        self.result = DumpCount()
        self._last = b""
        self._table: str | None = None  # inside an INSERT statement for this table

    def _count(self, table: str, body: bytes) -> None:
        if b"'" in body:
            body = _STRING.sub(b"''", body)
        body = body.strip()
        rows = body.count(b"),(") + (1 if body.startswith(b"(") else 0)
        self.result.rows[table] = self.result.rows.get(table, 0) + rows
        self._table = None if body.endswith(b";") else table

    def feed(self, line: bytes) -> None:
        self.result.lines += 1
        if self._table is not None:
            self._count(self._table, line)
            self._last = b""
            return
        first = line[:1]
        if first == b"I":
            m = _INSERT.match(line)
            if m:
                self._count(m.group(1).replace(b"``", b"`").decode(), line[m.end() :])
                self._last = b""
                return
        elif first == b"C":
            m = _CREATE.match(line)
            if m:
                self.result.rows.setdefault(m.group(1).replace(b"``", b"`").decode(), 0)
        stripped = line.strip()
        if stripped:
            self._last = stripped

    def finish(self) -> DumpCount:
        self.result.completed = self._last.startswith(COMPLETION_MARKER)
        return self.result


def count_rows(lines: Iterable[bytes]) -> DumpCount:
    counter = RowCounter()
    for line in lines:
        counter.feed(line)
    return counter.finish()


@dataclass(frozen=True)
class RowCheck:
    table: str
    dumped: int
    before: int | None
    after: int | None

    @property
    def ok(self) -> bool:
        counts = [c for c in (self.before, self.after) if c is not None]
        if self.dumped < 0 or not counts:
            return False
        # A table written to while the dump ran (sessions on a live shop) may hold any count in between.
        return min(counts) <= self.dumped <= max(counts)

    @property
    def changed_during_dump(self) -> bool:
        return self.before is not None and self.after is not None and self.before != self.after


def compare_counts(
    dumped: dict[str, int], before: dict[str, int], after: dict[str, int], stripped: Iterable[str] = ()
) -> list[RowCheck]:
    """Per-table comparison of the dump against the source counted before and after it; stripped tables
    must be present with zero rows."""
    skip = set(stripped)
    checks = []
    for table in sorted(set(before) | set(after) | set(dumped)):
        if table in skip:
            checks.append(RowCheck(table, dumped.get(table, -1), 0, 0))
            continue
        checks.append(RowCheck(table, dumped.get(table, -1), before.get(table), after.get(table)))
    return checks


def mismatches(checks: Iterable[RowCheck]) -> list[RowCheck]:
    return [c for c in checks if not c.ok]
