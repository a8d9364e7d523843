"""`fab health`: health checks of client stores graded by support level, with history and alerts."""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import time
from pathlib import Path

from invoke.exceptions import Exit
from rich.markup import escape

from maint import render
from maint.errors import UsageError
from maint.health import alerts, schedule
from maint.health import nagios as nagios_output
from maint.health.grading import display_unit
from maint.health.history import History, parse_duration
from maint.health.model import exit_code_for, worst_state
from maint.health.playbook import apply_overrides, load_checks
from maint.health.runner import StoreJob, run_health
from maint.tasks.common import TaskContext, emit_json, maint_task, task, with_urls


def history_path(tc: TaskContext) -> Path:
    return Path(tc.settings.state_dir).expanduser() / "health.sqlite"


def _maint_command() -> str:
    found = shutil.which("maint")
    return found or str(Path(sys.executable).parent / "maint")


def install_schedule_cmd(c, tc, store, all_, every, using, dry_run):
    """Write the systemd timer or crontab entry (or show it with --dry-run).

    The scheduled run must check the same inventory with the same state as this one: the resolved
    settings and every FABRIC_MAINT_* variable go into an environment file, and a config file given
    with -f is passed on.
    """
    target = ["--all"] if all_ or not store else [store]
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    runtime = getattr(c.config, "_runtime_path", None)
    config_file = ["-f", str(Path(runtime).resolve())] if runtime else []
    s = tc.settings
    resolved = {
        "FABRIC_MAINT_INVENTORY": str(Path(s.inventory).expanduser().resolve()),
        "FABRIC_MAINT_STATE_DIR": str(Path(s.state_dir).expanduser().resolve()),
        "FABRIC_MAINT_SSH_CONFIG": str(Path(s.ssh_config).expanduser().resolve()) if s.ssh_config else "",
        "FABRIC_MAINT_KNOWN_HOSTS": str(Path(s.known_hosts).expanduser().resolve()) if s.known_hosts else "",
    }
    plan = schedule.plan_schedule(
        using,
        every,
        [_maint_command(), *config_file, "health", *target],
        Path.cwd(),
        config_home,
        schedule.carried_environment(resolved, os.environ),
    )
    print(plan.describe())
    if dry_run:
        print("dry run: nothing written")
        return
    for note in schedule.install(plan):
        print(note)


def show_history(tc: TaskContext, names, since, as_json):
    seconds = parse_duration(since)
    start = time.time() - seconds
    with History(history_path(tc)) as h:
        report = [
            {**h.availability(n, start), "changes": [t.as_dict() for t in h.changes(n, start)]} for n in names
        ]
    if as_json:
        for entry in report:
            entry["changes"] = [{**t, "at": render.iso(t["at"])} for t in entry["changes"]]
        emit_json(report, since=since)
        return
    rows = []
    for entry in report:
        for t in entry["changes"]:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(t["at"]))
            rows.append(
                [
                    entry["store"],
                    when,
                    t["check"],
                    f"{t['from'] or 'new'} → {t['to']}",
                    t["level"] or "",
                    t["evidence"],
                ]
            )
    render.table(
        f"State changes in the last {since}", ["store", "when", "check", "change", "level", "evidence"], rows
    )
    render.table(
        f"Availability in the last {since} (runs where home, cart and checkout worked)",
        ["store", "runs", "availability", "least healthy checks"],
        [
            [
                e["store"],
                e["runs"],
                "n/a" if e["availability"] is None else f"{e['availability']:g}%",
                ", ".join(
                    f"{c} {p:g}%" for c, p in sorted(e["checks"].items(), key=lambda kv: kv[1])[:3] if p < 100
                )
                or "all 100%",
            ]
            for e in report
        ],
    )


def run_checks(tc: TaskContext, names):
    specs = load_checks(tc.settings.playbook("health.yaml"))
    # The advisories check grades against the same advisories file `check` uses (the agency's, when it has one).
    advisories_file = str(tc.settings.playbook("advisories.yaml"))
    specs = [dataclasses.replace(s, params={**s.params, "advisories_file": advisories_file})
             if s.probe == "advisories" else s for s in specs]
    configs = with_urls([tc.store(n) for n in names], tc.settings.parallel)
    with History(history_path(tc)) as h:
        jobs = [
            StoreJob(cfg, apply_overrides(cfg.store, specs, cfg.options.get("health")), h.memos(cfg.store))
            for cfg in configs
        ]
        workers = int(tc.settings.raw.get("health_parallel") or 32)
        outcome = run_health(jobs, workers=workers)
        for store, memos in outcome.memos.items():
            if memos:
                h.save_memos(store, memos)
        changes = h.record(outcome.results)
    problems = alerts.deliver(changes, tc.settings.smtp, tc.settings.webhook)
    return outcome, changes, problems


def show_results(outcome, changes, problems):
    con = render.console()
    text = escape if con.is_terminal else str
    render.table(
        f"Health of {len({r.store for r in outcome.results})} store(s) in {outcome.seconds:.1f}s",
        ["store", "check", "state", "value", "level", "evidence"],
        [
            [
                r.store,
                r.check,
                r.state.value,
                ""
                if r.value is None
                else f"{r.value}{display_unit(r.uom) if isinstance(r.value, int | float) else ''}",
                r.level or "",
                text(r.evidence),
            ]
            for r in outcome.results
        ],
        status_column=2,
    )
    for t in changes:
        render.line(f"alert: {alerts.describe(t)}")
    for p in problems:
        print(f"warning: {p}", file=sys.stderr)


@task(
    name="health",
    examples=[
        "fab health demo",
        "fab health --all --nagios",
        "fab health demo --history --since 7d",
    ],
    auto_shortflags=False,
    positional=["store"],
    help={
        "store": "store name from the inventory",
        "all_": "every store in the inventory",
        "json": "print JSON for machines",
        "nagios": "monitoring-plugin output: one status line with perfdata, exit 0/1/2/3",
        "history": "show state changes and availability instead of checking",
        "since": "period for --history: 30m, 24h, 7d, 2w (default 7d)",
        "install_schedule": "install a periodic run (systemd user timer or cron)",
        "every": "minutes between scheduled runs (default 15)",
        "using": "scheduler for --install-schedule: systemd or cron",
        "dry_run": "with --install-schedule: show what would be written",
    },
)
@maint_task
def health(
    c,
    store=None,
    all_=False,
    json=False,
    nagios=False,
    history=False,
    since="7d",
    install_schedule=False,
    every=15,
    using="systemd",
    dry_run=False,
):
    """Check stores' health (pages, host, database) graded by support level; alert on change."""
    if json and nagios:
        raise UsageError("give --json or --nagios, not both")
    if install_schedule and history:
        raise UsageError("give --install-schedule or --history, not both")
    if dry_run and not install_schedule:
        raise UsageError("--dry-run only applies to --install-schedule (checks never change a store)")
    tc = TaskContext.from_c(c)
    if install_schedule:
        if store and all_:
            raise UsageError("give a STORE or --all, not both")
        if store:
            tc.inventory.find_store(store)
        install_schedule_cmd(c, tc, store, all_, int(every), using, dry_run)
        return
    names = tc.targets(store, all_)
    if history:
        show_history(tc, names, since, json)
        return
    outcome, changes, problems = run_checks(tc, names)
    code = exit_code_for(outcome.results)
    if nagios:
        print(nagios_output.status_line(outcome.results))
        for p in problems:
            print(f"warning: {p}", file=sys.stderr)
    elif json:
        stores: dict[str, list] = {}
        for r in outcome.results:
            stores.setdefault(r.store, []).append(r)
        emit_json(
            [
                {"store": name, "status": worst_state(found).value,
                 "checks": [{k: v for k, v in r.as_dict().items() if k != "store"} for r in found]}
                for name, found in stores.items()
            ],
            exit_code=code,
            seconds=round(outcome.seconds, 3),
            alerts=[{**t.as_dict(), "at": render.iso(t.at)} for t in changes],
            alert_problems=problems,
        )
    else:
        show_results(outcome, changes, problems)
    if code:
        raise Exit(code=code)
