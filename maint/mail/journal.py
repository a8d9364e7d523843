"""The per-campaign send journal (SQLite in the state folder): who gets a campaign, and who already has.

A recipient's row is written `sending` and committed *before* its message goes to the server, and
`sent` after the server accepted it. So a run killed at any point and started again skips everyone
`sent`; a row left `sending` is a message that may or may not have left (the kill came between the
server's answer and the commit): it is reported and not sent again, so nobody gets a message twice.
A message the server never answered (dropped connection) goes back to `pending` on the spot.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

JOURNAL_FILE = "mail.sqlite"
STATES = ("pending", "sending", "sent", "refused", "deferred", "suppressed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS campaigns (
    id TEXT PRIMARY KEY,
    client TEXT NOT NULL,
    store TEXT NOT NULL,
    subject TEXT NOT NULL,
    content_sha TEXT NOT NULL,
    sources TEXT NOT NULL,
    created TEXT NOT NULL,
    finished TEXT
);
CREATE TABLE IF NOT EXISTS recipients (
    campaign TEXT NOT NULL REFERENCES campaigns(id),
    email TEXT NOT NULL,          -- lower-cased: the dedup key
    address TEXT NOT NULL,        -- as given
    name TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    detail TEXT NOT NULL DEFAULT '',
    updated TEXT NOT NULL,
    PRIMARY KEY (campaign, email)
);
CREATE INDEX IF NOT EXISTS recipients_state ON recipients (campaign, state);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Recipient:
    address: str
    name: str
    source: str

    @property
    def key(self) -> str:
        return self.address.strip().lower()


@dataclass(frozen=True)
class Campaign:
    id: str
    client: str
    store: str
    subject: str
    content_sha: str
    sources: str
    created: str
    finished: str | None


class Journal:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fresh = not path.exists()
        self.path = path
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        if fresh:
            path.chmod(0o600)
        self.db.execute("PRAGMA journal_mode=WAL")
        # every state change is its own committed transaction. In WAL mode NORMAL keeps each commit
        # across a killed process (what resuming is for); FULL, an fsync per message, would also keep
        # the last few across a power cut, at the cost of the disk's sync latency per message.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> Journal:
        return cls(Path(state_dir).expanduser() / JOURNAL_FILE)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- campaigns

    def campaign(self, campaign_id: str) -> Campaign | None:
        row = self.db.execute("SELECT * FROM campaigns WHERE id = ?", (campaign_id,)).fetchone()
        return Campaign(*row) if row else None

    def campaigns_since(self, client: str, since: datetime) -> list[Campaign]:
        rows = self.db.execute(
            "SELECT * FROM campaigns WHERE client = ? AND created >= ? ORDER BY created",
            (client, since.astimezone(UTC).isoformat(timespec="seconds")),
        )
        return [Campaign(*r) for r in rows]

    def create(
        self,
        campaign: Campaign,
        recipients: Iterable[Recipient],
        suppressed: Iterable[tuple[Recipient, str]],
    ) -> int:
        """The campaign (unless it exists: a resumed run) and its recipients, in one transaction.

        Recipients already journalled keep their state, so nobody is sent twice; new ones (a customer
        who subscribed since) are added as pending; a pending one now on the suppression list is
        suppressed. Returns how many recipients were added."""
        now = _now()
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute(
                "INSERT OR IGNORE INTO campaigns VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                (campaign.id, campaign.client, campaign.store, campaign.subject, campaign.content_sha,
                 campaign.sources, campaign.created),
            )
            before = self.db.total_changes
            self.db.executemany(
                "INSERT OR IGNORE INTO recipients VALUES (?, ?, ?, ?, ?, 'pending', 0, '', ?)",
                ((campaign.id, r.key, r.address, r.name, r.source, now) for r in recipients),
            )
            added = self.db.total_changes - before
            for r, why in suppressed:
                self.db.execute(
                    "INSERT OR IGNORE INTO recipients VALUES (?, ?, ?, ?, ?, 'suppressed', 0, ?, ?)",
                    (campaign.id, r.key, r.address, r.name, r.source, why, now),
                )
                self.db.execute(
                    "UPDATE recipients SET state = 'suppressed', detail = ?, updated = ? "
                    "WHERE campaign = ? AND email = ? AND state IN ('pending', 'deferred')",
                    (why, now, campaign.id, r.key),
                )
        return added

    def addresses(self, campaign_id: str) -> set[str]:
        """Every (lower-cased) address the campaign already has a row for, whatever its state."""
        return {r[0] for r in self.db.execute("SELECT email FROM recipients WHERE campaign = ?", (campaign_id,))}

    def finish(self, campaign_id: str) -> None:
        self.db.execute("UPDATE campaigns SET finished = ? WHERE id = ?", (_now(), campaign_id))

    # --- recipients

    def to_send(self, campaign_id: str, *, retry_deferred: bool = True) -> Iterator[Recipient]:
        """Pending (and deferred) recipients in a stable order; read in pages so 100,000 rows stay small."""
        states = ("pending", "deferred") if retry_deferred else ("pending",)
        last = ""
        while True:
            rows = self.db.execute(
                f"SELECT email, address, name, source FROM recipients WHERE campaign = ? AND email > ? "
                f"AND state IN ({','.join('?' * len(states))}) ORDER BY email LIMIT 1000",
                (campaign_id, last, *states),
            ).fetchall()
            if not rows:
                return
            for _key, address, name, source in rows:
                yield Recipient(address, name, source)
            last = rows[-1][0]

    def mark(self, campaign_id: str, recipient: Recipient, state: str, detail: str = "") -> None:
        if state not in STATES:
            raise ValueError(state)
        bump = 1 if state == "sending" else 0
        self.db.execute(
            "UPDATE recipients SET state = ?, detail = ?, attempts = attempts + ?, updated = ? "
            "WHERE campaign = ? AND email = ?",
            (state, detail, bump, _now(), campaign_id, recipient.key),
        )

    def retry_unsure(self, campaign_id: str) -> int:
        """Rows left `sending` by a killed run back to pending (the maintainer checked they didn't go out)."""
        cur = self.db.execute(
            "UPDATE recipients SET state = 'pending', updated = ? WHERE campaign = ? AND state = 'sending'",
            (_now(), campaign_id),
        )
        return int(cur.rowcount)

    def counts(self, campaign_id: str) -> dict[str, int]:
        found = dict(
            self.db.execute(
                "SELECT state, COUNT(*) FROM recipients WHERE campaign = ? GROUP BY state", (campaign_id,)
            ).fetchall()
        )
        return {state: int(found.get(state, 0)) for state in STATES}

    def rows(self, campaign_id: str) -> Iterator[tuple[str, str, str, str, int, str, str]]:
        """(address, name, source, state, attempts, detail, updated) for the per-recipient report."""
        yield from self.db.execute(
            "SELECT address, name, source, state, attempts, detail, updated FROM recipients "
            "WHERE campaign = ? ORDER BY email",
            (campaign_id,),
        )

    def total_rows(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM recipients").fetchone()[0])
