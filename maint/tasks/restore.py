"""`fab restore STORE --snapshot TS`: put a verified snapshot back on the live host (planned, confirmed)."""

from __future__ import annotations

from maint import render
from maint.errors import UsageError
from maint.facts.opencart import get_store_facts
from maint.mirror.restore import apply_restore, prepare_restore
from maint.remote.ssh import connect
from maint.tasks.common import TaskContext, confirm, emit_json, maint_task, task, work_session
from maint.tasks.serve import resolve_snapshot


@task(
    name="restore",
    examples=[
        "fab restore demo --snapshot 2026-11-30T0200 --dry-run",
        "fab restore demo --snapshot 2026-11-30T0200",
    ],
    help={
        "store": "store name from the inventory",
        "snapshot": "timestamp of the snapshot to restore (required: no default on purpose)",
        "dry_run": "show the plan only",
        "yes": "don't ask (for scripts; MAINT_YES=1 does the same)",
        "json": "print JSON for machines",
        "over_budget": "work even when the client's plan is spent",
    },
)
@maint_task
def restore(c, store, snapshot="", dry_run=False, yes=False, json=False, over_budget=False):
    """Replace a live store's files and database with a verified snapshot (destructive; asks first)."""
    if not snapshot:
        raise UsageError("name the snapshot to restore with --snapshot TS (see the mirror folder)")
    tc = TaskContext.from_c(c)
    cfg = tc.store(store, dry_run=dry_run)
    path, man = resolve_snapshot(cfg, snapshot)
    conn = connect(cfg)
    try:
        facts = get_store_facts(conn, cfg)
        plan = prepare_restore(conn, cfg, facts, path, man)
        if json and dry_run:
            emit_json([{"store": store, "dry_run": True, "plan": plan.as_dict()}])
            return
        if not json:
            render.plan(plan)
        if dry_run:
            return
        confirm(f"Replace the LIVE store {store} with snapshot {path.name}?", yes=yes)
        with work_session(tc, cfg, "restore", over_budget=over_budget, yes=yes):
            result = apply_restore(conn, cfg, facts, path, man, plan)
    finally:
        conn.close()
    if json:
        emit_json([{"store": store, "dry_run": False, "plan": plan.as_dict(), **result.as_dict()}])
    else:
        render.key_values(f"{store}: restored {path.name}", [("step", s) for s in result.steps])
