"""`fab prices` holds the store lock from planning to the end (so the plan confirmed is the plan applied),
and a dry run takes none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from invoke.exceptions import Exit

from maint.errors import CancelledByUser
from maint.lock import remote_lock_path
from maint.remote.ssh import connect, home_dir
from maint.tasks import common
from maint.tasks import prices as price_tasks
from maint.tasks.common import TaskContext


def lock_dir(task_context, store: str) -> Path:
    cfg = TaskContext.from_c(task_context).store(store)
    conn = connect(cfg)
    try:
        return Path(home_dir(conn)) / remote_lock_path(cfg)  # the sandbox's host is this machine
    finally:
        conn.close()


def sheet(folder: Path, price: str) -> Path:
    path = folder / "prices.csv"
    path.write_text(f"sku,price\nSKU-00007,{price}\n")
    return path


@pytest.mark.parametrize("store", ["s3", "s4"])
def test_the_store_is_locked_while_the_plan_waits_for_an_answer_and_free_after_a_no(
    store, tmp_path, task_context, store_state, monkeypatch
) -> None:
    held = lock_dir(task_context, store)
    seen: list[bool] = []

    def answer_no(question: str, *, yes: bool = False) -> None:
        seen.append(held.exists())
        raise CancelledByUser("not now")

    monkeypatch.setattr(common, "confirm", answer_no)  # the change road asks through it
    before = store_state(store)
    with pytest.raises(Exit) as caught:
        price_tasks.prices(task_context, store, str(sheet(tmp_path, "77.77")), allow_large_changes=True)
    assert caught.value.code == 3
    assert seen == [True]  # another run could not change the store between the plan and the answer
    assert not held.exists()
    assert store_state(store) == before


def test_a_dry_run_takes_no_lock_and_a_real_run_stops_before_the_question(
    tmp_path, task_context, store_state, monkeypatch, capsys
) -> None:
    held = lock_dir(task_context, "s4")
    held.mkdir()
    (held / "holder").write_text('{"user": "someone", "machine": "elsewhere", "pid": 1, "task": "mirror"}')
    asked: list[str] = []
    monkeypatch.setattr(common, "confirm", lambda question, *, yes=False: asked.append(question))
    before = store_state("s4")
    try:
        dry = price_tasks.prices(
            task_context, "s4", str(sheet(tmp_path, "66.66")), dry_run=True, allow_large_changes=True
        )
        assert dry["changes"] == 1 and not dry["applied"]
        capsys.readouterr()
        with pytest.raises(Exit) as caught:
            price_tasks.prices(
                task_context, "s4", str(sheet(tmp_path, "66.66")), allow_large_changes=True, json=True
            )
        assert caught.value.code == 61  # LockError
        assert "someone@elsewhere" in capsys.readouterr().err
        assert asked == []  # told before being asked
        with pytest.raises(Exit) as caught:  # --yes: the apply itself waits for the lock, and stops
            price_tasks.prices(
                task_context, "s4", str(sheet(tmp_path, "66.66")), yes=True, allow_large_changes=True, json=True
            )
        assert caught.value.code == 61
        assert held.exists()  # someone else's lock is never removed
    finally:
        (held / "holder").unlink()
        held.rmdir()
    assert store_state("s4") == before


def test_a_run_that_plans_nothing_leaves_the_store_unlocked(tmp_path, task_context) -> None:
    price_tasks.prices(task_context, "s40", str(sheet(tmp_path, "55.55")), yes=True, allow_large_changes=True)
    again = price_tasks.prices(task_context, "s40", str(sheet(tmp_path, "55.55")), yes=True, json=True)
    assert again["changes"] == 0
    assert not lock_dir(task_context, "s40").exists()
    assert json.dumps(again)  # the summary stays plain data
