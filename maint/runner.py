"""The road every change to a store walks, in one place:

    plan → show → nothing to do? → dry run? → check → confirm → ledger + lock → apply (verify, roll back inside)

A task gathers its facts and builds its plan, then hands the plan and an `apply` callable to `run_change`;
the area's apply does its own verification and undo/rollback, because only it knows how. The task then
reports from the `Outcome`: `outcome.report(store, json)` answers a run that applied nothing (the stop's
JSON item and return value, one copy for every task), the task itself answers what its apply did.

Every mutating task walks it: prices, discounts, groups and undo (`maint/tasks/prices.py`), restore,
upgrade, rollback, extension install/remove, products and mail. The `Road` says where it may stop and
how the store is locked:

- `lock="apply"` (default): the store's lock is taken after the answer, around apply (upgrade, restore …);
- `lock="early"`: the task is already taking the lock (the sheets' `PendingLock`, started right after the
  sheet is read so its SSH round trip overlaps planning; never on a dry run). A locked store is said
  before the question; with the answer given (--yes) apply waits for the lock itself;
- `lock="none"`: apply takes whatever lock it needs.

`ledger=False` when the task's own work session already spans the run (the sheets record dry runs too).

`Guarded` is the record of a change made the guarded way (snapshot → rehearsal on a working copy → live →
roll back on failure) that `fab upgrade` and `fab extension` return from their apply.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

from fabric import Connection

from maint import render
from maint.config import StoreConfig
from maint.errors import PreconditionError
from maint.lock import store_lock

if TYPE_CHECKING:
    from maint.upgrade.procedure import ProcedureResult

T = TypeVar("T")

NO_CHANGES = "no changes"
DRY_RUN = "dry run"


class EarlyLock(Protocol):
    """A store lock the task started taking before the question (maint.pricing.service.PendingLock)."""

    def wait(self) -> None: ...


@dataclass
class Road:
    """How the task was called: the flags that decide where the road stops, and how the store is locked."""

    task: str
    question: str
    dry_run: bool = False
    yes: bool = False
    json: bool = False
    over_budget: bool = False
    lock: Literal["apply", "early", "none"] = "apply"
    ledger: bool = True
    # Lines the apply adds for the ledger entry's note (what was installed, how it ended): `fab report` reads
    # them. With ledger=False the task's own work session takes its note.
    note: list[str] | None = None


@dataclass
class Outcome(Generic[T]):
    plan: Any  # the task's plan: a maint.model.Plan, or a sheet's own (PricePlan, …)
    applied: bool
    result: T | None = None
    reason: str = ""  # why nothing was applied: "no changes", "dry run"
    noop_reason: str = ""  # with "no changes": why there is nothing to do
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)  # what the real run would refuse (said by a dry run)

    def report(self, store: str, json: bool, summary: dict[str, Any] | None = None) -> dict[str, Any]:
        """The answer of a run that applied nothing: printed as its --json item, and returned. `summary` is
        the task's own record of its plan (the sheets'); without it, the plan's as_dict()."""
        from maint.tasks.common import emit_json  # the task layer owns the JSON envelope

        data = summary if summary is not None else {"store": store, "ok": True, "plan": self.plan.as_dict()}
        data.update(dry_run=self.dry_run, applied=False, reason=self.reason)
        if self.reason == NO_CHANGES and self.noop_reason:
            data.setdefault("noop_reason", self.noop_reason)
        if self.warnings:
            data["warnings"] = list(self.warnings)
        if json:
            emit_json([data])
        return data


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_change(
    tc: Any,
    cfg: StoreConfig,
    conn: Connection | None,
    plan: Any,
    road: Road,
    apply: Callable[[], T],
    *,
    show: Callable[[Any], None] | None = None,
    empty: bool | None = None,
    noop_reason: str | None = None,
    check: Callable[[], None] | None = None,
    lock: EarlyLock | None = None,
    say: Callable[[str], None] = _stderr,
) -> Outcome[T]:
    """Walk the road with `plan` and stop where the flags say; else apply under the client's ledger and the
    store's lock (as `road.lock` says) and return apply's result. Raises CancelledByUser when the answer is
    no, LockError when another run holds the store.

    `show` renders the plan (default render.plan; never with --json). `empty`/`noop_reason` say whether
    there is nothing to do and why, for plans other than maint.model.Plan (default: `not plan` and
    `plan.noop_reason`). `check` raises PreconditionError when the run must not go ahead (a dry run says it
    as a warning instead). `lock` is the task's EarlyLock (with `road.lock="early"`; None on a dry run).
    `say` prints the stop's line and warnings (default stderr; never with --json).
    """
    from maint.tasks.common import assume_yes, confirm, work_session  # the task layer owns prompts, ledger

    nothing = (not plan) if empty is None else empty
    tell = (lambda _line: None) if road.json else say
    if not road.json and not (nothing and show is None):  # an empty plan is said once, below
        (show or render.plan)(plan)
    if nothing:
        why = getattr(plan, "noop_reason", "") if noop_reason is None else noop_reason
        tell(f"{cfg.store}: No changes. {why}".rstrip())
        return Outcome(plan, False, reason=NO_CHANGES, noop_reason=why, dry_run=road.dry_run)
    warnings: list[str] = []
    if check is not None:
        try:
            check()
        except PreconditionError as exc:
            if not road.dry_run:
                raise
            warnings.append(exc.message)
    if road.dry_run:
        tell(f"{cfg.store}: dry run, nothing changed.")
        for w in warnings:
            tell(f"warning: {w}")
        return Outcome(plan, False, reason=DRY_RUN, dry_run=True, warnings=warnings)
    if road.lock == "early" and lock is not None and not assume_yes(road.yes):
        lock.wait()  # a locked store is said before the question, not after the answer
    confirm(road.question, yes=road.yes)
    ledger = (work_session(tc, cfg, road.task, over_budget=road.over_budget, yes=road.yes, detail=road.note)
              if road.ledger else nullcontext())
    with ledger:
        locked = store_lock(conn, cfg, road.task) if road.lock == "apply" and conn is not None else nullcontext()
        with locked:
            return Outcome(plan, True, apply())


@dataclass
class Guarded:
    """What a change made the guarded way did: the snapshot (the way back), the rehearsal on a working copy
    of it, the live run, and the rollback when one failed. `fab upgrade` (action "upgrade", with from/to
    versions and a journal) and `fab extension` (action "install"/"remove" of `subject`) return it."""

    store: str
    action: str
    subject: str = ""
    from_version: str = ""
    to_version: str = ""
    snapshot: str = ""
    rehearsal: ProcedureResult | None = None
    live: ProcedureResult | None = None
    rolled_back: bool = False
    rollback_steps: list[str] = field(default_factory=list)
    failure: str = ""
    seconds: float = 0.0
    journal: str = ""
    phases: dict[str, float] = field(default_factory=dict)  # where the whole run's time went, in order

    @property
    def ok(self) -> bool:
        return not self.failure

    @property
    def baseline_failing(self) -> list[str]:
        """Pages that already failed before the change (not held against it)."""
        for result in (self.live, self.rehearsal):
            if result is not None:
                return result.baseline_failing
        return []

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"store": self.store, "action": self.action}
        if self.subject:
            data["subject"] = self.subject
        if self.from_version or self.to_version:
            data |= {"from": self.from_version, "to": self.to_version}
        data |= {"ok": self.ok, "snapshot": self.snapshot, "failure": self.failure, "rolled_back": self.rolled_back,
                 "baseline_failing": self.baseline_failing, "rollback_steps": self.rollback_steps,
                 "seconds": round(self.seconds, 3)}
        if self.phases:
            data["phases"] = {name: round(secs, 3) for name, secs in self.phases.items()}
        if self.journal:
            data["journal"] = self.journal
        return data | {"rehearsal": self.rehearsal.as_dict() if self.rehearsal else None,
                       "live": self.live.as_dict() if self.live else None}
