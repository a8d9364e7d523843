"""A real 4.0.2.3 → 4.1.0.4 upgrade whose storefront verification fails after the maintenance window, with
an order placed in between: the rollback carries the customer (and address) and the order (and its
products, totals and history) over into the restored 4.0.2.3 schema, ids kept, with the stock the order
took; the store is otherwise back at its starting files and rows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from realtier import db_state, fab, files_state, query

from maint.sandbox import StoreSpec
from maint.sandbox.real import ReleaseSource, find_source, release_tree

EMAIL = "carried-real@example.com"
CARRIED = ("customer", "address", "order", "order_product", "order_total", "order_history")
SKIP = ("session", "customer_online", "product", *CARRIED)  # product: the stock the order took

# The home page of a broken 4.1.0.4: once maintenance is off (the home controller runs only then), the
# first visitor registers and orders, then the page dies on an undefined function.
ORDERING_HOME = f"""<?php
namespace Opencart\\Catalog\\Controller\\Common;
class Home extends \\Opencart\\System\\Engine\\Controller {{
	public function index(): void {{
		$p = DB_PREFIX;
		if (!$this->db->query("SELECT customer_id FROM `{{$p}}customer` WHERE email = '{EMAIL}'")->num_rows) {{
			$this->db->query("INSERT INTO `{{$p}}customer` SET customer_group_id = 1, store_id = 0, language_id = 1, firstname = 'Carried', lastname = 'Over', email = '{EMAIL}', status = 1, date_added = NOW()");
			$customer = $this->db->getLastId();
			$this->db->query("INSERT INTO `{{$p}}address` SET customer_id = '" . (int)$customer . "', firstname = 'Carried', lastname = 'Over', address_1 = '1 Carry Street', city = 'Carryton', postcode = '1000', country_id = 222");
			$this->db->query("INSERT INTO `{{$p}}order` SET customer_id = '" . (int)$customer . "', customer_group_id = 1, firstname = 'Carried', lastname = 'Over', email = '{EMAIL}', total = '101.0000', order_status_id = 1, currency_code = 'USD', currency_value = 1, store_name = 'Your Store', date_added = NOW(), date_modified = NOW()");
			$order = $this->db->getLastId();
			$this->db->query("INSERT INTO `{{$p}}order_product` SET order_id = '" . (int)$order . "', product_id = 40, name = 'iPhone', model = 'product 11', quantity = 1, price = '101.0000', total = '101.0000'");
			$this->db->query("INSERT INTO `{{$p}}order_total` SET order_id = '" . (int)$order . "', code = 'sub_total', title = 'Sub-Total', value = '101.0000', sort_order = 1");
			$this->db->query("INSERT INTO `{{$p}}order_total` SET order_id = '" . (int)$order . "', code = 'total', title = 'Total', value = '101.0000', sort_order = 9");
			$this->db->query("INSERT INTO `{{$p}}order_history` SET order_id = '" . (int)$order . "', order_status_id = 1, notify = 0, comment = '', date_added = NOW()");
			// As the order's first processing status does (catalog/model/checkout/order.php addHistory).
			$this->db->query("UPDATE `{{$p}}product` SET quantity = quantity - 1 WHERE product_id = 40");
		}}
		maint_a_broken_release_calls_what_does_not_exist();
	}}
}}
"""


def rows_of(sandbox, name: str) -> dict[str, list[tuple[object, ...]]]:
    return {t: query(sandbox, name, f"SELECT * FROM {{p}}{t} ORDER BY 1") for t in CARRIED}


def test_an_order_placed_after_the_window_survives_the_rollback_into_the_older_schema(
        real_sandbox_factory, tmp_path, monkeypatch) -> None:
    sandbox = real_sandbox_factory("upgrade-carry", StoreSpec("uc", "4.0.2.3"), client="upgrades")
    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    source = find_source()
    assert source is not None
    broken = tmp_path / "ordering-4.1.0.4"
    shutil.copytree(release_tree(ReleaseSource(source), "4.1.0.4"), broken, symlinks=True)
    (broken / "catalog" / "controller" / "common" / "home.php").write_text(ORDERING_HOME)
    root = sandbox.store("uc").root
    before, rest, files = rows_of(sandbox, "uc"), db_state(sandbox, "uc", skip=SKIP), files_state(root)
    products = query(sandbox, "uc", "SELECT * FROM {p}product ORDER BY product_id")
    stock = query(sandbox, "uc", "SELECT quantity FROM {p}product WHERE product_id = 40")[0][0]

    run = fab("upgrade", "uc", "--to", "4.1.0.4", "--release", str(broken), "--yes", "--no-rehearse", "--json",
              timeout=1800)
    assert run.returncode == 70, run.stdout + run.stderr
    data = json.loads(run.stdout)["stores"][0]
    assert data["rolled_back"], data["failure"]
    steps = data["rollback_steps"]

    after = rows_of(sandbox, "uc")
    new = {t: [r for r in after[t] if r not in before[t]] for t in CARRIED}
    assert {t: len(v) for t, v in new.items()} == {"customer": 1, "address": 1, "order": 1, "order_product": 1,
                                                    "order_total": 2, "order_history": 1}, (data["failure"], steps, run.stderr[-3000:])
    assert {t: [r for r in after[t] if r in before[t]] for t in CARRIED} == before  # nothing else moved
    customer, order = new["customer"][0][0], new["order"][0][0]
    assert EMAIL in new["order"][0] and customer in new["order"][0] and new["address"][0][1] == customer
    assert all(r[1] == order for t in ("order_product", "order_total", "order_history") for r in new[t])
    carried = [s for s in steps if s.startswith("carried over:")]
    assert carried == [f"carried over: 1 order(s) (#{order}), 1 customer(s) (#{customer}) placed after snapshot "
                       f"{data['snapshot']}: 7 row(s) in 6 table(s), ids kept"], steps
    assert not [s for s in steps if s.startswith(("discarded", "NOT carried"))], steps
    left_out = next(s for s in steps if s.startswith("left out (not in OpenCart 4.0.2.3's schema)"))
    assert "customer.commenter" in left_out
    assert db_state(sandbox, "uc", skip=SKIP) == rest and files_state(root) == files
    # The iPhone the carried order took stays taken; every other product is the snapshot's.
    assert f"stock as the live store had it after the carried orders: product 40 {stock} → {stock - 1}" in steps
    now = query(sandbox, "uc", "SELECT * FROM {p}product ORDER BY product_id")
    assert [r for r in now if r[0] != 40] == [r for r in products if r[0] != 40]
    assert query(sandbox, "uc", "SELECT quantity FROM {p}product WHERE product_id = 40") == [(stock - 1,)]
    assert "define('VERSION', '4.0.2.3');" in (root / "index.php").read_text()
    # The ids carried over stay taken: the next order gets the one after.
    assert query(sandbox, "uc", "SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
                 "AND TABLE_NAME = '{p}order'") == [(order + 1,)]
    assert sandbox.store("uc").db_password not in run.stdout + run.stderr
    assert not list(Path(sandbox.state_dir, "carryover").glob("*.json"))
