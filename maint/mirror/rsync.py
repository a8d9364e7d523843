"""rsync pull of a store's trees: argv, excludes, and parsing of its --stats and --info=progress2 output."""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from maint.errors import FactError

# Regenerable or private data a working copy never needs (opencart-facts B3.5).
WEBROOT_EXCLUDES = ("/image/cache/*",)
STORAGE_EXCLUDES = ("/cache/*", "/logs/*", "/session/*")


def default_excludes(storage_rel: str | None) -> dict[str, list[str]]:
    """Excludes per tree: `www` always; storage's rules are anchored inside www when storage lives there."""
    www = list(WEBROOT_EXCLUDES)
    out: dict[str, list[str]] = {"www": www, "storage": []}
    if storage_rel is not None:
        base = "/" + storage_rel.strip("/")
        www += [base + rule for rule in STORAGE_EXCLUDES]
    else:
        out["storage"] = list(STORAGE_EXCLUDES)
    return out


def relative_inside(path: str, root: str) -> str | None:
    """path relative to root when path lies inside root, else None (both absolute, POSIX)."""
    p, r = PurePosixPath(path.rstrip("/") or "/"), PurePosixPath(root.rstrip("/") or "/")
    if p == r:
        return ""
    try:
        return str(p.relative_to(r))
    except ValueError:
        return None


def build_argv(
    *,
    ssh_args: Sequence[str],
    host: str,
    remote_dir: str,
    dest: str,
    link_dest: str | None,
    excludes: Sequence[str],
    dry_run: bool = False,
    progress: bool = True,
) -> list[str]:
    """rsync argv pulling remote_dir/ into dest/ (dest is the partial snapshot's tree)."""
    if not remote_dir.startswith("/"):
        raise FactError(f"remote path must be absolute, got {remote_dir!r}")
    argv = ["rsync", "-a", "--numeric-ids", "--delete", "--delete-excluded", "--stats", "-e", shlex.join(ssh_args)]
    if progress:
        argv.append("--info=progress2")
    if dry_run:
        argv += ["--dry-run", "--out-format=%i %n"]
    if link_dest:
        argv.append(f"--link-dest={link_dest}")
    argv += [f"--exclude={rule}" for rule in excludes]
    argv += [f"{host}:{remote_dir.rstrip('/')}/", dest.rstrip("/") + "/"]
    return argv


@dataclass
class RsyncStats:
    files: int = 0  # regular files in the source list
    dirs: int = 0
    links: int = 0
    created: int = 0  # regular files created (not linked from --link-dest): new files
    deleted: int = 0
    transferred: int = 0  # regular files transferred: new + changed
    total_bytes: int = 0
    transferred_bytes: int = 0

    @property
    def new(self) -> int:
        return self.created

    @property
    def changed(self) -> int:
        return max(self.transferred - self.created, 0)


_NUM = r"([\d,.]+)"
_LINES = {
    "Number of files": "files",
    "Number of created files": "created",
    "Number of deleted files": "deleted",
    "Number of regular files transferred": "transferred",
    "Total file size": "total_bytes",
    "Total transferred file size": "transferred_bytes",
}
_BREAKDOWN = re.compile(r"(reg|dir|link|dev|special): ([\d,]+)")


def _int(text: str) -> int:
    return int(text.replace(",", "").replace(".", ""))


def parse_stats(text: str) -> RsyncStats:
    """Parse the block `rsync --stats` prints at the end (numbers may carry thousands separators)."""
    stats = RsyncStats()
    seen = False
    for line in text.splitlines():
        label, _, value = line.partition(":")
        field = _LINES.get(label.strip())
        if field is None:
            continue
        seen = True
        head = re.match(r"\s*" + _NUM, value)
        total = _int(head.group(1)) if head else 0
        parts = {k: _int(v) for k, v in _BREAKDOWN.findall(value)}
        if field == "files":
            stats.files, stats.dirs, stats.links = parts.get("reg", 0), parts.get("dir", 0), parts.get("link", 0)
            if not parts:
                stats.files = total
        elif field == "created":
            stats.created = parts.get("reg", 0) if parts else total
        else:
            setattr(stats, field, total)
    if not seen:
        raise FactError("rsync printed no --stats block")
    return stats


_PROGRESS = re.compile(
    r"^\s*([\d,]+)\s+(\d+)%\s+\S+\s+\S+(?:\s+\(xfr#(\d+), (?:to|ir)-chk=(\d+)/(\d+)\))?"
)


@dataclass(frozen=True)
class Progress:
    bytes: int
    percent: int
    transferred: int | None
    to_check: int | None
    total: int | None


def parse_progress(line: str) -> Progress | None:
    """One `--info=progress2` update, e.g. `  4,200,000  42%  5.00MB/s  0:00:01 (xfr#10, to-chk=90/100)`."""
    m = _PROGRESS.match(line)
    if not m:
        return None
    xfr, chk, tot = (int(g) if g else None for g in m.group(3, 4, 5))
    return Progress(_int(m.group(1)), int(m.group(2)), xfr, chk, tot)


def parse_itemized(lines: Sequence[str]) -> dict[str, list[str]]:
    """`--out-format=%i %n` lines of a dry run → {"new": [...], "changed": [...], "deleted": [...]} (files only)."""
    out: dict[str, list[str]] = {"new": [], "changed": [], "deleted": []}
    for line in lines:
        if line.startswith("*deleting "):
            name = line[len("*deleting ") :].strip()
            if not name.endswith("/"):
                out["deleted"].append(name)
            continue
        code, _, name = line.partition(" ")
        if len(code) != 11 or code[1] != "f" or code[0] == ".":
            continue  # "." = content unchanged (a mode or owner only, e.g. the mirror's 0600 config copies)
        out["new" if code[2:] == "+++++++++" else "changed"].append(name)
    return out
