"""`fab prices` and `fab undo` against the real sandbox: plan → apply, re-apply, dry run, undo, bad files."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from invoke.exceptions import Exit

from maint.tasks.prices import prices, undo

CORPUS = Path(__file__).resolve().parents[3] / "fixtures" / "sheets"
BAD_FILES = sorted(p.name for p in CORPUS.iterdir() if p.name.startswith("bad_"))


def price_list(folder: Path, rows: list[tuple[str, str]], name: str = "prices.csv") -> Path:
    path = folder / name
    path.write_text(
        "Artikelnummer;Preis\n" + "".join(f"{sku};{price}\n" for sku, price in rows), encoding="utf-8"
    )
    return path


@pytest.mark.parametrize("store", ["s3", "s4"])
def test_prices_apply_as_planned_then_plan_nothing_and_undo_restores_exactly(
    store, tmp_path, price_sandbox, task_context, store_state, prices_of
) -> None:
    old = prices_of(store, [1, 2, 3])
    sheet = price_list(tmp_path, [("SKU-00001", "12,50 €"), ("SKU-00002", "+5%"), ("SKU-00003", old[3])])

    cache = Path(price_sandbox.store(store).storage) / "cache"
    stale, unrelated = cache / "cache.product.0a1b2c.4102444800", cache / "cache.currency.4102444800"
    stale.write_text("old prices")
    unrelated.write_text("keep")
    before = store_state(store)

    dry = prices(task_context, store, str(sheet), dry_run=True, allow_large_changes=True)
    assert (dry["changes"], dry["unchanged"], dry["applied"]) == (2, 1, False)
    assert store_state(store) == before and stale.exists()

    done = prices(
        task_context,
        store,
        str(sheet),
        yes=True,
        allow_large_changes=True,
        diff_csv=str(tmp_path / "diff.csv"),
    )
    assert done["applied"] and done["rows_changed"] == 2 and done["warnings"] == []
    assert not stale.exists() and unrelated.exists()  # 4.x serves listings from cache.product.* for an hour
    new = prices_of(store, [1, 2, 3])
    planned = {c["product_id"]: str(c["new"]) for c in done["largest"]}
    assert new[1] == "12.5000" == planned[1]
    assert new[2] == planned[2] and new[3] == old[3]
    assert len((tmp_path / "diff.csv").read_text().splitlines()) == 3

    again = prices(task_context, store, str(sheet), yes=True, allow_large_changes=True)
    assert again["changes"] == 0 and "already applied" in again["noop_reason"]  # "+5%" must not compound

    restored = undo(task_context, store, done["undo_file"], yes=True)
    assert restored["rows_changed"] == 2
    assert prices_of(store, [1, 2, 3]) == old
    assert {k: v for k, v in store_state(store).items() if k != "files"} == {
        k: v for k, v in before.items() if k != "files"
    }
    assert undo(task_context, store, done["undo_file"], yes=True)["to_restore"] == 0


@pytest.mark.parametrize("store", ["s3", "s4"])
def test_a_plain_list_is_stored_as_written_then_plans_nothing_and_undoes_exactly(
    store, tmp_path, task_context, store_state, prices_of
) -> None:
    # "12.5" and "3" go into the store (and the undo file) as written; "10.00005" is rounded first
    old = prices_of(store, [11, 12, 13, 14])
    sheet = tmp_path / "plain.csv"
    sheet.write_text("sku,price\nSKU-00011,12.5\nSKU-00012,3\nSKU-00013,10.00005\nsku-00014 ,0.5\n")
    before = store_state(store)
    done = prices(task_context, store, str(sheet), yes=True, allow_large_changes=True)
    assert done["applied"] and done["rows_changed"] == 4
    assert prices_of(store, [11, 12, 13, 14]) == {11: "12.5000", 12: "3.0000", 13: "10.0001", 14: "0.5000"}
    assert {str(c["new"]) for c in done["largest"]} == {"12.5000", "3.0000", "10.0001", "0.5000"}
    again = prices(task_context, store, str(sheet), yes=True)
    assert (again["changes"], again["unchanged"]) == (0, 4)
    assert undo(task_context, store, done["undo_file"], yes=True)["rows_changed"] == 4
    assert prices_of(store, [11, 12, 13, 14]) == old
    assert {k: v for k, v in store_state(store).items() if k != "files"} == {
        k: v for k, v in before.items() if k != "files"
    }


def test_absolute_price_list_applied_twice_plans_nothing(tmp_path, task_context, prices_of) -> None:
    old = prices_of("s4", [5])
    sheet = price_list(tmp_path, [("SKU-00005", str(old[5]).replace(".", ","))])
    result = prices(task_context, "s4", str(sheet), yes=True)
    assert result["changes"] == 0 and result["unchanged"] == 1 and not result["applied"]


@pytest.mark.parametrize("name", BAD_FILES)
def test_every_bad_file_is_refused_naming_the_file_and_nothing_changes(
    name, task_context, store_state, capsys
) -> None:
    before = store_state("s3")
    sheet = "Preise" if name == "bad_missing_sheet.xlsx" else ""
    with pytest.raises(Exit) as caught:
        prices(task_context, "s3", str(CORPUS / name), sheet=sheet, yes=True)
    assert caught.value.code == 50
    err = capsys.readouterr().err
    assert name in err
    assert store_state("s3") == before


def test_a_huge_file_full_of_bad_rows_is_refused_quickly_and_changes_nothing(
    tmp_path, task_context, store_state, capsys
) -> None:
    before = store_state("s4")
    rows = [(f"SKU-{i % 40 + 1:05d}", "10") for i in range(150_000)]  # 40 products, then 149,960 duplicates
    rows[-1] = ("SKU-00001", "ten euros")
    sheet = price_list(tmp_path, rows, "huge.csv")
    with pytest.raises(Exit) as caught:
        prices(task_context, "s4", str(sheet), yes=True)
    assert caught.value.code == 50
    err = capsys.readouterr().err
    # 149,959 duplicates and the text price of the last row; the table lists 50 and counts the rest
    assert "149960 problem(s) in huge.csv" in err and "149910 more" in err
    assert store_state("s4") == before


def test_skip_invalid_applies_the_valid_rows_and_lists_the_rest(tmp_path, task_context, prices_of) -> None:
    old = prices_of("s3", [7])
    sheet = price_list(tmp_path, [("SKU-00007", "77,70"), ("NOPE", "1"), ("SKU-00008", "call us")])
    result = prices(task_context, "s3", str(sheet), yes=True, skip_invalid=True, allow_large_changes=True)
    assert result["rows_changed"] == 1 and len(result["skipped"]) == 2
    assert prices_of("s3", [7]) == {7: "77.7000"}
    undo(task_context, "s3", result["undo_file"], yes=True)
    assert prices_of("s3", [7]) == old


def test_large_changes_need_permission_and_change_nothing(tmp_path, task_context, store_state) -> None:
    before = store_state("s3")
    sheet = price_list(tmp_path, [("SKU-00009", "0,01")])
    with pytest.raises(Exit) as caught:
        prices(task_context, "s3", str(sheet), yes=True)
    assert caught.value.code == 60
    assert store_state("s3") == before


def special_rows(price_sandbox, store: str) -> list[tuple]:
    s = price_sandbox.store(store)
    with price_sandbox.db_admin(s.db_name) as db, db.cursor() as cur:
        if store == "s4":
            cur.execute(
                f"SELECT product_id, customer_group_id, CAST(price AS CHAR), CAST(date_start AS CHAR), "
                f"CAST(date_end AS CHAR), quantity, type FROM `{s.prefix}product_discount` "
                "WHERE special = 1 AND product_id IN (1, 2) ORDER BY 1"
            )
        else:
            cur.execute(
                f"SELECT product_id, customer_group_id, CAST(price AS CHAR), CAST(date_start AS CHAR), "
                f"CAST(date_end AS CHAR) FROM `{s.prefix}product_special` "
                "WHERE product_id IN (1, 2) ORDER BY 1"
            )
        return list(cur.fetchall())


@pytest.mark.parametrize("store", ["s3", "s4", "s40"])
def test_special_prices_with_dates_land_in_the_releases_table_and_undo(
    store, tmp_path, price_sandbox, task_context, store_state, prices_of
) -> None:
    before = store_state(store)
    old = prices_of(store, [1])[1]
    sheet = tmp_path / "specials.csv"
    sheet.write_text(
        "Artikelnummer;Preis;Sonderpreis;Aktion von;Aktion bis\n"
        "SKU-00001;;-20%;01.12.2026;31.12.2026\n"
        "SKU-00002;99,00;79,00;;\n",
        encoding="utf-8",
    )
    done = prices(task_context, store, str(sheet), yes=True, allow_large_changes=True)
    assert (done["changes"], done["specials_changed"]) == (1, 2)
    # a percent special is rounded half up to the currency's 2 decimals, as any percent change
    twenty_off = f"{(Decimal(old) * Decimal('0.8')).quantize(Decimal('0.01'), ROUND_HALF_UP):.4f}"
    tail = (1, "F") if store == "s4" else ()
    assert special_rows(price_sandbox, store) == [
        (1, 1, twenty_off, "2026-12-01", "2026-12-31", *tail),
        (2, 1, "79.0000", "0000-00-00", "0000-00-00", *tail),
    ]
    assert prices_of(store, [1, 2]) == {1: old, 2: "99.0000"}
    again = prices(task_context, store, str(sheet), yes=True, allow_large_changes=True)
    assert again["changes"] == again["specials_changed"] == 0
    undo(task_context, store, done["undo_file"], yes=True)
    assert {k: v for k, v in store_state(store).items() if k != "files"} == {
        k: v for k, v in before.items() if k != "files"
    }


@pytest.mark.parametrize("store", ["s3", "s4"])
def test_packed_full_scan_reads_the_same_catalog_as_keyed_queries(store, task_context, monkeypatch) -> None:
    from maint.errors import SqlError
    from maint.facts.opencart import get_store_facts
    from maint.pricing import catalog
    from maint.pricing.schema import price_schema
    from maint.remote.sql import connect_db, open_db
    from maint.remote.ssh import connect
    from maint.tasks.common import TaskContext

    cfg = TaskContext.from_c(task_context).store(store)
    conn = connect(cfg)
    try:
        facts = get_store_facts(conn, cfg)
        keys = [f"sku-{i:05d}" for i in range(1, 45)]  # lower case, and 4 that don't exist
        with open_db(conn, facts.db) as db:
            schema = price_schema(facts.version)
            keyed = catalog.read_catalog(db, facts.db.prefix, schema, "sku", keys)
            monkeypatch.setattr(catalog, "FULL_SCAN_ABOVE", 0)
            monkeypatch.setattr(catalog, "PACKED_ROWS", 7)  # several chunks
            packed = catalog.read_catalog(db, facts.db.prefix, schema, "sku", keys)
            early = catalog.CatalogPrefetch(db, facts.db.prefix, schema, "sku")  # started before parsing
            prefetched = catalog.read_catalog(db, facts.db.prefix, schema, "sku", keys, prefetched=early)
            unused = catalog.CatalogPrefetch(db, facts.db.prefix, schema, "sku")
            monkeypatch.setattr(catalog, "FULL_SCAN_ABOVE", 5000)  # too few keys: waited for, not used
            few = catalog.read_catalog(db, facts.db.prefix, schema, "sku", keys, prefetched=unused)
            monkeypatch.setattr(catalog, "FULL_SCAN_ABOVE", 0)
            monkeypatch.setattr(catalog, "_estimated_rows", lambda *args: 1)  # "surely one chunk"
            whole = catalog.read_catalog(db, facts.db.prefix, schema, "sku", keys)
            monkeypatch.setattr(catalog, "GROUP_CONCAT_BYTES", 400)  # ... but it was cut: read in chunks
            cut = catalog.read_catalog(db, facts.db.prefix, schema, "sku", keys)
            monkeypatch.setattr(catalog, "SPLIT_ABOVE", 1)  # two halves at once, on two connections
            opened: list[object] = []

            def second():  # type: ignore[no-untyped-def]
                opened.append(connect_db(conn, facts.db))
                return opened[-1]

            early = catalog.CatalogPrefetch(db, facts.db.prefix, schema, "sku", second=second)
            halves = catalog.read_catalog(db, facts.db.prefix, schema, "sku", keys, prefetched=early)
            assert len(opened) == 1 and not opened[0].open  # type: ignore[attr-defined]  # closed after

            def refused():  # type: ignore[no-untyped-def]
                raise SqlError("too many connections")

            early = catalog.CatalogPrefetch(db, facts.db.prefix, schema, "sku", second=refused)
            one_after_another = catalog.read_catalog(db, facts.db.prefix, schema, "sku", keys, prefetched=early)
    finally:
        conn.close()
    assert len(keyed) == 40
    assert packed == keyed == prefetched == few == whole == cut == halves == one_after_another
