"""The output contract in maint.render: NO_COLOR, --quiet, long lines, the JSON envelope."""

from __future__ import annotations

import io
import sys
from datetime import UTC, datetime

import pytest

from maint import render


@pytest.fixture(autouse=True)
def plain_output():
    yield
    render.set_output()


def test_no_color_removes_every_style_even_on_a_terminal(monkeypatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    styled = io.StringIO()
    render.console(styled).print("[bold red]error:[/] x")
    assert "\x1b[" in styled.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    plain = io.StringIO()
    render.console(plain).print("[bold red]error:[/] x")
    assert plain.getvalue() == "error: x\n"


def test_quiet_silences_tables_and_lines_on_stdout_only(capsys) -> None:
    render.set_output(quiet=True)
    render.table("t", ("a",), [("1",)])
    render.key_values("k", [("a", 1)])
    render.line("hello")
    render.console(sys.stderr).print("still said")
    out, err = capsys.readouterr()
    assert out == "" and "still said" in err


def test_long_lines_are_cut_when_piped_and_commands_stand_alone(capsys) -> None:
    render.line("alert: " + "x" * 400)
    render.table("t", ("evidence",), [("y" * 400,)])
    render.command("undo with:", "fab undo demo /a/very/long/path/" + "z" * 300 + ".undo")
    out = capsys.readouterr().out.splitlines()
    assert len(out[0]) == 200 and out[0].endswith("…")
    assert max(len(line) for line in out[1:-2]) <= render.MAX_CELL
    assert out[-2] == "undo with:" and out[-1].strip().startswith("fab undo demo /") and out[-1].endswith(".undo")


def test_the_envelope_puts_store_ok_error_first_and_times_in_iso() -> None:
    started = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    data = render.envelope("info", started, [{"version": "3.0.3.8", "store": "s3"}, {"store": "x", "error": "down"}],
                           exit_code=20)
    assert list(data) == ["task", "version", "ok", "exit_code", "started", "finished", "error", "stores"]
    assert data["started"] == "2026-11-30T12:00:00+00:00" and data["ok"] is False
    assert list(data["stores"][0])[:3] == ["store", "ok", "error"]
    assert data["stores"][0]["ok"] is True and data["stores"][1] == {"store": "x", "ok": False, "error": "down"}
    assert render.iso(0) == "1970-01-01T00:00:00+00:00"
