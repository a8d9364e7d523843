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
from pathlib import Path
from typing import Any

from maint.errors import InputError

FORMAT = "maint-undo/1"


@dataclass(frozen=True)
class ColumnUpdate:
    """Set `table.column` to a new value for each key; `old` is what the plan read."""

    table: str  # without the store's prefix
    key: str
    column: str
    sql_type: str
    rows: Sequence[tuple[int, Decimal | None, Decimal | None]]  # (key, old, new)

    def describe(self) -> dict[str, Any]:
        return {"table": self.table, "key": self.key, "column": self.column, "sql_type": self.sql_type,
                "rows": len(self.rows)}

    def reversed(self) -> ColumnUpdate:
        return ColumnUpdate(self.table, self.key, self.column, self.sql_type,
                            [(k, new, old) for k, old, new in self.rows])


def store_dir(state_dir: Path, client: str, store: str) -> Path:
    return state_dir / "undo" / _safe(client) / _safe(store)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "_"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _cell(value: Decimal | None) -> str:
    return "\\N" if value is None else str(value)


def _parse(text: str) -> Decimal | None:
    return None if text == "\\N" else Decimal(text)


def write_undo(directory: Path, task: str, header: dict[str, Any], ops: Sequence[ColumnUpdate]) -> Path:
    """Write the undo file durably (file and directory fsynced) and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = directory / f"{stamp}-{task}.undo"
    meta = {"format": FORMAT, "task": task, "created": stamp, **header, "operations": [o.describe() for o in ops]}
    tmp = path.with_suffix(".part")
    with tmp.open("w", encoding="utf-8") as out:
        out.write(json.dumps(meta, default=str) + "\n")
        for op in ops:
            out.writelines(f"{k}\t{_cell(old)}\t{_cell(new)}\n" for k, old, new in op.rows)
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


def read_undo(path: Path) -> tuple[dict[str, Any], list[ColumnUpdate]]:
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
        ops = [_read_op(stream, spec, path) for spec in meta["operations"]]
    return meta, ops


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
    directory.mkdir(parents=True, exist_ok=True)
    entry = {"when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "who": _who(), **record}
    with (directory / "audit.jsonl").open("a", encoding="utf-8") as out:
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
