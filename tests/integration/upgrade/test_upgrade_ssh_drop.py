"""SSH dropped during the upgrade's file copy, injected for real: once the live store is in maintenance, the
server side of the copy's rsync (the `rsync --server` sshd started for it) is killed mid-transfer. One drop:
rsync is tried again, resumes and the upgrade completes and verifies. The connection lost for good (every
attempt cut): the store is rolled back inside the window, identical to before. Never half-upgraded."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from standin import fab, state

from maint.sandbox import Sandbox, StoreSpec
from maint.sandbox.fixture import export_release

BULK = "system/library/bulk"  # enough bytes that the copy takes a while: a cut lands mid-transfer


@pytest.fixture(scope="module")
def drop_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(tmp_path_factory.mktemp("drop-sandbox"), (StoreSpec("d3", "3.0.3.8"),), client="drop") as sb:
        yield sb


@pytest.fixture(scope="module")
def big_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("release") / "3.0.5.1"
    export_release("3.0.5.1", tree)
    bulk = tree / BULK
    bulk.mkdir(parents=True)
    for i in range(500):
        (bulk / f"part{i:03}.bin").write_bytes(os.urandom(128 * 1024))
    return tree


def rsync_servers(root: Path) -> list[int]:
    """The pids of `rsync --server` processes receiving into root (started by the sandbox's sshd for us)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        args = [a.decode(errors="replace") for a in argv if a]
        if args and args[0].endswith("rsync") and "--server" in args and "--sender" not in args \
                and any(a.rstrip("/") == str(root).rstrip("/") for a in args):
            pids.append(int(entry.name))
    return pids


class Cutter(threading.Thread):
    """Kills the copy's rsync server `cuts` times, armed once the store is in maintenance mode."""

    def __init__(self, sandbox: Sandbox, name: str, cuts: int) -> None:
        super().__init__(daemon=True)
        self.sandbox, self.name, self.cuts = sandbox, name, cuts
        self.killed: list[int] = []
        self.stop = threading.Event()
        self.armed = False

    def run(self) -> None:
        store = self.sandbox.store(self.name)
        root = store.root
        with self.sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
            while not self.stop.is_set():
                db.commit()  # a fresh read each time
                cur.execute(f"SELECT `value` FROM `{store.prefix}setting` WHERE store_id = 0 "
                            "AND `key` = 'config_maintenance'")
                row = cur.fetchone()
                if row and str(row[0]) == "1":
                    break
                time.sleep(0.02)
        self.armed = True
        gone: set[int] = set()
        last_cut = 0.0
        while not self.stop.is_set():
            written = root / BULK
            # rsync's receiver and the generator it forks: one attempt, killed together. maint waits at least
            # 1 s before trying again, so a process appearing sooner belongs to the attempt just cut.
            servers = [p for p in rsync_servers(root) if p not in gone]
            same_attempt = time.monotonic() - last_cut < 0.5
            if servers and (same_attempt or (len(self.killed) < self.cuts and (
                    self.killed or (written.is_dir() and any(written.iterdir()))))):  # the first: mid-transfer
                for pid in servers:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                gone.update(servers)
                if not same_attempt:
                    self.killed.append(servers[0])
                    last_cut = time.monotonic()
            elif len(self.killed) >= self.cuts and not same_attempt:
                break
            time.sleep(0.005)


def upgrade_with_cuts(sandbox: Sandbox, release: Path, cuts: int):
    cutter = Cutter(sandbox, "d3", cuts)
    cutter.start()
    try:
        run = fab(sandbox, "upgrade", "d3", "--to", "3.0.5.1", "--release", str(release), "--yes", "--no-rehearse",
                  "--json")
    finally:
        cutter.stop.set()
        cutter.join(10)
    return run, cutter.killed, cutter.armed


def test_a_connection_dropped_once_during_the_copy_is_resumed_and_the_upgrade_completes(
        drop_sandbox, big_release) -> None:
    run, killed, armed = upgrade_with_cuts(drop_sandbox, big_release, cuts=1)
    assert len(killed) == 1, f"the copy's rsync was never cut (maintenance seen: {armed}): {run.stdout[-2000:]}"
    assert run.returncode == 0, run.stdout + run.stderr
    data = json.loads(run.stdout)["stores"][0]
    copy = next(s for s in data["live"]["steps"] if s["step"] == "copy release")
    assert "resumed after 1 dropped connection(s) (rsync exit" in copy["detail"]
    root = drop_sandbox.store("d3").root
    assert "define('VERSION', '3.0.5.1');" in (root / "index.php").read_text()
    assert sorted(p.name for p in (root / BULK).iterdir()) == sorted(p.name for p in (big_release / BULK).iterdir())
    assert all((root / BULK / p.name).read_bytes() == p.read_bytes() for p in (big_release / BULK).iterdir())

    back = fab(drop_sandbox, "rollback", "d3", "--yes")  # back to 3.0.3.8 for the next test
    assert back.returncode == 0, back.stdout + back.stderr


def test_a_connection_lost_for_good_during_the_copy_rolls_back_inside_the_window(drop_sandbox, big_release) -> None:
    before = state(drop_sandbox, "d3")
    run, killed, armed = upgrade_with_cuts(drop_sandbox, big_release, cuts=3)  # every attempt of the copy
    assert len(killed) == 3, f"cut {len(killed)} time(s) (maintenance seen: {armed}): {run.stdout[-2000:]}"
    assert run.returncode == 70, run.stdout + run.stderr
    data = json.loads(run.stdout)["stores"][0]
    assert "after 2 dropped connection(s)" in data["failure"] and data["rolled_back"]
    assert [s["step"] for s in data["live"]["steps"] if not s["ok"]] == ["copy release"]
    assert not any(s["step"] == "database upgrade" for s in data["live"]["steps"])
    assert state(drop_sandbox, "d3") == before
    assert not (drop_sandbox.store("d3").root / BULK).exists()
