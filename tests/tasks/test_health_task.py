"""`fab health` wiring: argument conflicts, output modes, exit codes, history, alerts, schedule."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from invoke import Config, Context
from invoke.exceptions import Exit

from maint.health.model import CheckResult, State
from maint.health.runner import RunOutcome
from maint.tasks.health import health

PROJECT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT / "tests" / "unit" / "health"))
from health_sinks import webhook_sink  # noqa: E402

CLIENT = """
name: acme
plan: retainer
stores:
  - {name: shop1, host: shop1-host, root: /srv/shop1, url: "http://127.0.0.1:1/"}
  - {name: shop2, host: shop2-host, root: /srv/shop2, url: "http://127.0.0.1:1/"}
"""


@pytest.fixture
def context(tmp_path: Path):
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    (inventory / "acme.yaml").write_text(CLIENT)

    def make(**maint):
        settings = {"inventory": str(inventory), "state_dir": str(tmp_path / "state"), **maint}
        return Context(config=Config(overrides={"maint": settings}))

    return make


def canned(states: dict[str, State]):
    """A run_health stand-in returning one home result per store with the given state."""

    def run(jobs, **kwargs):
        results = []
        for job in jobs:
            state = states[job.cfg.store]
            level = 1 if state is State.CRITICAL else None
            results.append(
                CheckResult(
                    job.cfg.store, "home", state, level, 0.25, f"home {state.value}", uom="s", warn=2, crit=8
                )
            )
        return RunOutcome(results, {}, 0.1)

    return run


@pytest.mark.parametrize(
    "kwargs",
    [
        {"store": "shop1", "all_": True},
        {"all_": True, "json": True, "nagios": True},
        {"all_": True, "history": True, "install_schedule": True},
        {"all_": True, "dry_run": True},
        {},
    ],
)
def test_conflicting_or_missing_arguments_fail_before_any_check(context, monkeypatch, kwargs) -> None:
    monkeypatch.setattr("maint.tasks.health.run_health", lambda *a, **k: pytest.fail("must not run checks"))
    with pytest.raises(Exit) as err:
        health(context(), **kwargs)
    assert err.value.code == 2


def test_malformed_playbook_exits_with_playbook_error(context, tmp_path, capsys) -> None:
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "health.yaml").write_text("checks:\n  home: {level: 9}\n")
    with pytest.raises(Exit) as err:
        health(context(playbooks=str(playbooks)), "shop1")
    assert err.value.code == 12
    assert "health.yaml: checks.home.level" in capsys.readouterr().err


def test_nagios_prints_one_line_and_exits_with_the_worst_state(context, monkeypatch, capsys) -> None:
    monkeypatch.setattr("maint.tasks.health.run_health", canned({"shop1": State.OK, "shop2": State.CRITICAL}))
    with pytest.raises(Exit) as err:
        health(context(), all_=True, nagios=True)
    assert err.value.code == 2
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1
    assert out[0].startswith("HEALTH CRITICAL - 1 critical, 1 ok: shop2 home (L1) home CRITICAL |")
    assert "'shop1 home'=0.25s;2;8;0;" in out[0]


def test_all_ok_exits_zero_and_json_lists_results(context, monkeypatch, capsys) -> None:
    monkeypatch.setattr("maint.tasks.health.run_health", canned({"shop1": State.OK}))
    health(context(), "shop1", json=True)
    data = json.loads(capsys.readouterr().out)
    assert data["exit_code"] == 0
    assert data["stores"][0]["checks"][0] == {
        "check": "home", "state": "OK", "level": None, "value": 0.25, "uom": "s",
        "evidence": "home OK", "seconds": 0.0, "cause": None, "planned": None,
    }  # fmt: skip


def test_table_output_names_store_check_state_value_level(context, monkeypatch, capsys) -> None:
    monkeypatch.setattr("maint.tasks.health.run_health", canned({"shop1": State.CRITICAL}))
    with pytest.raises(Exit):
        health(context(), "shop1")
    out = capsys.readouterr().out
    assert "store" in out and "level" in out and "shop1" in out and "CRITICAL" in out


def test_alerts_go_out_on_change_only_and_history_shows_them(context, monkeypatch, capsys) -> None:
    with webhook_sink() as hook:
        c = context(webhook=f"http://127.0.0.1:{hook.port}/hook")
        for state in (State.OK, State.CRITICAL, State.CRITICAL, State.OK):
            monkeypatch.setattr("maint.tasks.health.run_health", canned({"shop1": state}))
            try:
                health(c, "shop1", json=True)
            except Exit:
                pass
    assert [m["transitions"][0]["to"] for m in hook.messages] == ["CRITICAL", "OK"]
    capsys.readouterr()
    health(context(), "shop1", history=True, since="1d", json=True)
    report = json.loads(capsys.readouterr().out)["stores"][0]
    assert report["runs"] == 4 and report["availability"] == 50.0
    assert [(c["from"], c["to"]) for c in report["changes"]] == [("OK", "CRITICAL"), ("CRITICAL", "OK")]


def test_history_table_without_runs_says_na(context, capsys) -> None:
    health(context(), all_=True, history=True)
    out = capsys.readouterr().out
    assert "shop1" in out and "n/a" in out


def test_bad_since_is_an_input_error(context) -> None:
    with pytest.raises(Exit) as err:
        health(context(), "shop1", history=True, since="forever")
    assert err.value.code == 50


def test_install_schedule_dry_run_shows_and_writes_nothing(context, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    health(context(), install_schedule=True, every=15, using="systemd", dry_run=True)
    out = capsys.readouterr().out
    assert "maint-health.timer" in out and "OnUnitActiveSec=15min" in out and "health --all" in out
    assert not (tmp_path / "config").exists()


def test_install_schedule_systemd_writes_units(context, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setattr(
        "maint.health.schedule.subprocess.run", lambda *a, **k: pytest.fail("no systemctl in tests")
    )
    monkeypatch.setattr("maint.health.schedule.install", _write_only)
    health(context(), "shop1", install_schedule=True, every=30, using="systemd")
    timer = tmp_path / "config" / "systemd" / "user" / "maint-health.timer"
    assert "OnUnitActiveSec=30min" in timer.read_text()
    assert "health shop1" in (timer.parent / "maint-health.service").read_text()


def test_install_schedule_carries_inventory_state_ssh_settings_and_the_config_file(
    context, tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("FABRIC_MAINT_SSH_CONFIG", str(tmp_path / "ssh_config"))
    c = context(known_hosts=str(tmp_path / "known_hosts"))
    c.config.set_runtime_path(str(tmp_path / "agency.yaml"))
    health(c, install_schedule=True, every=15, using="cron", dry_run=True)
    out = capsys.readouterr().out
    for name, value in [
        ("INVENTORY", tmp_path / "inventory"),
        ("STATE_DIR", tmp_path / "state"),
        ("SSH_CONFIG", tmp_path / "ssh_config"),
        ("KNOWN_HOSTS", tmp_path / "known_hosts"),
    ]:
        assert f"FABRIC_MAINT_{name}='{value}'" in out
    assert f"-f {tmp_path / 'agency.yaml'} health --all" in out
    assert not (tmp_path / "config").exists()


def _write_only(plan, crontab="crontab"):
    for f in plan.files:
        f.path.parent.mkdir(parents=True, exist_ok=True)
        f.path.write_text(f.content)
    return [f"wrote {f.path}" for f in plan.files]


def test_bad_schedule_interval_is_an_input_error(context) -> None:
    with pytest.raises(Exit) as err:
        health(context(), install_schedule=True, every=7, using="cron", dry_run=True)
    assert err.value.code == 50


def test_flags_leave_dash_h_to_help_and_take_store_as_positional() -> None:
    names = {name for arg in health.get_arguments() for name in arg.names}
    assert "h" not in names
    assert {
        "all",
        "json",
        "nagios",
        "history",
        "since",
        "install-schedule",
        "every",
        "using",
        "dry-run",
    } <= names
    assert health.positional == ["store"]
