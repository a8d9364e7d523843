"""Health checks against the real sandbox stores, healthy and broken in each way the issue lists."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from maint.health.history import History
from maint.health.model import State
from maint.sandbox.fixture_data import stock_traps

PROJECT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(PROJECT / "tests" / "unit" / "health"))
from health_sinks import webhook_sink  # noqa: E402


def traps(sandbox, store: str) -> tuple[int | None, int | None]:
    """(out-of-stock, needs-an-option) products of a sandbox store, as the stand-in builds them."""
    s = sandbox.store(store)
    db = sandbox.db_admin(s.db_name)
    try:
        with db.cursor() as cur:
            cur.execute(f"SELECT COUNT(*) FROM `{s.prefix}product`")
            count = cur.fetchone()[0]
    finally:
        db.close()
    return stock_traps(sandbox.seed, count)


PAGE_CHECKS = ("home", "product", "search", "cart", "checkout", "admin_login", "page_notices")
PAGES = PROJECT / "fixtures" / "health" / "pages"


def test_a_healthy_4x_store_passes_the_customer_walk_and_host_checks(check) -> None:
    results = check("s4")
    for name in (
        *PAGE_CHECKS,
        "maintenance",
        "install_dir",
        "db",
        "disk_free",
        "php_fatals",
        "versions_changed",
    ):
        assert results[name].state is State.OK, (name, results[name].evidence)
    assert results["tls"].state is State.SKIPPED and results["tls"].value == "n/a"
    assert results["cart"].evidence.startswith("product ") and "OCSESSID" in results["cart"].evidence
    assert isinstance(results["db"].value, float) and results["db"].value < 3
    assert results["mirror_age"].value == "unknown"


def test_30_with_php82_deprecations_is_caught_at_level_3(check) -> None:
    results = check("s3", "home", "page_notices", "error_display")
    assert results["home"].state is State.OK
    assert results["page_notices"].state is State.CRITICAL and results["page_notices"].level == 3
    assert "Deprecated" in results["page_notices"].evidence
    assert results["error_display"].state is State.CRITICAL and results["error_display"].level == 3


def test_store_down_is_level_1_on_reachable_and_its_pages_unknown(check, sandbox) -> None:
    sandbox.php_stop("s4")
    try:
        results = check("s4", "reachable", *PAGE_CHECKS, "db")
    finally:
        sandbox.php_start("s4")
    assert results["reachable"].state is State.CRITICAL and results["reachable"].level == 1
    assert "connection refused" in results["reachable"].evidence
    for name in PAGE_CHECKS:
        assert results[name].state is State.UNKNOWN and results[name].cause == "reachable", name
    assert results["db"].state is State.OK  # the host and database are fine: only the web server is down


def test_database_stopped_is_level_1_on_db_and_explains_the_pages(check, sandbox) -> None:
    sandbox.mariadb.stop()
    try:
        s4 = check("s4", "home", "db", "maintenance")
        s30 = check("s30", "home")
    finally:
        sandbox.mariadb.start()
    assert s4["db"].state is State.CRITICAL and s4["db"].level == 1 and "unreachable" in s4["db"].evidence
    assert s4["home"].state is State.UNKNOWN and s4["home"].cause == "db"
    assert "HTTP 200 database error" in s4["home"].evidence, s4["home"].evidence
    assert s4["maintenance"].state is State.UNKNOWN and s4["maintenance"].cause == "db"
    # Without the db check, the page is the finding itself.
    assert s30["home"].state is State.CRITICAL and s30["home"].evidence == "HTTP 500 with an empty body"


def test_maintenance_mode_is_level_1_unless_expected(check, setting) -> None:
    setting("s4", "config_maintenance", "1")
    results = check("s4", "home", "product", "maintenance")
    assert results["home"].state is State.UNKNOWN and "503 maintenance" in results["home"].evidence
    assert results["home"].cause == "maintenance"
    assert results["maintenance"].state is State.CRITICAL and results["maintenance"].level == 1
    planned = check("s4", "home", "maintenance", spec_changes={"maintenance": {"params": {"expected": True}}})
    assert planned["maintenance"].state is State.OK
    assert planned["home"].state is State.OK and "expected" in planned["home"].evidence


def test_empty_product_list_is_level_2(check, sandbox) -> None:
    s = sandbox.store("s4")
    db = sandbox.db_admin(s.db_name)
    try:
        with db.cursor() as cur:
            cur.execute(
                f"UPDATE `{s.prefix}product` SET status = status + 10"
            )  # hide every product, reversibly
        db.commit()
        results = check("s4", "home", "product", "search")
    finally:
        with db.cursor() as cur:
            cur.execute(f"UPDATE `{s.prefix}product` SET status = status - 10 WHERE status >= 10")
        db.commit()
        db.close()
    assert results["home"].state is State.OK
    assert results["product"].state is State.CRITICAL and results["product"].level == 2
    assert "empty product list" in results["product"].evidence


def test_one_alert_for_maintenance_mode_and_a_silent_recovery(check, setting, tmp_path) -> None:
    # Issue 12: maintenance mode on sent six alerts (home, maintenance, product, search, cart, checkout).
    with History(tmp_path / "health.sqlite") as h:
        assert (
            h.record(list(check("s40").values())) == [] or True
        )  # first run: the stock store's own findings
        setting("s40", "config_maintenance", "1")
        on = h.record(list(check("s40").values()))
        setting("s40", "config_maintenance", "0")
        off = h.record(list(check("s40").values()))
    assert [(t.check, t.new.value) for t in on if not t.recovered] == [("maintenance", "CRITICAL")]
    assert ("maintenance", "OK") in [(t.check, t.new.value) for t in off]
    assert not [t for t in off if not t.recovered]


def test_one_alert_for_a_wrong_database_password(check, sandbox, tmp_path) -> None:
    # Issue 12: a wrong DB password sent nine alerts.
    root = sandbox.store("s40").root
    configs = [root / "config.php", root / "admin" / "config.php"]
    original = {p: p.read_text() for p in configs}
    with History(tmp_path / "health.sqlite") as h:
        h.record(list(check("s40").values()))
        try:
            for path, text in original.items():
                path.write_text(re.sub(r"(define\('DB_PASSWORD', ')[^']*'", r"\1wrong-password'", text))
            broken = check("s40")
            changes = h.record(list(broken.values()))
        finally:
            for path, text in original.items():
                path.write_text(text)
        recovered = h.record(list(check("s40").values()))
    assert [(t.check, t.new.value) for t in changes if not t.recovered] == [("db", "CRITICAL")], [
        (r.check, r.state.value, r.evidence[:60]) for r in broken.values() if not r.state.healthy
    ]
    assert broken["home"].cause == "db" and "database error" in broken["home"].evidence
    assert "wrong-password" not in " ".join(r.evidence for r in broken.values())
    assert ("db", "OK") in [(t.check, t.new.value) for t in recovered]
    assert not [t for t in recovered if not t.recovered]


@pytest.mark.parametrize("store", ["s30", "s40", "s4"])
def test_cart_and_checkout_buy_a_product_a_customer_can_buy(check, sandbox, store) -> None:
    # Issue 12: the check bought the first product shown (stock sample data: out of stock), and the
    # store rightly sent the customer back to the cart. The stand-in's first home product is out of
    # stock and its second needs an option, as in the sample data.
    empty, needs_option = traps(sandbox, store)
    results = check(store, "home", "product", "cart", "checkout", "db")
    # Without the host checks, the pages say which product is out of stock or needs an option.
    pages_only = check(store, "home", "cart", "checkout")
    for name in ("home", "product", "cart", "checkout"):
        assert results[name].state is State.OK, (name, results[name].evidence)
    assert pages_only["checkout"].state is State.OK, pages_only["cart"].evidence
    for evidence in (results["cart"].evidence, pages_only["cart"].evidence):
        assert f"product {empty} " not in evidence and f"product {needs_option} " not in evidence
    assert "buyable" in results["cart"].evidence
    assert "first home-page product" in pages_only["cart"].evidence


def test_a_product_the_store_names_is_bought(check, sandbox) -> None:
    empty, _ = traps(sandbox, "s40")
    named = check("s40", "home", "cart", "checkout", spec_changes={"checkout": {"params": {"product_id": 3}}})
    assert named["checkout"].state is State.OK and "product 3 x1 (named" in named["cart"].evidence
    out = check(
        "s40", "home", "cart", "checkout", spec_changes={"checkout": {"params": {"product_id": empty}}}
    )
    assert out["checkout"].state is State.CRITICAL
    assert f"back to the cart (product {empty})" in out["checkout"].evidence


@pytest.mark.parametrize(
    ("store", "expect"), [("s40", "syntax error"), ("s3", "not the storefront"), ("s4", "Error: syntax")]
)
def test_a_parse_error_in_the_home_controller_is_level_1_and_a_new_error_in_the_log(
    check, sandbox, store, expect
) -> None:
    # Issue 12: real 4.0.2.3 answers 200 with only the error, real 3.0.3.8 200 with its deprecation
    # notices and nothing else; home was OK and php_fatals said "no new fatal errors".
    controller = sandbox.store(store).root / "catalog" / "controller" / "common" / "home.php"
    original = controller.read_text()
    check(store, "php_fatals")
    memos = check.memos
    try:
        controller.write_text("<?php error here\n")
        results = check(store, "home", "product", "php_fatals", memos=memos)
    finally:
        controller.write_text(original)
    home = results["home"]
    assert home.state is State.CRITICAL and home.level == 1, home.evidence
    assert expect in home.evidence, home.evidence
    assert results["product"].cause == "home"
    fatals = results["php_fatals"]
    assert fatals.value and fatals.value >= 1 and "home.php" in fatals.evidence, fatals.evidence
    assert fatals.state is not State.OK


@pytest.mark.parametrize("case", ["home_4023_parse_error_200", "home_3038_deprecations_only_200"])
def test_captured_dead_home_pages_are_level_1_with_an_excerpt(check, page_server, case) -> None:
    with page_server((PAGES / f"{case}.html").read_text()) as url:
        results = check("s4", "home", cfg_changes={"url": url})
    assert results["home"].state is State.CRITICAL and results["home"].level == 1
    assert (
        "Creation of dynamic property" in results["home"].evidence
        or "syntax error" in results["home"].evidence
    )


def test_fatal_error_with_http_200_is_level_1(check, page_server) -> None:
    with page_server((PAGES / "home_fatal_200.html").read_text()) as url:
        results = check("s4", "home", "product", cfg_changes={"url": url})
    assert results["home"].state is State.CRITICAL and results["home"].level == 1
    assert "PHP fatal error" in results["home"].evidence


def test_connection_refused_and_timeout(check, page_server) -> None:
    refused = check("s4", "home", cfg_changes={"url": "http://127.0.0.1:1/"})
    assert refused["home"].state is State.CRITICAL and "connection refused" in refused["home"].evidence
    with page_server("<html><title>slow</title></html>", delay=2.0) as url:
        slow = check("s4", "home", cfg_changes={"url": url}, spec_changes={"home": {"timeout": 0.5}})
    assert slow["home"].state is State.CRITICAL and "timed out" in slow["home"].evidence
    assert slow["home"].seconds < 1.5


def test_new_fatal_errors_in_the_log_since_the_last_run(check, sandbox) -> None:
    first = check("s4", "php_fatals")
    memos = check.memos
    assert first["php_fatals"].state is State.OK
    log = Path(memos["error_log"]["path"])
    existed = log.exists()
    original = log.read_bytes() if existed else b""
    try:
        with log.open("a") as f:
            f.write(
                '2026-11-26 4:00:00 - PHP Fatal error:  Uncaught Error: Class "Foo" not found in /x.php:3\n'
            )
        second = check("s4", "php_fatals", memos=memos)
        third = check("s4", "php_fatals", memos=check.memos)
    finally:
        if existed:
            log.write_bytes(original)
        else:
            log.unlink()
    assert second["php_fatals"].state is State.WARNING and second["php_fatals"].value == 1
    assert second["php_fatals"].level == 3 and 'Class "Foo" not found' in second["php_fatals"].evidence
    assert third["php_fatals"].value == 0


def test_history_and_alerts_only_on_change_against_the_real_store(check, sandbox, tmp_path) -> None:
    from maint.health.alerts import deliver

    sent = []
    with History(tmp_path / "health.sqlite") as h, webhook_sink() as hook:
        url = f"http://127.0.0.1:{hook.port}/"
        for step in ("up", "down", "down", "up"):
            if step == "down":
                sandbox.php_stop("s4")
            try:
                results = check("s4", "home")
            finally:
                sandbox.php_start("s4")
            sent += deliver(h.record(list(results.values())), {}, url)
        assert sent == []
        assert [m["transitions"][0]["to"] for m in hook.messages] == ["CRITICAL", "OK"]
        assert hook.messages[0]["transitions"][0]["level"] == 1
        assert len(h.changes("s4", since=0)) == 2


def test_fab_health_task_on_the_sandbox_shows_every_check(sandbox_env, capsys) -> None:
    import json

    import pytest
    from invoke import Config, Context
    from invoke.exceptions import Exit

    from maint.health.playbook import load_checks
    from maint.sandbox.orchestrator import maint_config
    from maint.tasks.health import health

    c = Context(config=Config(overrides={"maint": maint_config(sandbox_env)}))
    with pytest.raises(Exit) as err:  # advisories and error display make the stock stores critical
        health(c, "s4", json=True)
    data = json.loads(capsys.readouterr().out)
    assert err.value.code == data["exit_code"] == 2
    ids = [s.id for s in load_checks(PROJECT / "maint" / "playbooks" / "health.yaml")]
    assert [r["check"] for r in data["stores"][0]["checks"]] == ids
    assert Path(sandbox_env["FABRIC_MAINT_STATE_DIR"], "health.sqlite").is_file()
