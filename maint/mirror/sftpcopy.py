"""Fallback file transfer over SFTP for hosts without rsync.

Walks the remote tree and copies only files whose size or mtime differ from the previous snapshot;
unchanged files become hard links to it, as rsync --link-dest would make them. With no previous
snapshot given (a borg target's `.current` copy) it works in place as rsync does: unchanged files and
symlinks keep their inodes, a changed file becomes a new one. Far slower than rsync for many small
files (one request per file), so only used when rsync is missing.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Callable, Iterator, Sequence
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from maint.mirror.rsync import RsyncStats


def excluded(rel: str, is_dir: bool, rules: Sequence[str]) -> bool:
    """Anchored rsync-style rules as maint writes them: `/a/b/*` drops what is inside a/b, `/x` drops x."""
    path = "/" + rel
    for rule in rules:
        pattern = rule.rstrip("/") if rule.endswith("/") and is_dir else rule
        if fnmatchcase(path, pattern) and not (rule.endswith("*") and path.count("/") != pattern.count("/")):
            return True
    return False


def _walk(sftp: Any, top: str, rules: Sequence[str]) -> Iterator[tuple[str, Any]]:
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        for attr in sftp.listdir_attr(posixpath.join(top, rel_dir) if rel_dir else top):
            rel = posixpath.join(rel_dir, attr.filename) if rel_dir else attr.filename
            is_dir = stat.S_ISDIR(attr.st_mode)
            if excluded(rel, is_dir, rules):
                continue
            yield rel, attr
            if is_dir:
                stack.append(rel)


def copy_tree(
    sftp: Any,
    remote: str,
    dest: Path,
    previous: Path | None,
    excludes: Sequence[str],
    *,
    on_file: Callable[[int], None] | None = None,
) -> RsyncStats:
    """Bring dest in line with remote; returns counts in rsync's terms so verification is the same."""
    stats = RsyncStats()
    seen: set[str] = set()
    dest.mkdir(parents=True, exist_ok=True)
    for rel, attr in _walk(sftp, remote.rstrip("/"), excludes):
        seen.add(rel)
        target = dest / rel
        mode = attr.st_mode
        if stat.S_ISDIR(mode):
            stats.dirs += 1
            target.mkdir(exist_ok=True)
            continue
        if stat.S_ISLNK(mode):
            link = sftp.readlink(posixpath.join(remote, rel))
            stats.links += 1
            if target.is_symlink() and os.readlink(target) == link:
                stats.total_bytes += len(os.fsencode(link))
                continue  # kept as it is: a borg target's `.current` keeps its inodes while unchanged
            if target.is_symlink() or target.exists():
                target.unlink()
            os.symlink(link, target)
            stats.total_bytes += len(os.fsencode(link))
            continue
        if not stat.S_ISREG(mode):
            continue
        stats.files += 1
        stats.total_bytes += attr.st_size
        if _same(target, attr):
            continue  # resumed run: already here
        old = previous / rel if previous else None
        target.parent.mkdir(parents=True, exist_ok=True)
        existed = target.is_symlink() or target.exists()
        if existed:
            target.unlink()
        if old is not None and _same(old, attr):
            os.link(old, target)
            continue
        sftp.get(posixpath.join(remote, rel), str(target))
        os.utime(target, (attr.st_atime or attr.st_mtime, attr.st_mtime))
        os.chmod(target, stat.S_IMODE(mode))
        stats.transferred += 1
        stats.transferred_bytes += attr.st_size
        if not existed if old is None else not (old.exists() or old.is_symlink()):
            stats.created += 1  # new to the last snapshot (or, copying in place, to dest)
        if on_file:
            on_file(attr.st_size)
    stats.deleted = _remove_unseen(dest, seen)
    return stats


def _same(local: Path, attr: Any) -> bool:
    try:
        st = local.lstat()
    except FileNotFoundError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_size == attr.st_size and int(st.st_mtime) == int(attr.st_mtime)


def _remove_unseen(dest: Path, seen: set[str]) -> int:
    """Delete what a resumed partial holds that the host no longer has."""
    removed = 0
    for dirpath, dirnames, filenames in os.walk(dest, topdown=False):
        for name in filenames + [d for d in dirnames if Path(dirpath, d).is_symlink()]:
            rel = os.path.relpath(os.path.join(dirpath, name), dest)
            if rel not in seen:
                os.unlink(os.path.join(dirpath, name))
                removed += 1
        for name in dirnames:
            rel = os.path.relpath(os.path.join(dirpath, name), dest)
            if rel not in seen and not Path(dirpath, name).is_symlink():
                os.rmdir(os.path.join(dirpath, name))
    return removed
