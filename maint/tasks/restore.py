"""`fab restore STORE --snapshot TS`: put a verified snapshot back on the live host (planned, confirmed).

Without --snapshot it lists the store's snapshots. Before anything changes it shows the orders, customers
and reviews the restore would lose (and refuses without --discard-newer), or, with --carry-newer, those it
would write back after the restore (as `fab rollback --carry-newer` does, through the same code); then it
snapshots the live store so the restore itself can be undone.
"""

from __future__ import annotations

from contextlib import nullcontext

from maint import render
from maint.errors import PreconditionError
from maint.facts.opencart import get_store_facts
from maint.maintenance import planned_maintenance
from maint.mirror.restore import archive_rows, prepare_restore, restore_carrying, snapshot_rows
from maint.mirror.run import MirrorOptions, apply_mirror, drop_extraction, mirror_of, prepare, repository_of
from maint.mirror.sshmux import SshMux
from maint.ops.mirror import check_newer_flags
from maint.remote.ssh import connect
from maint.runner import Road, run_change
from maint.tasks.common import TaskContext, emit_json, maint_task, task
from maint.tasks.serve import resolve_snapshot


def list_snapshots(cfg, json):
    repo = repository_of(cfg)
    rows = archive_rows(repo) if repo is not None else snapshot_rows(mirror_of(cfg))
    if json:
        emit_json([{"store": cfg.store, "ok": True, "snapshots": rows}])
        return
    if not rows:
        print(f"{cfg.store}: no snapshots yet (run `fab mirror {cfg.store}`)")
        return
    render.table(f"{cfg.store}: snapshots (restore one with --snapshot TS)",
                 ("snapshot", "date", "OpenCart", "size", "verified", "encrypted", "note"),
                 [(r["snapshot"] + (" (latest)" if r["latest"] else ""), r["date"], r["opencart"],
                   render.bytes_human(r["bytes"]), "yes" if r["verified"] else "NO", r["encrypted"] or "no", r["note"])
                  for r in rows])


@task(
    name="restore",
    examples=[
        "fab restore demo --snapshot 2026-11-30T0200 --dry-run",
        "fab restore demo --snapshot 2026-11-30T0200",
        "fab restore demo --snapshot 2026-11-30T0200 --carry-newer",
    ],
    help={
        "store": "store name from the inventory",
        "snapshot": "timestamp of the snapshot to restore, or `latest` (without it: list the snapshots)",
        "discard_newer": "restore even though orders, customers or reviews newer than the snapshot will be lost",
        "carry_newer": "restore and write the orders, customers and reviews newer than the snapshot back into "
                       "the restored store (ids kept; what can't go back is listed)",
        "identity": "private key for an encrypted snapshot: an age identity file, or a GnuPG home "
                    "(default: mirror.identity; GnuPG's own keyring and agent)",
        "dry_run": "show the plan only",
        "yes": "don't ask (for scripts; MAINT_YES=1 does the same)",
        "json": "print JSON for machines",
        "over_budget": "work even when the client's plan is spent",
    },
)
@maint_task
def restore(c, store, snapshot="", discard_newer=False, carry_newer=False, identity="", dry_run=False, yes=False,
            json=False, over_budget=False):
    """Replace a live store's files and database with a verified snapshot (destructive; asks first)."""
    check_newer_flags(discard_newer, carry_newer)
    tc = TaskContext.from_c(c)
    cfg = tc.store(store, dry_run=dry_run)
    if not snapshot:
        list_snapshots(cfg, json)
        return
    if snapshot == "latest":
        snapshot = ""
    path, man = resolve_snapshot(cfg, snapshot)
    identity = identity or str(cfg.option("mirror", "identity", "") or "")
    conn = connect(cfg)
    try:
        done = _restore(tc, cfg, conn, path, man, discard_newer=discard_newer, carry_newer=carry_newer,
                        identity=identity, dry_run=dry_run, yes=yes, json=json, over_budget=over_budget)
    finally:
        conn.close()
        drop_extraction(cfg, path)
    if not done.applied or done.result is None:
        return done.report(store, json)
    plan, result = done.plan, done.result
    undo_hint = f"fab restore {store} --snapshot {result.undo_snapshot}"
    if json:
        emit_json([{"ok": True, "plan": plan.as_dict(), **result.as_dict(), "undo": undo_hint}])
    else:
        render.key_values(f"{store}: restored {path.name}",
                          [("before", f"snapshot {result.undo_snapshot} of the store as it was")]
                          + [("step", s) for s in result.steps] + [("undo with", undo_hint)])


def _restore(tc, cfg, conn, path, man, *, discard_newer, carry_newer, identity, dry_run, yes, json, over_budget):
    """Plan, then the change road: show, refuse or confirm, safety snapshot and restore under the store's lock."""
    store = cfg.store
    facts = get_store_facts(conn, cfg)
    plan = prepare_restore(conn, cfg, facts, path, man, discard_newer=discard_newer, carry_newer=carry_newer,
                           identity=identity, safety_snapshot=True)

    def check():
        lost = [ch for ch in plan if ch.kind == "lose"]
        if lost and not discard_newer:
            raise PreconditionError(
                "the restore would lose " + ", ".join(f"{ch.data['count']} {ch.target}(s)" for ch in lost)
                + " newer than the snapshot; pass --carry-newer to keep them, or --discard-newer to accept that",
                store=store)

    def apply():
        with SshMux(cfg) as mux:  # the safety snapshot: the restore itself can be undone
            prep = prepare(conn, cfg, facts, MirrorOptions(), mux)
            prep.note = f"before restoring {path.name}"
            undo = apply_mirror(conn, prep, mux)
        # Carrying: the store is in maintenance from the read of the newer rows until they are back (as in a
        # rollback), so no order placed meanwhile takes an id the carried ones need.
        hold = planned_maintenance(conn, cfg, facts.db, task="restore", why=f"back to snapshot {path.name}",
                                   expected_minutes=15) if carry_newer else nullcontext()
        with hold:  # the road holds the store's lock, since before the safety snapshot
            result = restore_carrying(conn, cfg, facts, path, man, plan, carry=carry_newer,
                                      guard=undo.manifest.newest, identity=identity)
        result.undo_snapshot = undo.snapshot
        return result

    road = Road("restore", f"Replace the LIVE store {store} with snapshot {path.name}?", dry_run=dry_run, yes=yes,
                json=json, over_budget=over_budget)
    return run_change(tc, cfg, conn, plan, road, apply, check=check)
