"""What `fab mail` sent, read from its journal (`<state_dir>/mail.sqlite`, maint.mail.journal), read-only.

A `fab mail` run leaves a ledger entry whose note names its campaign ("campaign demo-7f3a 'Winter
deals': …"). The journal has one row per recipient with its state and the time it last changed, so a
run's own numbers are the rows that changed during it: sent, refused by the receiving server (a
bounce), deferred (tried again by the next run) and suppressed (unsubscribed, never sent). A
campaign resumed over two runs is then two lines with their own counts, never counted twice.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from maint.billing.account import WorkItem
from maint.mail.journal import JOURNAL_FILE
from maint.report.formats import DEFAULT, Formats

_CAMPAIGN = re.compile(r"campaign (?P<id>\S+) ")
SLACK = timedelta(seconds=60)  # the row's time and the ledger's are taken a moment apart


@dataclass(frozen=True)
class RunCounts:
    subject: str
    sources: str
    sent: int = 0
    refused: int = 0
    deferred: int = 0
    suppressed: int = 0


def _iso(moment: datetime) -> str:
    # The journal writes UTC ISO text to the second (maint.mail.journal._now): it compares as text.
    return moment.astimezone(UTC).isoformat(timespec="seconds")


@dataclass
class CampaignBook:
    """The journal opened read-only (None when `fab mail` never ran here) for one client."""

    client: str
    db: sqlite3.Connection | None = None
    _subjects: dict[str, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> CampaignBook:
        return cls("")

    @classmethod
    def open(cls, state_dir: Path, client: str) -> CampaignBook:
        path = Path(state_dir).expanduser() / JOURNAL_FILE
        if not path.is_file():
            return cls(client)
        return cls(client, sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30))

    def close(self) -> None:
        if self.db is not None:
            self.db.close()

    def _campaigns(self, item: WorkItem) -> list[str]:
        """The run's campaigns: named in its note, else those of its store created during the run."""
        assert self.db is not None
        named = [m["id"] for m in _CAMPAIGN.finditer(item.note)]
        if named:
            return named
        end = item.started + timedelta(seconds=item.seconds)
        rows = self.db.execute(
            "SELECT id FROM campaigns WHERE client = ? AND store = ? AND created >= ? AND created <= ? ORDER BY created",
            (self.client, item.store, _iso(item.started - SLACK), _iso(end + SLACK)),
        )
        return [str(r[0]) for r in rows]

    def counts(self, item: WorkItem, campaign: str) -> RunCounts | None:
        """The recipients whose row changed during this run, by state (a row sent by an earlier run of
        the same campaign keeps that run's time, so it is not counted again)."""
        assert self.db is not None
        head = self.db.execute(
            "SELECT subject, sources FROM campaigns WHERE id = ? AND client = ?", (campaign, self.client)
        ).fetchone()
        if head is None:
            return None
        end = item.started + timedelta(seconds=item.seconds)
        window = (_iso(item.started - SLACK), _iso(end + SLACK))
        by_state = dict(
            self.db.execute(
                "SELECT state, COUNT(*) FROM recipients WHERE campaign = ? AND updated >= ? AND updated <= ? "
                "GROUP BY state",
                (campaign, *window),
            ).fetchall()
        )
        return RunCounts(
            str(head[0]),
            str(head[1]),
            sent=int(by_state.get("sent", 0)),
            refused=int(by_state.get("refused", 0)),
            deferred=int(by_state.get("deferred", 0)),
            suppressed=int(by_state.get("suppressed", 0)),
        )

    def text(self, item: WorkItem, fmt: Formats = DEFAULT) -> str:
        """'Sent the e-mail “Winter deals” to 1,905 subscribers; 3 bounced (refused by their mail server)'."""
        if self.db is None:
            return "Sent an e-mail campaign (its journal is not on this machine)"
        found = [c for c in (self.counts(item, cid) for cid in self._campaigns(item)) if c is not None]
        if not found:
            # A test message, or a run that found nobody left to send to: the journal has no campaign for it.
            return "Ran an e-mail campaign; nothing went to the shop's customers in this run"
        return "; ".join(_one(c, fmt) for c in found)


def _one(c: RunCounts, fmt: Formats) -> str:
    # Everyone from the store's newsletter: subscribers; a customer list or the client's own list: recipients.
    who = "subscriber" if c.sources and all(s == "newsletter" for s in c.sources.split(",")) else "recipient"
    if not (c.sent or c.refused or c.deferred or c.suppressed):
        return f"Ran the e-mail “{c.subject}”; nobody was left to send it to"
    text = f"Sent the e-mail “{c.subject}” to {fmt.number(c.sent)} {who}{'' if c.sent == 1 else 's'}"
    extra = []
    if c.refused:
        extra.append(f"{fmt.number(c.refused)} bounced (refused by their mail server)")
    if c.deferred:
        extra.append(f"{fmt.number(c.deferred)} not delivered yet (retried on the next run)")
    if c.suppressed:
        extra.append(f"{fmt.number(c.suppressed)} left out (unsubscribed)")
    return text + (f"; {', '.join(extra)}" if extra else "")
