"""A borg repository as a store's mirror target (`mirror.repository: borg:/path` or `borg:ssh://…`).

Each verified snapshot goes in as one archive named `<client>-<store>-<timestamp>` (deduplicated,
compressed and encrypted by borg; several stores may share a repository), instead of being published
as a folder. The rsync base `.current` and the partial folder stay in the mirror folder (0700) so a
no-change run transfers nothing; put that folder on the maintainer's disk and the repository on the
drive. Serve and restore extract an archive into a private folder of the state directory first.
borg reads its passphrase itself (BORG_PASSPHRASE, BORG_PASSCOMMAND or its key file).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from maint.errors import ConfigError, MaintError, PreconditionError
from maint.mirror import manifest as manifest_io
from maint.mirror.layout import CURRENT, FILES, MANIFEST, PARTIAL, is_timestamp
from maint.mirror.manifest import Manifest
from maint.mirror.modes import private_dirs


def parse_repository(text: str) -> str:
    """The borg location of `mirror.repository: borg:LOCATION`."""
    kind, sep, location = str(text).partition(":")
    if kind == "restic":
        raise ConfigError("mirror.repository: restic is not supported yet; use borg:/path (or mirror.encrypt)")
    if kind != "borg" or not sep or not location:
        raise ConfigError(f"mirror.repository must be borg:/path/to/repo, not {text!r}")
    if shutil.which("borg") is None:
        raise PreconditionError("mirror.repository needs `borg` on this machine (Debian package borgbackup)")
    return location


@dataclass(frozen=True)
class BorgRepo:
    location: str
    client: str
    store: str

    @property
    def prefix(self) -> str:
        return f"{self.client}-{self.store}-"

    def archive(self, ts: str) -> str:
        return f"{self.location}::{self.prefix}{ts}"

    def describe(self, ts: str) -> str:
        return f"borg:{self.archive(ts)}"

    def _borg(self, *args: str, cwd: Path | None = None, text: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(["borg", *args], cwd=cwd, capture_output=True, text=text, check=False,
                              stdin=subprocess.DEVNULL)
        if done.returncode not in (0, 1):  # 1: warnings (e.g. a file changed while read)
            last = (done.stderr.strip().splitlines() or ["no message"])[-1][:300]
            raise MaintError(f"borg {args[0]} failed (exit {done.returncode}): {last}", store=self.store)
        return done

    def create(self, store_dir: Path, ts: str) -> None:
        """One archive of the rsync base `.current` (the files) and `.partial` (dump, manifest).

        Archived in place, not from a hard-linked copy: linking changes every inode's ctime, and borg's
        files cache (ctime, size, inode) would then read every unchanged file again.
        """
        self._borg("create", "--compression", "auto,zstd,3", "--noacls", "--noxattrs", "--noflags",
                   self.archive(ts), CURRENT, PARTIAL, cwd=store_dir)

    def snapshots(self) -> list[str]:
        """Timestamps of this store's archives, oldest first."""
        out = self._borg("list", "--json", "--glob-archives", f"{self.prefix}*", self.location).stdout
        names = [a["name"] for a in json.loads(out or "{}").get("archives", [])]
        return sorted(n[len(self.prefix):] for n in names if is_timestamp(n[len(self.prefix):]))

    def latest(self) -> str | None:
        found = self.snapshots()
        return found[-1] if found else None

    def delete(self, ts: str) -> None:
        self._borg("delete", self.archive(ts))

    def manifest(self, ts: str) -> Manifest:
        data = self._borg("extract", "--stdout", self.archive(ts), f"{PARTIAL}/{MANIFEST}").stdout
        return Manifest.from_dict(json.loads(data))

    def extract(self, ts: str, dest: Path) -> Path:
        """The archive as a snapshot folder at dest (0700; an earlier extraction is replaced)."""
        if dest.exists():
            shutil.rmtree(dest)
        private_dirs(dest, top=dest.parent)
        self._borg("extract", self.archive(ts), cwd=dest)
        # Back to a snapshot folder's layout: .current/<tree> → files/<tree>, .partial/* → top (an SFTP
        # run has no rsync base: its files are in .partial/files).
        copied = dest / PARTIAL / FILES
        if copied.is_dir() and any(copied.iterdir()):
            shutil.rmtree(dest / CURRENT, ignore_errors=True)
        else:
            shutil.rmtree(copied, ignore_errors=True)
            os.rename(dest / CURRENT, dest / FILES)
        for entry in os.scandir(dest / PARTIAL):
            os.rename(entry.path, dest / entry.name)
        shutil.rmtree(dest / PARTIAL)
        manifest_io.read(dest)  # a readable manifest, or a clear error
        return dest


def extraction_dir(state_dir: str | Path, client: str, store: str, ts: str) -> Path:
    return Path(state_dir).expanduser() / "borg-extract" / f"{client}-{store}" / ts
