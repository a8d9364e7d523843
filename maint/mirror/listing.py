"""A store's snapshots wherever `fab mirror` keeps them, read the same way: the mirror folder's manifests,
or a borg or restic repository's snapshots (their summaries: one `borg list` or `restic snapshots`).

`fab health`'s mirror-age check and `fab report`'s backups read through `SnapshotPlace`; neither needs
the snapshot's content, so nothing is extracted and no client data is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from maint.errors import VerificationError
from maint.mirror import manifest as manifest_io
from maint.mirror.layout import LATEST, StoreMirror, is_timestamp, parse_timestamp


@dataclass(frozen=True)
class SnapshotSummary:
    """What lists and checks need of one snapshot (no client data)."""

    name: str  # its timestamp
    verified: bool = False
    opencart_version: str = ""
    php_version: str = ""
    bytes: int = 0  # files and dump
    encryption: str = ""
    note: str = ""
    readable: bool = True  # False: no readable manifest (an unverified snapshot, said as such)

    @property
    def taken(self) -> datetime:
        return parse_timestamp(self.name)

    @classmethod
    def of(cls, name: str, data: dict[str, Any]) -> SnapshotSummary:
        """From `repository.summary_of`'s dict (a borg archive's comment, a restic snapshot's tag)."""
        return cls(name, bool(data.get("verified")), str(data.get("opencart_version") or ""),
                   str(data.get("php_version") or ""), int(data.get("bytes") or 0),
                   str(data.get("encryption") or ""), str(data.get("note") or ""))


@dataclass(frozen=True)
class SnapshotPlace:
    """Where one store's snapshots are: `repository` ("borg:/path" or "restic:/path", the store's
    `mirror.repository`) when set, else the mirror folder `mirror_root/<client>/<store>`."""

    mirror_root: str
    repository: str
    client: str
    store: str
    password_file: str = ""  # restic: `mirror.password_file`

    @classmethod
    def of(cls, mirror_root: str, options: Any, client: str, store: str) -> SnapshotPlace:
        """From the store's mirror folder and its `mirror` options (`root`, `repository`)."""
        opts = dict(options) if isinstance(options, Mapping) else {}
        return cls(mirror_root or str(opts.get("root") or ""), str(opts.get("repository") or ""), client, store,
                   str(opts.get("password_file") or ""))

    @property
    def configured(self) -> bool:
        return bool(self.repository or self.mirror_root)

    def describe(self) -> str:
        if self.repository:
            return self.repository
        return str(Path(self.mirror_root).expanduser() / self.client / self.store)

    def summaries(self) -> list[SnapshotSummary]:
        """Every snapshot, oldest first. Raises MaintError when a repository can't be read (its message
        is the tool's: no passphrase or password, no repository, ...)."""
        repo = self._repo()
        if repo is not None:
            return [SnapshotSummary.of(ts, data) for ts, data in repo.summaries()]
        if not self.mirror_root:
            return []
        folder = StoreMirror.of(Path(self.mirror_root), self.client, self.store)
        return [_read(folder.snapshot(ts), ts) for ts in folder.snapshots()]

    def latest(self) -> SnapshotSummary | None:
        """The newest snapshot: the folder `latest` points to, or the repository's newest (borg archive or restic snapshot)."""
        repo = self._repo()
        if repo is not None:
            found = repo.summaries(newest_only=True)
            return SnapshotSummary.of(*found[-1]) if found else None
        if not self.mirror_root:
            return None
        path = Path(self.mirror_root).expanduser() / self.client / self.store / LATEST
        if not path.is_dir():
            return None
        return _read(path, "")

    def _repo(self) -> Any:
        if not self.repository:
            return None
        from maint.mirror.repository import open_repository

        return open_repository(self.repository, self.client, self.store, self.password_file)


def _read(folder: Path, name: str) -> SnapshotSummary:
    try:
        man = manifest_io.read(folder)
    except VerificationError:
        return SnapshotSummary(name or folder.resolve().name, readable=False)
    stamp = name or (man.timestamp if is_timestamp(man.timestamp) else folder.resolve().name)
    return SnapshotSummary(stamp, man.verified, man.opencart_version, man.php_version, man.bytes + man.dump.bytes,
                           man.encryption, man.note)
