"""The database connection dropped in the middle of applying, on MyISAM (3.0) and InnoDB (4.1): the store
ends exactly as before, and the error says what happened."""

from __future__ import annotations

from pathlib import Path

import pytest

from maint.errors import LockError, PreconditionError, SqlError
from maint.facts.opencart import get_store_facts
from maint.lock import remote_lock_path
from maint.pricing import service
from maint.pricing.undo import store_dir
from maint.remote.sql import open_db
from maint.remote.ssh import connect, home_dir
from maint.tasks.common import TaskContext


def apply_file(task_context, name: str, sheet: Path, hook) -> None:
    cfg = TaskContext.from_c(task_context).store(name)
    conn = connect(cfg)
    try:
        facts = get_store_facts(conn, cfg)
        with open_db(conn, facts.db, local_infile=True, store=name) as db:
            plan = service.plan_prices(db, facts.db.prefix, facts.version, service.read_price_sheet(sheet))
            service.apply_changes(
                conn,
                cfg,
                facts,
                db,
                service.price_operations(plan),
                task="prices",
                header={"file": sheet.name},
                counts={},
                hook=hook,
            )
    finally:
        conn.close()


def price_sheet(tmp_path: Path, count: int = 30) -> Path:
    path = tmp_path / "prices.csv"
    path.write_text("sku,price\n" + "".join(f"SKU-{i:05d},{i}.99\n" for i in range(1, count + 1)))
    return path


@pytest.mark.parametrize("store", ["s3", "s4"])
@pytest.mark.parametrize("step", ["locked", "updated:product", "verified"])
def test_connection_killed_mid_apply_leaves_nothing_half_applied(
    store, step, tmp_path, price_sandbox, task_context, store_state
) -> None:
    before = store_state(store)

    def kill(at: str, db) -> None:
        if at == step:
            with price_sandbox.db_admin() as admin, admin.cursor() as cur:
                cur.execute("KILL CONNECTION %s", (db.thread_id(),))

    with pytest.raises(SqlError) as caught:
        apply_file(task_context, store, price_sheet(tmp_path), kill)
    assert "the store is as before" in str(caught.value)
    assert store_state(store) == before


@pytest.mark.parametrize("store", ["s3", "s4"])
def test_a_product_changed_after_planning_stops_the_run_untouched(
    store, tmp_path, price_sandbox, task_context, prices_of
) -> None:
    sandbox_store = price_sandbox.store(store)
    original = prices_of(store, [3])[3]

    def meddle(at: str, db) -> None:
        if at == "loaded":
            with price_sandbox.db_admin(sandbox_store.db_name) as admin, admin.cursor() as cur:
                cur.execute(f"UPDATE `{sandbox_store.prefix}product` SET price = 1.2345 WHERE product_id = 3")

    try:
        with pytest.raises(PreconditionError, match="changed or vanished since the plan"):
            apply_file(task_context, store, price_sheet(tmp_path), meddle)
        assert prices_of(store, [1, 3])[3] == "1.2345"
        assert prices_of(store, [1])[1] != "1.9900"
    finally:
        with price_sandbox.db_admin(sandbox_store.db_name) as admin, admin.cursor() as cur:
            cur.execute(
                f"UPDATE `{sandbox_store.prefix}product` SET price = %s WHERE product_id = 3", (original,)
            )


def test_the_server_cannot_pull_local_files_outside_our_own_load_statements(task_context, tmp_path) -> None:
    from maint.pricing.apply import limit_local_infile

    secret = tmp_path / "id_rsa"
    secret.write_text("not for the server")
    cfg = TaskContext.from_c(task_context).store("s4")
    conn = connect(cfg)
    try:
        facts = get_store_facts(conn, cfg)
        with open_db(conn, facts.db, local_infile=True) as db:
            limit_local_infile(db)
            with db.cursor() as cur:
                cur.execute("CREATE TEMPORARY TABLE t (line TEXT)")
                with pytest.raises(RuntimeError, match="local_infile option is false"):
                    cur.execute("LOAD DATA LOCAL INFILE %s INTO TABLE t", (str(secret),))
    finally:
        conn.close()


@pytest.mark.parametrize("store", ["s3", "s4"])
def test_a_store_locked_by_another_run_is_left_untouched_without_undo_file_or_audit(
    store, tmp_path, price_sandbox, task_context, store_state
) -> None:
    # apply_changes takes the lock in a thread while it writes the undo file and loads the change list:
    # a lock held elsewhere must still stop it before any change, and leave no trace of the run
    cfg = TaskContext.from_c(task_context).store(store)
    conn = connect(cfg)
    try:
        held = Path(home_dir(conn)) / remote_lock_path(cfg)  # the sandbox's host is this machine
    finally:
        conn.close()
    audit = store_dir(cfg.state_dir, cfg.client, cfg.store)
    before, undo_files = store_state(store), sorted(audit.glob("*.undo")) if audit.exists() else []
    audit_lines = (audit / "audit.jsonl").read_text() if (audit / "audit.jsonl").exists() else ""
    held.mkdir()
    (held / "holder").write_text('{"user": "someone", "machine": "elsewhere", "pid": 1, "task": "prices"}')
    try:
        with pytest.raises(LockError, match="someone@elsewhere"):
            apply_file(task_context, store, price_sheet(tmp_path), hook=None)
        assert held.exists()  # someone else's lock is never removed
    finally:
        (held / "holder").unlink()
        held.rmdir()
    assert store_state(store) == before
    assert sorted(audit.glob("*.undo")) == undo_files
    assert ((audit / "audit.jsonl").read_text() if (audit / "audit.jsonl").exists() else "") == audit_lines
    apply_file(task_context, store, price_sheet(tmp_path), hook=None)  # free again: applies, and unlocks
    assert not held.exists()
    assert len(sorted(audit.glob("*.undo"))) == len(undo_files) + 1


@pytest.mark.parametrize(("row_bytes", "engine"), [(128, "MEMORY"), (1, "InnoDB")])
def test_the_change_list_loads_whole_in_memory_or_else_on_disk(
    row_bytes, engine, task_context, monkeypatch
) -> None:
    # 3,000 rows in a MEMORY table sized for 3,000 bytes (the server's minimum is 16 KB) fill it: the load
    # starts over on disk and still carries every row
    from decimal import Decimal

    from maint.pricing import apply
    from maint.pricing.undo import ColumnUpdate

    monkeypatch.setattr(apply, "MEMORY_ROW_BYTES", row_bytes)
    monkeypatch.setattr(apply, "MEMORY_SLACK_BYTES", 0)
    rows = [(i, Decimal("1.5"), None if i % 2 else Decimal(i)) for i in range(1, 3001)]
    op = ColumnUpdate("product", "product_id", "price", "DECIMAL(15,4)", rows)
    cfg = TaskContext.from_c(task_context).store("s4")
    conn = connect(cfg)
    try:
        facts = get_store_facts(conn, cfg)
        with open_db(conn, facts.db, local_infile=True, store="s4") as db:
            apply.limit_local_infile(db)
            apply.load_temp_tables(db, [op])
            with db.cursor() as cur:
                cur.execute("SELECT COUNT(*), SUM(old_v), COUNT(new_v), SUM(new_v) FROM maint_tmp_0")
                loaded = cur.fetchone()
                cur.execute("SHOW CREATE TABLE maint_tmp_0")
                definition = cur.fetchone()[1]
                cur.execute("SELECT @@SESSION.max_heap_table_size = @@GLOBAL.max_heap_table_size")
                restored = cur.fetchone()[0]
    finally:
        conn.close()
    assert loaded == (3000, Decimal("4500.0000"), 1500, Decimal(sum(range(2, 3001, 2))))
    assert f"ENGINE={engine}" in definition
    assert restored == 1  # the session's heap limit is back as it was
