"""The SQLite ledger: append-only, corrections supersede, nothing silently lost."""

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from maint.billing.account import TermBook
from maint.billing.ledger import Ledger
from maint.errors import InputError

T0 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def ledger(tmp_path: Path):
    with Ledger.in_state_dir(tmp_path / "state") as led:
        yield led


def _add(ledger: Ledger, hours: float = 1.0, **kw: object) -> int:
    kw = {"client": "demo", "store": "demo", "task": "upgrade", **kw}
    return ledger.add(started=T0, ended=T0 + timedelta(hours=hours), **kw)  # type: ignore[arg-type]


def test_an_entry_records_client_store_task_times_elapsed_and_outcome(ledger: Ledger) -> None:
    entry = ledger.get(_add(ledger, 1.5, outcome="failed: disk full"))
    assert (entry.client, entry.store, entry.task, entry.started) == ("demo", "demo", "upgrade", T0)
    assert (entry.seconds, entry.outcome, entry.source) == (5400, "failed: disk full", "auto")


def test_entries_survive_closing_and_reopening_the_file(tmp_path: Path) -> None:
    with Ledger.in_state_dir(tmp_path) as first:
        _add(first)
    with Ledger.in_state_dir(tmp_path) as again:
        assert [i.task for i in again.items("demo")] == ["upgrade"]


def test_a_correction_supersedes_but_keeps_the_original(ledger: Ledger) -> None:
    original = _add(ledger, 1)
    fixed = ledger.correct(original, seconds=7200, note="forgot the DB part")
    assert [(i.id, i.seconds) for i in ledger.items("demo")] == [(fixed, 7200)]
    assert [i.id for i in ledger.history(original)] == [original, fixed]
    assert ledger.get(original).seconds == 3600
    assert ledger.count() == 2


def test_a_superseded_entry_cannot_be_corrected_again(ledger: Ledger) -> None:
    original = _add(ledger)
    fixed = ledger.correct(original, seconds=60)
    with pytest.raises(InputError, match=f"already corrected by #{fixed}"):
        ledger.correct(original, seconds=120)
    ledger.correct(fixed, seconds=120)


def test_voiding_an_entry_is_a_zero_length_correction(ledger: Ledger) -> None:
    original = _add(ledger)
    ledger.correct(original, seconds=0)
    assert sum(i.seconds for i in ledger.items("demo")) == 0
    assert ledger.count() == 2


def test_a_correction_can_change_the_category_and_keeps_the_rest(ledger: Ledger) -> None:
    original = _add(ledger, ticket="T1", category=1, source="manual")
    fixed = ledger.get(ledger.correct(original, category=3))
    assert (fixed.ticket, fixed.category, fixed.seconds, fixed.source) == ("T1", 3, 3600, "correction")


def test_bad_input_is_refused_and_the_ledger_is_unchanged(ledger: Ledger) -> None:
    original = _add(ledger)
    before = (ledger.count(), len(ledger.events("demo")))
    bad = [
        (lambda: ledger.correct(999, seconds=60), "no ledger entry #999"),
        (lambda: ledger.correct(original, seconds=-1), "cannot be negative"),
        (
            lambda: ledger.add(client="demo", store="demo", task="x", started=T0, ended=T0 - timedelta(1)),
            "before it",
        ),
        (lambda: ledger.add_event(client="demo", kind="gift", on=date(2026, 11, 1)), "unknown account event"),
    ]
    for call, message in bad:
        with pytest.raises(InputError, match=message):
            call()
    assert (ledger.count(), len(ledger.events("demo"))) == before


def test_items_filter_by_client_and_inclusive_dates(ledger: Ledger) -> None:
    _add(ledger)
    _add(ledger, client="other")
    ledger.add(
        client="demo",
        store="demo",
        task="late",
        started=T0 + timedelta(days=27),
        ended=T0 + timedelta(days=27),
    )
    assert len(list(ledger.items())) == 3
    assert [i.task for i in ledger.items("demo", since=date(2026, 11, 1), until=date(2026, 11, 30))] == [
        "upgrade",
        "late",
    ]
    assert [i.task for i in ledger.items("demo", until=date(2026, 11, 3))] == ["upgrade"]


def test_naive_times_are_taken_as_utc(ledger: Ledger) -> None:
    naive = datetime(2026, 11, 3, 9, 0)
    entry = ledger.get(ledger.add(client="demo", store="demo", task="x", started=naive, ended=naive))
    assert entry.started == T0


def test_account_events_round_trip_in_date_order(ledger: Ledger) -> None:
    ledger.add_event(client="demo", kind="pack", on=date(2026, 11, 5), amount=50)
    ledger.add_event(
        client="demo", kind="term", on=date(2026, 11, 1), data={"name": "start", "value": "2026-11-01"}
    )
    events = ledger.events("demo")
    assert [(e.kind, e.amount) for e in events] == [("term", 0), ("pack", 50)]
    assert events[0].data == {"name": "start", "value": "2026-11-01"}
    assert ledger.events("other") == []


def _old_ledger(path: Path) -> None:
    """A ledger as the previous version wrote it: undated `terms` rows, user_version 0."""
    with Ledger(path) as ledger:
        for on, data in (
            ("2026-10-01", {"start": "2026-10-01", "one_year": True, "group_months": 1, "priority": False}),
            ("2026-12-01", {"start": "2026-10-01", "one_year": False, "group_months": 2, "priority": False}),
        ):
            ledger.db.execute(
                "INSERT INTO account (client, kind, on_day, amount, data, note, recorded)"
                " VALUES ('acme', 'terms', ?, 0, ?, '', '2026-12-01T00:00:00+00:00')",
                (on, json.dumps(data)),
            )
        ledger.db.execute("PRAGMA user_version = 0")


def test_undated_terms_of_an_old_ledger_are_migrated_once_to_dated_terms_kept_as_history(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger.sqlite"
    _old_ledger(path)
    with Ledger(path) as ledger:
        events = ledger.events("acme")
    with Ledger(path) as ledger:  # a second opening migrates nothing more
        assert ledger.events("acme") == events
    assert [e.kind for e in events].count("terms") == 2  # the old rows stay, as history
    dated = [(e.on, e.data["name"], e.data["value"]) for e in events if e.kind == "term"]
    # The latest undated terms held for all time: dated from the contract start, statements unchanged.
    assert dated == [(date(2026, 10, 1), "start", "2026-10-01"), (date(2026, 10, 1), "group_months", 2)]
    book = TermBook.from_events(events)
    assert book.at(date(2026, 10, 1)).group_months == 2 and not book.at(date(2026, 10, 1)).one_year


def test_the_old_undated_terms_event_can_no_longer_be_written(ledger: Ledger) -> None:
    with pytest.raises(InputError, match="unknown account event 'terms'"):
        ledger.add_event(client="demo", kind="terms", on=date(2026, 11, 1))


def test_many_threads_can_open_a_brand_new_ledger_at_once(tmp_path):
    # `fab mirror --all` opens the ledger from one thread per store; the first opening switches
    # the file to WAL, which SQLite does not wait for: none of them may fail with "locked".
    from concurrent.futures import ThreadPoolExecutor
    from datetime import UTC, datetime

    from maint.billing.ledger import Ledger

    def open_and_add(i):
        with Ledger(tmp_path / "fresh" / "ledger.sqlite") as ledger:
            now = datetime(2026, 11, 2, 10, tzinfo=UTC)
            return ledger.add(client="c", store=f"s{i}", task="info", started=now, ended=now)

    for _ in range(5):
        (tmp_path / "fresh").mkdir(exist_ok=True)
        with ThreadPoolExecutor(16) as pool:
            ids = list(pool.map(open_and_add, range(16)))
        assert len(set(ids)) == 16
        import shutil

        shutil.rmtree(tmp_path / "fresh")


def test_a_ledger_without_the_pays_column_gets_it_and_keeps_its_entries(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "ledger.sqlite"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE entries (id INTEGER PRIMARY KEY, client TEXT NOT NULL, store TEXT NOT NULL,"
        " task TEXT NOT NULL, started TEXT NOT NULL, ended TEXT NOT NULL, seconds REAL NOT NULL,"
        " outcome TEXT NOT NULL, note TEXT NOT NULL DEFAULT '', source TEXT NOT NULL,"
        " ticket TEXT NOT NULL DEFAULT '', category INTEGER, on_demand INTEGER NOT NULL DEFAULT 0,"
        " supersedes INTEGER UNIQUE REFERENCES entries(id), recorded TEXT NOT NULL);"
        "INSERT INTO entries VALUES (1, 'demo', 'demo', 'info', '2026-11-03T09:00:00+00:00',"
        " '2026-11-03T09:01:00+00:00', 60, 'ok', '', 'auto', '', NULL, 0, NULL, '2026-11-03T09:01:00+00:00');"
    )
    old.close()
    with Ledger(path) as ledger:
        (entry,) = ledger.items("demo")
        assert (entry.seconds, entry.pays) == (60, "")
        new = ledger.get(
            ledger.add(client="demo", store="demo", task="manual", started=T0, ended=T0, pays="period")
        )
        assert new.pays == "period"
