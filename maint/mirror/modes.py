"""Client data at rest: mirror and working-copy folders 0700, dumps, manifests and config copies 0600.

A mirror holds a shop's customers, orders and database password, so nothing in it may be readable by
another user of the mirror host, whatever the umask or the store's own modes. The store's modes of
the files made private are kept in the manifest, so `fab restore` puts them back as they were.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dirs(path: Path, top: Path | None = None) -> None:
    """mkdir -p path; path and every folder between top (included) and it are 0700."""
    path.mkdir(parents=True, exist_ok=True)
    for folder in _chain(path, top):
        if stat.S_IMODE(folder.stat().st_mode) != DIR_MODE:
            os.chmod(folder, DIR_MODE)


def _chain(path: Path, top: Path | None) -> Iterator[Path]:
    yield path
    if top is None:
        return
    for parent in path.parents:
        if parent == top.parent or len(parent.parts) < len(top.parts):
            return
        yield parent


def private_file(path: Path) -> None:
    if path.is_file() and not path.is_symlink() and stat.S_IMODE(path.stat().st_mode) != FILE_MODE:
        os.chmod(path, FILE_MODE)


def open_private(path: Path, mode: str = "wb") -> int:
    """A file descriptor of path created (or truncated) 0600, whatever the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.fchmod(fd, FILE_MODE)  # an existing file keeps its old mode through O_CREAT
    return fd


def mode_of(path: Path) -> str:
    """'0644': the permission bits as the manifest records them."""
    return f"{stat.S_IMODE(path.lstat().st_mode):04o}"


def loose(dirs: Iterable[Path], files: Iterable[Path]) -> tuple[list[Path], list[Path]]:
    """The folders not 0700 and files not 0600 among those given (missing ones are skipped)."""
    bad_dirs = [d for d in dirs if d.is_dir() and not d.is_symlink() and stat.S_IMODE(d.stat().st_mode) != DIR_MODE]
    bad_files, seen = [], set()
    for f in files:
        if not f.is_file() or f.is_symlink():
            continue
        st = f.stat()
        if stat.S_IMODE(st.st_mode) != FILE_MODE and (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))  # a config copy is one inode in `.current` and every snapshot
            bad_files.append(f)
    return bad_dirs, bad_files


def tighten(dirs: Iterable[Path], files: Iterable[Path]) -> int:
    """chmod the folders 0700 and the files 0600; how many were changed."""
    changed = 0
    for d in dirs:
        os.chmod(d, DIR_MODE)
        changed += 1
    for f in files:
        os.chmod(f, FILE_MODE)
        changed += 1
    return changed


def set_modes(root: Path, modes: dict[str, str]) -> None:
    """Put recorded modes ({"config.php": "0644"}) back on the files under root that exist."""
    for rel, text in modes.items():
        path = root / rel
        if path.is_file() and not path.is_symlink():
            os.chmod(path, int(text, 8))
