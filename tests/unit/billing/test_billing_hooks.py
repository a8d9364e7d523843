"""The budget guard and the automatic ledger entry the task decorator calls around every task."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from billing_factory import PLANS_FILE

from maint.billing.hooks import before_task, record_task
from maint.billing.ledger import Ledger
from maint.config import Settings
from maint.errors import BudgetError, CancelledByUser, PlaybookError

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def _settings(tmp_path: Path, block: bool = False) -> Settings:
    return Settings(playbooks=PLANS_FILE.parent, state_dir=tmp_path / "state", block_over_budget=block)


def _log(settings: Settings, client: str, day: str, hours: float, **kw: object) -> None:
    start = datetime.fromisoformat(day).replace(hour=9, tzinfo=UTC)
    with Ledger.in_state_dir(settings.state_dir) as ledger:
        ledger.add(
            client=client,
            store="demo",
            task="manual",
            started=start,
            ended=start + timedelta(hours=hours),
            **kw,
        )  # type: ignore[arg-type]


def test_every_task_run_is_recorded_also_when_it_fails(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    for outcome in ("ok", "failed: disk full"):
        record_task(
            settings,
            client="demo",
            store="demo",
            task="mirror",
            started=NOW,
            ended=NOW + timedelta(minutes=3),
            outcome=outcome,
            detail="",
        )
    with Ledger.in_state_dir(settings.state_dir) as ledger:
        entries = list(ledger.items("demo"))
    assert [(e.task, e.seconds, e.outcome, e.source) for e in entries] == [
        ("mirror", 180, "ok", "auto"),
        ("mirror", 180, "failed: disk full", "auto"),
    ]


def test_a_clock_that_went_backwards_still_records_the_run(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    record_task(
        settings,
        client="demo",
        store="demo",
        task="check",
        started=NOW,
        ended=NOW - timedelta(seconds=1),
        outcome="ok",
    )
    with Ledger.in_state_dir(settings.state_dir) as ledger:
        assert [e.seconds for e in ledger.items("demo")] == [0]


def test_the_ledger_tasks_themselves_are_neither_guarded_nor_recorded(tmp_path: Path) -> None:
    settings = _settings(tmp_path, block=True)
    assert before_task(settings, "demo", "no-such-plan", "hours") == []
    record_task(settings, client="demo", store="demo", task="log", started=NOW, ended=NOW, outcome="ok")
    assert not (settings.state_dir / "ledger.sqlite").exists()


def test_a_plan_with_room_gives_no_warnings(tmp_path: Path) -> None:
    settings = _settings(tmp_path, block=True)
    _log(settings, "demo", "2026-11-16", 5)
    assert before_task(settings, "demo", "starter", "upgrade", now=NOW) == []


def test_a_spent_plan_warns_and_is_blocked_only_when_configured(tmp_path: Path) -> None:
    open_settings = _settings(tmp_path)
    for day in ("2026-11-02", "2026-11-09"):
        _log(open_settings, "demo", day, 20)
    warnings = before_task(open_settings, "demo", "starter", "upgrade", now=NOW)
    assert any("all 40 h" in w for w in warnings)
    blocking = _settings(tmp_path, block=True)
    with pytest.raises(BudgetError, match="--over-budget") as err:
        before_task(blocking, "demo", "starter", "upgrade", now=NOW)
    assert err.value.exit_code == 62
    forced = before_task(blocking, "demo", "starter", "upgrade", over_budget=True, now=NOW)
    assert any("working over budget" in w for w in forced)


def test_the_guard_counts_only_the_current_week_against_the_cap(tmp_path: Path) -> None:
    settings = _settings(tmp_path, block=True)
    _log(settings, "demo", "2026-11-09", 15)
    assert before_task(settings, "demo", "starter", "check", now=NOW) == []
    _log(settings, "demo", "2026-11-17", 20)
    with pytest.raises(BudgetError, match="cap of 20 h"):
        before_task(settings, "demo", "starter", "check", now=NOW)


def test_expired_support_is_blocked(tmp_path: Path) -> None:
    settings = _settings(tmp_path, block=True)
    with Ledger.in_state_dir(settings.state_dir) as ledger:
        ledger.add_event(client="acme", kind="period", on=date(2026, 8, 1), amount=1)
    _log(settings, "acme", "2026-08-03", 1)
    with pytest.raises(BudgetError, match="support period ended on 2026-09-02"):
        before_task(settings, "acme", "support-1m", "health", now=NOW)


def test_the_operators_yes_is_not_the_clients_confirmation(tmp_path: Path) -> None:
    # Issue 19: --yes was taken as the client's confirmation of category 2/3 work.
    settings = _settings(tmp_path)
    asked: list[str] = []

    def yes(question: str) -> bool:
        asked.append(question)
        return True

    warnings = before_task(settings, "acme", "credits", "upgrade", confirm=yes, now=NOW)
    assert "category 3" in asked[0] and "not confirmed yet" in asked[0]
    assert "charged only once the client's confirmation is recorded" in warnings[0]
    with pytest.raises(CancelledByUser, match="category 3 work not confirmed"):
        before_task(settings, "acme", "credits", "upgrade", confirm=lambda q: False, now=NOW)
    # category 1 needs no confirmation
    assert before_task(settings, "acme", "credits", "check", confirm=lambda q: False, now=NOW) == []
    with Ledger.in_state_dir(settings.state_dir) as ledger:
        ledger.add_event(
            client="acme",
            kind="confirm",
            on=NOW.date(),
            data={"ticket": f"shop:upgrade:{NOW.date()}", "by": "Ann", "how": "email"},
        )
    assert before_task(settings, "acme", "credits", "upgrade", confirm=lambda q: False, now=NOW) == []


def test_an_unknown_plan_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PlaybookError, match="unknown plan 'gold'"):
        before_task(_settings(tmp_path), "demo", "gold", "upgrade", now=NOW)


def test_parallel_runs_over_many_stores_lose_no_entries(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    settings = _settings(tmp_path)

    def run(n: int) -> None:
        record_task(
            settings, client="demo", store=f"s{n % 8}", task="check", started=NOW, ended=NOW, outcome="ok"
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(run, range(80)))
    with Ledger.in_state_dir(settings.state_dir) as ledger:
        assert ledger.count() == 80


def test_the_guard_counts_a_week_whole_across_the_month_end(tmp_path: Path) -> None:
    # Issue 19: 15 h on Mon 30 Nov and 5 h on Tue 1 Dec filled the week's 20 h, yet December's
    # guard saw only 5 h and let more work through.
    settings = _settings(tmp_path, block=True)
    _log(settings, "demo", "2026-11-30", 15)
    _log(settings, "demo", "2026-12-01", 5)
    with pytest.raises(BudgetError, match="cap of 20 h"):
        before_task(settings, "demo", "starter", "check", now=datetime(2026, 12, 2, 10, tzinfo=UTC))
    # the next week is free again
    assert before_task(settings, "demo", "starter", "check", now=datetime(2026, 12, 7, 10, tzinfo=UTC)) == []


def test_the_guard_decides_the_day_in_the_agencys_time_zone(tmp_path: Path) -> None:
    # 23:30 UTC on Sunday 6 Dec is 01:30 on Monday 7 Dec in Johannesburg: a new week.
    settings = _settings(tmp_path, block=True)
    _log(settings, "demo", "2026-12-01", 20)
    with pytest.raises(BudgetError):
        before_task(settings, "demo", "starter", "check", now=datetime(2026, 12, 6, 21, 30, tzinfo=UTC))
    assert (
        before_task(settings, "demo", "starter", "check", now=datetime(2026, 12, 6, 23, 30, tzinfo=UTC)) == []
    )
