"""File-tree size on the host, in one shell round trip (free space: maint.facts.host)."""

from __future__ import annotations

from dataclasses import dataclass

from fabric import Connection

from maint.errors import FactError
from maint.remote.ssh import quote, run


@dataclass(frozen=True)
class TreeSize:
    files: int
    bytes: int


def parse_tree_size(output: str) -> TreeSize:
    """Parse ``<files> <bytes>`` as printed by the tree-size command."""
    parts = output.split()
    try:
        return TreeSize(files=int(parts[0]), bytes=int(parts[1]))
    except (IndexError, ValueError):
        raise FactError(f"unexpected tree-size output: {output[:80]!r}") from None


def tree_size_command(paths: list[str]) -> str:
    """The shell pipeline that prints ``<files> <bytes>`` (for a caller that asks it with other questions)."""
    targets = " ".join(quote(p) for p in paths)
    return f"find {targets} -type f -printf '%s\\n' 2>/dev/null | awk '{{n++; b+=$1}} END {{print n+0, b+0}}'"


def get_tree_size(conn: Connection, paths: list[str], *, store: str | None = None) -> TreeSize:
    """Count regular files and their bytes under ``paths`` (GNU find; no double counting of hard links)."""
    return parse_tree_size(run(conn, tree_size_command(paths), store=store, check=False).stdout)
