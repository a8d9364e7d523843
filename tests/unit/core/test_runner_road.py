"""The change road (maint/runner.py) without a store: a fake apply, a recording ledger and lock, and every stop
the road can make — nothing to do, dry run, --json, no answer, the lock taken early, a store locked by another."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest

from maint import runner
from maint.errors import CancelledByUser, LockError, PreconditionError
from maint.model import Change, Plan
from maint.runner import Guarded, Road, run_change
from maint.tasks import common

CFG: Any = SimpleNamespace(store="demo", client="acme")
CONN: Any = SimpleNamespace(name="ssh")


class Store:
    """What the road did, in order: questions, ledger sessions, locks, applies."""

    def __init__(self) -> None:
        self.steps: list[str] = []

    def apply(self) -> str:
        self.steps.append("apply")
        return "applied"


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Store:
    seen = Store()

    @contextmanager
    def work_session(tc: Any, cfg: Any, task: str, **kwargs: Any) -> Iterator[list[str]]:
        seen.steps.append(f"ledger {task}")
        yield []

    @contextmanager
    def store_lock(conn: Any, cfg: Any, task: str) -> Iterator[None]:
        seen.steps.append(f"lock {task}")
        yield

    def confirm(question: str, *, yes: bool = False) -> None:
        seen.steps.append(f"ask {question}" if not common.assume_yes(yes) else "answered by --yes")

    monkeypatch.setattr(common, "work_session", work_session)
    monkeypatch.setattr(common, "confirm", confirm)
    monkeypatch.setattr(runner, "store_lock", store_lock)
    monkeypatch.delenv("MAINT_YES", raising=False)
    return seen


def plan(*changes: str, noop: str = "") -> Plan:
    return Plan("demo", "test", [Change("set", c, f"set {c}") for c in changes], noop_reason=noop)


class EarlyLock:
    def __init__(self, store: Store, holder: str = "") -> None:
        self.store, self.holder = store, holder

    def wait(self) -> None:
        self.store.steps.append("wait for the early lock")
        if self.holder:
            raise LockError(f"store is locked by {self.holder}", store="demo")


def test_a_plan_with_nothing_to_do_stops_before_the_question_and_says_why(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    done = run_change(None, CFG, CONN, plan(noop="already as in the file"), Road("t", "Go?"), store.apply)

    assert store.steps == [] and not done.applied and done.result is None
    assert done.reason == "no changes" and done.noop_reason == "already as in the file"
    said = capsys.readouterr()
    assert "demo: No changes. already as in the file" in said.err
    assert "No changes" not in said.out  # said once, not by the plan's render too


def test_a_dry_run_shows_the_plan_and_stops_with_what_the_real_run_would_refuse(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    shown: list[Plan] = []

    def refuse() -> None:
        raise PreconditionError("3 changes beyond ±50 %")

    done = run_change(None, CFG, CONN, plan("a"), Road("t", "Go?", dry_run=True), store.apply,
                      show=shown.append, check=refuse)

    assert store.steps == [] and len(shown) == 1
    assert done.reason == "dry run" and done.dry_run and done.warnings == ["3 changes beyond ±50 %"]
    err = capsys.readouterr().err
    assert "demo: dry run, nothing changed." in err and "warning: 3 changes beyond ±50 %" in err


def test_a_check_that_fails_on_a_real_run_refuses_before_the_question(store: Store) -> None:
    def refuse() -> None:
        raise PreconditionError("the restore would lose 2 order(s)")

    with pytest.raises(PreconditionError, match="lose 2 order"):
        run_change(None, CFG, CONN, plan("a"), Road("t", "Go?", yes=True), store.apply, check=refuse)
    assert store.steps == []


@pytest.mark.parametrize("flags", [{"dry_run": True}, {}], ids=["dry run", "nothing to do"])
def test_with_json_nothing_is_shown_or_said_and_the_report_is_the_one_json_item(
    store: Store, capsys: pytest.CaptureFixture[str], flags: dict[str, bool]
) -> None:
    shown: list[Plan] = []
    the_plan = plan("a") if flags else plan(noop="same version")
    done = run_change(None, CFG, CONN, the_plan, Road("t", "Go?", json=True, **flags), store.apply, show=shown.append)
    data = done.report("demo", True)

    out, err = capsys.readouterr()
    assert shown == [] and store.steps == [] and err == ""
    item = json.loads(out)["stores"][0]
    assert item == data | {"error": None}
    assert item["applied"] is False and item["ok"] is True and item["plan"]["action"] == "test"
    assert item["reason"] == ("dry run" if flags else "no changes")
    assert item["dry_run"] is bool(flags)
    assert flags or item["noop_reason"] == "same version"


def test_the_report_of_a_sheet_task_is_its_own_summary_with_the_stop(store: Store) -> None:
    summary: dict[str, Any] = {"store": "demo", "changes": 0, "applied": False}
    done = run_change(None, CFG, CONN, object(), Road("t", "Go?"), store.apply, show=lambda p: None, empty=True,
                      noop_reason="all 3 price(s) already as in the file", say=lambda line: None)

    assert done.report("demo", False, summary) is summary
    assert summary == {"store": "demo", "changes": 0, "applied": False, "dry_run": False, "reason": "no changes",
                       "noop_reason": "all 3 price(s) already as in the file"}


def test_no_answer_applies_nothing_and_takes_neither_ledger_nor_lock(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no(question: str, *, yes: bool = False) -> None:
        store.steps.append("ask")
        raise CancelledByUser("cancelled, nothing was changed")

    monkeypatch.setattr(common, "confirm", no)
    with pytest.raises(CancelledByUser):
        run_change(None, CFG, CONN, plan("a"), Road("t", "Go?"), store.apply)
    assert store.steps == ["ask"]


def test_an_answered_run_is_asked_then_recorded_then_locked_then_applied(store: Store) -> None:
    done = run_change(None, CFG, CONN, plan("a"), Road("prices", "Go?"), store.apply)

    assert store.steps == ["ask Go?", "ledger prices", "lock prices", "apply"]
    assert done.applied and done.result == "applied" and done.reason == ""


def test_the_lock_taken_early_is_waited_for_before_the_question_and_not_taken_again(store: Store) -> None:
    road = Road("prices", "Go?", lock="early", ledger=False)
    done = run_change(None, CFG, CONN, plan("a"), road, store.apply, lock=EarlyLock(store))

    assert store.steps == ["wait for the early lock", "ask Go?", "apply"]
    assert done.applied


def test_with_the_answer_given_the_early_lock_is_left_for_apply_to_wait_for(store: Store) -> None:
    road = Road("prices", "Go?", yes=True, lock="early", ledger=False)
    run_change(None, CFG, CONN, plan("a"), road, store.apply, lock=EarlyLock(store, holder="bob@desk"))

    assert store.steps == ["answered by --yes", "apply"]


def test_a_store_locked_by_another_run_is_said_before_the_question(store: Store) -> None:
    road = Road("prices", "Go?", lock="early", ledger=False)
    with pytest.raises(LockError, match="locked by bob@desk"):
        run_change(None, CFG, CONN, plan("a"), road, store.apply, lock=EarlyLock(store, holder="bob@desk"))
    assert store.steps == ["wait for the early lock"]


def test_a_store_locked_by_another_run_at_apply_time_applies_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    @contextmanager
    def held(conn: Any, cfg: Any, task: str) -> Iterator[None]:
        store.steps.append("lock refused")
        raise LockError("store is locked by bob@desk", store="demo")
        yield

    monkeypatch.setattr(runner, "store_lock", held)
    with pytest.raises(LockError):
        run_change(None, CFG, CONN, plan("a"), Road("upgrade", "Go?", yes=True), store.apply)
    assert store.steps == ["answered by --yes", "ledger upgrade", "lock refused"]


def test_an_apply_that_locks_itself_runs_under_the_ledger_only(store: Store) -> None:
    run_change(None, CFG, CONN, plan("a"), Road("t", "Go?", yes=True, lock="none"), store.apply)
    assert store.steps == ["answered by --yes", "ledger t", "apply"]


def test_one_guarded_record_serves_the_upgrade_and_the_extension() -> None:
    upgrade = Guarded("demo", "upgrade", from_version="3.0.3.8", to_version="3.0.5.1", snapshot="s1",
                      journal="/j.json")
    install = Guarded("demo", "install", "quote 1.0", failure="the rehearsal failed", rolled_back=False)

    assert upgrade.ok and not install.ok
    assert {"from": "3.0.3.8", "to": "3.0.5.1", "journal": "/j.json", "snapshot": "s1"}.items() <= \
        upgrade.as_dict().items()
    assert "subject" not in upgrade.as_dict()
    assert {"action": "install", "subject": "quote 1.0", "ok": False, "baseline_failing": []}.items() <= \
        install.as_dict().items()
    assert "from" not in install.as_dict() and "journal" not in install.as_dict()
