"""Planned maintenance (maint/maintenance.py): the record on the host, its holder, and how health judges it."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from maint.config import StoreConfig
from maint.health.model import State
from maint.health.nagios import status_line
from maint.health.remote import judge_maintenance
from maint.maintenance import holder_script, new_record, parse_record, read_command, record_path

CFG = StoreConfig(client="c", store="s4", host="h", root="/srv/s4", url="http://127.0.0.1/")


def start_holder(home: Path, record) -> subprocess.Popen[str]:
    # The script is run as sshd runs a command: `sh -c SCRIPT` in the SSH user's home.
    holder = subprocess.Popen(
        ["sh", "-c", holder_script(CFG, record)],
        cwd=home,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "STARTED"
    return holder


def read(home: Path):
    return parse_record(
        subprocess.run(["sh", "-c", read_command(CFG)], cwd=home, capture_output=True, text=True).stdout
    )


def test_the_record_is_held_by_a_live_shell_and_removed_on_end(tmp_path: Path) -> None:
    record = new_record("upgrade", "to 4.1.0.4", 10)
    holder = start_holder(tmp_path, record)
    try:
        path = tmp_path / record_path(CFG)
        assert path.stat().st_mode & 0o777 == 0o600
        state = read(tmp_path)
        assert state is not None and state.alive and state.record.host_pid == holder.pid
        assert state.record.task == "upgrade" and state.record.why == "to 4.1.0.4"
        holder.communicate("end\n", timeout=10)
    finally:
        holder.kill()
    assert not path.exists() and read(tmp_path) is None


def test_a_record_whose_run_died_is_dead(tmp_path: Path) -> None:
    holder = start_holder(tmp_path, new_record("restore", "snapshot 2026-12-06", 10))
    holder.stdin.close()  # the task's connection is gone: the shell reads end of input and exits
    holder.wait(timeout=10)
    state = read(tmp_path)
    assert state is not None and not state.alive and state.record.task == "restore"


def test_health_judges_maintenance_mode_by_the_record() -> None:
    record = new_record("upgrade", "to 4.1.0.4", 10)
    live = parse_record(f'{{"user": "ann", "machine": "m", "pid": 1, "task": "upgrade", "why": "to 4.1.0.4", '
                        f'"started": "{record.started}", "expected_end": "{record.expected_end}", '
                        '"token": "ab", "host_pid": 2}\nALIVE\n')  # fmt: skip
    assert live is not None
    planned = judge_maintenance(True, False, live)
    assert planned.state is None and planned.value == "planned"
    assert planned.planned.startswith("planned maintenance by ann@m (upgrade: to 4.1.0.4)")
    dead = judge_maintenance(True, False, type(live)(live.record, alive=False))
    assert dead.state is State.CRITICAL and "which has ended" in dead.evidence and not dead.planned
    assert judge_maintenance(True, False, None).state is State.CRITICAL
    assert judge_maintenance(False, False, None).value == "off"
    late = type(live)(
        live.record.__class__(
            **{
                **live.record.as_dict(),
                "expected_end": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(1)),
            }
        ),
        alive=True,
    )
    assert judge_maintenance(True, False, late).state is State.WARNING


def test_nagios_says_ok_with_a_note_during_planned_maintenance() -> None:
    from maint.health.model import CheckResult

    results = [
        CheckResult("s4", "maintenance", State.OK, None, "planned", "x", planned="planned maintenance by ann@m (upgrade: to 4.1.0.4)"),
        CheckResult("s4", "home", State.OK, None, 0.1, "y", cause="maintenance", planned="planned maintenance by ann@m (upgrade: to 4.1.0.4)"),
    ]  # fmt: skip
    line = status_line(results)
    assert line.startswith("HEALTH OK - 2 ok: note: s4 in planned maintenance by ann@m (upgrade: to 4.1.0.4)")
