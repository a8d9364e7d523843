"""Monitoring-plugin output and schedule planning."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from maint.errors import InputError
from maint.health import schedule
from maint.health.model import CheckResult, State
from maint.health.nagios import perfdata, status_line

PERF_RE = re.compile(
    r"^'[^']+(?:''[^']*)*'=-?[\d.]+(s|ms|us|%|B|KB|MB|GB|TB|c)?;(@?~?[\d.]*:?[\d.]*;){2}[\d.]*;[\d.]*$"
)


def res(store, check, state, value, uom="", warn=None, crit=None, level=None, evidence="", bad_when="above"):
    return CheckResult(store, check, state, level, value, evidence, uom=uom, warn=warn, crit=crit,
                       bad_when=bad_when)


def test_perfdata_follows_plugin_format() -> None:
    items = [
        perfdata(res("s3", "home", State.OK, 0.1234, "s", 2.0, 8.0)),
        perfdata(res("s3", "disk_free", State.OK, 40.5, "%", 15.0, 5.0, bad_when="below")),
        perfdata(res("it's", "tls", State.OK, 30)),
    ]
    assert items[0] == "'s3 home'=0.123s;2;8;0;"
    assert items[1] == "'s3 disk_free'=40.5%;15:;5:;0;100"  # "warn below 15" in the range syntax
    assert items[2] == "'it''s tls'=30;;;0;"
    assert all(PERF_RE.match(i) for i in items if i)


def test_text_values_have_no_perfdata() -> None:
    assert perfdata(res("s3", "tls", State.SKIPPED, "n/a")) is None


def test_status_line_is_one_line_worst_first_with_perfdata() -> None:
    line = status_line(
        [
            res("s3", "home", State.OK, 0.2, "s", 2.0, 8.0),
            res("s4", "db", State.CRITICAL, None, level=1, evidence="Connection\nrefused | x"),
            res("s4", "search", State.WARNING, None, level=4, evidence="slow"),
        ]
    )
    assert "\n" not in line
    text, perf = line.split(" | ")
    assert text.startswith(
        "HEALTH CRITICAL - 1 critical, 1 warning, 1 ok: s4 db (L1) Connection refused / x; s4 search"
    )
    assert perf == "'s3 home'=0.2s;2;8;0;"


def test_all_ok_status_line() -> None:
    assert status_line([res("s3", "tls", State.SKIPPED, "n/a")]) == "HEALTH OK - 1 skipped"


@pytest.mark.parametrize(
    "every, spec", [(15, "*/15 * * * *"), (1, "* * * * *"), (60, "0 */1 * * *"), (1440, "0 0 * * *")]
)
def test_cron_spec(every: int, spec: str) -> None:
    assert schedule.cron_spec(every) == spec


@pytest.mark.parametrize("every, using", [(7, "cron"), (0, "systemd"), (2000, "cron"), (15, "launchd")])
def test_bad_schedule_is_input_error(every: int, using: str) -> None:
    with pytest.raises(InputError):
        schedule.plan_schedule(using, every, ["maint", "health"], Path("/p"), Path("/h/.config"))


def test_systemd_plan_writes_service_and_timer(tmp_path: Path) -> None:
    plan = schedule.plan_schedule("systemd", 15, ["/v/bin/maint", "health", "--all"], Path("/proj"), tmp_path)
    service, timer = plan.files
    assert service.path == tmp_path / "systemd/user/maint-health.service"
    assert (
        "ExecStart=/v/bin/maint health --all" in service.content
        and "WorkingDirectory=/proj" in service.content
    )
    assert "OnUnitActiveSec=15min" in timer.content
    assert "systemctl --user enable --now maint-health.timer" in plan.describe()


def test_cron_install_replaces_only_its_own_line(tmp_path: Path) -> None:
    # A fake `crontab` that keeps the table in a file, so the user's real crontab is never touched.
    table = tmp_path / "table"
    table.write_text("0 3 * * * backup\n")
    fake = tmp_path / "crontab"
    fake.write_text(f'#!/bin/sh\nif [ "$1" = "-l" ]; then cat {table}; else cat > {table}; fi\n')
    fake.chmod(0o755)
    for every in (15, 30):
        plan = schedule.plan_schedule("cron", every, ["maint", "health", "--all"], Path("/proj"), tmp_path)
        schedule.install(plan, crontab=str(fake))
    lines = table.read_text().splitlines()
    assert lines[0] == "0 3 * * * backup"
    assert len(lines) == 2 and lines[1].startswith("*/30 * * * * cd /proj && maint health --all")
    assert subprocess.run([str(fake), "-l"], capture_output=True, text=True).stdout == table.read_text()


ENV = {
    "FABRIC_MAINT_INVENTORY": "/agency/clients",
    "FABRIC_MAINT_STATE_DIR": "/agency/state",
    "FABRIC_MAINT_SSH_CONFIG": "/agency/ssh_config",
    "FABRIC_MAINT_KNOWN_HOSTS": "/agency/known_hosts",
    "FABRIC_MAINT_SMTP_PASSWORD": "s3cret",
}


def test_the_schedule_carries_the_settings_it_was_made_with(tmp_path: Path) -> None:
    # Issue 12: the schedule ran `maint health --all` with only a working folder, so it checked the
    # demo inventory with other state. It now runs with an environment file (0600) of the settings.
    fake = tmp_path / "crontab"
    table = tmp_path / "table"
    fake.write_text(f'#!/bin/sh\nif [ "$1" = "-l" ]; then cat {table} 2>/dev/null; else cat > {table}; fi\n')
    fake.chmod(0o755)
    cron = schedule.plan_schedule("cron", 15, ["maint", "health", "--all"], Path("/proj"), tmp_path, ENV)
    schedule.install(cron, crontab=str(fake))
    env_file = tmp_path / "maint" / "health.env"
    assert env_file.stat().st_mode & 0o777 == 0o600
    assert "FABRIC_MAINT_INVENTORY='/agency/clients'" in env_file.read_text()
    line = table.read_text()
    assert f"cd /proj && set -a && . {env_file} && set +a && maint health --all" in line
    # What cron's sh sees after sourcing the file is what this run saw.
    seen = subprocess.run(
        ["sh", "-c", f"set -a && . {env_file} && set +a && env"], capture_output=True, text=True, env={}
    ).stdout
    for name, value in ENV.items():
        assert f"{name}={value}\n" in seen
    shown = cron.describe()
    assert "s3cret" not in shown and "FABRIC_MAINT_SMTP_PASSWORD=***" in shown
    assert "the schedule runs with FABRIC_MAINT_INVENTORY" in shown

    systemd = schedule.plan_schedule(
        "systemd", 15, ["maint", "health", "--all"], Path("/proj"), tmp_path, ENV, user="ann"
    )
    service = next(f for f in systemd.files if f.path and f.path.name == "maint-health.service")
    assert f"EnvironmentFile={env_file}" in service.content
    assert "loginctl enable-linger ann" in systemd.describe()


def test_lingering_note_says_when_it_is_already_on(tmp_path: Path) -> None:
    (tmp_path / "ann").touch()
    assert "lingering is on for ann" in schedule.lingering_note("ann", tmp_path)
    assert "loginctl enable-linger bob" in schedule.lingering_note("bob", tmp_path)


def test_a_setting_the_environment_file_cannot_hold_is_refused() -> None:
    with pytest.raises(InputError, match="FABRIC_MAINT_INVENTORY: a value with a quote"):
        schedule.environment_file({"FABRIC_MAINT_INVENTORY": "/it's/here"})
