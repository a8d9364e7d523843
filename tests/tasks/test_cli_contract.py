"""Issue #14's walk: every task through the real command line (`fab` and `maint`), with --help and
-h, a typo'd flag, a missing argument, Fabric's --dry/-R, the misleading core flags, and --json
validated against docs/output.schema.json. Nothing here reaches a store: the stores of the
command lines below are the demo inventory's, whose host is unknown to the empty SSH config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fabric.main import make_program

from maint.tasks import cli_compat, ns
from maint.tasks import program as maint_program

PROJECT = Path(__file__).resolve().parents[2]
TASKS = sorted(ns.task_names)
# a sheet for the tasks that want a file; the file is never opened on the paths below
ARGS = {"prices": ["demo", "x.csv"], "discounts": ["demo", "x.csv"], "groups": ["demo", "x.csv"],
        "undo": ["demo", "x.undo"], "log": ["demo", "1h", "note"], "hours": ["demo"], "account": ["demo"],
        "add-store": ["demo", "shop2"], "upgrade": ["demo"], "rollback": ["demo"]}
# tasks that need no argument at all (they act on this machine)
NO_ARGUMENT = {"init", "doctor"}


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FABRIC_MAINT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("FABRIC_MAINT_INVENTORY", str(PROJECT / "maint" / "playbooks" / "clients"))
    monkeypatch.delenv("MAINT_YES", raising=False)
    return tmp_path / "state"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """One command line, in this process (`fab` finds the fabfile with -r; `maint` has the tasks built in)."""
    program = maint_program.program if argv[0] == "maint" else make_program()
    full = argv if argv[0] == "maint" else ["fab", "-r", str(PROJECT), *argv[1:]]
    code = 0
    try:
        program.run(full)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", TASKS)
def test_help_shows_the_usage_and_two_or_three_examples_however_asked(name, capsys) -> None:
    for argv in (["fab", name, "--help"], ["fab", name, "-h"], ["fab", "--help", name], ["maint", name, "--help"],
                 ["fab", name, *ARGS.get(name, []), "--no-such-flag", "--help"]):
        code, out, err = run(argv, capsys)
        binary = argv[0]
        assert (code, err) == (0, ""), argv
        assert out.startswith(f"Usage: {binary} {name} [options]"), argv
        examples = out.split("Examples:\n", 1)[1].split("\n\n", 1)[0].splitlines()
        assert 2 <= len(examples) <= 3, argv
        assert all(line.startswith(f"  {binary} {name}") for line in examples), examples
        assert "-q, --quiet" in out and "-v, --verbose" in out and "-j, --json" in out


@pytest.mark.parametrize("name", TASKS)
def test_a_typo_is_one_line_with_the_closest_flag_and_the_usage_exit_2(name, capsys) -> None:
    for typo, meant in (("--jsno", "--json"), ("--quite", "--quiet"), ("--verbos", "--verbose")):
        code, out, err = run(["fab", name, *ARGS.get(name, []), typo], capsys)
        assert code == 2
        assert err.count("\n") == 1 and err.startswith(f"error: fab {name}: unknown flag {typo}")
        assert f"did you mean {meant}?" in err and f"usage: fab {name} [options]" in err
        assert "No idea" not in err and out == ""


@pytest.mark.parametrize("name", sorted(set(TASKS) - NO_ARGUMENT))
def test_a_missing_argument_is_one_line_with_the_usage_exit_2(name, capsys) -> None:
    code, out, err = run(["fab", name], capsys)
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("error: ") and f"usage: fab {name} [options]" in err
    assert "positional" not in err and "Traceback" not in err


@pytest.mark.parametrize("name", TASKS)
@pytest.mark.parametrize("flag", ["--dry", "-R"])
def test_fabric_dry_is_the_tasks_dry_run_or_refused_before_the_task_runs(name, flag, capsys) -> None:
    program = make_program()
    program.create_config()
    program.parse_core(["fab", "-r", str(PROJECT), name, *ARGS.get(name, [] if name in NO_ARGUMENT else ["demo"]), flag])
    program.parse_collection()
    task = ns[name]
    if task.has_flag("dry_run"):
        program.parse_tasks()
        (ctx,) = program.tasks
        assert ctx.args["dry_run"].value is True
        assert not program.config.run.dry  # not Fabric's own meaning: the plan needs real facts
        return
    with pytest.raises(Exception) as err:
        program.parse_tasks()
    assert getattr(err.value, "code", None) == 2
    assert "has no dry run" in str(err.value.message)


@pytest.mark.parametrize("flags", [["-H", "shop.example"], ["-i", "key"], ["-w"], ["-e"], ["-S", "cfg"], ["-t", "5"]])
def test_core_flags_maint_would_ignore_are_refused(flags, capsys) -> None:
    code, out, err = run(["fab", *flags, "info", "demo"], capsys)
    assert code == 2 and err.startswith("error: Fabric's --") and err.count("\n") == 1


@pytest.mark.parametrize("name", sorted(set(TASKS) - NO_ARGUMENT))
def test_json_is_one_envelope_even_for_a_usage_error(name, capsys, assert_envelope) -> None:
    code, out, err = run(["fab", name, "--json"], capsys)
    data = assert_envelope(out, name)
    assert (data["exit_code"], data["ok"]) == (code, False) == (2, False)
    assert data["error"] and "usage:" in data["error"]
    code, out, err = run(["fab", name, *ARGS.get(name, ["demo"]), "--jsno", "-j"], capsys)
    assert assert_envelope(out)["exit_code"] == code == 2


def test_json_of_the_tasks_that_need_no_store(capsys, assert_envelope, state_dir) -> None:
    code, out, _ = run(["fab", "log", "demo", "1h30", "fixed the checkout", "--json"], capsys)
    entry = assert_envelope(out, "log")["stores"][0]
    assert code == 0 and entry["store"] == "demo" and entry["hours"] == 1.5
    code, out, _ = run(["fab", "hours", "demo", "--json"], capsys)
    statement = assert_envelope(out, "hours")["stores"][0]
    assert statement["client"] == "demo" and isinstance(statement["total_due"], int | float)
    code, out, _ = run(["fab", "hours", "--all", "-j"], capsys)
    assert len(assert_envelope(out, "hours")["stores"]) >= 1
    code, out, _ = run(["maint", "account", "demo", "--json"], capsys)
    assert assert_envelope(out, "account")["stores"][0]["client"] == "demo"
    code, out, _ = run(["maint", "doctor", "--json"], capsys)
    assert assert_envelope(out, "doctor")["exit_code"] == code
    code, out, _ = run(["maint", "init", str(state_dir.parent / "agency"), "-j"], capsys)
    assert code == 0 and assert_envelope(out, "init")["stores"][0]["created"]


def test_short_flags_are_the_same_in_every_task() -> None:
    seen: dict[str, set[str]] = {}
    for name in TASKS:
        for arg in ns[name].get_arguments():
            for short in (n for n in arg.names if len(n) == 1):
                seen.setdefault(short, set()).add(arg.attr_name or arg.name)
    assert {short: names for short, names in seen.items() if len(names) > 1} == {}
    assert set(seen) <= set(cli_compat.SHORT_FLAGS.values())
    for name in TASKS:
        flags = {a.attr_name or a.name for a in ns[name].get_arguments()}
        assert {"quiet", "verbose", "json"} <= flags, name


def test_no_color_and_a_closed_pipe_leave_no_trace() -> None:
    maint = PROJECT / ".venv" / "bin" / "maint"
    env = {**os.environ, "NO_COLOR": "1"}
    done = subprocess.run(f"{maint} --help | head -1; {maint} info --help | head -2", shell=True,
                          capture_output=True, text=True, env=env, timeout=60)
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr and done.stderr == ""
    script = "import sys; from maint.tasks.program import main; sys.argv=['maint','info','--help']; main()"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert "\x1b[" not in done.stdout + done.stderr


def test_quiet_prints_nothing_but_errors(capsys) -> None:
    code, out, err = run(["fab", "log", "demo", "30m", "quiet work", "-q"], capsys)
    assert (code, out, err) == (0, "", "")
    code, out, _ = run(["fab", "log", "demo", "30m", "loud work"], capsys)
    assert code == 0 and out.startswith("logged #")
    code, out, err = run(["fab", "log", "demo", "nonsense", "-q"], capsys)
    assert code == 50 and out == "" and err.startswith("error: ")
