"""Undo files and audit records under `state_dir/undo/<client>/<store>/`.

An undo file is written and fsynced before anything changes: a JSON header line naming the task,
source file and operations, then for each operation exactly `rows` lines of tab-separated
`key, old value, new value` (\\N for NULL). Plain lines keep 100,000 rows at a fraction of a second.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

from maint.errors import InputError
from maint.pricing.columns import Columns

FORMAT = "maint-undo/1"
# Column types of the tables the tasks change; temporary tables are built from this list only.
COLUMN_TYPES = {
    "product_id": "INT",
    "customer_group_id": "INT",
    "customer_id": "INT",
    "quantity": "INT",
    "priority": "INT",
    "price": "DECIMAL(15,4)",
    "type": "CHAR(1)",
    "special": "TINYINT",
    "date_start": "DATE",
    "date_end": "DATE",
    "language_id": "INT",
    "approval": "INT",
    "sort_order": "INT",
    "name": "VARCHAR(32)",
    "description": "TEXT",
    # the setting row that lists the groups shown at sign-up (config_customer_group_display)
    "store_id": "INT",
    "code": "VARCHAR(128)",
    "key": "VARCHAR(128)",
    "value": "MEDIUMTEXT",
    "serialized": "TINYINT",
    # the other rows a deleted customer group leaves (service.GROUP_ROW_TABLES); ids are INT by their name
    "points": "INT",
    "required": "TINYINT",
    "trial_price": "DECIMAL(15,4)",
}


Value = Decimal | str | None  # a plan gives prices as 4-place texts ("12.5000"), an undo file as Decimals
ColumnRow = tuple[int | str, Value, Value]  # (key, old, new); a plan's keys are texts too


class ColumnRows(Columns[ColumnRow]):
    """(key, old, new) rows kept as three columns: a plan has them so, and 100,000 tuples cost more to make
    than the change list they go into."""

    def __init__(self, keys: Sequence[int | str], old: Sequence[Value], new: Sequence[Value]) -> None:
        self.columns = (keys, old, new)

    def __len__(self) -> int:
        return len(self.columns[0])

    def record(self, index: int) -> ColumnRow:
        keys, old, new = self.columns
        return keys[index], old[index], new[index]

    def __iter__(self) -> Iterator[ColumnRow]:
        return zip(*self.columns, strict=True)


@dataclass(frozen=True)
class ColumnUpdate:
    """Set `table.column` to a new value for each key; `old` is what the plan read."""

    table: str  # without the store's prefix
    key: str
    column: str
    sql_type: str
    rows: Sequence[ColumnRow]

    @property
    def size(self) -> int:
        return len(self.rows)

    @cached_property
    def lines(self) -> str:
        """The rows as `key, old, new` lines, tab-separated, \\N for NULL: the undo file's body and, the
        values being numbers, exactly a LOAD DATA file too; made once for both (100,000 rows: ~0.05 s)."""
        text = "".join([f"{k}\t{old}\t{new}\n" for k, old, new in self.rows])
        if "None" in text:  # a NULL among the numbers (rare): write it as \N
            text = "".join([f"{k}\t{_cell(old)}\t{_cell(new)}\n" for k, old, new in self.rows])
        return text

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "column",
            "table": self.table,
            "key": self.key,
            "column": self.column,
            "sql_type": self.sql_type,
            "rows": len(self.rows),
        }

    def reversed(self) -> ColumnUpdate:
        return ColumnUpdate(
            self.table, self.key, self.column, self.sql_type, [(k, new, old) for k, old, new in self.rows]
        )


Stored = tuple[str | None, ...]  # (primary key or None for a row still to be numbered, *content)


@dataclass(frozen=True)
class SetReplace:
    """Replace the rows of each scope (by default a (product_id, customer_group_id) pair): `before` rows (with
    their keys) go, `after` rows come. Rows are (primary key or None, *content); `pk` is "" for tables keyed
    by their content (customer_group_description). `filters` narrows the scope (4.1: special = 0)."""

    table: str
    pk: str
    columns: tuple[str, ...]  # content columns
    filters: tuple[tuple[str, str], ...]
    before: Sequence[Stored]
    after: Sequence[Stored]
    scope: tuple[str, ...] = ("product_id", "customer_group_id")

    @property
    def size(self) -> int:
        return len(self.before) + len(self.after)

    def scope_of(self, row: Stored) -> tuple[str, ...]:
        return tuple(str(row[self.columns.index(c) + 1]) for c in self.scope)

    def scopes(self) -> list[tuple[str, ...]]:
        return sorted({self.scope_of(r) for r in (*self.before, *self.after)})

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "sets",
            "table": self.table,
            "pk": self.pk,
            "columns": list(self.columns),
            "scope": list(self.scope),
            "filters": [list(f) for f in self.filters],
            "before": len(self.before),
            "after": len(self.after),
        }


Operation = ColumnUpdate | SetReplace


def store_dir(state_dir: Path, client: str, store: str) -> Path:
    return state_dir / "undo" / _safe(client) / _safe(store)


def private_dir(directory: Path) -> None:
    """Create `directory` (and its parents up to the state folder) readable by the owner only (0700), as
    ssh keeps its keys: undo files and the audit log hold prices and customers' e-mail addresses."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkdir's mode doesn't reach existing folders or intermediate parents: set it on <state>/undo/<client>/
    # <store> and on the state folder itself, and only there (never on a folder above the state folder)
    folders = [directory]
    if directory.parent.parent.name == "undo":
        folders += [directory.parent, directory.parent.parent, directory.parent.parent.parent]
    for folder in folders:
        info = folder.stat()
        if info.st_mode & 0o077 and info.st_uid == os.geteuid():
            folder.chmod(0o700)


def _private_open(path: Path, flags: int) -> int:
    fd = os.open(path, flags | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode through os.open: make it private too
    return fd


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "_"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _cell(value: Value) -> str:
    return "\\N" if value is None else str(value)


def _parse(text: str) -> Decimal | None:
    return None if text == "\\N" else Decimal(text)


def write_undo(directory: Path, task: str, header: dict[str, Any], ops: Sequence[Operation]) -> Path:
    """Write the undo file durably (file and directory fsynced) and return its path."""
    private_dir(directory)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = directory / f"{stamp}-{task}.undo"
    meta = {
        "format": FORMAT,
        "task": task,
        "created": stamp,
        **header,
        "operations": [o.describe() for o in ops],
    }
    tmp = path.with_suffix(".part")
    with open(_private_open(tmp, os.O_WRONLY | os.O_TRUNC), "w", encoding="utf-8") as out:
        out.write(json.dumps(meta, default=str) + "\n")
        for op in ops:
            if isinstance(op, ColumnUpdate):
                out.write(op.lines)
            else:
                out.writelines(json.dumps(list(row)) + "\n" for row in (*op.before, *op.after))
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    _fsync_dir(directory)
    return path


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_undo(path: Path) -> tuple[dict[str, Any], list[Operation]]:
    try:
        stream = path.open(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read the undo file: {exc.strerror}", file=str(path)) from None
    with stream:
        try:
            meta = json.loads(stream.readline())
        except json.JSONDecodeError:
            raise InputError("not a maint undo file", file=str(path)) from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise InputError("not a maint undo file (unknown format)", file=str(path))
        try:
            ops = [
                _read_op(stream, spec, path)
                if spec.get("kind", "column") == "column"
                else _read_sets(stream, spec, path)
                for spec in meta["operations"]
            ]
        except (KeyError, TypeError, ValueError):
            raise InputError("undo file is damaged", file=str(path)) from None
    return meta, ops


def _read_sets(stream: Iterator[str], spec: dict[str, Any], path: Path) -> SetReplace:
    rows: list[Stored] = []
    for number in range(int(spec["before"]) + int(spec["after"])):
        line = next(stream, "")
        if not line.strip():
            raise InputError("undo file is truncated or damaged", file=str(path), row=number + 2)
        rows.append(tuple(None if v is None else str(v) for v in json.loads(line)))
    split = int(spec["before"])
    return SetReplace(
        spec["table"],
        spec["pk"],
        tuple(spec["columns"]),
        tuple((str(a), str(b)) for a, b in spec["filters"]),
        rows[:split],
        rows[split:],
        tuple(spec.get("scope", ("product_id", "customer_group_id"))),
    )


def _read_op(stream: Iterator[str], spec: dict[str, Any], path: Path) -> ColumnUpdate:
    rows: list[tuple[int, Decimal | None, Decimal | None]] = []
    for number in range(int(spec["rows"])):
        line = next(stream, "")
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 3:
            raise InputError("undo file is truncated or damaged", file=str(path), row=number + 2)
        rows.append((int(parts[0]), _parse(parts[1]), _parse(parts[2])))
    return ColumnUpdate(spec["table"], spec["key"], spec["column"], spec["sql_type"], rows)


def append_audit(directory: Path, record: dict[str, Any]) -> None:
    """One JSON line per applied run: when, who, which file (checksum), counts, undo file, outcome."""
    private_dir(directory)
    entry = {"when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "who": _who(), **record}
    with open(
        _private_open(directory / "audit.jsonl", os.O_WRONLY | os.O_APPEND), "a", encoding="utf-8"
    ) as out:
        out.write(json.dumps(entry, default=str) + "\n")
        out.flush()
        os.fsync(out.fileno())


def read_audit(directory: Path) -> list[dict[str, Any]]:
    path = directory / "audit.jsonl"
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as stream:
        return [json.loads(line) for line in stream if line.strip()]


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
