"""The hours tasks through invoke's real parser: flags, positionals and help."""

import importlib

import pytest
from invoke import Collection
from invoke.parser import Parser

import maint.tasks.cli_compat  # noqa: F401  (optional leading positionals, as the real program has)

tasks = importlib.import_module("maint.tasks.hours")


def parse(*argv: str) -> dict:
    collection = Collection(tasks.hours, tasks.log, tasks.account)
    result = Parser(contexts=collection.to_contexts()).parse_argv(list(argv))
    return result[0].as_kwargs


def test_every_task_has_a_summary_and_help_for_every_flag() -> None:
    for t in (tasks.hours, tasks.log, tasks.account):
        assert t.__doc__.strip().splitlines()[0]
        assert Collection(t).to_contexts()  # raises if a help key names no argument


def test_log_takes_store_duration_and_note_positionally() -> None:
    kwargs = parse("log", "demo", "1.5h", "fixed the cart", "--level", "2", "--category", "settings")
    assert (kwargs["store"], kwargs["duration"], kwargs["note"]) == ("demo", "1.5h", "fixed the cart")
    assert (kwargs["level"], kwargs["category"]) == (2, "settings")


def test_hours_takes_a_client_or_all() -> None:
    assert parse("hours", "demo", "--month", "2026-11", "--csv", "out.csv")["client"] == "demo"
    assert parse("hours", "--all")["all_"] is True


@pytest.mark.skipif(
    not {"duration", "note"} <= maint.tasks.cli_compat.OPTIONAL_POSITIONALS,
    reason="needs 'duration' and 'note' in cli_compat.OPTIONAL_POSITIONALS (lead's file)",
)
def test_log_correct_takes_the_new_duration_positionally() -> None:
    kwargs = parse("log", "--correct", "7", "2h")
    assert (kwargs["correct"], kwargs["store"]) == (7, "2h")


def test_a_negative_duration_is_a_value_the_task_refuses_not_the_help_flag() -> None:
    # Issue 19: `fab log STORE -1h` printed the help and exited 0.
    kwargs = parse("log", "demo", "-1h", "note")
    assert (kwargs["store"], kwargs["duration"], kwargs["note"]) == ("demo", "-1h", "note")
    assert parse("log", "demo", "1h", "--level", "2")["level"] == 2  # flags still work


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["log", "demo", "-1h"], "duration '-1h' is negative"),
        (["log", "demo", "--", "-1h"], "after '--' is a remote command, but no host was given"),
        (["log", "demo", "1.5"], "no unit: write 1.5h for hours or 1.5m for minutes"),
        (["log", "demo", "25h"], "more than 24 h in a day; give --span"),
    ],
)
def test_bad_durations_on_the_command_line_get_one_line_and_exit_50(tmp_path, argv, message) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    project = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "FABRIC_MAINT_INVENTORY": str(project / "maint" / "playbooks" / "clients"),
        "FABRIC_MAINT_STATE_DIR": str(tmp_path),
    }
    run = subprocess.run(
        [str(Path(sys.executable).parent / "maint"), *argv],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert run.returncode == 50, run.stderr
    assert message in run.stderr and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
