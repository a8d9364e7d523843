"""`fab products STORE FILE --list …` on real 3.0.5.1 and 4.1.0.4: the stock Featured module's product list,
and an Add to Quote extension's product flag described in the inventory (preset quote_module)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
import yaml
from realtier import REAL, db_state, fab, query

STORES = [REAL["3.0.5.1"], REAL["4.1.0.4"]]
VOLATILE = ("session", "customer_online", "product", "product_report", "product_viewed")


def featured(real, name) -> str:
    return query(real, name, "SELECT setting FROM {p}module WHERE code LIKE %s", ("%featured",))[0][0]


@pytest.mark.parametrize("name", STORES)
def test_featured_products_are_added_and_removed_then_plan_nothing_and_undo_exactly(name, tmp_path, real,
                                                                                   real_env) -> None:
    sheet = tmp_path / "featured.csv"
    # "Product 21" (id 47, HP LP3065) in, "product 11" (id 40, iPhone) out
    sheet.write_text("model,action\nProduct 21,add\nproduct 11,remove\n")
    before, setting = db_state(real, name, skip=VOLATILE), featured(real, name)

    dry = fab("products", name, str(sheet), "--list", "featured", "--match", "model", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "product 47" in dry.stdout and "product 40" in dry.stdout
    assert db_state(real, name, skip=VOLATILE) == before

    done = fab("products", name, str(sheet), "--list", "featured", "--match", "model", "--yes", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)["stores"][0]
    assert data["members"] == [43, 42, 30, 47] and "home" in data["verified"]
    assert json.loads(featured(real, name))["product"] == ["43", "42", "30", "47"]
    assert "product_id=47" in requests.get(real.store(name).url, timeout=30).text
    assert Path(data["undo_file"]).stat().st_mode & 0o777 == 0o600

    again = fab("products", name, str(sheet), "--list", "featured", "--match", "model", "--yes")
    assert again.returncode == 0 and "No changes" in again.stderr

    undone = fab("products", name, data["undo_file"], "--undo", "--yes")
    assert undone.returncode == 0, undone.stderr
    assert featured(real, name) == setting  # byte for byte, as OpenCart wrote it
    assert db_state(real, name, skip=VOLATILE) == before


@pytest.mark.parametrize("name", STORES)
def test_a_bad_row_refuses_the_whole_sheet_naming_file_and_row(name, tmp_path, real, real_env) -> None:
    sheet = tmp_path / "featured.csv"
    sheet.write_text("model,action\nProduct 21,add\nno such model,add\nproduct 11,maybe\n")
    before = featured(real, name)
    run = fab("products", name, str(sheet), "--list", "featured", "--match", "model", "--yes")
    assert run.returncode == 50, run.stderr
    assert "featured.csv" in run.stderr and "row 4" in run.stderr
    assert featured(real, name) == before


@pytest.mark.parametrize("name", STORES)
def test_an_add_to_quote_list_described_in_the_inventory_is_planned_applied_and_undone(name, tmp_path, real,
                                                                                       real_env) -> None:
    inventory = Path(real_env["FABRIC_MAINT_INVENTORY"])
    files = {p: p.read_text() for p in inventory.glob("*.yaml")}
    # What the Quote module's install() does to the store, then the store's inventory entry describing it.
    query(real, name, "ALTER TABLE {p}product ADD quote_status varchar(255) NOT NULL DEFAULT '0'")
    try:
        for path, text in files.items():
            data = yaml.safe_load(text)
            for store in data.get("stores", []):
                if store["name"] == name:
                    store["options"] = {"products": {"lists": {"quote": {"preset": "quote_module"}}}}
            path.write_text(yaml.safe_dump(data))
        sheet = tmp_path / "quote.csv"
        sheet.write_text("product_id\n40\n43\n")
        done = fab("products", name, str(sheet), "--list", "quote", "--match", "product_id", "--yes", "--json")
        assert done.returncode == 0, done.stderr
        assert query(real, name, "SELECT product_id FROM {p}product WHERE quote_status = '1' ORDER BY 1") == \
            [(40,), (43,)]
        again = fab("products", name, str(sheet), "--list", "quote", "--match", "product_id", "--yes")
        assert "No changes" in again.stderr
        undone = fab("products", name, json.loads(done.stdout)["stores"][0]["undo_file"], "--undo", "--yes")
        assert undone.returncode == 0, undone.stderr
        assert query(real, name, "SELECT COUNT(*) FROM {p}product WHERE quote_status = '1'") == [(0,)]
    finally:
        query(real, name, "ALTER TABLE {p}product DROP quote_status")
        for path, text in files.items():
            path.write_text(text)
