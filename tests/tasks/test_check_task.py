"""`check` task wiring: arguments fail before any connection, exit codes follow the verdicts, --json
shape, --all keeps going past a store that cannot be reached, a broken playbook stops the run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from invoke import Config, Context
from invoke.exceptions import Exit

from maint.errors import ConnectError
from maint.facts.mysql import DbServer
from maint.facts.php import PhpFacts
from maint.ops.check import CheckFacts
from maint.tasks import check as check_module
from maint.tasks.check import check

PROJECT = Path(__file__).resolve().parents[2]
EXTENSIONS = frozenset(
    "core mysqli gd curl openssl zlib zip mbstring dom hash xmlwriter json pdo_mysql".split()
)


@pytest.fixture
def c(tmp_path: Path) -> Context:
    maint = {"inventory": str(PROJECT / "maint" / "playbooks" / "clients"), "state_dir": str(tmp_path / "state")}
    return Context(config=Config(overrides={"maint": maint}))


def facts_for(version: str, php: str = "8.2.26"):
    def gather(tc, name: str) -> CheckFacts:
        return CheckFacts(
            name,
            version,
            php=PhpFacts(php, "fpm-fcgi", EXTENSIONS, {"display_errors": "0", "file_uploads": "1"}),
            db=DbServer("mariadb", "10.11.6", "10.11.6-MariaDB"),
            db_driver="mysqli",
            host_reason="not probed in this test",
        )

    return gather


def run(c: Context, *args, **kwargs) -> int:
    try:
        check(c, *args, **kwargs)
    except Exit as exc:
        return exc.code
    return 0


@pytest.fixture
def no_connection(monkeypatch):
    monkeypatch.setattr(check_module, "connect", lambda cfg: pytest.fail("must not connect"))


def test_store_and_all_together_fail_before_any_connection(c, no_connection, capsys) -> None:
    assert run(c, "demo", all_=True) == 2
    assert "not both" in capsys.readouterr().err


def test_mysql_and_mariadb_together_fail_before_any_connection(c, no_connection, capsys) -> None:
    assert run(c, "demo", mysql="8.4", mariadb="10.11") == 50
    assert "give one" in capsys.readouterr().err


def test_a_what_if_version_that_is_not_a_version_fails_before_any_connection(
    c, no_connection, capsys
) -> None:
    assert run(c, "demo", php="latest") == 50
    assert "--php 'latest'" in capsys.readouterr().err


def test_a_broken_matrix_stops_the_run_naming_the_file(c, no_connection, tmp_path, capsys) -> None:
    playbooks = tmp_path / "playbooks"
    shutil.copytree(PROJECT / "maint" / "playbooks", playbooks)
    (playbooks / "matrix.yaml").write_text("schema: 1\nreleases: []\n")
    c.config.maint.playbooks = str(playbooks)
    assert run(c, "demo") == 12
    assert "matrix.yaml" in capsys.readouterr().err


def test_json_output_and_exit_2_for_an_unsupported_php(c, monkeypatch, capsys) -> None:
    monkeypatch.setattr(check_module, "gather_check_facts", facts_for("3.0.3.8"))
    assert run(c, "demo", json=True) == 2
    data = json.loads(capsys.readouterr().out)
    (store,) = data["stores"]
    assert data["exit_code"] == 2 and store["status"] == "critical" and store["store"] == "demo"
    assert next(v for v in store["verdicts"] if v["component"] == "php")["status"] == "unsupported"
    assert store["recommended_upgrade"]


def test_what_if_flags_reach_the_verdicts(c, monkeypatch, capsys) -> None:
    monkeypatch.setattr(check_module, "gather_check_facts", facts_for("4.1.0.4"))
    assert run(c, "demo", php="7.4", json=True) == 2
    store = json.loads(capsys.readouterr().out)["stores"][0]
    assert store["what_if"] == {"php": "7.4"}
    assert store["breaks"] and store["breaks"][0].startswith("php: ok -> unsupported")


def test_unknown_facts_exit_3(c, monkeypatch) -> None:
    monkeypatch.setattr(check_module, "gather_check_facts", facts_for("9.0.0.0"))
    assert run(c, "demo") == 3


def test_all_keeps_going_past_a_store_that_cannot_be_reached(c, monkeypatch, capsys) -> None:
    supported = facts_for("4.1.0.4")

    def gather(tc, name: str) -> CheckFacts:
        if name == "demo":
            raise ConnectError("SSH connection to 127.0.0.1:1 refused", store=name)
        return supported(tc, name)

    monkeypatch.setattr(check_module, "gather_check_facts", gather)
    assert run(c, all_=True, json=True) == 3
    stores = {s["store"]: s for s in json.loads(capsys.readouterr().out)["stores"]}
    assert stores["demo"]["status"] == "unknown" and "refused" in stores["demo"]["verdicts"][0]["reason"]
    assert stores["demo4"]["release"] == "4.1.0.4"


def test_piped_output_is_a_plain_table_with_the_overall_line(c, monkeypatch, capsys) -> None:
    monkeypatch.setattr(check_module, "gather_check_facts", facts_for("3.0.3.8"))
    run(c, "demo", php="8.3")
    out = capsys.readouterr().out
    assert "demo: OpenCart 3.0.3.8  (what if: php 8.3)" in out
    assert "component" in out and "planned" in out and "unsupported" in out
    assert "recommended: upgrade to 3.0.5.1" in out and "overall: critical (exit 2)" in out
    assert "\x1b[" not in out


def test_the_run_is_recorded_in_the_time_ledger(c, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(check_module, "gather_check_facts", facts_for("4.1.0.4"))
    run(c, "demo")
    assert any(b"check" in p.read_bytes() for p in (tmp_path / "state").rglob("*") if p.is_file())


def test_on_a_terminal_the_report_is_a_rich_table(c, monkeypatch) -> None:
    import io

    from rich.console import Console

    from maint import render

    screen = io.StringIO()
    monkeypatch.setattr(
        render, "console", lambda stream=None: Console(file=screen, force_terminal=True, width=200)
    )
    monkeypatch.setattr(check_module, "gather_check_facts", facts_for("3.0.3.8"))
    assert run(c, "demo") == 2
    out = screen.getvalue()
    assert "\x1b[" in out and "unsupported" in out and "CVE-2024-21514" in out and "overall: critical" in out


def terminal(monkeypatch, width: int):
    import io

    from rich.console import Console

    from maint import render

    screen = io.StringIO()
    monkeypatch.setattr(
        render, "console", lambda stream=None: Console(file=screen, force_terminal=True, width=width)
    )
    return screen


@pytest.mark.parametrize(
    ("version", "php"), [("4.0.2.3", ""), ("3.0.3.8", ""), ("4.1.0.4", ""), ("3.0.3.8", "8.3")]
)
def test_the_default_report_fits_a_120_column_terminal_without_sources(
    c, monkeypatch, version: str, php: str
) -> None:
    import re

    screen = terminal(monkeypatch, 120)
    monkeypatch.setattr(check_module, "gather_check_facts", facts_for(version))
    run(c, "demo", php=php)
    out = re.sub(r"\x1b\[[0-9;]*m", "", screen.getvalue())
    assert max(len(line) for line in out.splitlines()) <= 120
    # No row wraps: each component is on one line of its own.
    assert "component" in out and "cvelistV5" not in out and "install/step_2.php" not in out
    for component in ("opencart", "php extensions", "advisories"):
        assert sum(line.lstrip().startswith(component + " ") for line in out.splitlines()) == 1


def test_piped_output_fits_120_columns_too(c, monkeypatch, capsys) -> None:
    monkeypatch.setattr(check_module, "gather_check_facts", facts_for("4.0.2.3"))
    run(c, "demo")
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 120
    assert "CVE-2024-58341" in out and "no fix for CVE-2024-21518:" in out


def test_sources_come_with_the_flag_and_always_in_json(c, monkeypatch, capsys) -> None:
    monkeypatch.setattr(check_module, "gather_check_facts", facts_for("4.0.2.3"))
    run(c, "demo", sources=True)
    out = capsys.readouterr().out
    assert "source" in out and "install/step_2.php@4.0.2.3" in out and "cvelistV5" in out
    run(c, "demo", json=True)
    store = json.loads(capsys.readouterr().out)["stores"][0]
    assert all("source" in v for v in store["verdicts"])
    assert next(a for a in store["advisories"] if a["id"] == "CVE-2024-21518")["mitigation"]
