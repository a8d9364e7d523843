"""Host hygiene around a store: disk space, config file permissions, leftovers in the web root."""

from __future__ import annotations

import stat as stat_mode
from dataclasses import dataclass
from typing import Any

from fabric import Connection

from maint.errors import FactError
from maint.remote.ssh import quote, run

STAT_MARK = "== stat"


@dataclass(frozen=True)
class DiskUsage:
    total: int  # bytes
    available: int  # bytes
    mount: str
    used: int = 0  # bytes

    @property
    def free_ratio(self) -> float:
        return self.available / self.total if self.total else 0.0

    @property
    def percent_free(self) -> float:
        """Free space as df's own Capacity column counts it: reserved blocks left out."""
        usable = self.used + self.available
        return round(100.0 * self.available / usable, 1) if usable else 0.0


@dataclass(frozen=True)
class FileMode:
    path: str
    mode: int  # permission bits, e.g. 0o644
    owner: str

    def relative_to(self, root: str) -> str:
        prefix = root.rstrip("/") + "/"
        return self.path[len(prefix) :] if self.path.startswith(prefix) else self.path

    @property
    def world_readable(self) -> bool:
        return bool(self.mode & stat_mode.S_IROTH)

    @property
    def world_writable(self) -> bool:
        return bool(self.mode & stat_mode.S_IWOTH)


@dataclass(frozen=True)
class HostFacts:
    root: str
    disk: DiskUsage | None
    config_files: tuple[FileMode, ...]
    install_present: bool
    storage_in_webroot: bool
    storage_path: str
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "disk": None
            if self.disk is None
            else {"total": self.disk.total, "available": self.disk.available, "mount": self.disk.mount},
            "config_files": [
                {"path": f.path, "mode": f"{f.mode:o}", "owner": f.owner} for f in self.config_files
            ],
            "install_present": self.install_present,
            "storage_in_webroot": self.storage_in_webroot,
            "storage_path": self.storage_path,
            "warnings": list(self.warnings),
        }


def parse_df(text: str) -> DiskUsage:
    """``df -Pk PATH`` (POSIX format, 1 KiB blocks) → total and available bytes of that filesystem."""
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    if len(lines) < 2:
        raise FactError(f"unexpected df output: {(text or '')[:80]!r}")
    # A long device name can wrap onto its own line in some df builds; the numbers are the last 5 fields.
    fields = " ".join(lines[1:]).split()
    try:
        total_kb, used_kb, available_kb = int(fields[-5]), int(fields[-4]), int(fields[-3])
        mount = fields[-1]
    except (IndexError, ValueError):
        raise FactError(f"unexpected df output: {(text or '')[:80]!r}") from None
    return DiskUsage(total_kb * 1024, available_kb * 1024, mount, used=used_kb * 1024)


def parse_stat(text: str) -> tuple[FileMode, ...]:
    """``stat -c '%a %U %n' FILE...`` → permission bits and owner per file."""
    modes = []
    for line in (text or "").splitlines():
        parts = line.strip().split(" ", 2)
        if len(parts) != 3:
            continue
        try:
            modes.append(FileMode(parts[2], int(parts[0], 8), parts[1]))
        except ValueError:
            raise FactError(f"unexpected stat output line {line[:80]!r}") from None
    return tuple(modes)


def get_host_facts(
    conn: Connection,
    root: str,
    config_paths: list[str],
    *,
    install_present: bool,
    storage_in_webroot: bool,
    storage_path: str,
    store: str | None = None,
) -> HostFacts:
    warnings: list[str] = []
    disk = None
    files = " ".join(quote(p) for p in config_paths)
    # One round trip for both; each part's errors stay in its own section.
    result = run(
        conn,
        f"df -Pk {quote(root)} 2>&1; echo {STAT_MARK}; stat -c '%a %U %n' {files}",
        check=False,
        store=store,
    )
    df_text, _, stat_text = result.stdout.partition(f"{STAT_MARK}\n")
    try:
        disk = parse_df(df_text)
    except FactError as exc:
        warnings.append(f"disk space unknown: {exc.message}")
    modes = parse_stat(stat_text)
    if len(modes) < len(config_paths):
        warnings.append(f"could not stat every config file: {result.stderr.strip()[:120]}")
    return HostFacts(root, disk, modes, install_present, storage_in_webroot, storage_path, tuple(warnings))
