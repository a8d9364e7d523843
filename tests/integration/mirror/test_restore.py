"""`fab restore` through the task (#12): it lists snapshots, names what it would lose and refuses
without --discard-newer, snapshots the live store first (the way back), and is proven three ways."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from invoke import Exit

from maint.mirror import manifest
from maint.mirror.layout import StoreMirror
from maint.sandbox import Sandbox

LATE_EMAIL = "late-order@example.invalid"


@pytest.fixture
def restore_task(monkeypatch: pytest.MonkeyPatch, task_context: Callable[..., Any], mirror_root: Path,
                 tmp_path: Path) -> Callable[..., Any]:
    """restore(...) as `fab restore` runs it, with this test's mirror folder and state folder."""
    from maint.tasks.restore import restore

    for module in ("maint.mirror.run", "maint.tasks.restore"):
        monkeypatch.setattr(f"{module}.mirror_of", lambda cfg: StoreMirror.of(mirror_root, cfg.client, cfg.store))
    c = task_context(mirror_root, state_dir=str(tmp_path / "state"))

    def call(store: str = "s4", **kwargs: Any) -> None:
        restore(c, store, **kwargs)

    return call


def _checksums(sandbox: Sandbox, database: str) -> dict[str, int]:
    with sandbox.db_admin(database) as db, db.cursor() as cur:
        cur.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", (database,))
        names = sorted(r[0] for r in cur.fetchall())
        cur.execute("CHECKSUM TABLE " + ", ".join(f"`{n}`" for n in names))
        return {r[0]: r[1] for r in cur.fetchall()}


def _late_order(sandbox: Sandbox, database: str) -> int:
    with sandbox.db_admin(database) as db, db.cursor() as cur:
        cur.execute("SET SESSION sql_mode = ''")
        cur.execute("INSERT INTO oc_order SET firstname = 'Late', lastname = 'Buyer', email = %s, total = 42.5, "
                    "date_added = NOW(), date_modified = NOW()", (LATE_EMAIL,))
        return int(cur.lastrowid)


def _orders_with_late_email(sandbox: Sandbox, database: str) -> int:
    with sandbox.db_admin(database) as db, db.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM oc_order WHERE email = %s", (LATE_EMAIL,))
        return int(cur.fetchone()[0])


def test_restore_without_a_snapshot_lists_them_with_date_version_size_and_verification(
    mh: Any, store_cfg: Callable[..., Any], restore_task: Callable[..., Any], capsys: pytest.CaptureFixture[str],
) -> None:
    first = mh.run_mirror(store_cfg("s4"))
    second = mh.run_mirror(store_cfg("s4"))
    restore_task(json=True)
    rows = json.loads(capsys.readouterr().out)["stores"][0]["snapshots"]
    assert [r["snapshot"] for r in rows] == [second.snapshot, first.snapshot]
    assert rows[0]["latest"] and rows[0]["verified"] and rows[0]["opencart"] == "4.1.0.4"
    assert rows[0]["bytes"] > second.manifest.bytes and rows[0]["date"].startswith(second.snapshot[:4])
    restore_task()
    text = capsys.readouterr().out
    assert first.snapshot in text and "4.1.0.4" in text and "see the mirror folder" not in text


def test_restore_refuses_to_lose_a_newer_order_names_it_and_changes_nothing(
    mh: Any, mirror_sandbox: Sandbox, store_cfg: Callable[..., Any], restore_task: Callable[..., Any],
    mirror_root: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    store = mirror_sandbox.store("s4")
    result = mh.run_mirror(store_cfg("s4"))
    order_id = _late_order(mirror_sandbox, store.db_name)
    try:
        restore_task(snapshot=result.snapshot, dry_run=True, json=True)
        plan = json.loads(capsys.readouterr().out)["stores"][0]["plan"]
        lose = next(c for c in plan["changes"] if c["kind"] == "lose")
        assert lose["target"] == "order" and f"#{order_id}" in lose["summary"] and LATE_EMAIL in lose["summary"]
        assert any("--discard-newer" in w for w in plan["warnings"])
        db_before, files_before = _checksums(mirror_sandbox, store.db_name), mh.tree_state(store.root)
        mirror_before = mh.tree_state(mirror_root)
        with pytest.raises(Exit) as refused:
            restore_task(snapshot=result.snapshot, yes=True)
        said = capsys.readouterr().err
        assert refused.value.code == 60 and "would lose 1 order(s)" in said and "--discard-newer" in said
        assert _checksums(mirror_sandbox, store.db_name) == db_before and mh.tree_state(store.root) == files_before
        assert mh.tree_state(mirror_root) == mirror_before  # no safety snapshot for a refused restore
    finally:
        with mirror_sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
            cur.execute("DELETE FROM oc_order WHERE email = %s", (LATE_EMAIL,))


def _snapshot_then_junk(mh: Any, sandbox: Sandbox, store_cfg: Callable[..., Any], store: Any) -> tuple[Any, Any, Path]:
    """A mirror of the store, its database's checksums then, and a file added after it (which a restore removes)."""
    result = mh.run_mirror(store_cfg(store.name))
    snapshot_db = _checksums(sandbox, store.db_name)
    junk = store.root / "junk-after-snapshot.php"
    junk.write_text("<?php // created after the snapshot\n")
    return result, snapshot_db, junk


def test_restore_applied_again_and_dry_run_three_ways_with_a_safety_snapshot_to_undo_it(
    mh: Any, mirror_sandbox: Sandbox, store_cfg: Callable[..., Any], restore_task: Callable[..., Any],
    capsys: pytest.CaptureFixture[str], mirror_root: Path,
) -> None:
    store = mirror_sandbox.store("s4")
    result, snapshot_db, junk = _snapshot_then_junk(mh, mirror_sandbox, store_cfg, store)
    _late_order(mirror_sandbox, store.db_name)
    with mirror_sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
        cur.execute("UPDATE oc_product SET price = price + 1")

    # --dry-run: the plan, and files, rows and the mirror folder byte for byte unchanged
    db_before, files_before = _checksums(mirror_sandbox, store.db_name), mh.tree_state(store.root)
    mirror_before = mh.tree_state(mirror_root)
    restore_task(snapshot=result.snapshot, discard_newer=True, dry_run=True)
    shown = capsys.readouterr().out
    assert "newer than the snapshot would be lost" in shown and "1 file(s) differ" in shown
    assert _checksums(mirror_sandbox, store.db_name) == db_before and mh.tree_state(store.root) == files_before
    assert mh.tree_state(mirror_root) == mirror_before

    # applied: the store is the snapshot again, and a snapshot of what it was is the way back
    restore_task(snapshot=result.snapshot, discard_newer=True, yes=True, json=True)
    done = json.loads(capsys.readouterr().out)["stores"][0]
    assert not junk.exists() and _orders_with_late_email(mirror_sandbox, store.db_name) == 0
    assert _checksums(mirror_sandbox, store.db_name) == snapshot_db
    undo = mirror_root / "mclient" / "s4" / done["undo_snapshot"]
    assert manifest.read(undo).note == f"before restoring {result.snapshot}"
    assert done["undo"] == f"fab restore s4 --snapshot {done['undo_snapshot']}"

    # again: nothing to restore, and nothing changes
    restore_task(snapshot=result.snapshot, yes=True, json=True)
    again = json.loads(capsys.readouterr().out)["stores"][0]["plan"]
    assert again["changes"] == [] and again["noop_reason"].startswith("nothing to restore")
    assert _checksums(mirror_sandbox, store.db_name) == snapshot_db

    # the way back: restoring the safety snapshot brings the late order and the file back
    restore_task(snapshot=done["undo_snapshot"], yes=True, json=True)
    capsys.readouterr()
    assert junk.exists() and _orders_with_late_email(mirror_sandbox, store.db_name) == 1
    restore_task(snapshot=result.snapshot, discard_newer=True, yes=True, json=True)  # leave s4 as it was
    capsys.readouterr()
    assert _checksums(mirror_sandbox, store.db_name) == snapshot_db and not junk.exists()


def _order_row(sandbox: Sandbox, database: str, order_id: int) -> tuple[object, ...] | None:
    with sandbox.db_admin(database) as db, db.cursor() as cur:
        cur.execute("SELECT * FROM oc_order WHERE order_id = %s", (order_id,))
        row = cur.fetchone()
        return tuple(row) if row is not None else None


def _other_orders(sandbox: Sandbox, database: str, order_id: int) -> list[tuple[object, ...]]:
    with sandbox.db_admin(database) as db, db.cursor() as cur:
        cur.execute("SELECT * FROM oc_order WHERE order_id <> %s ORDER BY order_id", (order_id,))
        return [tuple(r) for r in cur.fetchall()]


def test_restore_carrying_a_newer_order_dry_run_first_then_applied_then_plans_nothing(
    mh: Any, mirror_sandbox: Sandbox, store_cfg: Callable[..., Any], restore_task: Callable[..., Any],
    capsys: pytest.CaptureFixture[str], mirror_root: Path, tmp_path: Path,
) -> None:
    store = mirror_sandbox.store("s4")
    result, snapshot_db, junk = _snapshot_then_junk(mh, mirror_sandbox, store_cfg, store)
    order_id = _late_order(mirror_sandbox, store.db_name)
    snapshot_orders = _other_orders(mirror_sandbox, store.db_name, order_id)
    late = _order_row(mirror_sandbox, store.db_name, order_id)
    with mirror_sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
        cur.execute("UPDATE oc_product SET price = price + 1")
    try:
        db_before, files_before = _checksums(mirror_sandbox, store.db_name), mh.tree_state(store.root)
        mirror_before = mh.tree_state(mirror_root)

        # carry and discard together: refused, nothing read or changed
        with pytest.raises(Exit) as both:
            restore_task(snapshot=result.snapshot, carry_newer=True, discard_newer=True, yes=True)
        assert both.value.code == 50 and "contradict" in capsys.readouterr().err

        # --dry-run: the plan names what would be carried, loses nothing; files, rows, mirror byte for byte
        restore_task(snapshot=result.snapshot, carry_newer=True, dry_run=True, json=True)
        plan = json.loads(capsys.readouterr().out)["stores"][0]["plan"]
        carry = [c["summary"] for c in plan["changes"] if c["kind"] == "carry"]
        assert carry == [f"1 order(s) #{order_id} newer than the snapshot: carried over into the restored store, "
                         "ids kept"]
        assert not any(c["kind"] == "lose" for c in plan["changes"]) and not plan["warnings"]
        assert _checksums(mirror_sandbox, store.db_name) == db_before and mh.tree_state(store.root) == files_before
        assert mh.tree_state(mirror_root) == mirror_before

        # applied: the snapshot's files and rows, and the newer order back with its id and every column
        restore_task(snapshot=result.snapshot, carry_newer=True, yes=True, json=True)
        done = json.loads(capsys.readouterr().out)["stores"][0]
        assert any(s.startswith(f"carried over: 1 order(s) (#{order_id}) placed after snapshot {result.snapshot}")
                   for s in done["steps"]), done["steps"]
        assert not junk.exists() and _order_row(mirror_sandbox, store.db_name, order_id) == late
        after = _checksums(mirror_sandbox, store.db_name)
        assert {t: v for t, v in after.items() if not t.endswith(".oc_order")} == {
            t: v for t, v in snapshot_db.items() if not t.endswith(".oc_order")}
        assert _other_orders(mirror_sandbox, store.db_name, order_id) == snapshot_orders
        assert not list((tmp_path / "state" / "carryover").glob("*.json"))  # kept only when something stayed behind
        assert done["undo"] == f"fab restore s4 --snapshot {done['undo_snapshot']}"

        # again: nothing to restore, nothing changes
        restore_task(snapshot=result.snapshot, carry_newer=True, yes=True, json=True)
        again = json.loads(capsys.readouterr().out)["stores"][0]["plan"]
        assert again["changes"] == [] and again["noop_reason"].startswith("nothing to restore")
        assert _checksums(mirror_sandbox, store.db_name) == after

        # a plain restore now would lose the carried order: refused, as any newer order is
        with pytest.raises(Exit) as refused:
            restore_task(snapshot=result.snapshot, yes=True)
        said = capsys.readouterr().err
        assert refused.value.code == 60 and "would lose 1 order(s)" in said and "--carry-newer" in said
        assert _checksums(mirror_sandbox, store.db_name) == after
    finally:
        junk.unlink(missing_ok=True)
        restore_task(snapshot=result.snapshot, discard_newer=True, yes=True, json=True)  # leave s4 as it was
        capsys.readouterr()
    assert _checksums(mirror_sandbox, store.db_name) == snapshot_db


def test_a_restore_keeps_the_logs_and_sessions_the_mirror_leaves_out_where_storage_is_inside_the_web_root(
    mh: Any, mirror_sandbox: Sandbox, store_cfg: Callable[..., Any], restore_task: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """3.0's storage lives in the web root: its logs and sessions are not in the snapshot, so the restore must
    neither count them as differing nor delete them (a session folder's .htaccess among them)."""
    store = mirror_sandbox.store("s3")
    storage = store.root / "system" / "storage"
    result = mh.run_mirror(store_cfg("s3"))
    kept = {storage / "logs" / "error.log": "PHP Notice: written after the snapshot\n",
            storage / "session" / "sess_after_snapshot": "customer_id|i:7;",
            storage / "session" / ".htaccess": "Deny from all\n"}  # (the data cache is emptied: a planned step)
    for path, text in kept.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    try:
        restore_task(store="s3", snapshot=result.snapshot, dry_run=True, json=True)
        changes = json.loads(capsys.readouterr().out)["stores"][0]["plan"]["changes"]
        assert [c["summary"].split(" of ", 1)[1].split("; ")[0] for c in changes if c["kind"] == "files"] == [
            f"{result.snapshot} (0 file(s) differ"]
        restore_task(store="s3", snapshot=result.snapshot, yes=True, json=True)
        capsys.readouterr()
        assert {path: path.read_text() for path in kept} == kept
    finally:
        for path in kept:
            path.unlink(missing_ok=True)
