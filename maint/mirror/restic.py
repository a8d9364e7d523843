"""A restic repository as a store's mirror target (`mirror.repository: restic:/path`, a local path).

Each verified snapshot goes in as one restic snapshot of the store's mirror folder's `.current` (the
rsync base: the store's files) and `.partial` (dump, manifest, secret archives), taken in place with
host `<client>-<store>` (so restic finds the previous one as its parent and reads only changed files)
and tagged `maint`, `<client>-<store>-<timestamp>` and `summary=<base64 JSON>`: the `summary_of` dict
that lets `summaries()` list every snapshot in one `restic snapshots` (tags are split on commas, so the
JSON is base64). Deduplication, compression and encryption are restic's.

restic reads its password itself (RESTIC_PASSWORD, RESTIC_PASSWORD_FILE or RESTIC_PASSWORD_COMMAND), or
from the file `mirror.password_file` names. It is never on a command line; without it restic reads an
empty password from /dev/null and refuses: one line, nothing changed.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maint.errors import ConfigError, MaintError, PreconditionError
from maint.mirror.layout import CURRENT, MANIFEST, PARTIAL, is_timestamp, parse_timestamp
from maint.mirror.manifest import Manifest
from maint.mirror.modes import private_dirs
from maint.mirror.repository import as_snapshot_folder, summary_of

TAG = "maint"  # every snapshot maint makes; a snapshot's name and summary are tags too
SUMMARY = "summary="
READ_ONLY = ("snapshots", "dump", "cat")


def parse_repository(text: str) -> str:
    """The local path of `mirror.repository: restic:/path`, with restic on this machine."""
    path = repository_path(text)
    if shutil.which("restic") is None:
        raise PreconditionError("mirror.repository needs `restic` on this machine (Debian package restic)")
    return path


def repository_path(text: str) -> str:
    """The local path of `mirror.repository: restic:/path` (other restic back-ends are not supported), from
    the value alone (`maint doctor` looks for restic itself)."""
    kind, sep, location = str(text).partition(":")
    path = os.path.expanduser(location)
    if kind != "restic" or not sep or not location or not os.path.isabs(path):
        raise ConfigError(f"mirror.repository must be restic:/absolute/path/to/repo, not {text!r}")
    return path


@dataclass(frozen=True)
class ResticRepo:
    location: str
    client: str
    store: str
    password_file: str = ""  # mirror.password_file; else restic's own RESTIC_PASSWORD* variables

    @property
    def kind(self) -> str:
        return "restic"

    @property
    def host(self) -> str:
        return f"{self.client}-{self.store}"

    @property
    def prefix(self) -> str:
        return f"{self.host}-"

    def describe(self, ts: str) -> str:
        return f"restic:{self.location}::{self.prefix}{ts}"

    def _restic(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, TZ="UTC")  # --time and the listed times are the timestamp's UTC
        if self.password_file:
            env["RESTIC_PASSWORD_FILE"] = os.path.expanduser(self.password_file)
        # Reading takes no lock: listing a repository (health, report, restore's list) writes nothing to it.
        lock = ("--no-lock",) if args[0] in READ_ONLY else ()
        done = subprocess.run(["restic", "--repo", self.location, "--quiet", *lock, *args], cwd=cwd, env=env,
                              capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
        if done.returncode != 0:  # 3 (backup: files unreadable) too: a snapshot must be whole
            lines = done.stderr.strip().splitlines() or ["no message"]
            fatal = next((ln for ln in lines if ln.startswith("Fatal:")), lines[-1])[:300]
            for secret in (os.environ.get("RESTIC_PASSWORD"),):  # restic never prints it; be sure
                if secret:
                    fatal = fatal.replace(secret, "***")
            raise MaintError(f"restic {args[0]} failed (exit {done.returncode}): {fatal}", store=self.store)
        return done

    def check_access(self) -> None:
        """The repository opens with the password given (before a mirror changes anything)."""
        self._restic("cat", "config")

    def create(self, store_dir: Path, ts: str, summary: dict[str, Any], *, files: bool) -> None:
        """One snapshot of `.partial` and, when `files` (an rsync run), of the rsync base `.current`, in
        place: restic's parent (same host and paths) spares it reading unchanged files again."""
        tags = ",".join((TAG, self.prefix + ts, SUMMARY + _encode(summary)))
        when = parse_timestamp(ts).strftime("%Y-%m-%d %H:%M:%S")
        self._restic("backup", "--host", self.host, "--tag", tags, "--time", when,
                     *((CURRENT,) if files else ()), PARTIAL, cwd=store_dir)

    def _entries(self) -> list[tuple[str, str, dict[str, Any] | None]]:
        """(timestamp, snapshot id, summary or None) of this store's snapshots, oldest first."""
        out = self._restic("snapshots", "--json", "--host", self.host, "--tag", TAG).stdout
        found = []
        for snap in json.loads(out or "[]") or []:
            tags = [str(t) for t in snap.get("tags") or []]
            ts = next((t[len(self.prefix):] for t in tags if t.startswith(self.prefix)), "")
            if not is_timestamp(ts):
                continue
            summary = next((_decode(t[len(SUMMARY):]) for t in tags if t.startswith(SUMMARY)), None)
            found.append((ts, str(snap["id"]), summary))
        return sorted(found, key=lambda entry: entry[0])

    def _id(self, ts: str) -> str:
        found = {name: ident for name, ident, _ in self._entries()}
        if ts not in found:
            raise PreconditionError(f"no snapshot {self.prefix}{ts} in restic:{self.location} (have: "
                                    f"{', '.join(found) or 'none'})", store=self.store)
        return found[ts]

    def snapshots(self) -> list[str]:
        """Timestamps of this store's snapshots, oldest first."""
        return [ts for ts, _, _ in self._entries()]

    def latest(self) -> str | None:
        found = self.snapshots()
        return found[-1] if found else None

    def summaries(self, newest_only: bool = False) -> list[tuple[str, dict[str, Any]]]:
        """(timestamp, summary) of each snapshot (or the newest), oldest first, from one `restic snapshots`;
        a snapshot without a readable summary tag is read from its manifest (`restic dump`)."""
        entries = self._entries()
        out = []
        for ts, ident, summary in entries[-1:] if newest_only else entries:
            if summary is None or "verified" not in summary:
                summary = summary_of(self._manifest(ident))
            out.append((ts, summary))
        return out

    def manifest(self, ts: str) -> Manifest:
        return self._manifest(self._id(ts))

    def _manifest(self, ident: str) -> Manifest:
        return Manifest.from_dict(json.loads(self._restic("dump", ident, f"/{PARTIAL}/{MANIFEST}").stdout))

    def extract(self, ts: str, dest: Path) -> Path:
        """The snapshot as a snapshot folder at dest (0700; an earlier extraction is replaced)."""
        ident = self._id(ts)
        if dest.exists():
            shutil.rmtree(dest)
        private_dirs(dest, top=dest.parent)
        self._restic("restore", ident, "--target", str(dest))
        if not (dest / CURRENT).is_dir():
            (dest / CURRENT).mkdir(mode=0o700)  # an SFTP run's snapshot: its files are in .partial/files
        return as_snapshot_folder(dest)

    def drop(self, timestamps: list[str]) -> None:
        """`restic forget` exactly these snapshots, then `restic prune` the data no snapshot uses any more."""
        if not timestamps:
            return
        found = {name: ident for name, ident, _ in self._entries()}
        missing = [ts for ts in timestamps if ts not in found]
        if missing:
            raise PreconditionError(f"no snapshot {self.prefix}{missing[0]} in restic:{self.location}",
                                    store=self.store)
        self._restic("forget", *(found[ts] for ts in timestamps))
        self._restic("prune")


def _encode(summary: dict[str, Any]) -> str:
    raw = json.dumps(summary, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
