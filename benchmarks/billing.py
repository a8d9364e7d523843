"""Time ledger and statements at agency scale, against the sqlite3 command-line tool.

    .venv/bin/python benchmarks/billing.py [--entries 100000]

1. record_task, as the task wrapper calls it once per run (open, insert, commit, close), against
   one `sqlite3 FILE "INSERT ..."` per run (what a shell wrapper would do).
2. One client's monthly statement (rules + per task/store + CSV) over a big month, against a bare
   `sqlite3` GROUP BY of the same rows (no rules, no rendering).
3. `hours --all` (every client's usage) against one `sqlite3` GROUP BY client.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from maint.billing.hooks import record_task  # noqa: E402
from maint.billing.ledger import Ledger  # noqa: E402
from maint.billing.plans import load_plans  # noqa: E402
from maint.billing.service import client_usage  # noqa: E402
from maint.billing.statement import build_statement, write_csv  # noqa: E402
from maint.config import PLAYBOOKS_DIR, Settings  # noqa: E402

MONTH = date(2026, 11, 1)
TODAY = date(2026, 11, 26)


def timed(fn, repeat: int = 1) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return time.perf_counter() - start


def seed(ledger: Ledger, client: str, count: int) -> None:
    """`count` entries spread over November, in one transaction (seeding is not what we measure)."""
    base = datetime(2026, 11, 1, 8, tzinfo=UTC)
    step = (29 * 86400) / max(1, count)
    rows = []
    for n in range(count):
        start = base + timedelta(seconds=n * step)
        rows.append(
            (client, f"store{n % 7}", ("upgrade", "mirror", "manual", "check")[n % 4], start.isoformat(),
             (start + timedelta(minutes=5)).isoformat(), 300.0, "ok", "", "auto", "", None, 0, None, start.isoformat())
        )  # fmt: skip
    ledger.db.execute("BEGIN")
    ledger.db.executemany(
        "INSERT INTO entries (client, store, task, started, ended, seconds, outcome, note, source, ticket,"
        " category, on_demand, supersedes, recorded) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    ledger.db.execute("COMMIT")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--entries", type=int, default=100_000, help="entries in the big month (default 100000)"
    )
    parser.add_argument("--runs", type=int, default=1000, help="record_task calls to time (default 1000)")
    args = parser.parse_args()
    sqlite = shutil.which("sqlite3")
    if not sqlite:
        sys.exit("the sqlite3 command-line tool is needed for the comparison (apt-get install sqlite3)")
    plans = load_plans(PLAYBOOKS_DIR / "plans.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        settings = Settings(state_dir=state)
        now = datetime(2026, 11, 20, 10, tzinfo=UTC)

        # 1. recording a run
        ours = (
            timed(
                lambda: record_task(
                    settings, client="demo", store="demo", task="check", started=now, ended=now, outcome="ok"
                ),
                args.runs,
            )
            / args.runs
        )
        cli_runs = max(20, args.runs // 10)
        ledger_file = str(state / "ledger.sqlite")
        insert = (
            "INSERT INTO entries (client, store, task, started, ended, seconds, outcome, note, source, recorded)"
            " VALUES ('demo','demo','check','2026-11-20T10:00:00+00:00','2026-11-20T10:00:00+00:00',0,'ok','',"
            "'auto','2026-11-20T10:00:00+00:00');"
        )
        cli = timed(lambda: subprocess.run([sqlite, ledger_file, insert], check=True), cli_runs) / cli_runs
        print(
            f"record one run:      maint {ours * 1000:7.2f} ms   sqlite3 CLI {cli * 1000:7.2f} ms   ratio {ours / cli:5.2f}"
        )

        # 2. one client's statement over a big month
        with Ledger.in_state_dir(state) as ledger:
            seed(ledger, "big", args.entries)

            def statement() -> None:
                usage = client_usage(plans, ledger, "big", "starter", MONTH, TODAY)
                write_csv(build_statement("big", "Big", MONTH, "R", usage), io.StringIO())

            ours = timed(statement)
        query = (
            "SELECT store, task, COUNT(*), SUM(seconds) FROM entries WHERE client='big' AND started >= '2026-11-01'"
            " AND started < '2026-12-01' GROUP BY store, task;"
        )
        cli = timed(lambda: subprocess.run([sqlite, ledger_file, query], check=True, capture_output=True))
        print(
            f"statement {args.entries} entries: maint {ours:6.2f} s   sqlite3 GROUP BY {cli:6.2f} s   ratio {ours / cli:5.1f}"
        )

        # 3. the agency overview: 100 clients with 300 entries each
        with Ledger.in_state_dir(state) as ledger:
            clients = [f"client{n:03d}" for n in range(100)]
            for name in clients:
                seed(ledger, name, 300)
            names = list(plans.plans)

            def overview() -> None:
                for n, name in enumerate(clients):
                    client_usage(plans, ledger, name, names[n % len(names)], MONTH, TODAY)

            ours = timed(overview)
        query = "SELECT client, SUM(seconds) FROM entries GROUP BY client;"
        cli = timed(lambda: subprocess.run([sqlite, ledger_file, query], check=True, capture_output=True))
        print(
            f"hours --all 100 clients: maint {ours:6.2f} s   sqlite3 GROUP BY {cli:6.2f} s   ratio {ours / cli:5.1f}"
        )


if __name__ == "__main__":
    main()
