"""`fab mirror STORE`: a dated, verified snapshot of a store's files and database on the mirror disk."""

from __future__ import annotations

import sys
from typing import Any

from maint import render
from maint.errors import CancelledByUser, InputError
from maint.facts.opencart import get_store_facts
from maint.mirror.borg import BorgRepo
from maint.mirror.layout import StoreMirror
from maint.mirror.restic import ResticRepo
from maint.mirror.retention import Retention
from maint.mirror.run import MirrorOptions, Prepared, apply_mirror, mirror_of, prepare, repository_of
from maint.mirror.sshmux import SshMux
from maint.mirror.strip import parse_groups
from maint.model import Plan
from maint.ops.mirror import plan_prune
from maint.remote.ssh import connect
from maint.tasks.common import (
    TaskContext,
    confirm,
    emit_json,
    finish,
    for_each_store,
    maint_task,
    task,
    work_session,
)


def _progress_bars(enabled: bool) -> tuple[Any, Any]:
    """A rich progress display (bytes of files, bytes of dump) and its callback; (None, None) when off."""
    if not enabled:
        return None, None
    bars = render.progress(transfer=True)
    if not bars.console.is_terminal:
        return None, None
    tasks: dict[str, Any] = {}

    def update(phase: str, done: int, total: int | None) -> None:
        if phase not in tasks:
            tasks[phase] = bars.add_task("files" if phase == "files" else "database dump", total=total)
        bars.update(tasks[phase], completed=done, total=total)

    return bars, update


def mirror_one(
    tc: TaskContext, name: str, options: MirrorOptions, *, show_bars: bool, over_budget: bool = False
) -> dict[str, Any]:
    cfg = tc.store(name, dry_run=options.dry_run)
    with work_session(tc, cfg, "mirror", quiet=options.dry_run, over_budget=over_budget, dry_run=options.dry_run):
        conn = connect(cfg)
        try:
            facts = get_store_facts(conn, cfg)
            with SshMux(cfg) as mux:
                prep: Prepared = prepare(conn, cfg, facts, options, mux)
                if options.dry_run:
                    return {"store": name, "dry_run": True, "plan": prep.plan.as_dict(), "_plan": prep.plan}
                bars, update = _progress_bars(show_bars)
                if bars is not None:
                    with bars:
                        result = apply_mirror(conn, prep, mux, update)
                else:
                    result = apply_mirror(conn, prep, mux, None)
        finally:
            conn.close()
    data = result.as_dict()
    data["_plan"] = prep.plan
    return data


def summary_rows(data: dict[str, Any]) -> list[tuple[str, Any]]:
    roots = data["roots"]
    timings = data["timings"]
    pairs: list[tuple[str, Any]] = [
        ("snapshot", f"{data['path']}{'  (resumed a partial run)' if data['resumed'] else ''}"),
        ("OpenCart", data["opencart_version"]),
    ]
    for r in roots:
        pairs.append((f"files/{r['name']}", f"{r['files']} files, {render.bytes_human(r['bytes'])}: "
                      f"{r['new']} new, {r['changed']} changed, {r['deleted']} deleted"))
    dump = data["dump"]
    pairs.append(("database", f"{dump['file']} {render.bytes_human(dump['bytes'])}, {len(dump['tables'])} tables, "
                  f"{sum(dump['tables'].values())} rows, {dump['consistency']}"
                  + (f", stripped {len(dump['stripped'])} tables" if dump["stripped"] else "")
                  + (f", unchanged since {dump['reused_from']}: its dump reused" if dump.get("reused_from") else "")))
    for archive in data.get("secrets", []):
        pairs.append((archive["file"], f"{archive['files']} files, {render.bytes_human(archive['bytes'])} "
                      f"encrypted ({data['encryption']}): {', '.join(archive['paths'])}"))
    pairs.append(("time", ", ".join(f"{k} {v:.1f}s" for k, v in timings.items())))
    pairs += [("check", c) for c in data["checks"]]
    return pairs


def prune_store(tc: TaskContext, name: str, *, dry_run: bool, yes: bool, json: bool) -> dict[str, Any]:
    cfg = tc.store(name)
    repo = repository_of(cfg)
    mirror: StoreMirror | BorgRepo | ResticRepo = repo if repo is not None else mirror_of(cfg)
    rules = Retention.from_options(dict(cfg.option("mirror", "keep", {}) or {}))
    plan, _ = plan_prune(name, mirror.snapshots(), rules, mirror.latest())
    if not json:
        render.plan(plan)
    if not plan or dry_run:
        return {"store": name, "prune": plan.as_dict(), "deleted": []}
    confirm(f"Delete {len(plan)} snapshot(s) of {name}?", yes=yes)
    deleted = []
    if isinstance(mirror, ResticRepo):  # one `restic forget` of exactly these, then one `restic prune`
        mirror.drop([change.target for change in plan])
        return {"store": name, "prune": plan.as_dict(), "deleted": [change.target for change in plan]}
    for change in plan:
        if isinstance(mirror, BorgRepo):
            mirror.delete(change.target)
        else:
            mirror.remove(change.target)
        deleted.append(change.target)
    if isinstance(mirror, BorgRepo):
        mirror.drop_unused_trees()  # the files of the deleted snapshots, unless a kept one shares them
    return {"store": name, "prune": plan.as_dict(), "deleted": deleted}


@task(
    name="mirror",
    examples=[
        "fab mirror demo --dry-run",
        "fab mirror demo",
        "fab mirror --all --prune --yes",
    ],
    positional=["store"],
    help={
        "store": "store name from the inventory",
        "all_": "every store in the inventory, in parallel",
        "prune": "after mirroring, delete snapshots the retention rules (options.mirror.keep) don't keep",
        "dry_run": "show the plan and what would be transferred; change nothing",
        "yes": "don't ask before pruning",
        "json": "print JSON for machines",
        "strip": "comma-separated groups dumped as structure only: customers, orders, sessions",
        "method": "file transfer: auto (rsync, SFTP when the host has none), rsync or sftp",
        "dump_tool": "auto (mysqldump, PyMySQL when the host has none), mysqldump or pymysql",
        "over_budget": "work even when the client's plan is spent",
    },
)
@maint_task
def mirror(c, store=None, all_=False, prune=False, dry_run=False, yes=False, json=False, strip="", method="auto",
           dump_tool="auto", over_budget=False):
    """Make a dated, verified snapshot of a store's files and database (--prune: apply retention)."""
    if method not in ("auto", "rsync", "sftp"):
        raise InputError(f"--method must be auto, rsync or sftp, not {method!r}", column="--method")
    if dump_tool not in ("auto", "mysqldump", "pymysql"):
        raise InputError(f"--dump-tool must be auto, mysqldump or pymysql, not {dump_tool!r}", column="--dump-tool")
    options = MirrorOptions(strip_groups=tuple(parse_groups(strip)) if strip else (), dry_run=dry_run,
                            method=method, dump_tool=dump_tool)
    tc = TaskContext.from_c(c)
    names = tc.targets(store, all_)
    show_bars = len(names) == 1 and not json and sys.stderr.isatty()
    report = for_each_store(names, lambda name: mirror_one(tc, name, options, show_bars=show_bars,
                                                              over_budget=over_budget),
                            parallel=tc.settings.parallel)
    if not json:
        show_mirrors(report, dry_run=dry_run, many=len(names) > 1)
    # What was done is said first; a prune the user refuses (or can't be asked about) is said after it,
    # with exit 3 for that part only.
    prunes: dict[str, Any] = {}
    refused: list[str] = []
    if prune:
        for result in report.succeeded:
            try:
                prunes[result.store] = prune_store(tc, result.store, dry_run=dry_run, yes=yes, json=json)
            except CancelledByUser as exc:
                prunes[result.store] = {"store": result.store, "deleted": [], "refused": exc.message}
                refused.append(result.store)
    if json:
        out = []
        for r in report.results:
            if r.ok:
                item = {k: v for k, v in r.data.items() if k != "_plan"}
                if r.store in prunes:
                    item["prune"] = prunes[r.store]
                out.append(item)
            else:
                out.append({"store": r.store, "ok": False, "error": r.error, "exit_code": r.exit_code})
        emit_json(out, exit_code=report.exit_code or (3 if refused else 0))
    if report.failed:
        finish(report)
    if refused:
        raise CancelledByUser(
            f"{', '.join(refused)}: the snapshot was made and verified; pruning old snapshots was not done "
            f"({prunes[refused[0]]['refused']})"
        )


def show_mirrors(report: Any, *, dry_run: bool, many: bool) -> None:
    """Each store's snapshot summary (or its plan, for a dry run)."""
    for r in report.succeeded:
        plan: Plan = r.data["_plan"]
        if dry_run:
            render.plan(plan)
        else:
            for w in plan.warnings:
                print(f"warning: {r.store}: {w}", file=sys.stderr)
            path = str(r.data.get("path", ""))
            # borg keeps archives, restic snapshots: each said in its own word
            where = ("archived in " + path if path.startswith("borg:") else "saved as the restic snapshot " + path
                     if path.startswith("restic:") else "published as latest")
            render.key_values(f"{r.store}: snapshot {r.data['snapshot']} verified and {where}",
                              summary_rows(r.data))
    if many:
        render.table("mirror --all", ("store", "result"),
                     [(r.store, r.data.get("snapshot", "planned") if r.ok else f"FAILED: {r.error}")
                      for r in report.results])
