"""History, alert-on-change logic and delivery to local SMTP / webhook sinks."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from maint.errors import InputError
from maint.health.alerts import deliver, describe
from maint.health.history import History, parse_duration
from maint.health.model import CheckResult, State

sys.path.insert(0, str(Path(__file__).parent))
from health_sinks import smtp_sink, webhook_sink  # noqa: E402


def result(state: State, check: str = "home", store: str = "s3", level: int | None = None) -> CheckResult:
    level = (
        level
        if level is not None
        else (1 if state is State.CRITICAL else 2 if state is State.WARNING else None)
    )
    return CheckResult(store, check, state, level, 0.1, f"evidence {state.value}")


@pytest.fixture
def history(tmp_path: Path):
    with History(tmp_path / "health.sqlite") as h:
        yield h


def test_first_run_alerts_only_for_unhealthy_checks(history: History) -> None:
    changes = history.record([result(State.OK), result(State.CRITICAL, "db")], at=100)
    assert [(t.check, t.old, t.new) for t in changes] == [("db", None, State.CRITICAL)]


def test_same_state_again_sends_nothing(history: History) -> None:
    history.record([result(State.CRITICAL)], at=100)
    assert history.record([result(State.CRITICAL)], at=200) == []


def test_change_and_recovery_each_alert_once(history: History) -> None:
    history.record([result(State.OK)], at=100)
    down = history.record([result(State.CRITICAL)], at=200)
    worse = history.record([result(State.WARNING)], at=300)
    up = history.record([result(State.OK)], at=400)
    again = history.record([result(State.OK)], at=500)
    assert [(t.old, t.new) for t in down + worse + up] == [
        (State.OK, State.CRITICAL),
        (State.CRITICAL, State.WARNING),
        (State.WARNING, State.OK),
    ]
    assert up[0].recovered and again == []


def test_ok_to_skipped_is_no_news(history: History) -> None:
    history.record([result(State.OK, "tls")], at=100)
    assert history.record([result(State.SKIPPED, "tls")], at=200) == []


def test_history_lists_changes_and_availability_over_a_period(history: History) -> None:
    for at, state in [(100, State.OK), (200, State.CRITICAL), (300, State.CRITICAL), (400, State.OK)]:
        history.record([result(state), result(State.OK, "db")], at=at)
    changes = history.changes("s3", since=150)
    assert [(t.at, t.new) for t in changes] == [(200, State.CRITICAL), (400, State.OK)]
    report = history.availability("s3", since=0)
    assert report["runs"] == 4 and report["availability"] == 50.0
    assert report["checks"] == {"db": 100.0, "home": 50.0}
    assert history.availability("other", since=0)["availability"] is None


def test_memos_survive_reopening(tmp_path: Path) -> None:
    with History(tmp_path / "h.sqlite") as h:
        h.save_memos("s3", {"error_log_offset": 1234, "versions": {"opencart": "3.0.3.8"}})
    with History(tmp_path / "h.sqlite") as h:
        assert h.memos("s3") == {"error_log_offset": 1234, "versions": {"opencart": "3.0.3.8"}}
        assert h.memos("s4") == {}


@pytest.mark.parametrize("text, seconds", [("7d", 604800), ("24h", 86400), ("30m", 1800), ("2w", 1209600)])
def test_since_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "7", "d", "0d", "7y", "-1d"])
def test_bad_since_duration_is_input_error(text: str) -> None:
    with pytest.raises(InputError):
        parse_duration(text)


def transitions(history: History):
    history.record([result(State.OK)], at=100)
    return history.record([result(State.CRITICAL)], at=200)


def test_alert_line_names_store_check_level_and_evidence(history: History) -> None:
    line = describe(transitions(history)[0])
    assert line.startswith("CRITICAL s3 home [level 1") and "evidence CRITICAL" in line and "was OK" in line


def test_alerts_go_to_smtp_and_webhook(history: History) -> None:
    changes = transitions(history)
    with smtp_sink() as inbox, webhook_sink() as hook:
        smtp = {
            "host": "127.0.0.1",
            "port": inbox.port,
            "from": "maint@agency.test",
            "to": ["ops@agency.test"],
        }
        problems = deliver(changes, smtp, f"http://127.0.0.1:{hook.port}/alerts")
    assert problems == []
    assert len(inbox.messages) == 1 and "ops@agency.test" in inbox.messages[0]["to"][0]
    assert "s3 home" in inbox.messages[0]["data"] and "level 1" in inbox.messages[0]["data"]
    assert hook.messages[0]["transitions"][0] == {
        "store": "s3", "check": "home", "from": "OK", "to": "CRITICAL", "level": 1,
        "evidence": "evidence CRITICAL", "at": 200,
    }  # fmt: skip


def test_no_transitions_send_nothing() -> None:
    with webhook_sink() as hook:
        assert deliver([], {}, f"http://127.0.0.1:{hook.port}/") == []
    assert hook.messages == []


def test_failing_channels_become_warnings_without_the_password(history: History) -> None:
    changes = transitions(history)
    with webhook_sink(status=500) as hook:
        smtp = {"host": "127.0.0.1", "port": 1, "to": ["x@y.test"], "user": "u", "password": "s3cret-pw"}
        problems = deliver(changes, smtp, f"http://127.0.0.1:{hook.port}/")
    assert len(problems) == 2 and "HTTP 500" in problems[1]
    assert not any("s3cret-pw" in p for p in problems)


def test_first_unknown_is_no_news_but_ok_to_unknown_is(history: History) -> None:
    assert history.record([result(State.UNKNOWN, "mirror_age"), result(State.OK)], at=100) == []
    changes = history.record([result(State.UNKNOWN, "mirror_age"), result(State.UNKNOWN)], at=200)
    assert [(t.check, t.old, t.new) for t in changes] == [("home", State.OK, State.UNKNOWN)]
