"""`fab products --list NAME` on the stand-in (3.0.5.1 and 4.1.0.4 shaped) for the lists an inventory describes,
one per kind besides Featured's module setting: the Quote module preset's product flag column, a setting holding
a JSON list, a table with a row per product. Each: `--dry-run` changes nothing, applied the list is as the sheet
asks, applied again "No changes", `--undo` puts every row back byte for byte."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import standin
import yaml
from standin import fab
from standin import rows as sql

from maint.billing.ledger import Ledger
from maint.sandbox import Sandbox, StoreSpec

# product: the storefront check's page views (3.0 product.viewed); the list's own column is compared by its query.
VOLATILE = ("session", "customer_online", "product", "product_viewed", "product_report")
STORES = ("l3", "l4")
# What each extension's install() leaves in the store, the inventory's description of it, and how to read it.
KINDS = {
    "column": (["ALTER TABLE {p}product ADD quote_status varchar(255) NOT NULL DEFAULT '0'"],
               {"preset": "quote_module"},
               "SELECT product_id FROM {p}product WHERE quote_status = '1' ORDER BY 1",
               ["ALTER TABLE {p}product DROP quote_status"]),
    "setting": (["INSERT INTO {p}setting (store_id, code, `key`, `value`, serialized) VALUES "
                 "(0, 'module_quote', 'module_quote_products', '[\"5\"]', 1)"],
                {"kind": "setting", "key": "module_quote_products"},
                "SELECT `value` FROM {p}setting WHERE `key` = 'module_quote_products'",
                ["DELETE FROM {p}setting WHERE `key` = 'module_quote_products'"]),
    "table": (["CREATE TABLE {p}quote_product (product_id int(11) NOT NULL PRIMARY KEY)",
               "INSERT INTO {p}quote_product VALUES (5)"],
              {"kind": "table", "table": "quote_product"},
              "SELECT product_id FROM {p}quote_product ORDER BY 1",
              ["DROP TABLE {p}quote_product"]),
}
AFTER = {"column": [(6,), (8,)], "setting": [('["6","8"]',)], "table": [(6,), (8,)]}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(tmp_path_factory.mktemp("lists"), (StoreSpec("l3", "3.0.5.1"), StoreSpec("l4", "4.1.0.4")),
                 client="lists") as sb:
        yield sb


def state(sandbox: Sandbox, name: str) -> tuple[dict[str, object], str]:
    return standin.state(sandbox, name, VOLATILE)


def describe(sandbox: Sandbox, name: str, lists: dict[str, object] | None) -> str:
    """Set (or, with None, drop) the store's options.products.lists in its inventory file; the old text."""
    path = next(Path(sandbox.env()["FABRIC_MAINT_INVENTORY"]).glob("lists.yaml"))
    text = path.read_text()
    data = yaml.safe_load(text)
    for store in data["stores"]:
        if store["name"] == name:
            store.pop("options", None)
            if lists is not None:
                store["options"] = {"products": {"lists": lists}}
    path.write_text(yaml.safe_dump(data))
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize("name", STORES)
@pytest.mark.parametrize("kind", KINDS)
def test_a_list_the_inventory_describes_is_applied_planned_as_nothing_dry_run_unchanged_and_undone(
    sandbox, tmp_path, name, kind
) -> None:
    setup, description, read, teardown = KINDS[kind]
    for statement in setup:
        sql(sandbox, name, statement)
    describe(sandbox, name, {"quote": description})
    try:
        sheet = tmp_path / "quote.csv"
        sheet.write_text("product_id,action\n6,add\n8,add\n5,remove\n")
        before, listed = state(sandbox, name), sql(sandbox, name, read)
        dry = fab(sandbox, "products", name, str(sheet), "--list", "quote", "--match", "product_id", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert state(sandbox, name) == before

        done = fab(sandbox, "products", name, str(sheet), "--list", "quote", "--match", "product_id", "--yes",
                   "--json")
        assert done.returncode == 0, done.stderr + done.stdout
        data = json.loads(done.stdout)["stores"][0]
        assert sql(sandbox, name, read) == AFTER[kind] and "home" in data["verified"]
        again = fab(sandbox, "products", name, str(sheet), "--list", "quote", "--match", "product_id", "--yes")
        assert again.returncode == 0 and "No changes" in again.stderr

        undone = fab(sandbox, "products", name, data["undo_file"], "--undo", "--yes")
        assert undone.returncode == 0, undone.stderr
        assert state(sandbox, name) == before and sql(sandbox, name, read) == listed
        # The ledger's notes name the undo file the change wrote and the one the undo read: `fab report`
        # tells the two runs apart by them, however close together they ran.
        with Ledger.in_state_dir(sandbox.state_dir) as ledger:
            notes = [i.note for i in ledger.items("lists") if i.task == "products" and i.outcome == "ok"][-2:]
        undo_name = Path(data["undo_file"]).name
        assert notes == [f"undo file {undo_name}", f"undo of {undo_name}"]
    finally:
        for statement in teardown:
            sql(sandbox, name, statement)
        describe(sandbox, name, None)
