"""`fab extension list|install|remove STORE ...`: OpenCart extensions, listed, installed and removed safely."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from maint import render
from maint.errors import InputError, MaintError
from maint.extension import service
from maint.extension.package import check_line, read_package
from maint.extension.plan import plan_install, plan_remove
from maint.extension.procedure import install_on, provided_by, remove_on
from maint.facts.opencart import get_store_facts
from maint.mirror.sshmux import SshMux
from maint.remote.ssh import connect
from maint.runner import Guarded, Road, run_change
from maint.tasks.common import TaskContext, emit_json, maint_task, task
from maint.upgrade.procedure import Step

ACTIONS = ("list", "install", "remove")
EXAMPLES = """
Examples:
  fab extension list shop                                  # packages, extensions, modifications, stray files
  fab extension install shop quote.ocmod.zip --dry-run     # the plan only
  fab extension install shop quote.ocmod.zip --yes         # snapshot, rehearse, install, verify
  fab extension remove shop quote                          # uninstall, delete its files and rows, verify
"""


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _printer(quiet: bool) -> Any:
    def make(label: str) -> Any:
        if quiet:
            return None

        def show(step: Step) -> None:
            mark = "ok " if step.ok else "FAILED"
            _say(f"  {label}: {mark} {step.name} ({step.seconds:.1f}s){': ' + step.detail if step.detail else ''}")
        return show
    return make


class _Failed(MaintError):
    exit_code = 70


@task(
    name="extension",
    positional=["action", "store", "target"],
    examples=[
        "fab extension list demo",
        "fab extension install demo quote.ocmod.zip --dry-run",
        "fab extension remove demo quote",
    ],
    help={
        "action": "list, install or remove",
        "store": "store name from the inventory",
        "target": "install: the package (.ocmod.zip); remove: the package's code (as `list` shows it)",
        "allow_overwrite": "install even when the package replaces existing files (core or another extension's)",
        "release": "list: the store's own release (zip/folder), to find extension files no package claims on 3.0",
        "no_rehearse": "skip the rehearsal on a working copy of the snapshot (not recommended)",
        "dry_run": "show the plan only",
        "yes": "don't ask (for scripts; MAINT_YES=1 does the same)",
        "json": "print JSON for machines",
        "quiet": "print only the result",
        "over_budget": "work even when the client's plan is spent",
    },
)
@maint_task
def extension(c, action, store, target="", allow_overwrite=False, release="", no_rehearse=False, dry_run=False,
              yes=False, json=False, quiet=False, over_budget=False):
    """List, install or remove OpenCart extensions: planned, rehearsed, verified, rolled back on failure."""
    if action not in ACTIONS:
        raise InputError(f"the action is one of {', '.join(ACTIONS)}, not {action!r}" + EXAMPLES, column="action")
    if action != "list" and not target:
        what = "the package file (.ocmod.zip)" if action == "install" else "the package's code"
        raise InputError(f"name {what} after the store" + EXAMPLES, column="target")
    tc = TaskContext.from_c(c)
    cfg = tc.store(store, dry_run=dry_run)
    pkg = read_package(target) if action == "install" else None  # a bad package fails before any connection
    conn = connect(cfg)
    try:
        facts = get_store_facts(conn, cfg)
        line = service.line_of(facts.version)
        if pkg is not None:
            check_line(pkg.source, pkg.line, line)
        with SshMux(cfg) as mux:
            if action == "list":
                return _list(conn, cfg, facts, mux, release, json)
            live, ext = service.store_facts(conn, cfg, facts, mux)
            if pkg is not None:
                existing = service.package_existing(live, pkg.files, pkg.code, line)
                plan = plan_install(pkg, ext, existing, allow_overwrite=allow_overwrite, admin_dir=facts.admin_dir)
                subject = f"{pkg.code} {pkg.version}".strip()
            else:
                installed = ext.install_of(target)
                plan = plan_remove(target, ext, provided_by(installed, ext) if installed else [])
                subject = target
            note: list[str] = []  # the ledger entry's note, for `fab report`: what, and how it ended

            def apply() -> Guarded:
                began = time.monotonic()
                outcome = Guarded(store, action, subject)
                if pkg is not None:
                    def procedure(t: Any, on_step: Any) -> Any:
                        return install_on(t, facts.version, pkg, on_step=on_step)
                else:
                    def procedure(t: Any, on_step: Any) -> Any:
                        return remove_on(t, facts.version, target, on_step=on_step)
                service.snapshot_rehearse_apply(conn, cfg, facts, mux, outcome, procedure, rehearse=not no_rehearse,
                                                say=None if quiet or json else _say, printer=_printer(quiet or json))
                outcome.seconds = time.monotonic() - began
                ended = "rolled back" if outcome.rolled_back else "live store not touched"
                note.append(f"{action} {subject}" + (f": failed, {ended}" if outcome.failure else ": done"))
                return outcome

            road = Road(f"extension {action}", f"{action.capitalize()} {subject} on the LIVE store {store}?",
                        dry_run=dry_run, yes=yes, json=json, over_budget=over_budget, note=note)
            done = run_change(tc, cfg, conn, plan, road, apply)
    finally:
        conn.close()
    if not done.applied or done.result is None:
        return done.report(store, json)
    outcome = done.result
    data = {**outcome.as_dict(), "plan": plan.as_dict(), "applied": outcome.ok}
    if json:
        emit_json([{"store": store, "ok": outcome.ok, "error": None if outcome.ok else data.get("failure"), **data}])
    else:
        _report(outcome)
    if outcome.failure:
        # A live step that failed and a rollback that failed too is neither "rolled back" nor "untouched".
        state = ("rolled back to the snapshot and verified" if outcome.rolled_back
                 else "the store may be half-changed" if "THE ROLLBACK FAILED" in outcome.failure
                 else "the live store was not touched")
        raise _Failed(f"{store}: extension {action} {subject} failed ({outcome.failure}); {state}")
    return data


def _report(outcome: Guarded) -> None:
    rows: list[tuple[str, Any]] = [("snapshot", outcome.snapshot)]
    if outcome.rehearsal:
        rows.append(("rehearsal", "ok" if not outcome.failure.startswith("the rehearsal") else "FAILED"))
    if outcome.live:
        rows.append(("verified", ", ".join(outcome.live.verified) or "-"))
    rows += [("rollback", step) for step in outcome.rollback_steps]
    rows.append(("total time", f"{outcome.seconds:.1f}s"))
    verb = {"install": "installed", "remove": "removed"}[outcome.action]
    title = (f"{outcome.store}: extension {outcome.action} {outcome.subject} FAILED" if outcome.failure
             else f"{outcome.store}: {verb} {outcome.subject}, verified")
    render.key_values(title, rows)


def _list(conn: Any, cfg: Any, facts: Any, mux: Any, release: str, json: bool) -> dict[str, Any]:
    core: set[str] | None = None
    if release:
        from maint.upgrade.release import open_release
        from maint.upgrade.service import cleanup_release

        rel = open_release(Path(release))
        try:
            core = {str(p.relative_to(rel.tree)) for p in rel.tree.rglob("*") if p.is_file()}
        finally:
            cleanup_release(rel)
    _target, ext = service.store_facts(conn, cfg, facts, mux, core_files=core)
    data = ext.as_dict()
    if json:
        emit_json([{"store": cfg.store, "ok": True, **data}])
        return data
    render.table(f"{cfg.store}: packages (OpenCart {facts.version})", ["code", "name", "version", "author", "date",
                                                                      "files"],
                 [[i.code, i.name, i.version, i.author, i.date[:10], str(len(i.paths))] for i in ext.installs])
    render.table("extensions", ["type", "code", "folder", "enabled"],
                 [[e.type, e.code, e.folder or "-", {True: "yes", False: "no", None: "-"}[e.enabled]]
                  for e in ext.extensions])
    if ext.modifications:
        render.table("modifications (OCMOD)", ["code", "name", "version", "enabled", "changes"],
                     [[m.code, m.name, m.version, "yes" if m.enabled else "no", ", ".join(m.files)]
                      for m in ext.modifications])
    for title, items in (("vQmod scripts", ext.vqmod), ("files no package claims", ext.unclaimed),
                         ("flags", ext.flags)):
        if items:
            _say(f"{title}:")
            for item in items:
                _say(f"  {item}")
    if facts.version.startswith("3") and not release:
        _say("(3.0: pass --release <the store's release> to list extension files no package claims)")
    return data
