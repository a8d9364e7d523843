"""One cause, one alert: dependencies declared in health.yaml explain the failures they cause."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from maint.errors import ConfigError, PlaybookError
from maint.health.dependencies import apply_dependencies
from maint.health.history import History
from maint.health.model import CheckResult, State
from maint.health.playbook import apply_overrides, load_checks

PROJECT = Path(__file__).resolve().parents[3]
SPECS = load_checks(PROJECT / "maint" / "playbooks" / "health.yaml")
LEVELS = {s.id: s.level for s in SPECS}


def run(**states: State) -> list[CheckResult]:
    """Every playbook check OK except the ones given, then dependencies applied."""
    results = [
        CheckResult(
            "s4", s.id, states.get(s.id, State.OK), LEVELS[s.id] if states.get(s.id) is State.CRITICAL else None,
            None, f"{s.id} evidence",
        )
        for s in SPECS
    ]  # fmt: skip
    return apply_dependencies(SPECS, results)


def alerts(history: History, results: list[CheckResult]) -> list[str]:
    return [f"{t.check} {t.new.value}" for t in history.record(results)]


# What real stores showed (issue 12): maintenance mode on sent six alerts, a wrong DB password nine.
MAINTENANCE_ON = dict(
    home=State.CRITICAL, maintenance=State.CRITICAL, product=State.UNKNOWN, search=State.UNKNOWN,
    cart=State.UNKNOWN, checkout=State.UNKNOWN, page_notices=State.UNKNOWN,
)  # fmt: skip
WRONG_DB_PASSWORD = dict(
    home=State.CRITICAL, product=State.UNKNOWN, search=State.UNKNOWN, cart=State.UNKNOWN,
    checkout=State.UNKNOWN, admin_login=State.CRITICAL, db=State.CRITICAL, maintenance=State.UNKNOWN,
    error_display=State.UNKNOWN, ocmod_disabled=State.UNKNOWN, page_notices=State.UNKNOWN,
)  # fmt: skip


@pytest.mark.parametrize(
    ("case", "states", "root"),
    [("maintenance on", MAINTENANCE_ON, "maintenance"), ("wrong DB password", WRONG_DB_PASSWORD, "db")],
)
def test_one_cause_sends_one_alert_and_recovers_silently(tmp_path: Path, case, states, root) -> None:
    with History(tmp_path / "h.sqlite") as h:
        assert alerts(h, run()) == []
        broken = run(**states)
        assert alerts(h, broken) == [f"{root} CRITICAL"], case
        shown = {r.check: r for r in broken}
        for check in states:
            if check != root:
                assert shown[check].state is State.UNKNOWN and shown[check].cause == root, check
                assert shown[check].level is None and f"because {root} failed" in shown[check].evidence
        assert alerts(h, broken) == []  # still broken: no news
        assert alerts(h, run()) == [f"{root} OK"]  # only the cause recovers out loud


def test_a_dependent_failing_on_its_own_still_alerts(tmp_path: Path) -> None:
    with History(tmp_path / "h.sqlite") as h:
        alerts(h, run())
        assert alerts(h, run(checkout=State.CRITICAL)) == ["checkout CRITICAL"]


def test_a_check_that_works_while_its_parent_failed_stays_ok() -> None:
    shown = {r.check: r for r in run(db=State.CRITICAL, home=State.OK)}
    assert shown["home"].state is State.OK and shown["home"].cause == ""


def test_a_web_server_down_is_one_alert_on_reachable(tmp_path: Path) -> None:
    down = dict(reachable=State.CRITICAL, home=State.UNKNOWN, product=State.UNKNOWN, cart=State.UNKNOWN,
                checkout=State.UNKNOWN, search=State.UNKNOWN, admin_login=State.UNKNOWN,
                page_notices=State.UNKNOWN, host=State.CRITICAL)  # fmt: skip
    with History(tmp_path / "h.sqlite") as h:
        alerts(h, run())
        assert alerts(h, run(**down)) == ["reachable CRITICAL"]


def test_planned_maintenance_explains_its_dependents_as_ok() -> None:
    results = run(home=State.CRITICAL, product=State.UNKNOWN, cart=State.UNKNOWN, checkout=State.UNKNOWN)
    results = [
        replace(r, planned="planned maintenance by ann (fab upgrade: to 4.1.0.4)")
        if r.check == "maintenance"
        else r
        for r in results
    ]
    shown = {r.check: r for r in apply_dependencies(SPECS, results)}
    for check in ("home", "product", "cart", "checkout"):
        assert shown[check].state is State.OK and shown[check].cause == "maintenance", check
        assert shown[check].evidence.startswith("planned maintenance by ann")


def test_availability_counts_a_home_page_explained_by_the_database_as_down(tmp_path: Path) -> None:
    with History(tmp_path / "h.sqlite") as h:
        h.record(run(), at=100.0)
        h.record(run(**WRONG_DB_PASSWORD), at=200.0)
        assert h.availability("s4", 0)["availability"] == 50.0


def test_playbook_refuses_unknown_dependencies_and_cycles(tmp_path: Path) -> None:
    bad = tmp_path / "health.yaml"
    bad.write_text("checks:\n  home: {level: 1, depends: [nothing]}\n")
    with pytest.raises(PlaybookError, match=r"checks.home.depends: unknown check 'nothing'"):
        load_checks(bad)
    bad.write_text("checks:\n  home: {level: 1, depends: [db]}\n  db: {level: 1, depends: [home]}\n")
    with pytest.raises(PlaybookError, match="dependency cycle home -> db -> home"):
        load_checks(bad)


def test_a_store_names_the_product_its_checkout_check_buys() -> None:
    specs = apply_overrides("s4", SPECS, {"checkout": {"product": 40}})
    assert next(s for s in specs if s.id == "checkout").params["product_id"] == 40
    with pytest.raises(ConfigError, match="checkout.product: must be a product_id"):
        apply_overrides("s4", SPECS, {"checkout": {"product": "iphone"}})
    with pytest.raises(ConfigError, match="home.product: this check adds no product"):
        apply_overrides("s4", SPECS, {"home": {"product": 40}})
