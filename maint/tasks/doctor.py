"""`maint doctor`: local tools per task, config files, inventory, playbooks, known_hosts, data at rest; each with its fix."""

from __future__ import annotations

from pathlib import Path

from invoke.exceptions import Exit

from maint import render
from maint.agency import CONFIG_NAME, default_folder
from maint.billing.plans import load_plans
from maint.config import load_settings
from maint.doctor import (
    OK,
    Finding,
    check_config_files,
    check_inventory,
    check_known_hosts,
    check_mail,
    check_playbooks,
    check_tools,
    exit_code,
)
from maint.doctor_at_rest import check_at_rest
from maint.errors import MaintError
from maint.health.playbook import load_checks
from maint.matrix import load_advisories, load_matrix
from maint.tasks.common import emit_json, maint_task, task

LOADERS = {"matrix.yaml": load_matrix, "advisories.yaml": load_advisories, "health.yaml": load_checks,
           "plans.yaml": load_plans}


def config_files(config) -> list[tuple[str, Path | None, bool]]:
    """The config files invoke loaded, per level (system, user, project = the agency folder, runtime = -f)."""
    files = []
    for level in ("system", "user", "project", "runtime"):
        path = getattr(config, f"_{level}_path", None)
        # invoke marks a level found when it tried a missing fabric.py; the file itself decides.
        found = bool(getattr(config, f"_{level}_found", False)) and bool(path) and Path(path).is_file()
        files.append((level, Path(path) if path else None, found))
    agency = default_folder() / CONFIG_NAME
    if agency.is_file() and not any(p == agency for _, p, found in files if found):
        files.append(("agency (not loaded)", agency, True))  # e.g. broken: maint skipped it so doctor can say why
    return files


def diagnose(c, path: str | None = None) -> list[Finding]:
    files = config_files(c.config)
    findings = check_tools(path)
    findings += check_config_files(files)
    agency = default_folder() / CONFIG_NAME
    if not any(found for _, _, found in files) and not agency.is_file():
        findings.append(Finding("config", str(agency), "warn", "no agency folder yet", "maint init"))
    try:
        settings = load_settings(dict(c.config.get("maint", {}) or {}))
    except MaintError as exc:
        return [*findings, Finding("config", "maint", "error", str(exc), "fix the key named")]
    findings.append(check_mail(settings, str(next((p for _, p, f in files if f and p), agency))))
    findings += check_playbooks(settings, LOADERS)
    inv_findings, inventory = check_inventory(settings)
    findings += inv_findings
    if inventory is not None:
        findings += check_known_hosts(settings, inventory)
    findings += check_at_rest(settings, inventory, path)  # the stores' mirror.encrypt / mirror.repository
    return findings


@task(
    name="doctor",
    examples=["maint doctor", "maint doctor --json"],
    help={
        "json": "print JSON for machines",
    },
)
@maint_task
def doctor(c, json=False):
    """Check this machine: local tools per task, config, inventory, playbooks, known_hosts, and what the stores' encryption or backup repository needs; exit 0 when all is well."""
    findings = diagnose(c)
    code = exit_code(findings)
    if json:
        emit_json([{"store": None, "ok": code == 0, "findings": [f.as_dict() for f in findings]}], exit_code=code)
    else:
        render.table("maint doctor", ["area", "item", "state", "detail", "fix"],
                     [(f.area, f.item, f.state, f.detail, f.fix) for f in findings], status_column=2)
        problems = sum(f.state != OK for f in findings)
        print("all well" if not problems else f"{problems} to fix (the fix column says how)")
    if code:
        raise Exit(code=code)
