"""Plans, tables and reports for people (rich on a terminal, plain text when piped) and machines (JSON)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, is_dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from maint import __version__
from maint.model import Plan

STATUS_STYLES = {
    "ok": "green",
    "warning": "yellow",
    "warn": "yellow",
    "critical": "bold red",
    "unsupported": "bold red",
    "failed": "bold red",
    "error": "bold red",
    "unknown": "magenta",
}


# Set once per run by the task layer (--quiet, --verbose).
OUTPUT = {"quiet": False, "verbose": False}
# A cell longer than this is cut when piped (the full text is in --json); a terminal folds it.
MAX_CELL = 160


def set_output(*, quiet: bool = False, verbose: bool = False) -> None:
    OUTPUT["quiet"], OUTPUT["verbose"] = quiet, verbose


def no_color() -> bool:
    """https://no-color.org: any non-empty NO_COLOR turns every style off, not only colours."""
    return bool(os.environ.get("NO_COLOR"))


def console(stream: TextIO | None = None) -> Console:
    """A console that uses colours and boxes only on a terminal; silent on stdout with --quiet."""
    out = stream or sys.stdout
    return Console(
        file=out,
        highlight=False,
        soft_wrap=False,
        color_system=None if no_color() else "auto",
        quiet=OUTPUT["quiet"] and out is sys.stdout,
    )


def note(message: str) -> None:
    """A step of the run, on stderr, only with --verbose."""
    if OUTPUT["verbose"]:
        sys.stderr.write(f"maint: {message}\n")
        sys.stderr.flush()


def command(label: str, cmd: str, *, out: Console | None = None) -> None:
    """A command for the user to paste: on a line of its own, never wrapped or styled."""
    con = out or console()
    if con.quiet:
        return
    con.file.write(f"{label}\n    {cmd}\n")
    con.file.flush()


def line(text: str, *, out: Console | None = None, width: int = 200) -> None:
    """A line of text: wrapped to a terminal's width, cut when piped (the full text is in --json)."""
    con = out or console()
    if con.quiet:
        return
    if con.is_terminal:
        con.print(text, markup=False, highlight=False)
    else:
        con.file.write(cut(text, width) + "\n")
        con.file.flush()


def cut(text: str, width: int = MAX_CELL) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def iso(value: datetime | float | int | None) -> str | None:
    """A time as ISO 8601 with its offset (epoch seconds are UTC)."""
    if value is None:
        return None
    if isinstance(value, int | float):
        value = datetime.fromtimestamp(value, UTC)
    return value.isoformat(timespec="seconds")


def envelope(
    task: str,
    started: datetime,
    stores: Iterable[Mapping[str, Any]],
    *,
    exit_code: int,
    ok: bool | None = None,
    error: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The one JSON shape of every task (schema: docs/output.schema.json).

    Each store item gets ``store``, ``ok`` and ``error`` (None when fine) first, then its task data.
    """
    items = []
    for item in stores:
        data = dict(item)
        failed = data.pop("error", None)
        head = {
            "store": data.pop("store", None),
            "ok": bool(data.pop("ok", not failed)),
            "error": failed or None,
        }
        items.append(head | data)
    return {
        "task": task,
        "version": __version__,
        "ok": (exit_code == 0 and not error) if ok is None else ok,
        "exit_code": exit_code,
        "started": iso(started),
        "finished": iso(datetime.now(UTC)),
        "error": error,
        **extra,
        "stores": items,
    }


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if hasattr(value, "items"):
        return dict(value.items())
    return str(value)


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, default=_jsonable, ensure_ascii=False)


def print_json(data: Any, stream: TextIO | None = None) -> None:
    out = stream or sys.stdout
    out.write(to_json(data) + "\n")
    out.flush()


def styled(status: str) -> str:
    style = STATUS_STYLES.get(status.lower())
    return f"[{style}]{status}[/]" if style else status


def table(
    title: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    out: Console | None = None,
    status_column: int | None = None,
) -> None:
    """A table: boxed and coloured on a terminal, aligned plain text when piped."""
    con = out or console()
    rows = [["" if v is None else str(v) for v in row] for row in rows]
    if con.quiet:
        return
    if con.is_terminal:
        t = Table(title=title, box=box.SIMPLE_HEAVY, title_justify="left", header_style="bold")
        for col in columns:
            t.add_column(col, overflow="fold")
        for row in rows:
            cells = list(row)
            if status_column is not None and status_column < len(cells):
                cells[status_column] = styled(cells[status_column])
            t.add_row(*cells)
        con.print(t)
        return
    rows = [[cut(cell) for cell in row] for row in rows]
    widths = [len(c) for c in columns]
    for row in rows:
        for i, cell in enumerate(row[: len(widths)]):
            widths[i] = max(widths[i], len(cell))
    lines = [title] if title else []
    lines.append("  ".join(c.ljust(widths[i]) for i, c in enumerate(columns)).rstrip())
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[: len(widths)])).rstrip())
    con.file.write("\n".join(lines) + "\n\n")
    con.file.flush()


def key_values(title: str, pairs: Sequence[tuple[str, Any]], *, out: Console | None = None) -> None:
    """A titled list of name/value lines (one store's facts)."""
    con = out or console()
    if con.quiet:
        return
    width = max((len(k) for k, _ in pairs), default=0)
    if con.is_terminal:
        con.print(f"[bold]{title}[/]")
        for k, v in pairs:
            con.print(f"  [cyan]{k.ljust(width)}[/]  {v}", markup=True)
        con.print()
        return
    lines = [title] + [f"  {k.ljust(width)}  {v}" for k, v in pairs]
    con.file.write("\n".join(lines) + "\n\n")
    con.file.flush()


def plan(p: Plan, *, out: Console | None = None) -> None:
    """Show a plan before anything changes; an empty plan says why."""
    con = out or console()
    if not p.changes:
        con.print(f"{p.store}: No changes. {p.noop_reason}".rstrip())
        return
    rows = [(str(i), c.kind, c.target, c.summary, "yes" if c.destructive else "") for i, c in enumerate(p.changes, 1)]
    table(f"Plan for {p.store}: {p.action} ({len(p.changes)} changes)", ("#", "kind", "target", "change", "destructive"), rows, out=con)
    for w in p.warnings:
        con.print(f"[yellow]warning:[/] {w}" if con.is_terminal else f"warning: {w}")


def bytes_human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def progress(*, transfer: bool = False, out: Console | None = None) -> Progress:
    """A progress bar for long work; invisible when not on a terminal."""
    con = out or console(sys.stderr)
    columns: list[Any] = [TextColumn("{task.description}"), BarColumn()]
    columns += [DownloadColumn(), TransferSpeedColumn()] if transfer else [TextColumn("{task.completed}/{task.total}")]
    columns.append(TimeElapsedColumn())
    return Progress(*columns, console=con, transient=True, disable=not con.is_terminal)


def show(renderable: Any, *, out: Console | None = None) -> None:
    """Print a rich renderable; when piped, its tables lose their boxes so the text stays plain."""
    con = out or console()
    if not con.is_terminal:
        for part in getattr(renderable, "renderables", [renderable]):
            if isinstance(part, Table):
                part.box = None
                part.show_edge = False
                part.pad_edge = False
    con.print(renderable)
