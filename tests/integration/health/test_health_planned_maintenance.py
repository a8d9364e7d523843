"""Planned maintenance is not an outage (issue 16 item 7), against the sandbox stores."""

from __future__ import annotations

import contextlib

import pytest

from maint.errors import MaintError
from maint.facts.opencart import get_store_facts
from maint.health.history import History
from maint.health.model import State
from maint.health.nagios import status_line
from maint.maintenance import planned_maintenance, record_path
from maint.remote.ssh import connect, run

CHECKS = ("reachable", "host", "home", "product", "cart", "checkout", "maintenance", "db")


def maintenance_value(sandbox, store: str) -> str:
    s = sandbox.store(store)
    db = sandbox.db_admin(s.db_name)
    try:
        with db.cursor() as cur:
            cur.execute(
                f"SELECT `value` FROM `{s.prefix}setting` WHERE store_id = 0 AND `key` = 'config_maintenance'"
            )
            return str(cur.fetchone()[0])
    finally:
        db.close()


def test_a_store_in_maints_own_maintenance_is_planned_not_an_outage(
    check, sandbox, sandbox_config, tmp_path
) -> None:
    cfg = sandbox_config("s40")
    conn = connect(cfg)
    try:
        facts = get_store_facts(conn, cfg)
        with History(tmp_path / "health.sqlite") as h:
            h.record(list(check("s40", *CHECKS).values()))
            with planned_maintenance(
                conn, cfg, facts.db, task="upgrade", why="to 4.1.0.4", expected_minutes=5
            ):
                assert maintenance_value(sandbox, "s40") == "1"
                during = check("s40", *CHECKS)
                alerts = h.record(list(during.values()))
            after = check("s40", *CHECKS)
            alerts += h.record(list(after.values()))
        record_gone = run(conn, f"test -e {record_path(cfg)} && echo there || echo gone").stdout.strip()
    finally:
        conn.close()
    assert during["maintenance"].state is State.OK and during["maintenance"].value == "planned"
    assert (
        "planned maintenance by" in during["maintenance"].evidence
        and "(upgrade: to 4.1.0.4)" in during["maintenance"].evidence
    )
    for name in ("home", "product", "cart", "checkout"):
        assert during[name].state is State.OK and during[name].cause == "maintenance", (
            name,
            during[name].evidence,
        )
    line = status_line(list(during.values()))
    assert line.startswith("HEALTH OK") and "note: s40 in planned maintenance by" in line
    assert alerts == []
    assert maintenance_value(sandbox, "s40") == "0" and record_gone == "gone"
    assert all(r.state is State.OK for r in after.values()), [(r.check, r.evidence) for r in after.values()]


def test_maintenance_left_on_by_a_run_that_died_is_an_outage(check, sandbox, sandbox_config, setting) -> None:
    cfg = sandbox_config("s40")
    conn = connect(cfg)
    facts = get_store_facts(conn, cfg)
    setting("s40", "config_maintenance", "0")  # put back to 0 after the test
    # The run's process is killed mid-maintenance: its way out never runs, its SSH connection closes.
    held = planned_maintenance(conn, cfg, facts.db, task="restore", why="snapshot", expected_minutes=5)
    held.__enter__()  # kept referenced: a collected generator would run its way out
    conn.client.close()
    # Maintenance stays on and the record stays, held by no one.
    assert maintenance_value(sandbox, "s40") == "1"
    results = check("s40", "home", "maintenance", "db")
    other = connect(cfg)
    try:
        run(other, f"rm -f {record_path(cfg)}")
    finally:
        other.close()
        with contextlib.suppress(MaintError):  # the dead run's way out, which never ran, can't reach the host
            held.gen.close()
    assert results["maintenance"].state is State.CRITICAL and results["maintenance"].level == 1
    assert (
        "which has ended" in results["maintenance"].evidence and "restore" in results["maintenance"].evidence
    )
    assert results["home"].cause == "maintenance" and results["home"].state is State.UNKNOWN


def test_an_error_inside_the_maintenance_switches_it_off_and_removes_the_record(
    sandbox, sandbox_config
) -> None:
    cfg = sandbox_config("s40")
    conn = connect(cfg)
    try:
        facts = get_store_facts(conn, cfg)
        with pytest.raises(RuntimeError, match="step failed"):
            with planned_maintenance(conn, cfg, facts.db, task="upgrade", why="to 4.1.0.4"):
                raise RuntimeError("step failed")
        there = run(conn, f"test -e {record_path(cfg)} && echo there || echo gone").stdout.strip()
    finally:
        conn.close()
    assert maintenance_value(sandbox, "s40") == "0" and there == "gone"
