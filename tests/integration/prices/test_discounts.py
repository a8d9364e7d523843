"""`fab discounts` against the real sandbox: the release's schema, plan → apply, again "No changes",
dry run unchanged, undo exact, bad rows refused, connection dropped mid-apply."""

from __future__ import annotations

import pytest
from invoke.exceptions import Exit

from maint.errors import SqlError
from maint.facts.opencart import get_store_facts
from maint.pricing import service
from maint.remote.sql import open_db
from maint.remote.ssh import connect
from maint.tasks.common import TaskContext
from maint.tasks.prices import discounts, undo

DISCOUNTS = (
    "sku;Kundengruppe;Menge;Preis;von;bis\n"
    "SKU-00001;Default;10;-10%;;\n"
    "SKU-00001;Default;20;80,00;01.01.2027;31.12.2027\n"
    "SKU-00002;wholesale;5;50;;\n"
)


def discount_rows(price_sandbox, store: str, product_ids: tuple[int, ...]) -> list[tuple]:
    s = price_sandbox.store(store)
    with price_sandbox.db_admin(s.db_name) as db, db.cursor() as cur:
        cur.execute(
            "SELECT * FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND "
            "TABLE_NAME = %s AND COLUMN_NAME = 'type'",
            (f"{s.prefix}product_discount",),
        )
        extra = ", type, special" if cur.fetchone() else ""
        marks = ",".join(["%s"] * len(product_ids))
        cur.execute(
            f"SELECT product_id, customer_group_id, quantity, priority, CAST(price AS CHAR), "
            f"CAST(date_start AS CHAR), CAST(date_end AS CHAR){extra} FROM `{s.prefix}product_discount` "
            f"WHERE product_id IN ({marks}) ORDER BY 1, 2, 3",
            product_ids,
        )
        return list(cur.fetchall())


@pytest.mark.parametrize("store", ["s3", "s4", "s40"])
def test_discounts_replace_tiers_in_the_releases_schema_then_plan_nothing_and_undo(
    store, tmp_path, price_sandbox, task_context, store_state
) -> None:
    sheet = tmp_path / "discounts.csv"
    sheet.write_text(DISCOUNTS, encoding="utf-8")
    before = store_state(store)

    dry = discounts(task_context, store, str(sheet), dry_run=True)
    assert (dry["pairs_changed"], dry["rows_deleted"], dry["rows_inserted"]) == (2, 2, 3)
    assert store_state(store) == before

    done = discounts(task_context, store, str(sheet), yes=True)
    assert done["applied"]
    rows = discount_rows(price_sandbox, store, (1, 2))
    tiers = {(r[0], r[1], r[2]): r[3:] for r in rows}
    if store == "s4":  # 4.1: percent off is native (type P); fixed prices are type F; specials untouched
        assert tiers[(1, 1, 10)] == (1, "10.0000", "0000-00-00", "0000-00-00", "P", 0)
        assert tiers[(1, 1, 20)] == (1, "80.0000", "2027-01-01", "2027-12-31", "F", 0)
        assert tiers[(2, 3, 5)] == (1, "50.0000", "0000-00-00", "0000-00-00", "F", 0)
        assert (1, 3, 5) in tiers  # the Wholesale tier of product 1 was not in the file: kept
    else:  # 3.0: only fixed prices; -10 % of the base price is computed
        assert tiers[(1, 1, 20)] == (1, "80.0000", "2027-01-01", "2027-12-31")
        assert tiers[(2, 3, 5)] == (1, "50.0000", "0000-00-00", "0000-00-00")
        assert tiers[(1, 1, 10)][0] == 1 and tiers[(1, 1, 10)][2:] == ("0000-00-00", "0000-00-00")

    again = discounts(task_context, store, str(sheet), yes=True)
    assert again["pairs_changed"] == 0 and "already as in the file" in again["noop_reason"]

    undo(task_context, store, done["undo_file"], yes=True)
    after_undo = store_state(store)
    assert {k: v for k, v in after_undo.items() if k != "files"} == {
        k: v for k, v in before.items() if k != "files"
    }
    assert undo(task_context, store, done["undo_file"], yes=True)["to_restore"] == 0


def test_merge_keeps_tiers_the_file_does_not_name(tmp_path, price_sandbox, task_context) -> None:
    sheet = tmp_path / "merge.csv"
    sheet.write_text("sku,group,quantity,price\nSKU-00005,Default,10,99\n")
    before = discount_rows(price_sandbox, "s3", (5,))
    done = discounts(task_context, "s3", str(sheet), mode="merge", yes=True)
    after = discount_rows(price_sandbox, "s3", (5,))
    assert len(after) == len(before)  # the 10-tier was replaced, the 20-tier and the Wholesale tier kept
    assert [r for r in after if r[1] == 1 and r[2] == 10][0][4] == "99.0000"
    undo(task_context, "s3", done["undo_file"], yes=True)
    assert discount_rows(price_sandbox, "s3", (5,)) == before


def test_bad_discount_rows_are_all_listed_and_nothing_changes(
    tmp_path, task_context, store_state, capsys
) -> None:
    sheet = tmp_path / "bad.csv"
    sheet.write_text(
        "sku,group,quantity,price,date_start,date_end\n"
        "SKU-00001,Gold,10,5,,\n"
        "SKU-00002,Default,zero,5,,\n"
        "SKU-00003,Default,2,+5%,,\n"
        "SKU-00004,Default,2,5,31.12.2027,01.01.2027\n"
        "SKU-00005,Default,2,5,12/31/2027,\n"
        "SKU-00006,Default,2,5,,\n"
        "SKU-00006,Default,2,6,,\n"
    )
    before = store_state("s4")
    with pytest.raises(Exit) as caught:
        discounts(task_context, "s4", str(sheet), yes=True)
    assert caught.value.code == 50
    err = capsys.readouterr().err
    for reason in (
        "unknown customer group",
        "quantity: not a whole number",
        "must be negative",
        "ends before it starts",
        "date_start: not a date",
        "duplicate",
    ):
        assert reason in err
    assert store_state("s4") == before


@pytest.mark.parametrize("store", ["s3", "s4"])
def test_connection_killed_mid_discount_apply_leaves_nothing_half_applied(
    store, tmp_path, price_sandbox, task_context, store_state
) -> None:
    sheet = tmp_path / "discounts.csv"
    sheet.write_text(DISCOUNTS, encoding="utf-8")
    before = store_state(store)
    cfg = TaskContext.from_c(task_context).store(store)

    def kill(step: str, db) -> None:
        if step == "updated:product_discount":
            with price_sandbox.db_admin() as admin, admin.cursor() as cur:
                cur.execute("KILL CONNECTION %s", (db.thread_id(),))

    conn = connect(cfg)
    try:
        facts = get_store_facts(conn, cfg)
        with open_db(conn, facts.db, local_infile=True) as db:
            _, op = service.plan_discount_file(
                db, facts.db.prefix, facts.version, service.read_discount_sheet(sheet)
            )
            with pytest.raises(SqlError, match="the store is as before"):
                service.apply_changes(
                    conn, cfg, facts, db, [op], task="discounts", header={}, counts={}, hook=kill
                )
    finally:
        conn.close()
    assert store_state(store) == before
