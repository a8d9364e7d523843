"""Where snapshots live: MIRROR_ROOT/<client>/<store>/<timestamp>/{files/, db.sql.zst|gz, manifest.json}.

rsync keeps `<store dir>/.current/` up to date; a run hard-links it into `<store dir>/.partial/` and publishes by renaming it to its timestamp and then
swapping the `latest` symlink with an atomic rename, so a reader never sees a half-written snapshot.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from maint.errors import PreconditionError
from maint.mirror.modes import private_dirs

PARTIAL = ".partial"
CURRENT = ".current"
LATEST = "latest"
MANIFEST = "manifest.json"
FILES = "files"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
_TIMESTAMP = re.compile(r"^\d{8}T\d{6}Z$")
DUMP_NAMES = ("db.sql.zst", "db.sql.gz")
ENCRYPTED_SUFFIXES = (".age", ".gpg")
SECRETS_NAME = "secrets.tar"  # + .age/.gpg: config files and personal-data folders of an encrypted snapshot


def timestamp(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime(TIMESTAMP_FORMAT)


def parse_timestamp(name: str) -> datetime:
    return datetime.strptime(name, TIMESTAMP_FORMAT).replace(tzinfo=UTC)


def is_timestamp(name: str) -> bool:
    return bool(_TIMESTAMP.match(name))


@dataclass(frozen=True)
class StoreMirror:
    """The folder of one store's snapshots."""

    path: Path

    @classmethod
    def of(cls, mirror_root: Path, client: str, store: str) -> StoreMirror:
        for part in (client, store):
            if not part or "/" in part or part.startswith("."):
                raise PreconditionError(f"unusable client/store name for a mirror folder: {part!r}")
        return cls(Path(mirror_root).expanduser() / client / store)

    @property
    def partial(self) -> Path:
        return self.path / PARTIAL

    @property
    def current(self) -> Path:
        """The store's files as last fetched, kept between runs so a no-change run transfers nothing."""
        return self.path / CURRENT

    @property
    def latest_link(self) -> Path:
        return self.path / LATEST

    def snapshot(self, ts: str) -> Path:
        return self.path / ts

    def snapshots(self) -> list[str]:
        """Published snapshots, oldest first."""
        if not self.path.is_dir():
            return []
        return sorted(e.name for e in os.scandir(self.path) if e.is_dir(follow_symlinks=False) and is_timestamp(e.name))

    def latest(self) -> str | None:
        """The snapshot `latest` points to, if any."""
        try:
            target = os.readlink(self.latest_link)
        except OSError:
            return None
        name = Path(target).name
        return name if is_timestamp(name) and self.snapshot(name).is_dir() else None

    def has_partial(self) -> bool:
        return self.partial.is_dir()

    @property
    def root(self) -> Path:
        """The mirror root (MIRROR_ROOT above <client>/<store>)."""
        return self.path.parent.parent

    def prepare_partial(self) -> bool:
        """Create the partial folder (0700 like every folder above it); True when an interrupted run's is resumed."""
        resumed = self.partial.is_dir()
        private_dirs(self.partial, top=self.root)
        private_dirs(self.partial / FILES, top=self.root)  # 0700 too: a snapshot copied alone stays closed
        return resumed

    def private_paths(self, admin_dir: str = "admin") -> tuple[list[Path], list[Path]]:
        """Folders that must be 0700 and files that must be 0600 (dumps, manifests, config copies)."""
        dirs = [self.root, self.root / self.path.parent.name, self.path, self.current, self.partial]
        files: list[Path] = []
        configs = ("www/config.php", f"www/{admin_dir}/config.php")
        files += [self.current / rel for rel in configs]
        for folder in [*(self.snapshot(ts) for ts in self.snapshots()), self.partial]:
            if folder != self.partial:
                dirs.append(folder)
            if not folder.is_dir():
                continue
            if (folder / FILES).is_dir():
                dirs.append(folder / FILES)
            files += [folder / MANIFEST, *(folder / name for name in DUMP_NAMES)]
            files += [folder / e.name for e in os.scandir(folder) if e.name.endswith(ENCRYPTED_SUFFIXES)]
            files += [folder / FILES / rel for rel in configs]
        return dirs, files

    def discard_partial(self) -> None:
        shutil.rmtree(self.partial, ignore_errors=True)

    def publish(self, ts: str) -> Path:
        """Rename the partial folder to its timestamp, then point `latest` at it atomically."""
        final = self.snapshot(ts)
        if final.exists():
            raise PreconditionError(f"snapshot {final} already exists")
        os.rename(self.partial, final)
        tmp_link = self.path / f".{LATEST}.tmp"
        if tmp_link.is_symlink() or tmp_link.exists():
            tmp_link.unlink()
        os.symlink(ts, tmp_link)  # relative, so the tree can be moved to another disk
        os.replace(tmp_link, self.latest_link)
        _fsync_dir(self.path)
        return final

    def remove(self, ts: str) -> None:
        if ts == self.latest():
            raise PreconditionError(f"refusing to delete {ts}: it is `latest`")
        shutil.rmtree(self.snapshot(ts))

    def dump_file(self, ts: str | None) -> Path | None:
        folder = self.partial if ts is None else self.snapshot(ts)
        for name in DUMP_NAMES:
            for suffix in ("", *ENCRYPTED_SUFFIXES):
                if (folder / (name + suffix)).is_file():
                    return folder / (name + suffix)
        return None


def iter_files(root: Path) -> Iterator[os.DirEntry[str]]:
    """Regular files and symlinks under root (links not followed), depth first, without building a list."""
    stack = [root]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False) or entry.is_symlink():
                    yield entry


def count_tree(root: Path) -> tuple[int, int]:
    """(regular files, bytes of files and symlinks) under root: what rsync --stats reports as reg and total size."""
    files = size = 0
    if not root.is_dir():
        return 0, 0
    for entry in iter_files(root):
        if not entry.is_symlink():
            files += 1
        size += entry.stat(follow_symlinks=False).st_size
    return files, size


def tree_fingerprint(root: Path) -> tuple[int, int, str]:
    """count_tree's (files, bytes) and a digest of every entry's path, type, mode, owner, size, mtime and
    inode, in one walk: equal digests mean the same tree, since rsync replaces a changed file by a new
    inode and applies a changed mode or time in place (the ctime is left out: the config files' mode
    goes to the store's and back to 0600 on every run)."""
    rows = []
    files = size = 0
    stack = [str(root)] if root.is_dir() else []
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                st = entry.stat(follow_symlinks=False)
                rows.append((entry.path, st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, st.st_ino))
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    files += 1
                    size += st.st_size
                elif entry.is_symlink():
                    size += st.st_size
    rows.sort()
    digest = hashlib.blake2b(repr(rows).encode(errors="surrogateescape"), digest_size=20)
    return files, size, digest.hexdigest()


def free_bytes(path: Path) -> int:
    probe = path
    while not probe.exists():
        probe = probe.parent
    st = os.statvfs(probe)
    return st.f_bavail * st.f_frsize


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
