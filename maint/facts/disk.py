"""File-tree size and free space on the host, one shell round trip each."""

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


def get_tree_size(conn: Connection, paths: list[str], *, store: str | None = None) -> TreeSize:
    """Count regular files and their bytes under ``paths`` (GNU find; no double counting of hard links)."""
    targets = " ".join(quote(p) for p in paths)
    cmd = f"find {targets} -type f -printf '%s\\n' 2>/dev/null | awk '{{n++; b+=$1}} END {{print n+0, b+0}}'"
    return parse_tree_size(run(conn, cmd, store=store, check=False).stdout)


def parse_df(output: str) -> int:
    """Available bytes from ``df -Pk PATH`` output."""
    lines = [line for line in output.strip().splitlines() if line.strip()]
    try:
        return int(lines[-1].split()[3]) * 1024
    except (IndexError, ValueError):
        raise FactError(f"unexpected df output: {output[:80]!r}") from None


def get_free_bytes(conn: Connection, path: str, *, store: str | None = None) -> int:
    return parse_df(run(conn, f"df -Pk {quote(path)}", store=store).stdout)
