"""The road every change to a store walks, in one place:

    plan → show → nothing to do? → dry run? → confirm → ledger + lock → apply (verify, roll back inside)

A task gathers its facts and builds its Plan, then hands the plan and an `apply` callable to
`run_change`; the area's apply does its own verification and undo/rollback, because only it knows how.
`fab upgrade` and `fab rollback` use it; the older tasks (prices, discounts, groups, restore) still walk
the same road by hand and can move onto it one by one.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fabric import Connection

from maint import render
from maint.config import StoreConfig
from maint.lock import store_lock
from maint.model import Plan

T = TypeVar("T")


@dataclass
class Outcome(Generic[T]):
    plan: Plan
    applied: bool
    result: T | None = None
    reason: str = ""  # why nothing was applied: "no changes", "dry run"


@dataclass
class Road:
    """How the task was called: the flags that decide where the road stops."""

    task: str
    question: str
    dry_run: bool = False
    yes: bool = False
    json: bool = False
    over_budget: bool = False
    # Lines the apply adds for the ledger entry's note (what was installed, how it ended): `fab report` reads them.
    note: list[str] | None = None


def run_change(tc: Any, cfg: StoreConfig, conn: Connection | None, plan: Plan, road: Road,
               apply: Callable[[], T], *, show: Callable[[Plan], None] | None = None) -> Outcome[T]:
    """Show the plan, stop when there is nothing to do or on a dry run, ask, then apply under the store's lock
    (when `conn` is given) and the client's ledger. Raises CancelledByUser when the answer is no."""
    from maint.tasks.common import confirm, work_session  # the task layer owns prompts and the ledger

    if road.json and (road.dry_run or not plan):
        return Outcome(plan, False, reason="dry run" if plan else "no changes")
    if not road.json:
        (show or render.plan)(plan)
    if not plan:
        print(f"{cfg.store}: No changes. {plan.noop_reason}".rstrip(), file=sys.stderr)
        return Outcome(plan, False, reason="no changes")
    if road.dry_run:
        print(f"{cfg.store}: dry run, nothing changed.", file=sys.stderr)
        return Outcome(plan, False, reason="dry run")
    confirm(road.question, yes=road.yes)
    with work_session(tc, cfg, road.task, over_budget=road.over_budget, yes=road.yes, detail=road.note):
        if conn is None:
            return Outcome(plan, True, apply())
        with store_lock(conn, cfg, road.task):
            return Outcome(plan, True, apply())
