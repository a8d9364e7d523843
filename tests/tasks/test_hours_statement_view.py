"""`fab hours`: the client's statement leaves out automatic runs that changed nothing (read-only looks,
dry runs, validations refused at once) unless --detail, and a dry run is logged as one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from invoke import Config, MockContext

from maint.billing.hooks import record_task
from maint.billing.ledger import Ledger
from maint.config import load_settings
from maint.tasks import hours as tasks

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def c(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MockContext:
    inventory = tmp_path / "clients"
    inventory.mkdir()
    (inventory / "demo.yaml").write_text((PROJECT / "maint" / "playbooks" / "clients" / "demo.yaml").read_text())
    config = {"inventory": str(inventory), "playbooks": str(PROJECT / "maint" / "playbooks"), "state_dir": str(tmp_path / "st")}
    monkeypatch.setattr(tasks, "now", lambda: datetime(2026, 11, 26, 10, 0, tzinfo=UTC))
    settings = load_settings(config)
    for day, task, seconds, outcome in [
        (2, "info", 4, "ok"),
        (2, "check", 9, "ok"),
        (3, "prices", 3, "dry run"),
        (3, "prices", 2, "failed: prices.csv, row 2, column 'price': not a price"),
        (3, "prices", 40 * 60, "ok"),
        (5, "mirror", 30 * 60, "failed: disk full"),
    ]:
        start = datetime(2026, 11, day, 8, 0, tzinfo=UTC)
        record_task(settings, client="demo", store="demo", task=task, started=start,
                    ended=start + timedelta(seconds=seconds), outcome=outcome)
    return MockContext(config=Config(overrides={"maint": config}))


def test_the_statement_lists_only_runs_that_did_something_unless_detail(c, capsys) -> None:
    tasks.hours(c, "demo", month="2026-11")
    out = capsys.readouterr().out
    entries = out.split("entries (correct", 1)[1]
    assert "prices" in entries and "disk full" in entries  # real work, also when it failed late
    assert "info" not in out.split("per task", 1)[1].split("entries (correct", 1)[0]
    assert "info" not in entries and "check" not in entries and "dry run" not in entries
    assert "not a price" not in entries
    assert "4 automatic run(s) that changed nothing are not listed" in out and "--detail" in out
    tasks.hours(c, "demo", month="2026-11", detail=True)
    entries = capsys.readouterr().out.split("entries (correct", 1)[1]
    assert "info" in entries and "dry run" in entries and "not a price" in entries


def test_a_dry_run_is_logged_as_a_dry_run(c, tmp_path) -> None:
    from maint.tasks.common import TaskContext, maint_task, work_session

    @maint_task
    def prices(c, dry_run=False):
        tc = TaskContext.from_c(c)
        with work_session(tc, tc.store("demo"), "prices"):
            pass

    prices(c, dry_run=True)
    with Ledger.in_state_dir(tmp_path / "st") as ledger:
        assert [i.outcome for i in ledger.items() if i.task == "prices"][-1] == "dry run"
