"""A sandbox of the mirror tests' own (s3 = 3.0.3.8 mostly MyISAM, s4 = 4.1.0.4 InnoDB with its storage
outside the web root), so that faults injected here never disturb other areas' tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from invoke import Config, Context

from maint.config import StoreConfig, load_settings, store_config
from maint.facts.opencart import get_store_facts
from maint.inventory import load_inventory
from maint.mirror.run import MirrorOptions, MirrorResult, apply_mirror, prepare
from maint.mirror.sshmux import SshMux
from maint.remote.ssh import connect
from maint.sandbox import Sandbox, StoreSpec
from maint.tasks.common import CONFIG_DEFAULTS

STORES = (StoreSpec("s3", "3.0.3.8"), StoreSpec("s4", "4.1.0.4", storage_outside=True))


@pytest.fixture(scope="package")
def mirror_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    missing = [t for t in ("/usr/sbin/mariadbd", "/usr/sbin/sshd", "php", "rsync", "mysqldump")
               if shutil.which(t) is None]
    if missing:
        pytest.skip(f"sandbox services not installed: {', '.join(missing)}")
    with Sandbox(tmp_path_factory.mktemp("mirror-sandbox"), STORES, client="mclient") as sb:
        _HOST_TMP[:] = [sb.sshd.host_tmp]
        yield sb


@pytest.fixture
def settings_for(mirror_sandbox: Sandbox) -> dict[str, str]:
    return mirror_sandbox.maint_config()


@pytest.fixture
def mirror_root(tmp_path: Path) -> Path:
    root = tmp_path / "mirror"
    root.mkdir()
    return root


@pytest.fixture
def store_cfg(settings_for: dict[str, str], mirror_root: Path) -> Callable[..., StoreConfig]:
    """name -> StoreConfig with this test's own mirror folder (and any other overrides)."""

    def make(name: str, **flags: Any) -> StoreConfig:
        settings = load_settings(settings_for)
        flags.setdefault("mirror_root", str(mirror_root))
        return store_config(settings, load_inventory(settings.inventory), name, flags)

    return make


@pytest.fixture
def task_context(settings_for: dict[str, str]) -> Callable[[Path], Context]:
    """An invoke Context as `fab` builds it, with the mirror folder set agency-wide."""

    def make(mirror: Path, **maint: Any) -> Context:
        return Context(Config(defaults=CONFIG_DEFAULTS, overrides={"maint": {**settings_for, **maint}}))

    return make


def run_mirror(cfg: StoreConfig, options: MirrorOptions | None = None) -> MirrorResult:
    """One mirror through the library: connect, facts, plan, apply."""
    conn = connect(cfg)
    try:
        facts = get_store_facts(conn, cfg)
        with SshMux(cfg) as mux:
            prep = prepare(conn, cfg, facts, options or MirrorOptions(), mux)
            return apply_mirror(conn, prep, mux)
    finally:
        conn.close()


def plan_only(cfg: StoreConfig, options: MirrorOptions) -> Any:
    conn = connect(cfg)
    try:
        facts = get_store_facts(conn, cfg)
        with SshMux(cfg) as mux:
            return prepare(conn, cfg, facts, options, mux).plan
    finally:
        conn.close()


def tree_state(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under root with (size, mtime_ns, inode): equal states mean byte-for-byte untouched."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            st = path.lstat()
            out[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns, st.st_ino)
    return out


_HOST_TMP: list[Path] = []  # the mirror sandbox host's temp folder (its sshd sets TMPDIR for sessions)


def host_temp_files() -> list[str]:
    """Defaults files the dump/restore scripts would leave in the sandbox host's temp dir."""
    tmp = _HOST_TMP[0]
    return sorted(p.name for p in tmp.glob("maint-dump.*")) + sorted(p.name for p in tmp.glob("maint-restore.*"))


def private_tmp() -> Path:
    """A temp folder of the test's own for the runs it kills (TMPDIR of a child, tempfile.tempdir in-process):
    their SSH ControlPath dirs land there, so nothing another test run on the machine made is touched. Short,
    because a unix socket's path must stay under 108 bytes."""
    return Path(tempfile.mkdtemp(prefix="mt-", dir="/tmp"))


def stop_ssh_masters(started_after: set[str], base: Path) -> None:
    """Stop SSH masters of runs a test killed (their ControlPath dirs are the ones created since)."""
    for path in base.glob("maint-ssh-*"):
        if path.name in started_after:
            continue
        sock = path / "mux"
        if sock.exists():
            subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "x"], capture_output=True,
                           timeout=10, check=False)
        shutil.rmtree(path, ignore_errors=True)


def ssh_dirs(base: Path) -> set[str]:
    return {p.name for p in base.glob("maint-ssh-*")}


def snapshot_dirs(store_dir: Path, ts: str, *, verified: bool) -> None:
    """What `apply_mirror` leaves before archiving: the rsync base and the partial snapshot's manifest."""
    from maint.mirror import manifest as manifest_io
    from maint.mirror.manifest import DumpInfo, FileRoot, Manifest

    (store_dir / ".current" / "www").mkdir(parents=True, exist_ok=True)
    (store_dir / ".current" / "www" / "index.php").write_text("<?php\n")
    (store_dir / ".partial").mkdir(parents=True, exist_ok=True)
    manifest_io.write(store_dir / ".partial", Manifest(
        "acme", "shop", ts, opencart_version="4.1.0.4", php_version="8.2", verified=verified,
        roots=[FileRoot("www", "/srv/shop", files=1, bytes=6)], dump=DumpInfo(file="db.sql.zst", bytes=100)))


AGE_NOW = 1794319200.0  # 2026-11-10 14:00 UTC: the moment health and the report look at the two snapshots below


def health_and_report_seen(tmp_path: Path, repository: str, put: Callable[[Path, str, str], None]
                           ) -> tuple[dict[str, tuple[Any, ...]], dict[str, Any]]:
    """The same two snapshots (a verified one, then a newer one that failed verification) in a mirror folder
    and in `repository` (borg:… or restic:…; `put(work, ts, summary)` archives the work folder's snapshot
    there); what `fab health`'s mirror_age and `fab report`'s backups say of each, keyed "folder" and
    "repository", and the two places."""
    from datetime import UTC, date, datetime
    from zoneinfo import ZoneInfo

    from maint.health.local import probe_mirror_age
    from maint.mirror import manifest as manifest_io
    from maint.mirror.layout import StoreMirror
    from maint.mirror.listing import SnapshotPlace
    from maint.mirror.repository import summary_of
    from maint.report.model import Month, backups

    root = tmp_path / "mirror"
    folder = StoreMirror.of(root, "acme", "shop")
    work = tmp_path / "work"
    for ts, verified in (("20261103T020000Z", True), ("20261110T020000Z", False)):
        snapshot_dirs(folder.path, ts, verified=verified)
        shutil.rmtree(folder.current)
        (folder.partial / "files").mkdir()
        folder.publish(ts)
        snapshot_dirs(work, ts, verified=verified)
        put(work, ts, summary_of(manifest_io.read(work / ".partial")))
    places = {"folder": SnapshotPlace(str(root), "", "acme", "shop"),
              "repository": SnapshotPlace("", repository, "acme", "shop")}
    month = Month(date(2026, 11, 1), ZoneInfo("UTC"))
    seen = {}
    for kind, place in places.items():
        obs = probe_mirror_age(place, now=AGE_NOW)
        b = backups(place.mirror_root, "acme", "shop", month, {"repository": place.repository},
                    now=datetime.fromtimestamp(AGE_NOW, UTC))
        assert b.newest is not None and b.age_at_end is not None
        seen[kind] = (obs.value, obs.state, obs.evidence.split(",")[0], b.kept, b.newest.name,
                      b.newest.opencart_version, [(s.name, s.verified) for s in b.in_month], b.age_at_end)
    return seen, places


@pytest.fixture
def mh() -> Any:
    """The helpers above, for test modules (tests/ is not a package, so they can't be imported)."""
    from types import SimpleNamespace

    return SimpleNamespace(run_mirror=run_mirror, plan_only=plan_only, tree_state=tree_state,
                           host_temp_files=host_temp_files, stop_ssh_masters=stop_ssh_masters, ssh_dirs=ssh_dirs,
                           private_tmp=private_tmp, snapshot_dirs=snapshot_dirs,
                           health_and_report_seen=health_and_report_seen, age_now=AGE_NOW)
