"""Reading a mysqldump stream: rows per table and the completion marker, without holding it in memory.

Rows are counted per table as the dump streams past (see RowCounter), so a snapshot's verification
needs no second pass over the file and no import.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

COMPLETION_MARKER = b"-- Dump completed"
_CREATE = re.compile(rb"^CREATE TABLE `((?:[^`]|``)+)`", re.M)
_HEADER = re.compile(rb"^INSERT INTO `((?:[^`]|``)+)` (?:\([^)]*\) )?VALUES(\n| )", re.M)
# A single-quoted SQL string with backslash escapes, written as an unrolled loop (fast in re).
_STRING = re.compile(rb"'[^'\\]*(?:\\.[^'\\]*)*'", re.S)


@dataclass
class DumpCount:
    rows: dict[str, int] = field(default_factory=dict)
    completed: bool = False


class RowCounter:
    """Feed a dump in chunks of any size (bytes); read `.finish()`.

    Handles both layouts: MySQL's one line per INSERT (`VALUES (..),(..);`), where string literals are
    cut out before counting `),(`, and MariaDB 10.11+'s header line followed by one `(row),` line each,
    where rows are the lines starting with `(` up to the `);` that ends the statement. Strings never
    hold a raw newline (mysqldump writes \\n), so a line start is always a row start, and the work
    stays in C (bytes.count/find) rather than a Python loop per row.
    """

    def __init__(self) -> None:
        self.result = DumpCount()
        self._carry = b""
        self._table: str | None = None  # inside a multi-line INSERT for this table
        self._tail = b""

    def _add(self, table: str, rows: int) -> None:
        self.result.rows[table] = self.result.rows.get(table, 0) + rows

    def feed(self, data: bytes) -> None:
        data = self._carry + data if self._carry else data
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            self._carry = data
            return
        block, self._carry = data[:cut], data[cut:]
        self._block(block)
        self._tail = (self._tail + block[-512:])[-512:]

    def _block(self, block: bytes) -> None:
        pos, n = 0, len(block)
        while pos < n:
            if self._table is not None:
                end = block.find(b");\n", pos)
                stop = n if end == -1 else end + 3
                rows = (1 if block[pos : pos + 1] == b"(" else 0) + block.count(b"\n(", pos, stop - 1)
                self._add(self._table, rows)
                if end == -1:
                    return
                self._table, pos = None, stop
                continue
            m = _HEADER.search(block, pos)
            for c in _CREATE.finditer(block, pos, m.start() if m else n):
                self.result.rows.setdefault(_name(c.group(1)), 0)
            if m is None:
                return
            table = _name(m.group(1))
            self.result.rows.setdefault(table, 0)
            if m.group(2) == b"\n":
                self._table, pos = table, m.end()
                continue
            eol = block.find(b"\n", m.end())
            body = block[m.end() : eol].strip()
            if b"'" in body:
                body = _STRING.sub(b"''", body)
            self._add(table, body.count(b"),(") + (1 if body.startswith(b"(") else 0))
            pos = eol + 1

    def finish(self) -> DumpCount:
        if self._carry:
            rest, self._carry = self._carry + b"\n", b""
            self._block(rest)
            self._tail = (self._tail + rest)[-512:]
        lines = [ln for ln in self._tail.splitlines() if ln.strip()]
        self.result.completed = bool(lines) and lines[-1].startswith(COMPLETION_MARKER) and self._table is None
        return self.result


def _name(raw: bytes) -> str:
    return raw.replace(b"``", b"`").decode()


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
