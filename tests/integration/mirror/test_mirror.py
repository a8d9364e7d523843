"""`fab mirror` / `fab serve` / `fab restore` against the real sandbox: applied, again, and dry-run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from maint.mirror import manifest
from maint.mirror.layout import StoreMirror, count_tree
from maint.mirror.run import MirrorOptions
from maint.sandbox import Sandbox
from maint.workcopy import WorkCopy, serve


def _db_counts(sandbox: Sandbox, database: str) -> dict[str, int]:
    with sandbox.db_admin(database) as db, db.cursor() as cur:
        cur.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", (database,))
        names = [r[0] for r in cur.fetchall()]
        counts = {}
        for name in names:
            cur.execute(f"SELECT COUNT(*) FROM `{name}`")
            counts[name] = cur.fetchone()[0]
    return counts


def test_first_mirror_publishes_a_verified_snapshot_of_files_and_database(
    mh: Any,
    mirror_sandbox: Sandbox, store_cfg: Callable[..., object], mirror_root: Path
) -> None:
    before = mh.host_temp_files()
    result = mh.run_mirror(store_cfg("s3"))
    mirror = StoreMirror.of(mirror_root, "mclient", "s3")
    assert mirror.latest() == result.snapshot and not mirror.has_partial()
    man = manifest.require_verified(mirror.snapshot(result.snapshot))
    store = mirror_sandbox.store("s3")
    files = mirror.snapshot(result.snapshot) / "files" / "www"
    assert (files / "index.php").read_bytes() == (store.root / "index.php").read_bytes()
    assert (files / "config.php").is_file() and (files / "admin" / "config.php").is_file()
    assert not any((files / "image" / "cache").iterdir()) if (files / "image" / "cache").is_dir() else True
    assert count_tree(files) == (man.roots[0].files, man.roots[0].bytes)
    assert man.dump.consistency == "lock-tables" and man.dump.engines.get("MyISAM", 0) > 0
    assert man.dump.tables == _db_counts(mirror_sandbox, store.db_name)
    assert mh.host_temp_files() == before  # the defaults file is gone from the host


def test_second_mirror_is_incremental_and_hard_links_unchanged_files(
    mh: Any,
    mirror_sandbox: Sandbox, store_cfg: Callable[..., object], mirror_root: Path
) -> None:
    cfg = store_cfg("s4")
    first = mh.run_mirror(cfg)
    second = mh.run_mirror(cfg)
    assert second.snapshot != first.snapshot
    assert all(r.new == 0 and r.changed == 0 and r.deleted == 0 for r in second.manifest.roots)
    a = first.path / "files" / "www" / "index.php"
    b = second.path / "files" / "www" / "index.php"
    assert a.stat().st_ino == b.stat().st_ino  # a hard link: the second snapshot costs no file space
    assert [r.name for r in second.manifest.roots] == ["www", "storage"]  # DIR_STORAGE outside the web root
    assert second.manifest.dump.consistency == "single-transaction"


def test_dry_run_changes_nothing_on_the_mirror_disk_and_shows_the_transfer(
    mh: Any,
    mirror_sandbox: Sandbox, store_cfg: Callable[..., object], mirror_root: Path
) -> None:
    cfg = store_cfg("s4")
    mh.run_mirror(cfg)
    store_root = mirror_sandbox.store("s4").root
    new_file = store_root / "image" / "catalog" / "dry-run-probe.jpg"
    new_file.write_bytes(b"x" * 1000)
    try:
        disk_before, host_before = mh.tree_state(mirror_root), mh.tree_state(store_root)
        plan = mh.plan_only(cfg, MirrorOptions(dry_run=True))
        assert mh.tree_state(mirror_root) == disk_before
        assert mh.tree_state(store_root) == host_before
    finally:
        new_file.unlink()
    transfer = next(c for c in plan if c.kind == "transfer")
    assert transfer.summary.startswith("1 new, 0 changed")


def test_strip_keeps_structure_but_drops_personal_rows(mh: Any, store_cfg: Callable[..., object]) -> None:
    result = mh.run_mirror(store_cfg("s4"), MirrorOptions(strip_groups=("customers", "orders", "sessions")))
    tables = result.manifest.dump.tables
    assert tables["oc_customer"] == 0 and tables["oc_order"] == 0
    assert tables["oc_customer_group"] > 0 and tables["oc_product"] > 0
    assert "oc_customer" in result.manifest.dump.stripped


def test_sftp_fallback_and_pymysql_dump_make_the_same_snapshot(mh: Any, store_cfg: Callable[..., object]) -> None:
    cfg = store_cfg("s3")
    by_rsync = mh.run_mirror(cfg)
    by_sftp = mh.run_mirror(cfg, MirrorOptions(method="sftp", dump_tool="pymysql", compression="gzip"))
    assert by_sftp.manifest.method == "sftp" and by_sftp.manifest.dump.tool == "pymysql"
    assert [(r.files, r.bytes) for r in by_sftp.manifest.roots] == [(r.files, r.bytes) for r in by_rsync.manifest.roots]
    assert by_sftp.manifest.dump.tables == by_rsync.manifest.dump.tables
    unchanged = by_sftp.path / "files" / "www" / "index.php"
    assert unchanged.stat().st_ino == (by_rsync.path / "files" / "www" / "index.php").stat().st_ino


def test_serve_imports_rewrites_and_renders_the_working_copy(
    mh: Any,
    mirror_sandbox: Sandbox, store_cfg: Callable[..., object], tmp_path: Path
) -> None:
    cfg = store_cfg("s4")
    result = mh.run_mirror(cfg)
    state = tmp_path / "state"
    served = serve(state, result.manifest, result.path)
    wc = WorkCopy(state, "mclient", "s4")
    try:
        assert [(c.name, c.ok) for c in served.checks] == [("home", True), ("product", True), ("search", True)]
        config = (wc.files / "www" / "config.php").read_text()
        assert served.url in config and str(wc.files / "storage") in config
        assert str(mirror_sandbox.store("s4").root) not in config  # nothing points at the live shop
    finally:
        assert set(wc.stop()) == {"php", "mariadb"}


def test_serve_refuses_an_unverified_snapshot(mh: Any, store_cfg: Callable[..., object], tmp_path: Path) -> None:
    result = mh.run_mirror(store_cfg("s4"))
    result.manifest.verified = False
    from maint.errors import VerificationError

    with pytest.raises(VerificationError, match="refusing"):
        serve(tmp_path / "state", result.manifest, result.path)


def test_mirror_all_runs_every_store_prints_json_and_prunes_by_the_retention_rules(
    mh: Any, task_context: Callable[..., Any], mirror_root: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from maint.tasks.mirror import mirror

    for module in ("maint.mirror.run", "maint.tasks.mirror"):
        monkeypatch.setattr(f"{module}.mirror_of",
                            lambda cfg: StoreMirror.of(mirror_root, cfg.client, cfg.store))
    c = task_context(mirror_root, options={"mirror": {"keep": {"daily": 1, "weekly": 0, "monthly": 0}}})
    old = mirror_root / "mclient" / "s4" / "20200101T000000Z"
    (old / "files").mkdir(parents=True)
    mirror(c, all_=True, json=True, prune=True, yes=True)
    out = {item["store"]: item for item in json.loads(capsys.readouterr().out)["stores"]}
    assert set(out) == {"s3", "s4"} and all(item["verified"] for item in out.values())
    assert out["s4"]["prune"]["deleted"] == ["20200101T000000Z"] and not old.exists()
    assert StoreMirror.of(mirror_root, "mclient", "s4").latest() == out["s4"]["snapshot"]


def test_a_run_on_a_store_another_run_holds_fails_on_the_lock(
    mh: Any, store_cfg: Callable[..., Any], mirror_root: Path,
) -> None:
    from maint.errors import LockError
    from maint.lock import local_lock
    from maint.mirror.run import lock_path

    cfg = store_cfg("s3")
    with local_lock(lock_path(cfg), "mirror"), pytest.raises(LockError):
        mh.run_mirror(cfg)
    assert StoreMirror.of(mirror_root, "mclient", "s3").latest() is None


def test_restore_puts_a_snapshot_back_and_verifies_the_rows(
    mh: Any,
    mirror_sandbox: Sandbox, store_cfg: Callable[..., object]
) -> None:
    from maint.facts.opencart import get_store_facts
    from maint.mirror.restore import apply_restore, prepare_restore
    from maint.remote.ssh import connect

    cfg = store_cfg("s4")
    result = mh.run_mirror(cfg)
    store = mirror_sandbox.store("s4")
    junk = store.root / "junk-after-snapshot.php"
    junk.write_text("<?php // created after the snapshot\n")
    with mirror_sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
        cur.execute("DELETE FROM oc_product_discount")
        cur.execute("CREATE TABLE oc_created_later (id INT)")
    conn = connect(cfg)
    try:
        facts = get_store_facts(conn, cfg)
        plan = prepare_restore(conn, cfg, facts, result.path, result.manifest)
        assert plan.destructive and any(c.kind == "drop" and "oc_created_later" in c.target for c in plan)
        apply_restore(conn, cfg, facts, result.path, result.manifest, plan)
        again = prepare_restore(conn, cfg, facts, result.path, result.manifest)
    finally:
        conn.close()
    assert not junk.exists()
    assert _db_counts(mirror_sandbox, store.db_name) == result.manifest.dump.tables
    assert not any(c.kind == "drop" for c in again)  # nothing left over: a second restore drops nothing
