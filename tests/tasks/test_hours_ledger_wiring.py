"""Every task run lands in the ledger through the shared task wrapper, without anyone typing it."""

from dataclasses import replace
from pathlib import Path

import pytest

from maint.billing.ledger import Ledger
from maint.config import Settings
from maint.errors import BudgetError, RemoteCommandError
from maint.tasks.common import TaskContext, work_session

PROJECT = Path(__file__).resolve().parents[2]


def _context(tmp_path: Path, block: bool = False) -> TaskContext:
    return TaskContext(
        Settings(
            inventory=PROJECT / "maint" / "playbooks" / "clients", state_dir=tmp_path / "state", block_over_budget=block
        )
    )


def _entries(tmp_path: Path) -> list[tuple[str, str, str, str]]:
    with Ledger.in_state_dir(tmp_path / "state") as ledger:
        return [(i.client, i.store, i.task, i.outcome) for i in ledger.items()]


def test_a_task_run_is_recorded_with_its_outcome(tmp_path: Path) -> None:
    tc = _context(tmp_path)
    with work_session(tc, tc.store("demo4"), "upgrade"):
        pass
    with pytest.raises(RemoteCommandError), work_session(tc, tc.store("demo"), "mirror"):
        raise RemoteCommandError("rsync exited 23")
    assert _entries(tmp_path) == [
        ("demo", "demo4", "upgrade", "ok"),
        ("demo", "demo", "mirror", "failed: rsync exited 23"),
    ]


def test_a_spent_plan_refuses_the_task_before_it_starts_when_blocking(tmp_path: Path) -> None:
    inventory = tmp_path / "clients"
    inventory.mkdir()
    (inventory / "bolt.yaml").write_text(
        "name: bolt\nplan: support-1m\nstores: [{name: bolt, host: h, root: /srv}]\n"
    )
    settings = Settings(inventory=inventory, playbooks=PROJECT / "maint" / "playbooks", state_dir=tmp_path / "state")
    open_tc = TaskContext(settings)
    with work_session(open_tc, open_tc.store("bolt"), "upgrade") as warnings:
        assert warnings == ["support-1m: no support period bought yet"]
    blocking = TaskContext(replace(settings, block_over_budget=True))
    with (
        pytest.raises(BudgetError, match="--over-budget"),
        work_session(blocking, blocking.store("bolt"), "upgrade"),
    ):
        pytest.fail("the task body must not run")
    with work_session(blocking, blocking.store("bolt"), "upgrade", over_budget=True):
        pass
    assert [e[3] for e in _entries(tmp_path)] == ["ok", "ok"]  # the refused run did no work
