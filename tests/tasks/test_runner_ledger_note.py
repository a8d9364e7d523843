"""What an apply adds to `Road.note` is the ledger entry's note, which `fab report` reads
(an extension install says what it installed and whether it was rolled back)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from invoke import Config, Context

from maint.billing.ledger import Ledger
from maint.model import Change, Plan
from maint.runner import Road, run_change
from maint.tasks.common import TaskContext

PROJECT = Path(__file__).resolve().parents[2]


def test_the_apply_s_note_lands_in_the_ledger_entry(tmp_path) -> None:
    maint = {"inventory": str(PROJECT / "maint" / "playbooks" / "clients"), "state_dir": str(tmp_path / "state")}
    tc = TaskContext.from_c(Context(config=Config(overrides={"maint": maint})))
    cfg = tc.store("demo")
    plan = Plan(store="demo", action="extension install")
    plan.changes.append(Change("install", "featured_plus", "install featured_plus 1.2.0"))
    note: list[str] = []

    def apply() -> str:
        note.append("install featured_plus 1.2.0: failed, rolled back")
        return "outcome"

    done = run_change(tc, cfg, None, plan, Road("extension install", "?", yes=True, json=True, note=note), apply)
    assert done.applied and done.result == "outcome"
    with Ledger.in_state_dir(tmp_path / "state") as ledger:
        items = list(ledger.items(cfg.client, since=date(2000, 1, 1), until=date(2100, 1, 1)))
    assert [(i.task, i.note) for i in items] == [
        ("extension install", "install featured_plus 1.2.0: failed, rolled back")
    ]
