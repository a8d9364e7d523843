"""Local SQLite history of every result, the current state per check, and small per-store memos.

Memos carry what a check must remember between runs (the error-log offset, the versions seen last).
The database is only touched from the caller's thread; probes get plain dicts.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maint.errors import InputError
from maint.health.model import CheckResult, State

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    run_at REAL NOT NULL, store TEXT NOT NULL, check_id TEXT NOT NULL, state TEXT NOT NULL,
    level INTEGER, value TEXT, evidence TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS results_by_store ON results (store, run_at);
CREATE TABLE IF NOT EXISTS current (
    store TEXT NOT NULL, check_id TEXT NOT NULL, state TEXT NOT NULL, level INTEGER,
    since REAL NOT NULL, PRIMARY KEY (store, check_id));
CREATE TABLE IF NOT EXISTS memo (
    store TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (store, key));
"""
# Columns added after the first release: (table, column, type), added to older files on open.
ADDED_COLUMNS = (
    ("results", "cause", "TEXT NOT NULL DEFAULT ''"),
    ("current", "cause", "TEXT NOT NULL DEFAULT ''"),
)
DURATION_RE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
# A run counts as "available" unless one of these failed: customers could not open the shop or order.
AVAILABILITY_CHECKS = ("home", "cart", "checkout")
UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True)
class Transition:
    store: str
    check: str
    old: State | None
    new: State
    level: int | None
    evidence: str
    at: float

    @property
    def recovered(self) -> bool:
        return self.new.healthy

    def as_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "check": self.check,
            "from": self.old.value if self.old else None,
            "to": self.new.value,
            "level": self.level,
            "evidence": self.evidence,
            "at": self.at,
        }


def parse_duration(text: str) -> float:
    """'7d', '24h', '30m', '2w' → seconds."""
    match = DURATION_RE.match(text or "")
    if not match or int(match.group(1)) == 0:
        raise InputError(f"--since {text!r}: use a number and m, h, d or w (e.g. 7d)", column="--since")
    return int(match.group(1)) * UNIT_SECONDS[match.group(2)]


def same_class(a: State | None, b: State) -> bool:
    """OK and SKIPPED are one class: moving between them is no news."""
    if a is None:
        # First sighting: only a real problem is news ("unknown" on a first run is usually setup).
        return b.healthy or b is State.UNKNOWN
    return a == b or (a.healthy and b.healthy)


def detect_transitions(
    previous: dict[tuple[str, str], State], results: Iterable[CheckResult], at: float
) -> list[Transition]:
    """Changes worth an alert: a new state (a first sighting counts only when unhealthy) or a recovery.

    One cause, one alert: a result explained by a check it depends on (``cause``) raises none, and
    leaves the check's current state as it was before (see History.record), so it recovers silently
    with its cause, and a standing problem it had before is not news again afterwards.
    """
    return [
        Transition(r.store, r.check, previous.get((r.store, r.check)), r.state, r.level, r.evidence, at)
        for r in results
        if not r.cause and not same_class(previous.get((r.store, r.check)), r.state)
    ]


class History:
    def __init__(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, timeout=30)
        self.db.executescript(SCHEMA)
        for name, column, kind in ADDED_COLUMNS:
            if column not in {row[1] for row in self.db.execute(f"PRAGMA table_info({name})")}:
                self.db.execute(f"ALTER TABLE {name} ADD COLUMN {column} {kind}")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self.db:
            yield self.db

    def current(self, stores: Iterable[str]) -> dict[tuple[str, str], State]:
        names = list(stores)
        marks = ",".join("?" * len(names))
        rows = self.db.execute(
            f"SELECT store, check_id, state FROM current WHERE store IN ({marks})",  # noqa: S608 (only '?' marks)
            names,
        )
        return {(s, c): State(state) for s, c, state in rows}

    def record(self, results: list[CheckResult], at: float | None = None) -> list[Transition]:
        """Store one run's results; return the state changes it brought (for alerts)."""
        at = time.time() if at is None else at
        changes = detect_transitions(self.current({r.store for r in results}), results, at)
        changed = {(t.store, t.check) for t in changes}
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO results (run_at, store, check_id, state, level, value, evidence, cause) "
                "VALUES (?,?,?,?,?,?,?,?)",
                [
                    (
                        at,
                        r.store,
                        r.check,
                        r.state.value,
                        r.level,
                        None if r.value is None else str(r.value),
                        r.evidence,
                        r.cause,
                    )
                    for r in results
                ],
            )
            # "since" moves only when the state class changed, so it says how long a state has lasted.
            # An explained result (a cause) leaves the current state alone: the check is judged
            # against what it was before its cause failed.
            db.executemany(
                "INSERT OR REPLACE INTO current (store, check_id, state, level, since) VALUES (?, ?, ?, ?, "
                "COALESCE((SELECT since FROM current WHERE store = ? AND check_id = ?), ?))",
                [
                    (r.store, r.check, r.state.value, r.level, r.store, r.check, at)
                    for r in results
                    if (r.store, r.check) not in changed and not r.cause
                ],
            )
            db.executemany(
                "INSERT OR REPLACE INTO current (store, check_id, state, level, since) VALUES (?, ?, ?, ?, ?)",
                [
                    (r.store, r.check, r.state.value, r.level, at)
                    for r in results
                    if (r.store, r.check) in changed
                ],
            )
        return changes

    def memos(self, store: str) -> dict[str, Any]:
        rows = self.db.execute("SELECT key, value FROM memo WHERE store = ?", (store,))
        return {key: json.loads(value) for key, value in rows}

    def save_memos(self, store: str, memos: dict[str, Any]) -> None:
        with self._transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO memo (store, key, value) VALUES (?, ?, ?)",
                [(store, key, json.dumps(value)) for key, value in memos.items()],
            )

    def changes(self, store: str, since: float) -> list[Transition]:
        """State changes of a store's checks since a moment (the state before it counts as the start)."""
        rows = self.db.execute(
            "SELECT run_at, check_id, state, level, evidence FROM results WHERE store = ? ORDER BY check_id, run_at",
            (store,),
        )
        out: list[Transition] = []
        last: dict[str, State] = {}
        for run_at, check, state_text, level, evidence in rows:
            state = State(state_text)
            before = last.get(check)
            if run_at >= since and not same_class(before, state):
                out.append(Transition(store, check, before, state, level, evidence, run_at))
            last[check] = state
        return sorted(out, key=lambda t: t.at)

    def availability(self, store: str, since: float) -> dict[str, Any]:
        """Share of runs in which customers could reach the shop and order, and per check the share
        of healthy results. (A known advisory is urgent, but it is not downtime.)"""
        marks = ",".join("?" * len(AVAILABILITY_CHECKS))
        # A page check explained by another failure (UNKNOWN with a cause: the database was down)
        # was down for customers too; one in planned maintenance (OK with a cause) was not.
        runs, down = self.db.execute(
            "SELECT COUNT(DISTINCT run_at), COUNT(DISTINCT CASE WHEN (state = 'CRITICAL' OR "
            "(state = 'UNKNOWN' AND cause != '')) "
            f"AND check_id IN ({marks}) THEN run_at END) FROM results WHERE store = ? AND run_at >= ?",  # noqa: S608
            (*AVAILABILITY_CHECKS, store, since),
        ).fetchone()
        per_check = {
            check: round(100.0 * healthy / total, 2)
            for check, healthy, total in self.db.execute(
                "SELECT check_id, SUM(state IN ('OK', 'SKIPPED')), COUNT(*) FROM results "
                "WHERE store = ? AND run_at >= ? GROUP BY check_id ORDER BY check_id",
                (store, since),
            )
        }
        return {
            "store": store,
            "runs": runs,
            "availability": round(100.0 * (runs - down) / runs, 2) if runs else None,
            "checks": per_check,
        }
