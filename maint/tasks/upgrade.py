"""`fab upgrade STORE --to VERSION --release PATH` and `fab rollback STORE`: the OpenCart core upgrade."""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from maint import render
from maint.errors import InputError, MaintError, PreconditionError
from maint.facts.opencart import get_store_facts
from maint.mirror.sshmux import SshMux
from maint.remote.ssh import connect
from maint.runner import Guarded, Road, run_change
from maint.tasks.common import TaskContext, emit_json, maint_task, task
from maint.upgrade import service
from maint.upgrade.procedure import Step, UpgradeStepError
from maint.upgrade.release import open_release

EXAMPLES = """
Examples:
  fab upgrade shop --to 3.0.5.1 --release opencart-3.0.5.1.zip --dry-run   # the plan only
  fab upgrade shop --to 4.1.0.4 --release ~/releases/4.1.0.4/ --yes         # snapshot, rehearse, apply, verify
  fab upgrade shop --for-php 8.3 --release opencart-4.1.0.4.zip             # the target `fab check --php 8.3` names
  fab rollback shop                                                          # back to before the last upgrade
"""


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _step_printer(label: str, quiet: bool) -> Any:
    def show(step: Step) -> None:
        if not quiet:
            mark = "ok " if step.ok else "FAILED"
            _say(f"  {label}: {mark} {step.name} ({step.seconds:.1f}s){': ' + step.detail if step.detail else ''}")
    return show


def _platform_problems(tc: TaskContext, store: str, to: str, targets: dict[str, str]) -> tuple[list[str], str]:
    """(why the target doesn't support the store's current or planned platform, the target check recommends)."""
    from maint.matrix import load_advisories, load_matrix
    from maint.ops.check import UNSUPPORTED, Targets, plan_check, platform_of, platform_verdicts
    from maint.tasks.check import gather_check_facts

    facts = gather_check_facts(tc, store)
    matrix = load_matrix(tc.settings.playbook("matrix.yaml"))
    advisories = load_advisories(tc.settings.playbook("advisories.yaml"))
    wanted = Targets(**{k: v for k, v in targets.items() if v})
    report = plan_check(facts, matrix, advisories, wanted)
    recommended = report.recommended or ""
    if not to:
        return [], recommended
    release = matrix.find(to)
    if release is None:
        return [f"OpenCart {to} is not in the supported-core matrix"], recommended
    problems = []
    for verdict in platform_verdicts(release, platform_of(facts, wanted)):
        if verdict.status == UNSUPPORTED:
            problems.append(f"{verdict.component}: {verdict.reason}")
    return problems, recommended


@task(
    name="upgrade",
    examples=[
        "fab upgrade demo --release opencart-4.1.0.4.zip --to 4.1.0.4 --dry-run",
        "fab upgrade demo --release opencart-4.1.0.4.zip --to 4.1.0.4 --rehearse-only",
        "fab upgrade demo --release ~/releases/ --for-php 8.3",
    ],
    help={
        "store": "store name from the inventory",
        "to": "the OpenCart version to upgrade to (must match the release's own index.php)",
        "release": "the release: an official zip, a `git archive` tarball, or an unpacked folder",
        "sha256": "expected SHA-256 of the release archive",
        "for_php": "upgrade to the release `fab check --php X` recommends for this PHP version",
        "mysql": "with --for-php: the planned MySQL/MariaDB version too",
        "from_release": "the store's current release (zip/tar/folder): finds core files the store customised",
        "rehearse_only": "stop after the rehearsal on the working copy; the live store is not touched",
        "no_rehearse": "skip the rehearsal (not recommended)",
        "snapshot_max_age": "reuse the latest verified snapshot if younger than this many seconds (default: take one)",
        "dry_run": "show the plan only",
        "yes": "don't ask (for scripts; MAINT_YES=1 does the same)",
        "json": "print JSON for machines",
        "quiet": "print only the result",
        "over_budget": "work even when the client's plan is spent",
    },
)
@maint_task
def upgrade(c, store, to="", release="", sha256="", for_php="", mysql="", from_release="", rehearse_only=False,
            no_rehearse=False, snapshot_max_age=0, dry_run=False, yes=False, json=False, quiet=False,
            over_budget=False):
    """Upgrade OpenCart's core: plan, snapshot, rehearse on a working copy, apply, verify, roll back on failure."""
    if not release:
        raise InputError("name the release with --release PATH (an official zip, a git archive tarball or a folder)"
                         + EXAMPLES, column="--release")
    if not to and not for_php:
        raise InputError("name the target with --to VERSION (or --for-php X to take the one `fab check` "
                         "recommends)", column="--to")
    if rehearse_only and no_rehearse:
        raise InputError("--rehearse-only and --no-rehearse contradict each other", column="--rehearse-only")
    began = time.monotonic()
    phases: dict[str, float] = {}
    lap = [began]

    def mark(name: str) -> None:  # where the whole run's time goes, reported with it
        now = time.monotonic()
        phases[name] = phases.get(name, 0.0) + now - lap[0]
        lap[0] = now

    tc = TaskContext.from_c(c)
    cfg = tc.store(store, dry_run=dry_run)
    problems, recommended = _platform_problems(tc, store, to, {"php": for_php, "mysql": mysql})
    if for_php and not to:
        if not recommended:
            raise PreconditionError(f"`fab check --php {for_php}` recommends no release for {store}", store=store)
        to = recommended
        problems, _ = _platform_problems(tc, store, to, {"php": for_php, "mysql": mysql})
    mark("platform check")
    rel = open_release(release, expect=to, sha256=sha256)
    current_rel = open_release(from_release) if from_release else None
    mark("release")
    conn = connect(cfg)
    try:
        facts = get_store_facts(conn, cfg)
        if current_rel is not None and current_rel.version != facts.version:
            raise InputError(f"--from-release is OpenCart {current_rel.version}, the store runs {facts.version}",
                             column="--from-release")
        with SshMux(cfg) as mux:
            prepared = service.prepare_upgrade(conn, cfg, facts, rel, mux, current=current_rel,
                                               platform_problems=problems, rehearse=not no_rehearse,
                                               snapshot_max_age=_snapshot_max_age(cfg, snapshot_max_age))
            mark("plan")

            def apply() -> Guarded:
                outcome = Guarded(store, "upgrade", from_version=facts.version, to_version=rel.version,
                                  phases=phases)
                mark("confirm")
                outcome.snapshot = prepared.snapshot or service.take_snapshot(conn, cfg, facts, mux)
                mark("snapshot")
                if not quiet and not json:
                    _say(f"  snapshot {outcome.snapshot} verified (the way back)")
                before = None
                if not no_rehearse:
                    # The live storefront's prices and pages are read while the rehearsal runs (read-only, on
                    # another machine): that read is off the whole run's time. Both finish before the live run.
                    with ThreadPoolExecutor(max_workers=1) as pool:
                        live_read = (pool.submit(service.read_live_storefront, conn, cfg, facts, mux)
                                     if not rehearse_only else None)
                        try:
                            outcome.rehearsal = service.rehearse(cfg, outcome.snapshot, prepared,
                                                                 _step_printer("rehearsal", quiet or json))
                        except UpgradeStepError as exc:
                            outcome.rehearsal = exc.result
                            outcome.failure = f"the rehearsal failed, the live store was not touched: {exc.message}"
                        try:
                            before = live_read.result() if live_read is not None else None
                        except Exception:  # noqa: BLE001 - read again at the live run's start, where it is reported
                            before = None
                    mark("rehearsal")
                if not outcome.failure and not rehearse_only:
                    try:
                        outcome.live = service.apply_live(conn, cfg, facts, prepared, mux, outcome.snapshot,
                                                          _step_printer("live", quiet or json), before)
                        outcome.snapshot = outcome.live.snapshot or outcome.snapshot
                    except MaintError as exc:
                        outcome.live = getattr(exc, "result", None)
                        outcome.failure = exc.message
                        if outcome.live is not None and outcome.live.snapshot:
                            outcome.snapshot = outcome.live.snapshot  # taken in the window: newer orders
                        if getattr(exc, "rolled_back", False):  # rolled back inside the maintenance window
                            outcome.rollback_steps, outcome.rolled_back = exc.rollback_steps, True
                        elif not quiet and not json:
                            _say(f"  live: {exc.message}; rolling back to {outcome.snapshot}")
                        try:
                            if not outcome.rolled_back:
                                outcome.rollback_steps = service.rollback_to(conn, cfg, facts, outcome.snapshot, mux,
                                                                             outcome.baseline_failing,
                                                                             carry_newer=True)
                                outcome.rolled_back = True
                        except MaintError as again:
                            # Never leave a half-upgraded store serving customers: maintenance mode back on.
                            left_on = service.keep_in_maintenance(conn, cfg, facts, mux)
                            outcome.failure += (f"; THE ROLLBACK FAILED TOO ({again.message}): the store may be "
                                                f"half-upgraded{', left in maintenance mode' if left_on else ''}; "
                                                f"put it back with: fab restore {store} --snapshot "
                                                f"{outcome.snapshot} --yes")
                    mark("live")
                outcome.seconds = service.elapsed(began)
                outcome.journal = str(service.write_journal(cfg, outcome))
                return outcome

            road = Road("upgrade", f"Upgrade the LIVE store {store} from OpenCart {facts.version} to {rel.version}?",
                        dry_run=dry_run, yes=yes, json=json, over_budget=over_budget)
            done = run_change(tc, cfg, conn, prepared.plan, road, apply)
    finally:
        conn.close()
        service.cleanup_release(rel)
        if current_rel is not None:
            service.cleanup_release(current_rel)
    if not done.applied or done.result is None:
        return done.report(store, json)
    outcome = done.result
    data = outcome.as_dict()
    if json:
        emit_json([{"store": store, "ok": not outcome.failure, "error": outcome.failure or None,
                    "exit_code": 70 if outcome.failure else 0, **data}])
    else:
        _report(outcome, rehearse_only)
    if outcome.failure:
        state = ("rolled back to the snapshot and verified: the store runs OpenCart " + outcome.from_version
                 if outcome.rolled_back else "the live store was not touched")
        raise _Failed(f"{store}: upgrade to {outcome.to_version} failed ({outcome.failure}); {state}", 70)
    return data


def _snapshot_max_age(cfg: Any, flag: Any) -> float:
    """--snapshot-max-age, else the inventory's / fabric.yaml's `options: {upgrade: {snapshot_max_age: S}}`."""
    value = flag or cfg.option("upgrade", "snapshot_max_age", 0) or 0
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise InputError(f"snapshot_max_age must be a number of seconds, not {value!r}",
                         column="options.upgrade.snapshot_max_age") from None
    if seconds < 0:
        raise InputError("snapshot_max_age can't be negative", column="options.upgrade.snapshot_max_age")
    return seconds


class _Failed(MaintError):
    exit_code = 70

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.exit_code = code


def _report(outcome: Guarded, rehearse_only: bool) -> None:
    rows: list[tuple[str, Any]] = [("snapshot", outcome.snapshot)]
    if outcome.rehearsal:
        rows.append(("rehearsal", f"{'ok' if not outcome.rehearsal.problems and not outcome.failure.startswith('the rehearsal') else 'FAILED'}, "
                                  f"window {outcome.rehearsal.window_seconds:.1f}s"))
    if outcome.live:
        rows.append(("maintenance window", f"{outcome.live.window_seconds:.1f}s"))
        rows.append(("verified", ", ".join(outcome.live.verified) or "-"))
        rows.append(("prices compared", outcome.live.prices_compared))
        rows += [("note", note) for note in outcome.live.notes]
    if outcome.rolled_back:
        rows += [("rollback", step) for step in outcome.rollback_steps]
    rows.append(("total time", f"{outcome.seconds:.1f}s"))
    if outcome.phases:
        rows.append(("time spent", ", ".join(f"{name} {secs:.1f}s" for name, secs in outcome.phases.items())))
    if outcome.failure:
        title = f"{outcome.store}: upgrade {outcome.from_version} → {outcome.to_version} FAILED"
    elif rehearse_only:
        title = f"{outcome.store}: rehearsal of {outcome.from_version} → {outcome.to_version} passed; live store untouched"
    else:
        title = f"{outcome.store}: upgraded OpenCart {outcome.from_version} → {outcome.to_version}, verified"
    render.key_values(title, rows)


@task(
    name="rollback",
    examples=["fab rollback demo --dry-run", "fab rollback demo --carry-newer", "fab rollback demo --discard-newer"],
    help={
        "store": "store name from the inventory",
        "discard_newer": "roll back even though orders, customers or reviews newer than the snapshot will be lost",
        "carry_newer": "roll back and write the orders, customers and reviews newer than the snapshot back into "
                       "the restored store (ids kept; what can't go back is listed)",
        "dry_run": "show what would be restored",
        "yes": "don't ask (for scripts; MAINT_YES=1 does the same)",
        "json": "print JSON for machines",
        "over_budget": "work even when the client's plan is spent",
    },
)
@maint_task
def rollback(c, store, discard_newer=False, carry_newer=False, dry_run=False, yes=False, json=False,
             over_budget=False):
    """Undo the last upgrade: restore the snapshot taken before it, maintenance off, verify the storefront."""
    from maint.ops.mirror import check_newer_flags

    check_newer_flags(discard_newer, carry_newer)
    tc = TaskContext.from_c(c)
    cfg = tc.store(store, dry_run=dry_run)
    last = service.last_upgrade(cfg)
    if last is None:
        reason = "no upgrade of this store to roll back (none recorded, or already rolled back)"
        if json:
            emit_json([{"store": store, "applied": False, "noop_reason": reason}])
        else:
            _say(f"{store}: No changes. {reason}")
        return {"applied": False}
    from maint.mirror import carryover
    from maint.mirror.run import snapshot_manifest
    from maint.model import Change, Plan
    from maint.ops.mirror import NOUNS, carry_change

    summary = (f"restore snapshot {last['snapshot']} (taken before the upgrade {last['from']} → {last['to']} of "
               f"{last['time']}): files and database as they were then")
    plan = Plan(store, "rollback", [Change("restore", last["snapshot"], summary, destructive=True)])
    conn = connect(cfg)
    try:
        facts = get_store_facts(conn, cfg)
        # Orders placed on the upgraded store are not in the snapshot: listed, and refused without the flag.
        man = snapshot_manifest(cfg, last["snapshot"])  # read once: a repository's copy costs a tool run
        newer = service.newer_than(conn, cfg, facts, last["snapshot"], man)
        for rows in newer if not carry_newer else ():
            plan.changes.insert(0, Change("lose", rows.table, f"{rows.count} {NOUNS.get(rows.table, rows.table)} "
                                          f"newer than the snapshot would be lost: {'; '.join(rows.examples)}"
                                          f"{'; …' if rows.count > len(rows.examples) else ''}", destructive=True))
        if newer and carry_newer:  # read once more in maintenance, right before the restore
            plan.changes += [carry_change(line) for line in carryover.preview(conn, cfg, facts, man, last["snapshot"])]
        if newer and not discard_newer and not carry_newer:
            plan.warnings.append(f"{service.describe_newer(newer)} newer than the snapshot would be lost: "
                                 "refused without --discard-newer")
            if not dry_run:
                if not json:
                    render.plan(plan)
                raise PreconditionError(f"the rollback would lose {service.describe_newer(newer)} placed since the "
                                        f"upgrade; nothing was changed: pass --carry-newer to keep them, or "
                                        f"--discard-newer to accept that", store=store)
        with SshMux(cfg) as mux:
            road = Road("rollback", f"Roll the LIVE store {store} back to OpenCart {last['from']}?", dry_run=dry_run,
                        yes=yes, json=json, over_budget=over_budget)
            done = run_change(tc, cfg, conn, plan, road, lambda: service.rollback_to(
                conn, cfg, facts, last["snapshot"], mux, last.get("baseline_failing", []),
                discard_newer=discard_newer, carry_newer=carry_newer))
    finally:
        conn.close()
    if not done.applied or done.result is None:
        return done.report(store, json)
    steps = done.result
    service.mark_rolled_back(last["journal"], steps)
    data = {"store": store, "snapshot": last["snapshot"], "steps": steps, "applied": True}
    if json:
        emit_json([data])
    else:
        render.key_values(f"{store}: rolled back to {last['snapshot']} (OpenCart {last['from']})",
                          [("step", s) for s in steps])
    return data

