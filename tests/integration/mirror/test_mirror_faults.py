"""Faults against the real sandbox: every one ends in a clear error, nothing published as latest, the
previous snapshot intact, and no file left on the host."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from maint.errors import ConnectError, MaintError, PreconditionError, VerificationError
from maint.mirror import manifest
from maint.mirror.layout import StoreMirror
from maint.mirror.run import MirrorOptions
from maint.sandbox import Sandbox
from maint.workcopy import set_define

CHILD = Path(__file__).with_name("mirror_child.py")
SLOW_RSYNC = ["--bwlimit=40"]  # ~300 KB store: several seconds, time to interrupt


@pytest.fixture
def previous(mh: Any, store_cfg: Callable[..., Any], mirror_root: Path) -> Callable[[str], tuple[StoreMirror, str, dict[str, Any]]]:
    """Make a good snapshot first; return the mirror, its name and a fingerprint of it."""

    def make(store: str) -> tuple[StoreMirror, str, dict[str, Any]]:
        result = mh.run_mirror(store_cfg(store))
        mirror = StoreMirror.of(mirror_root, "mclient", store)
        return mirror, result.snapshot, mh.tree_state(result.path)

    return make


def _assert_untouched(mh: Any, mirror: StoreMirror, snapshot: str, state: dict[str, Any], temp_before: list[str]) -> None:
    assert mirror.latest() == snapshot
    assert mirror.snapshots() == [snapshot]
    assert mh.tree_state(mirror.snapshot(snapshot)) == state
    manifest.require_verified(mirror.snapshot(snapshot))
    deadline = time.monotonic() + 15
    while mh.host_temp_files() != temp_before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert mh.host_temp_files() == temp_before


def _start_child(settings_for: dict[str, str], store: str, options: dict[str, Any], mirror_root: Path,
                 tmp: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(CHILD), json.dumps(settings_for), store, json.dumps(options), str(mirror_root)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, "TMPDIR": str(tmp)})


def _wait_for(check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def _fetching(mirror: StoreMirror, probe: str) -> bool:
    """rsync is writing the probe file: its temp file `.probe.XXXXXX` is in the .current copy."""
    return any((mirror.current / "www" / "image" / "catalog").glob(f".{probe}.*"))


def _kill_group(proc: subprocess.Popen[str]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)  # the child we started, and the rsync/ssh it started
    proc.wait(timeout=10)


def test_killed_mid_transfer_keeps_the_previous_snapshot_and_the_next_run_resumes(
    mh: Any, previous: Any, settings_for: dict[str, str], mirror_root: Path, mirror_sandbox: Sandbox,
    store_cfg: Callable[..., Any],
) -> None:
    mirror, snap, state = previous("s3")
    probe = mirror_sandbox.store("s3").root / "image" / "catalog" / "kill-probe.bin"
    probe.write_bytes(os.urandom(200_000))  # new data, so the next transfer takes a while
    tmp = mh.private_tmp()
    ssh_before, temp_before = mh.ssh_dirs(tmp), mh.host_temp_files()
    try:
        child = _start_child(settings_for, "s3", {"rsync_args": SLOW_RSYNC}, mirror_root, tmp)
        _wait_for(lambda: _fetching(mirror, probe.name))
        _kill_group(child)
        mh.stop_ssh_masters(ssh_before, tmp)
        _assert_untouched(mh, mirror, snap, state, temp_before)
        assert mirror.has_partial()
        resumed = mh.run_mirror(store_cfg("s3"))
    finally:
        probe.unlink()
    assert resumed.resumed and mirror.latest() == resumed.snapshot
    assert (resumed.path / "files" / "www" / "image" / "catalog" / "kill-probe.bin").stat().st_size == 200_000


def test_killed_mid_dump_leaves_no_defaults_file_on_the_host(
    mh: Any, previous: Any, settings_for: dict[str, str], mirror_root: Path,
) -> None:
    mirror, snap, state = previous("s4")
    tmp = mh.private_tmp()
    ssh_before, temp_before = mh.ssh_dirs(tmp), mh.host_temp_files()
    child = _start_child(settings_for, "s4", {"dump_command": "sleep 4; mysqldump"}, mirror_root, tmp)
    _wait_for(lambda: len(mh.host_temp_files()) > len(temp_before))  # the dump's shell is running on the host
    _kill_group(child)
    mh.stop_ssh_masters(ssh_before, tmp)
    _assert_untouched(mh, mirror, snap, state, temp_before)


@pytest.mark.parametrize(("dump_command", "message"), [
    ("sh -c 'mysqldump \"$@\" | head -n 60' mysqldump", "no completion marker"),
    ("sh -c 'mysqldump \"$@\" | sed \"/^(3,/d\"' mysqldump", "row counts differ"),
], ids=["truncated", "row-count-mismatch"])
def test_a_bad_dump_is_never_published(
    mh: Any, previous: Any, store_cfg: Callable[..., Any], dump_command: str, message: str,
) -> None:
    mirror, snap, state = previous("s4")
    temp_before = mh.host_temp_files()
    with pytest.raises(VerificationError, match=message):
        mh.run_mirror(store_cfg("s4"), MirrorOptions(dump_command=dump_command))
    _assert_untouched(mh, mirror, snap, state, temp_before)


def test_ssh_dropped_mid_transfer_is_a_connect_error(
    mh: Any, previous: Any, store_cfg: Callable[..., Any], mirror_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch,
) -> None:
    mirror, snap, state = previous("s3")
    probe = mirror_sandbox.store("s3").root / "image" / "catalog" / "drop-probe.bin"
    probe.write_bytes(os.urandom(200_000))
    tmp = mh.private_tmp()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))  # this run's SSH dirs, and only they, land there
    ssh_before, temp_before = mh.ssh_dirs(tmp), mh.host_temp_files()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            mh.run_mirror(store_cfg("s3"), MirrorOptions(rsync_args=tuple(SLOW_RSYNC)))
        except BaseException as exc:  # noqa: BLE001 - checked below
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    try:
        _wait_for(lambda: _fetching(mirror, probe.name))
        new_dirs = mh.ssh_dirs(tmp) - ssh_before
        assert new_dirs
        _kill_ssh_of(new_dirs, tmp)
        thread.join(60)
    finally:
        probe.unlink()
    assert errors and isinstance(errors[0], ConnectError), errors
    assert "SSH connection dropped" in str(errors[0])
    _assert_untouched(mh, mirror, snap, state, temp_before)


def _kill_ssh_of(dirs: set[str], base: Path) -> None:
    """SIGKILL the ssh processes (master and clients) of this run, found by their own ControlPath."""
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            cmdline = (pid_dir / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmdline.startswith("ssh ") and any(f"{base}/{d}/mux" in cmdline for d in dirs):
            try:
                os.kill(int(pid_dir.name), signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_full_mirror_disk_is_refused_before_and_reported_during_the_transfer(
    mh: Any, store_cfg: Callable[..., Any], tmp_path: Path,
) -> None:
    small = tmp_path / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        cfg = store_cfg("s3", mirror_root=str(small))
        with pytest.raises(PreconditionError, match="not enough free space"):
            mh.run_mirror(cfg)
        assert not any(small.rglob("*.partial")) and not (small / "mclient" / "s3" / "latest").exists()
        (small / "filler").write_bytes(b"\0" * 900_000)
        temp_before = mh.host_temp_files()
        with pytest.raises(MaintError, match="disk is full"):
            mh.run_mirror(cfg, MirrorOptions(check_space=False))
        assert not (small / "mclient" / "s3" / "latest").exists()
        assert mh.host_temp_files() == temp_before
    finally:
        subprocess.run(["umount", str(small)], check=False)


def test_a_db_user_without_lock_tables_gets_a_clear_error(
    mh: Any, store_cfg: Callable[..., Any], mirror_sandbox: Sandbox, tmp_path: Path,
) -> None:
    store = mirror_sandbox.store("s3")
    root = tmp_path / "s3-copy"
    shutil.copytree(store.root, root, symlinks=True)
    with mirror_sandbox.db_admin() as db, db.cursor() as cur:
        cur.execute("CREATE OR REPLACE USER 'nolock'@'127.0.0.1' IDENTIFIED BY 'nolock-pass'")
        cur.execute(f"GRANT SELECT, SHOW VIEW ON `{store.db_name}`.* TO 'nolock'@'127.0.0.1'")
    for rel in ("config.php", "admin/config.php"):
        text = (root / rel).read_text().replace(str(store.root), str(root))
        text = set_define(set_define(text, "DB_USERNAME", "nolock"), "DB_PASSWORD", "nolock-pass")
        (root / rel).write_text(text)
    temp_before = mh.host_temp_files()
    try:
        with pytest.raises(PreconditionError, match="LOCK TABLES"):
            mh.run_mirror(store_cfg("s3", root=str(root)))
    finally:
        with mirror_sandbox.db_admin() as db, db.cursor() as cur:
            cur.execute("DROP USER IF EXISTS 'nolock'@'127.0.0.1'")
    assert mh.host_temp_files() == temp_before
