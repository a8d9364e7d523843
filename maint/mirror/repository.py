"""A backup repository as a store's mirror target: `mirror.repository: borg:…` or `restic:/path`.

Both kinds keep a snapshot the same way: the snapshot's own files (`.partial`: dump, manifest, secret
archives) and the rsync base (`.current`: the store's files) go in, archived in place from the store's
mirror folder, and come out as the same two folders, which `as_snapshot_folder` turns back into a
snapshot folder's layout. What lists need of a snapshot travels with it as `summary_of(manifest)`
(a borg archive's comment, a restic snapshot's tag), so listing reads no client data and extracts nothing.

`Repository` is what the tasks ask of either kind; making a snapshot and pruning are the kinds' own
(`BorgRepo.create`/`drop_unused_trees`, `ResticRepo.create`/`drop`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from maint.errors import ConfigError
from maint.mirror import manifest as manifest_io
from maint.mirror.layout import CURRENT, FILES, PARTIAL
from maint.mirror.manifest import Manifest

if TYPE_CHECKING:
    from maint.mirror.borg import BorgRepo
    from maint.mirror.restic import ResticRepo


class Repository(Protocol):
    """One store's snapshots in a backup repository, each named by its timestamp."""

    @property
    def kind(self) -> str: ...  # "borg" | "restic"

    @property
    def location(self) -> str: ...

    @property
    def prefix(self) -> str: ...  # "<client>-<store>-": a snapshot's name is prefix + timestamp

    def describe(self, ts: str) -> str: ...

    def snapshots(self) -> list[str]: ...

    def latest(self) -> str | None: ...

    def summaries(self, newest_only: bool = False) -> list[tuple[str, dict[str, Any]]]: ...

    def manifest(self, ts: str) -> Manifest: ...

    def extract(self, ts: str, dest: Path) -> Path: ...


def open_repository(text: str, client: str, store: str, password_file: str = "") -> BorgRepo | ResticRepo:
    """The repository `mirror.repository` names (`password_file`: restic's `mirror.password_file`)."""
    kind = str(text).partition(":")[0]
    if kind == "restic":
        from maint.mirror import restic

        return restic.ResticRepo(restic.parse_repository(text), client, store, password_file)
    from maint.mirror import borg

    return borg.BorgRepo(borg.parse_repository(text), client, store)


def noun(kind: str) -> str:
    """What one of a repository's snapshots is called in messages: borg says archive, restic snapshot."""
    return "snapshot" if kind == "restic" else "archive"


def summary_of(man: Manifest) -> dict[str, Any]:
    """What the snapshot lists need of a manifest; no client data (it is readable with the repository's
    key alone: a borg archive's comment, a restic snapshot's tag)."""
    return {"verified": man.verified, "opencart_version": man.opencart_version, "php_version": man.php_version,
            "bytes": man.bytes + man.dump.bytes, "encryption": man.encryption, "note": man.note,
            "files_archive": man.files_archive}


def as_snapshot_folder(dest: Path) -> Path:
    """An extraction (`.current`, `.partial`) back in a snapshot folder's layout: `.current/<tree>` →
    `files/<tree>`, `.partial/*` → top (an SFTP run into restic, or into borg before SFTP used `.current`
    too, has its files in `.partial/files`)."""
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


def extraction_dir(state_dir: str | Path, client: str, store: str, ts: str, kind: str = "borg") -> Path:
    """Where serve and restore unpack a snapshot (client data in clear: 0700, removed after use)."""
    if kind not in ("borg", "restic"):
        raise ConfigError(f"unknown repository kind {kind!r}")
    return Path(state_dir).expanduser() / f"{kind}-extract" / f"{client}-{store}" / ts
