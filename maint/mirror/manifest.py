"""manifest.json: what a snapshot holds and how it was checked, written last, read by serve/restore/prune."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from maint.errors import VerificationError
from maint.mirror.layout import MANIFEST
from maint.mirror.modes import open_private

FORMAT = 1


@dataclass
class FileRoot:
    """One mirrored tree: `name` is its folder under files/, `remote` the absolute path on the host."""

    name: str
    remote: str
    files: int = 0
    bytes: int = 0
    new: int = 0
    changed: int = 0
    deleted: int = 0


@dataclass
class DumpInfo:
    file: str = ""
    tool: str = ""  # mysqldump | pymysql
    compression: str = ""  # zstd | gzip
    consistency: str = ""  # single-transaction | lock-tables
    bytes: int = 0
    sha256: str = ""
    tables: dict[str, int] = field(default_factory=dict)  # rows per table, as counted in the dump
    stripped: list[str] = field(default_factory=list)
    engines: dict[str, int] = field(default_factory=dict)
    reused_from: str = ""  # borg target: the snapshot whose dump this is, the database being unchanged since


@dataclass
class SecretArchive:
    """An encrypted tar of one tree's config files and personal-data folders (`secrets-www.tar.age`)."""

    tree: str
    file: str
    files: int = 0
    bytes: int = 0
    paths: list[str] = field(default_factory=list)  # what it holds, relative to the tree


@dataclass
class Newest:
    """The newest row of a table whose rows a restore would lose (orders, customers, reviews)."""

    max_id: int = 0
    latest: str = ""  # MAX(date_added) as the store wrote it ("" for an empty table)
    rows: int = 0


@dataclass
class Manifest:
    client: str
    store: str
    timestamp: str
    host: str = ""
    opencart_version: str = ""
    db_prefix: str = ""
    admin_dir: str = "admin"
    storage_root: str = ""  # name under files/ holding DIR_STORAGE, "" when inside the web root
    storage_rel: str = ""  # DIR_STORAGE relative to the web root when inside it
    url: str = ""
    php_version: str = ""  # the host's CLI PHP when the snapshot was taken
    method: str = ""  # rsync | sftp
    roots: list[FileRoot] = field(default_factory=list)
    dump: DumpInfo = field(default_factory=DumpInfo)
    timings: dict[str, float] = field(default_factory=dict)
    verified: bool = False
    checks: list[str] = field(default_factory=list)
    newest: dict[str, Newest] = field(default_factory=dict)  # "order" → its newest row when mirrored
    modes: dict[str, str] = field(default_factory=dict)  # "www/config.php" → "0644": the store's own modes
    encryption: str = ""  # "" | age | gpg
    recipient: str = ""  # the public key the snapshot was encrypted to
    secrets: list[SecretArchive] = field(default_factory=list)
    note: str = ""  # why it was taken, when not by a plain `fab mirror` ("before restoring …")
    files_archive: str = ""  # borg target: the tree archive holding the files ("<ts>.files"), "" = in this one
    format: int = FORMAT

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def secret_files(self) -> int:
        return sum(a.files for a in self.secrets)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        data = dict(data)
        roots = [FileRoot(**r) for r in data.pop("roots", [])]
        dump = DumpInfo(**data.pop("dump", {}))
        newest = {k: Newest(**v) for k, v in data.pop("newest", {}).items()}
        secrets = [SecretArchive(**a) for a in data.pop("secrets", [])]
        return cls(roots=roots, dump=dump, newest=newest, secrets=secrets, **data)

    @property
    def files(self) -> int:
        return sum(r.files for r in self.roots)

    @property
    def bytes(self) -> int:
        return sum(r.bytes for r in self.roots)


def write(folder: Path, manifest: Manifest) -> Path:
    """Write atomically (temp file 0600, fsync, rename)."""
    path = folder / MANIFEST
    tmp = folder / (MANIFEST + ".tmp")
    with open(open_private(tmp), "w", encoding="utf-8") as handle:
        json.dump(manifest.as_dict(), handle, indent=2, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return path


def read(folder: Path) -> Manifest:
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VerificationError(f"{folder.name}: no manifest.json (snapshot incomplete or not made by maint)") from None
    except (OSError, ValueError) as exc:
        raise VerificationError(f"{path}: unreadable manifest: {exc}") from None
    try:
        return Manifest.from_dict(data)
    except TypeError as exc:
        raise VerificationError(f"{path}: unexpected manifest content: {exc}") from None


def require_verified(folder: Path) -> Manifest:
    """The manifest of a snapshot that passed verification, else a VerificationError saying why not."""
    manifest = read(folder)
    if not manifest.verified:
        raise VerificationError(f"snapshot {folder.name} failed verification; refusing to use it")
    return manifest
