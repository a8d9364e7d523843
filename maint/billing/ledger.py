"""The local SQLite time ledger: work entries and account events, append-only.

Nothing is updated or deleted: a correction is a new row that supersedes the old one, so the
history of every entry stays readable and nothing is silently lost.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from maint.billing.account import EVENT_KINDS, PAYS, AccountEvent, WorkItem, migrate_terms
from maint.errors import InputError

LEDGER_FILE = "ledger.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY,
    client TEXT NOT NULL,
    store TEXT NOT NULL,
    task TEXT NOT NULL,
    started TEXT NOT NULL,
    ended TEXT NOT NULL,
    seconds REAL NOT NULL CHECK (seconds >= 0),
    outcome TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL CHECK (source IN ('auto', 'manual', 'correction')),
    ticket TEXT NOT NULL DEFAULT '',
    category INTEGER,
    on_demand INTEGER NOT NULL DEFAULT 0,
    pays TEXT NOT NULL DEFAULT '',
    supersedes INTEGER UNIQUE REFERENCES entries(id),
    recorded TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_client_started ON entries (client, started);
CREATE TABLE IF NOT EXISTS account (
    id INTEGER PRIMARY KEY,
    client TEXT NOT NULL,
    kind TEXT NOT NULL,
    on_day TEXT NOT NULL,
    amount INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL DEFAULT '{}',
    note TEXT NOT NULL DEFAULT '',
    recorded TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS account_client ON account (client, on_day);
"""

# 2: terms are dated `term` events; old undated `terms` rows get dated copies (see migrate_terms).
# 3: entries.pays: what the client chose to pay a request with ('' = the plan's own way, 'period'
#    = a support period, 'credits').
SCHEMA_VERSION = 3

_EFFECTIVE = "NOT EXISTS (SELECT 1 FROM entries s WHERE s.supersedes = e.id)"


def _utc(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC; everything is stored as UTC ISO text."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _item(row: sqlite3.Row) -> WorkItem:
    return WorkItem(
        id=row["id"],
        client=row["client"],
        store=row["store"],
        task=row["task"],
        started=datetime.fromisoformat(row["started"]),
        seconds=row["seconds"],
        outcome=row["outcome"],
        note=row["note"],
        source=row["source"],
        ticket=row["ticket"],
        category=row["category"],
        on_demand=bool(row["on_demand"]),
        pays=row["pays"],
    )


_INIT_LOCK = threading.Lock()


def _initialise(db: sqlite3.Connection) -> None:
    """Switch to WAL and create the schema once per connection.

    Changing the journal mode takes an exclusive lock that SQLite does not wait for (no busy
    handler), so threads of one run take turns here and other processes are retried briefly.
    """
    for attempt in range(50):
        try:
            with _INIT_LOCK:
                if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    db.execute("PRAGMA journal_mode=WAL")
                db.executescript(_SCHEMA)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 49:
                raise
            time.sleep(0.05)


class Ledger:
    """One open ledger file. Every write is its own committed transaction."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # Parallel runs over many stores write at once: wait for the lock instead of failing.
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA foreign_keys=ON")
        _initialise(self.db)
        self._migrate()

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> Ledger:
        return cls(Path(state_dir).expanduser() / LEDGER_FILE)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Writes inside are committed together, or not at all."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _migrate(self) -> None:
        """Bring an older ledger up to SCHEMA_VERSION in one transaction; the old rows stay."""
        if self.db.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version < 2:
                clients = [
                    r[0] for r in self.db.execute("SELECT DISTINCT client FROM account WHERE kind = 'terms'")
                ]
                for client in clients:
                    for day, data, old in migrate_terms(self.events(client)):
                        self._insert_event(
                            client, "term", day, 0, data, f"dated copy of undated terms #{old}", None
                        )
            columns = {row["name"] for row in self.db.execute("PRAGMA table_info(entries)")}
            if version < 3 and "pays" not in columns:
                self.db.execute("ALTER TABLE entries ADD COLUMN pays TEXT NOT NULL DEFAULT ''")
            if version < SCHEMA_VERSION:
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    # --- work entries --------------------------------------------------------------------------

    def add(
        self,
        *,
        client: str,
        store: str,
        task: str,
        started: datetime,
        ended: datetime,
        outcome: str = "ok",
        note: str = "",
        source: str = "auto",
        ticket: str = "",
        category: int | None = None,
        on_demand: bool = False,
        pays: str = "",
        supersedes: int | None = None,
        now: datetime | None = None,
    ) -> int:
        started, ended = _utc(started), _utc(ended)
        if pays not in PAYS:
            raise InputError(
                f"pays is one of {', '.join(p for p in PAYS if p)}, not {pays!r}", column="--pays"
            )
        if ended < started:
            raise InputError(
                f"entry ends ({ended:%Y-%m-%d %H:%M}) before it starts ({started:%Y-%m-%d %H:%M})"
            )
        cur = self.db.execute(
            "INSERT INTO entries (client, store, task, started, ended, seconds, outcome, note, source,"
            " ticket, category, on_demand, pays, supersedes, recorded)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                client,
                store,
                task,
                started.isoformat(),
                ended.isoformat(),
                (ended - started).total_seconds(),
                outcome,
                note,
                source,
                ticket,
                category,
                int(on_demand),
                pays,
                supersedes,
                _utc(now or datetime.now(UTC)).isoformat(),
            ),
        )
        return int(cur.lastrowid or 0)

    def get(self, entry_id: int) -> WorkItem:
        row = self.db.execute("SELECT * FROM entries WHERE id = ?", (entry_id,)).fetchone()
        if row is None:
            raise InputError(f"no ledger entry #{entry_id}")
        return _item(row)

    def superseded_by(self, entry_id: int) -> int | None:
        row = self.db.execute("SELECT id FROM entries WHERE supersedes = ?", (entry_id,)).fetchone()
        return int(row["id"]) if row else None

    def correct(
        self,
        entry_id: int,
        *,
        seconds: float | None = None,
        note: str | None = None,
        category: int | None = None,
        ticket: str | None = None,
        on_demand: bool | None = None,
        now: datetime | None = None,
    ) -> int:
        """Record a corrected copy of an entry; the original stays, marked as superseded.
        `seconds=0` voids an entry while keeping its history."""
        old = self.get(entry_id)
        newer = self.superseded_by(entry_id)
        if newer is not None:
            raise InputError(f"entry #{entry_id} was already corrected by #{newer}; correct #{newer} instead")
        if seconds is not None and seconds < 0:
            raise InputError("a corrected duration cannot be negative")
        length = old.seconds if seconds is None else seconds
        return self.add(
            client=old.client,
            store=old.store,
            task=old.task,
            started=old.started,
            ended=old.started + timedelta(seconds=length),
            outcome=old.outcome,
            note=old.note if note is None else note,
            source="correction",
            ticket=old.ticket if ticket is None else ticket,
            category=old.category if category is None else category,
            on_demand=old.on_demand if on_demand is None else on_demand,
            pays=old.pays,
            supersedes=entry_id,
            now=now,
        )

    def history(self, entry_id: int) -> list[WorkItem]:
        """The entry and every correction of it, oldest first."""
        chain = [self.get(entry_id)]
        while (newer := self.superseded_by(chain[-1].id)) is not None:
            chain.append(self.get(newer))
        return chain

    def items(
        self, client: str | None = None, *, since: date | None = None, until: date | None = None
    ) -> Iterator[WorkItem]:
        """Effective (not superseded) entries, oldest first; `until` is inclusive."""
        where, args = [_EFFECTIVE], []
        if client is not None:
            where.append("e.client = ?")
            args.append(client)
        if since is not None:
            where.append("e.started >= ?")
            args.append(since.isoformat())
        if until is not None:
            where.append("substr(e.started, 1, 10) <= ?")
            args.append(until.isoformat())
        query = f"SELECT * FROM entries e WHERE {' AND '.join(where)} ORDER BY e.started, e.id"  # noqa: S608 (fixed clauses)
        for row in self.db.execute(query, args):
            yield _item(row)

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM entries").fetchone()[0])

    # --- account events ------------------------------------------------------------------------

    def add_event(
        self,
        *,
        client: str,
        kind: str,
        on: date,
        amount: int = 0,
        data: dict[str, Any] | None = None,
        note: str = "",
        now: datetime | None = None,
    ) -> int:
        if kind not in EVENT_KINDS or kind == "terms":
            raise InputError(f"unknown account event {kind!r} (known: {', '.join(EVENT_KINDS)})")
        return self._insert_event(client, kind, on, amount, data, note, now)

    def _insert_event(
        self,
        client: str,
        kind: str,
        on: date,
        amount: int,
        data: dict[str, Any] | None,
        note: str,
        now: datetime | None,
    ) -> int:
        cur = self.db.execute(
            "INSERT INTO account (client, kind, on_day, amount, data, note, recorded) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                client,
                kind,
                on.isoformat(),
                amount,
                json.dumps(data or {}, sort_keys=True),
                note,
                _utc(now or datetime.now(UTC)).isoformat(),
            ),
        )
        return int(cur.lastrowid or 0)

    def events(self, client: str) -> list[AccountEvent]:
        rows = self.db.execute("SELECT * FROM account WHERE client = ? ORDER BY on_day, id", (client,))
        return [
            AccountEvent(
                id=row["id"],
                client=row["client"],
                kind=row["kind"],
                on=date.fromisoformat(row["on_day"]),
                amount=row["amount"],
                data=json.loads(row["data"]),
                note=row["note"],
            )
            for row in rows
        ]
