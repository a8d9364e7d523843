"""Orders placed after the maintenance window survive the rollback of a failed upgrade: the stand-in's
broken release lets the first customer after the window register and order (as one would while the
storefront is verified), then fails every page; the rollback carries that customer, order and cart row
over into the restored store. On 4.0.2.3 → 4.1.0.4 the customer row has a column the older schema lacks
(commenter). `fab rollback --carry-newer` does the same on request, proven three ways."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from standin import VOLATILE, fab, rows, state

from maint.sandbox import Sandbox, StoreSpec
from maint.sandbox.fixture import export_release

CARRIED = ("customer", "order", "cart")
EMAIL = "carried@example.com"

# The storefront of a broken release: once maintenance is off, the first visitor registers and orders
# (with a cart row); then the page dies (an undefined function: a PHP fatal the verification sees).
ORDERING_CATALOG = """<?php
if ((string)FxApp::setting('config_maintenance', '0') !== '1') {
	FxApp::$db->query("SET SESSION sql_mode = ''");
	if (!FxApp::$db->row('SELECT customer_id FROM ' . FxApp::table('customer') . " WHERE email = '@EMAIL@'")) {
		FxApp::$db->query('INSERT INTO ' . FxApp::table('customer') . " SET customer_group_id = 1, firstname = 'Carried', lastname = 'Over', email = '@EMAIL@', status = 1, date_added = NOW()");
		$customer = FxApp::$db->getLastId();
		FxApp::$db->query('INSERT INTO ' . FxApp::table('order') . ' SET customer_id = ' . $customer . ", firstname = 'Carried', lastname = 'Over', email = '@EMAIL@', total = 42.5, order_status_id = 1, currency_code = 'EUR', date_added = NOW(), date_modified = NOW()");
		FxApp::$db->query('INSERT INTO ' . FxApp::table('cart') . ' SET customer_id = ' . $customer . ", session_id = 'carried', product_id = 1, quantity = 2, date_added = NOW()");
	}
}
fx_a_broken_release_calls_what_does_not_exist();
""".replace("@EMAIL@", EMAIL)


@pytest.fixture(scope="module")
def carry_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(tmp_path_factory.mktemp("carry-sandbox"), (StoreSpec("c3", "3.0.3.8"), StoreSpec("c4", "4.0.2.3")),
                 client="carry") as sb:
        yield sb


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("carry-releases")
    out = {}
    for version in ("3.0.5.1", "4.1.0.4"):
        export_release(version, base / version)
        out[version] = base / version
    return out


def ordering_release(releases: dict[str, Path], version: str, tmp_path: Path) -> Path:
    broken = tmp_path / f"ordering-{version}"
    shutil.copytree(releases[version], broken)
    (broken / "system" / "fixture" / "catalog.php").write_text(ORDERING_CATALOG)
    return broken


def rows_of(sandbox: Sandbox, name: str) -> dict[str, list[tuple[object, ...]]]:
    keys = {"customer": "customer_id", "order": "order_id", "cart": "cart_id"}
    return {t: rows(sandbox, name, f"SELECT * FROM `{{p}}{t}` ORDER BY {k}") for t, k in keys.items()}


def rest_of(sandbox: Sandbox, name: str) -> tuple[dict[str, object], str]:
    """Every table but the carried ones (and those a page visit writes to), and every file."""
    return state(sandbox, name, volatile=(*VOLATILE, *CARRIED))


@pytest.mark.parametrize(("name", "target", "left_out"), [("c3", "3.0.5.1", ""), ("c4", "4.1.0.4", "customer.commenter")])
def test_an_order_placed_after_the_window_is_carried_over_the_rollback_of_a_failed_verification(
        carry_sandbox, releases, tmp_path, name, target, left_out) -> None:
    before, rest = rows_of(carry_sandbox, name), rest_of(carry_sandbox, name)
    run = fab(carry_sandbox, "upgrade", name, "--to", target, "--release", ordering_release(releases, target, tmp_path)
              .as_posix(), "--yes", "--no-rehearse", "--json")
    assert run.returncode == 70, run.stdout + run.stderr
    data = json.loads(run.stdout)["stores"][0]
    assert data["rolled_back"] and "verify failed" in data["error"]
    after = rows_of(carry_sandbox, name)
    customer = next(r for r in after["customer"] if EMAIL in r)
    order = next(r for r in after["order"] if EMAIL in r)
    cart = next(r for r in after["cart"] if "carried" in r)
    # The rows the customer placed are back with their ids; nothing else in those tables moved.
    assert {t: [r for r in after[t] if r not in (customer, order, cart)] for t in after} == before
    assert customer[0] > max((r[0] for r in before["customer"]), default=0)
    assert order[0] > max((r[0] for r in before["order"]), default=0) and customer[0] in order
    carried = [s for s in data["rollback_steps"] if s.startswith("carried over:")]
    assert carried == [f"carried over: 1 order(s) (#{order[0]}), 1 customer(s) (#{customer[0]}) placed after snapshot "
                       f"{data['snapshot']}: 3 row(s) in 3 table(s), ids kept"], data["rollback_steps"]
    assert not [s for s in data["rollback_steps"] if s.startswith(("discarded", "NOT carried"))]
    if left_out:
        assert f"left out (not in OpenCart {data['from']}'s schema): {left_out}" in data["rollback_steps"]
    assert rest_of(carry_sandbox, name) == rest
    assert f"define('VERSION', '{data['from']}');" in (carry_sandbox.store(name).root / "index.php").read_text()
    assert not list((carry_sandbox.state_dir / "carryover").glob("*.json"))  # kept only when something stayed behind
    assert carry_sandbox.store(name).db_password not in run.stdout + run.stderr


def late_customer_and_order(sandbox: Sandbox, name: str, email: str) -> tuple[int, int]:
    store = sandbox.store(name)
    with sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
        cur.execute("SET SESSION sql_mode = ''")
        cur.execute(f"INSERT INTO `{store.prefix}customer` SET customer_group_id = 1, firstname = 'Late', "
                    "lastname = 'Buyer', email = %s, status = 1, date_added = NOW()", (email,))
        customer = int(cur.lastrowid)
        cur.execute(f"INSERT INTO `{store.prefix}order` SET customer_id = %s, firstname = 'Late', lastname = 'Buyer', "
                    "email = %s, total = 9.5, date_added = NOW(), date_modified = NOW()", (customer, email))
        db.commit()
        return customer, int(cur.lastrowid)


def test_rollback_on_request_carries_newer_orders_over_dry_run_first_then_plans_nothing(carry_sandbox, releases) -> None:
    name = "c4"  # back at 4.0.2.3 after the automatic rollback
    before, rest = rows_of(carry_sandbox, name), rest_of(carry_sandbox, name)
    done = fab(carry_sandbox, "upgrade", name, "--to", "4.1.0.4", "--release", str(releases["4.1.0.4"]), "--yes",
               "--no-rehearse")
    assert done.returncode == 0, done.stdout + done.stderr
    customer, order = late_customer_and_order(carry_sandbox, name, "on-request@example.com")
    upgraded = state(carry_sandbox, name)

    both = fab(carry_sandbox, "rollback", name, "--carry-newer", "--discard-newer", "--yes")
    assert both.returncode != 0 and "contradict" in both.stderr and state(carry_sandbox, name) == upgraded

    dry = fab(carry_sandbox, "rollback", name, "--carry-newer", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)["stores"][0]["plan"]
    carry = [ch["summary"] for ch in plan["changes"] if ch["kind"] == "carry"]
    assert carry == [f"1 order(s) #{order} newer than the snapshot: carried over into the restored store, ids kept",
                     f"1 customer(s) #{customer} with order 1 row(s) newer than the snapshot: carried over into the "
                     "restored store, ids kept"]
    assert not [ch for ch in plan["changes"] if ch["kind"] == "lose"] and not plan["warnings"]
    assert state(carry_sandbox, name) == upgraded

    back = fab(carry_sandbox, "rollback", name, "--carry-newer", "--yes")
    assert back.returncode == 0, back.stdout + back.stderr
    assert f"carried over: 1 order(s) (#{order}), 1 customer(s) (#{customer})" in back.stdout
    assert "left out (not in OpenCart 4.0.2.3's schema): customer.commenter" in back.stdout
    after = rows_of(carry_sandbox, name)
    assert [r[0] for r in after["order"] if r not in before["order"]] == [order]
    assert [r[0] for r in after["customer"] if r not in before["customer"]] == [customer]
    assert after["cart"] == before["cart"] and rest_of(carry_sandbox, name) == rest

    again = fab(carry_sandbox, "rollback", name, "--carry-newer", "--yes")
    assert again.returncode == 0 and "No changes" in again.stderr
