"""`fab check STORE`: the store's platform against the supported-core matrix, advisories, what-if."""

from __future__ import annotations

import posixpath
import sys
import textwrap
from datetime import UTC, datetime
from typing import Any

from invoke.exceptions import Exit

from maint import render, verdicts
from maint.errors import MaintError
from maint.facts.host import get_host_facts
from maint.facts.mysql import get_db_server, get_setting
from maint.facts.opencart import get_store_facts
from maint.facts.php import get_php_facts
from maint.facts.web import get_web_server
from maint.matrix import Advisory, Matrix, load_advisories, load_matrix
from maint.ops.check import (
    CheckFacts,
    CheckReport,
    Targets,
    brief,
    clip,
    combined_exit,
    plan_check,
    unknown_report,
    validate_targets,
)
from maint.remote.sql import open_db
from maint.remote.ssh import connect
from maint.tasks.common import TaskContext, emit_json, for_each_store, maint_task, task, work_session


def gather_check_facts(tc: TaskContext, name: str) -> CheckFacts:
    """Every probe, each failure kept as the reason its fact is missing (the verdict says unknown)."""
    cfg = tc.store(name)
    conn = connect(cfg)
    try:
        try:
            store = get_store_facts(conn, cfg)
        except MaintError as exc:
            skipped = "skipped: the store itself could not be read"
            return CheckFacts(name, None, version_reason=exc.message, host_reason=skipped)
        found: dict[str, Any] = {"warnings": tuple(store.warnings)}
        try:
            found["php"] = get_php_facts(conn, store.root, store.url, store=name)
        except MaintError as exc:
            found["php_reason"] = exc.message
        try:
            with open_db(conn, store.db, store=name) as db:
                found["db"] = get_db_server(db)
                found["error_display_setting"] = get_setting(db, store.db.prefix, "config_error_display")
        except MaintError as exc:
            found["db_reason"] = exc.message
        php = found.get("php")
        try:
            found["web"] = get_web_server(
                conn, store.url, server_software=php.server_software if php else "", store=name
            )
        except MaintError as exc:
            found["web_reason"] = exc.message
        configs = [
            posixpath.join(store.root, "config.php"),
            posixpath.join(store.root, store.admin_dir, "config.php"),
        ]
        try:
            found["host"] = get_host_facts(
                conn,
                store.root,
                configs,
                install_present=bool(store.markers.get("install")),
                storage_in_webroot=store.storage_in_webroot,
                storage_path=store.dir_storage,
                store=name,
            )
        except MaintError as exc:
            found["host_reason"] = exc.message
        return CheckFacts(
            name,
            store.version,
            db_driver=store.db.driver,
            htaccess=bool(store.markers.get(".htaccess")),
            **found,
        )
    finally:
        conn.close()


def check_store(
    tc: TaskContext, name: str, matrix: Matrix, advisories: tuple[Advisory, ...], targets: Targets
) -> CheckReport:
    """One store's report; a store that cannot be reached at all is `unknown`, and the run goes on."""
    try:
        cfg = tc.store(name)
        with work_session(tc, cfg, "check", quiet=True):
            facts = gather_check_facts(tc, name)
    except MaintError as exc:
        return unknown_report(name, exc.message, targets)
    return plan_check(facts, matrix, advisories, targets)


# Piped output has no terminal width to follow: keep lines to what a 120-column terminal shows.
PLAIN_WIDTH = 120
FOUND_WIDTH, PLANNED_WIDTH, MIN_REASON = 30, 14, 28


def _fit(rows: list[list[str]], columns: list[str], flex: int, width: int) -> list[list[str]]:
    """Cut the ``flex`` column so every row fits ``width`` (two spaces between columns, as both
    the plain and the rich table use about that)."""
    used = sum(max(len(r[i]) for r in [columns, *rows]) + 3 for i in range(len(columns)) if i != flex)
    room = max(width - used - 6, MIN_REASON)
    return [[clip(c, room) if i == flex else c for i, c in enumerate(r)] for r in rows]


def show_report(report: CheckReport, sources: bool = False) -> None:
    """One store: components, advisories, what to do. The default fits a 120-column terminal
    (the full reason, what the release supports and the sources come with ``--sources``)."""
    out = render.console()
    width = out.width if out.is_terminal else PLAIN_WIDTH
    what_if = ", ".join(f"{k} {v}" for k, v in report.targets.as_dict().items())
    title = f"{report.store}: OpenCart {report.version or '?'}" + (
        f"  (what if: {what_if})" if what_if else ""
    )
    planned = ["planned"] if report.targets else []
    if sources:
        columns = ["component", "found", *planned, "supported", "status", "reason", "source"]
        rows = [
            [v.component, v.found, *([v.planned] if planned else []), v.supported, v.status, v.reason]
            + [v.source + (" ⚠" if v.uncertain else "")]
            for v in report.verdicts
        ]
    else:
        columns = ["component", "found", *planned, "status", "reason"]
        rows = [
            [v.component, clip(v.found, FOUND_WIDTH)]
            + ([clip(v.planned, PLANNED_WIDTH)] if planned else [])
            + [v.status, brief(v.reason, width) + (" ⚠" if v.uncertain else "")]
            for v in report.verdicts
        ]
        rows = _fit(rows, columns, len(columns) - 1, width)
    render.table(title, columns, rows, out=out, status_column=columns.index("status"))
    if report.advisories:
        head = f"{report.store}: advisories for {report.release}"
        if sources:
            render.table(
                head,
                ("id", "grade", "severity", "access", "fixed in", "issue", "what to do", "source"),
                [
                    (
                        " / ".join((g.advisory.id, *g.advisory.aliases)),
                        g.grade,
                        g.advisory.severity,
                        g.advisory.access,
                        g.advisory.fixed.dotted if g.advisory.fixed else "none",
                        g.advisory.summary,
                        g.action,
                        g.advisory.source + (" ⚠" if g.advisory.uncertain else ""),
                    )
                    for g in report.advisories
                ],
                out=out,
                status_column=1,
            )
        else:
            columns = ["id", "grade", "fixed in", "issue"]
            rows = [
                [g.advisory.id, g.grade, g.advisory.fixed.dotted if g.advisory.fixed else "none"]
                + [g.advisory.summary]
                for g in report.advisories
            ]
            render.table(head, columns, _fit(rows, columns, 3, width), out=out, status_column=1)
    lines = []
    if report.breaks:
        lines += [f"breaks: {b}" for b in report.breaks]
    if report.recommendation:
        lines.append(f"recommended: {report.recommendation}")
    if not sources:
        # Each advisory without a fix once, with what to do meanwhile (the fixed ones: the upgrade above).
        lines += [
            f"no fix for {g.advisory.id}: {g.action}" for g in report.advisories if g.advisory.fixed is None
        ]
    lines += [f"warning: {w}" for w in report.warnings]
    lines.append(f"overall: {report.status} (exit {report.exit_code})")
    wrapped = [
        part for line in lines for part in textwrap.wrap(line, width - 1, subsequent_indent="    ") or [""]
    ]
    if out.is_terminal:
        for line in wrapped:
            out.print(line, markup=False)
        out.print()
    else:
        out.file.write("\n".join(wrapped) + "\n\n")
        out.file.flush()


@task(
    name="check",
    examples=[
        "fab check demo",
        "fab check demo --php 8.3",
        "fab check --all --json",
    ],
    positional=["store"],
    help={
        "store": "store name from the inventory",
        "all_": "every store in the inventory, in parallel",
        "php": "what if the host moves to this PHP version (e.g. 8.3)",
        "mysql": "what if the database becomes this MySQL version (e.g. 8.4)",
        "mariadb": "what if the database becomes this MariaDB version (e.g. 10.11)",
        "apache": "what if the web server becomes this Apache version (e.g. 2.4)",
        "json": "print JSON for machines (always with the full reasons and sources)",
        "sources": "show the full reasons, what each release supports and the public sources",
    },
)
@maint_task
def check(c, store=None, all_=False, php="", mysql="", mariadb="", apache="", json=False, sources=False):
    """Check PHP, database and web server against the supported-core matrix (exit 0 ok/1 warn/2 crit/3 unknown)."""
    targets = validate_targets(
        Targets(php=php or "", mysql=mysql or "", mariadb=mariadb or "", apache=apache or "")
    )
    tc = TaskContext.from_c(c)
    names = tc.targets(store, all_)
    matrix = load_matrix(tc.settings.playbook("matrix.yaml"))
    advisories = load_advisories(tc.settings.playbook("advisories.yaml"))
    run = for_each_store(
        names, lambda name: check_store(tc, name, matrix, advisories, targets), parallel=tc.settings.parallel
    )
    reports = [r.data for r in run.results]
    if not targets:
        # The store's own platform judged now: kept for `fab report` (a what-if verdict is not the store's).
        at = datetime.now(UTC)
        for r in reports:
            verdicts.record(tc.settings.state_dir, verdicts.from_report(r.as_dict(), at))
    if json:
        emit_json([r.as_dict() for r in reports], exit_code=combined_exit(reports))
    else:
        for report in reports:
            show_report(report, sources=sources)
    code = combined_exit(reports)
    sys.stdout.flush()
    if code:
        raise Exit(code=code)
