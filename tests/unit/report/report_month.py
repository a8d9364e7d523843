"""A November 2026 of records for the demo client (and a neighbour whose data must not show).

Used by the report's unit tests and task tests: a ledger, a health history with two outages and
recoveries, mirror snapshots (one unverified, one before and one after the month), a failed
backup run, a price change with its audit line and undo file, an upgrade journal.
The agency's time zone is Africa/Johannesburg (UTC+2): local midnight is 22:00 UTC.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from maint import verdicts
from maint.billing.ledger import Ledger
from maint.health.history import History
from maint.health.model import CheckResult, State
from maint.mail.journal import Campaign, Journal, Recipient
from maint.mirror import manifest
from maint.pricing.undo import store_dir

PROJECT = Path(__file__).resolve().parents[3]
ZONE = ZoneInfo("Africa/Johannesburg")
MONTH_START = datetime(2026, 11, 1, tzinfo=ZONE)
RUNS = 720  # one health run an hour, all month
# (first run, runs down, failing check): 3 runs from 20 Nov 10:00 local, 1 run at 25 Nov 08:00.
OUTAGES = [
    (datetime(2026, 11, 20, 10, tzinfo=ZONE), 3, "home"),
    (datetime(2026, 11, 25, 8, tzinfo=ZONE), 1, "checkout"),
]
EXPLAINED = datetime(2026, 11, 27, 3, tzinfo=ZONE)
PLANNED = datetime(2026, 11, 12, 10, tzinfo=ZONE)
SNAPSHOTS = {  # name: verified
    "20261025T010000Z": True,
    "20261103T070000Z": True,
    "20261117T070000Z": False,
    "20261201T010000Z": True,  # after the month: not in the report
}
# The weekly e-mail's journal: who got it, who bounced, who is still to be tried, who unsubscribed.
MAIL = {"sent": 1905, "refused": 3, "deferred": 2, "suppressed": 4}
# `fab check` ran in October (critical: 3.0.3.8 on PHP 8.1) and after the last health run of November.
CHECK_BEFORE = datetime(2026, 10, 28, 9, tzinfo=UTC)
CHECK_END = datetime(2026, 11, 30, 23, 30, tzinfo=ZONE)


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def write_inventory(folder: Path, mirror: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "demo.yaml").write_text(
        "name: demo\ntitle: Demo Outfitters\nplan: starter\n"
        "contacts:\n  - {name: Dana Demo, email: dana@demo.invalid, role: owner}\n"
        "  - {name: No Mail, phone: '0123'}\n"
        "stores:\n"
        f"  - {{name: demo, host: h, root: /srv/demo, url: 'https://demo.invalid/', mirror: '{mirror}'}}\n"
        f"  - {{name: demo4, host: h, root: /srv/demo4, mirror: '{mirror}'}}\n"
    )
    (folder / "other.yaml").write_text(
        "name: other\ntitle: Other Co\nplan: starter\ncontacts:\n  - {name: Olga, email: olga@other.invalid}\n"
        f"stores:\n  - {{name: other-shop, host: h, root: /srv/other, mirror: '{mirror}'}}\n"
    )
    # A new client: no contacts yet, one shop, no backups set up, no records at all.
    (folder / "quiet.yaml").write_text("name: quiet\nplan: starter\nstores:\n  - {name: quiet-shop, host: h, root: /srv/q}\n")
    return folder


def build_month(state: Path, mirror: Path) -> None:
    state.mkdir(parents=True, exist_ok=True)
    with Ledger.in_state_dir(state) as ledger:

        def add(store: str, task: str, start: datetime, seconds: float, **kw: object) -> None:
            ledger.add(
                client=kw.pop("client", "demo"),
                store=store,
                task=task,
                started=start,  # type: ignore[arg-type]
                ended=start + timedelta(seconds=seconds),
                **kw,
            )  # type: ignore[arg-type]

        add(
            "demo",
            "manual",
            datetime(2026, 10, 20, 9, tzinfo=UTC),
            3600,
            note="October work",
            source="manual",
        )
        add("demo", "mirror", utc(3, 7), 120)
        add("demo", "mirror", utc(5, 7), 30, outcome="failed: rsync failed (exit 23)")
        add("demo", "prices", utc(10, 10), 300)
        add("demo", "undo", utc(10, 10, 5), 40)  # undone a minute after: each run gets its own audit line
        add("demo", "prices", utc(15, 10), 20, outcome="dry run")
        add("demo", "prices", utc(16, 10), 5, outcome="failed: wrong.csv, row 2: unknown product")
        add("demo4", "upgrade", utc(12, 8), 600)
        add("demo4", "upgrade", utc(13, 8), 300)  # a second try, rolled back inside its window
        add("demo", "manual", utc(14, 9), 5400, note="Fixed the shipping rule at checkout", source="manual")
        add("demo", "flyer", utc(18, 8), 60, note="flyer demo-20261118-1: 6 product(s), Winter deals")
        add("demo", "mail", utc(18, 9), 900,
            note="campaign demo-7f3a 'Winter deals': 1905 sent now, 1905 in all")
        add("demo", "extension install", utc(19, 8), 200, note="install featured_plus 1.2.0: done")
        add("demo", "extension remove", utc(19, 9), 100, note="remove old_slider: failed, rolled back")
        add("demo", "products", utc(21, 8), 30)
        add("demo", "products", utc(21, 8, 1), 20)  # its --undo, a minute later (writes no undo file)
        for minute in (0, 10, 20):
            add("demo", "info", utc(16, 9, minute), 60)
        add(
            "other-shop",
            "manual",
            utc(14, 9),
            7200,
            note="Other client's secret work",
            source="manual",
            client="other",
        )
    # The price change's audit line and undo file, written during the 10 Nov run.
    undo = store_dir(state, "demo", "demo")
    undo.mkdir(parents=True)
    (undo / "20261110T100200000000Z-prices.undo").write_text('{"format": 1}\n')
    record = {
        "when": "2026-11-10T10:03:00+00:00",
        "who": "dev",
        "task": "prices",
        "file": "/home/dev/prices-nov.xlsx",
        "sha256": "ab",
        "counts": {"changed": 1240, "specials": 0},
        "result": "applied",
        "undo_file": str(undo / "20261110T100200000000Z-prices.undo"),
    }
    undone = {"when": "2026-11-10T10:05:30+00:00", "who": "dev", "task": "undo", "undoes": "prices",
              "file": record["undo_file"], "counts": {"restored": 1240}, "result": "applied"}
    (undo / "audit.jsonl").write_text(json.dumps(record) + "\n" + json.dumps(undone) + "\n")
    journal = state / "upgrade" / "demo" / "demo4"
    journal.mkdir(parents=True)
    (journal / "20261112T080950Z-upgrade.json").write_text(
        json.dumps(
            {
                "store": "demo4",
                "from": "3.0.3.8",
                "to": "3.0.5.1",
                "ok": True,
                "rolled_back": False,
                "failure": "",
                "seconds": 590.0,
                "time": "20261112T080950Z",
                "live": {"maintenance_window_seconds": 42.4},
            }
        )
    )
    products = {"format": 1, "client": "demo", "store": "demo", "list": "featured", "before": [40, 42, 30],
                "after": [40, 42, 28, 33], "source": "/home/dev/featured-nov.xlsx", "time": "20261121T080010000000Z"}
    (undo / "20261121T080010000000Z-products-featured.json").write_text(json.dumps(products))
    (journal / "20261113T080500Z-upgrade.json").write_text(
        json.dumps({"store": "demo4", "from": "3.0.5.1", "to": "4.0.2.3", "ok": False, "rolled_back": True,
                    "failure": "the upgrader stopped: route error", "time": "20261113T080500Z"})
    )
    _mail(state)
    _checks(state)
    _health(state)
    _mirror(mirror)


def _mail(state: Path) -> None:
    """The campaign as `fab mail` journals it, each row's time inside the 18 Nov 09:00 run."""
    with Journal.in_state_dir(state) as journal:
        campaign = Campaign("demo-7f3a", "demo", "demo", "Winter deals", "ab", "newsletter",
                            "2026-11-18T09:00:05+00:00", None)
        people = [Recipient(f"c{n}@demo.invalid", "", "newsletter") for n in range(sum(MAIL.values()))]
        journal.create(campaign, people, [])
        for state_name, count in MAIL.items():
            journal.db.execute(
                "UPDATE recipients SET state = ? WHERE campaign = 'demo-7f3a' AND email IN "
                "(SELECT email FROM recipients WHERE campaign = 'demo-7f3a' AND state = 'pending' LIMIT ?)",
                (state_name, count),
            )
        journal.db.execute("UPDATE recipients SET updated = '2026-11-18T09:07:00+00:00'")
        # A campaign of the other client, sent the same hour: not in demo's report.
        journal.create(Campaign("other-1", "other", "other-shop", "Other news", "cd", "newsletter",
                                "2026-11-18T09:00:00+00:00", None), [Recipient("x@other.invalid", "", "newsletter")], [])


def _checks(state: Path) -> None:
    old = verdicts.Recorded(
        CHECK_BEFORE, "demo", "critical",
        {"opencart": "3.0.3.8", "php": "8.1.27", "database": "MariaDB 10.11.6", "web server": "Apache 2.4.57"},
        [{"id": "CVE-2024-21514", "grade": "critical", "fixed": "3.0.4.0", "summary": "SQL injection"},
         {"id": "CVE-2026-0001", "grade": "warning", "fixed": "3.0.5.1", "summary": "stored XSS"}],
        recommended="3.0.5.1",
    )
    new = verdicts.Recorded(
        CHECK_END.astimezone(UTC), "demo", "warning",
        {"opencart": "3.0.5.1", "php": "8.2.29", "database": "MariaDB 10.11.6", "web server": "Apache 2.4.62"},
        [{"id": "CVE-2025-9999", "grade": "warning", "fixed": None, "summary": "admin path disclosure",
          "action": "rename the admin folder"}],
    )
    for found in (old, new):
        verdicts.record(state, found)


def _health(state: Path) -> None:
    down: dict[float, str] = {}
    for first, runs, check in OUTAGES:
        for n in range(runs):
            down[(first + timedelta(hours=n)).timestamp()] = check
    with History(state / "health.sqlite") as history:
        history.db.execute("PRAGMA synchronous=OFF")  # 720 runs, one commit each: a test needs no fsync
        history.record(
            [CheckResult("demo", "home", State.CRITICAL, 1, None, "before the month")],
            at=(MONTH_START - timedelta(hours=1)).timestamp(),
        )
        history.record(
            [CheckResult("other-shop", "home", State.CRITICAL, 1, None, "other down")],
            at=(MONTH_START + timedelta(days=2)).timestamp(),
        )
        for n in range(RUNS):
            at = (MONTH_START + timedelta(hours=n)).timestamp()
            failing = down.get(at)
            results = [
                CheckResult(
                    "demo",
                    check,
                    State.CRITICAL if check == failing else State.OK,
                    1 if check == failing else None,
                    None,
                    "HTTP 500" if check == failing else "",
                )
                for check in ("home", "cart", "checkout", "disk_free")
            ]
            if at == EXPLAINED.timestamp():  # cart UNKNOWN because the database was down: down too
                results[1] = CheckResult("demo", "cart", State.UNKNOWN, 2, None, "no answer", cause="db")
            if at == PLANNED.timestamp():  # the home page in planned maintenance: not an outage
                results[0] = CheckResult("demo", "home", State.OK, None, None, "maintenance", cause="maintenance")
            # Error display switched on for the month's last day: a setting to fix, in the next steps.
            shown = n >= RUNS - 24
            results.append(
                CheckResult("demo", "error_display", State.CRITICAL if shown else State.OK, 4 if shown else None,
                            None, "config_error_display=1" if shown else "errors are not displayed")
            )
            advisory = State.WARNING if n < 300 else State.OK
            results.append(
                CheckResult(
                    "demo",
                    "advisories",
                    advisory,
                    3 if n < 300 else None,
                    None,
                    "CVE-2026-0001 applies to 3.0.3.8" if n < 300 else "no advisory applies",
                )
            )
            results.append(
                CheckResult(
                    "demo",
                    "versions_changed",
                    State.WARNING if n == 270 else State.OK,
                    None,
                    None,
                    "opencart 3.0.3.8 -> 3.0.5.1" if n == 270 else "unchanged",
                )
            )
            history.record(results, at=at)
        history.save_memos(
            "demo", {"versions": {"opencart": "3.0.5.1", "php": "8.2.29", "database": "10.11.6-MariaDB"}}
        )


def _mirror(root: Path) -> None:
    for name, verified in SNAPSHOTS.items():
        folder = root / "demo" / "demo" / name
        folder.mkdir(parents=True)
        manifest.write(
            folder,
            manifest.Manifest(
                "demo", "demo", name, opencart_version="3.0.5.1", php_version="8.2.29", verified=verified
            ),
        )
    other = root / "other" / "other-shop" / "20261120T010000Z"
    other.mkdir(parents=True)
    manifest.write(other, manifest.Manifest("other", "other-shop", other.name, verified=True))
