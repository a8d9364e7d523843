"""`fab report` at scale: one client, 4 stores, 3,000 health runs per store (20 checks each: 240,000
history rows), 300 ledger entries, 60 snapshots; the report gathered and rendered to HTML.

    .venv/bin/python benchmarks/report.py [--runs 3000]

Target (issue #21): under 3 s. The PDF (Chromium) is timed apart: it does not grow with the history.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from maint.billing.ledger import Ledger  # noqa: E402
from maint.billing.plans import load_plans  # noqa: E402
from maint.config import PLAYBOOKS_DIR, Settings  # noqa: E402
from maint.health.history import History  # noqa: E402
from maint.inventory import load_inventory  # noqa: E402
from maint.mirror import manifest  # noqa: E402
from maint.report import pdf  # noqa: E402
from maint.report.html import Branding, render_html  # noqa: E402
from maint.report.service import build_report  # noqa: E402

STORES = [f"shop{n}" for n in range(1, 5)]
CHECKS = ["home", "tls", "product", "search", "cart", "checkout", "admin_login", "page_notices", "maintenance",
          "install_dir", "php_fatals", "disk_free", "db", "error_display", "ocmod_disabled", "versions_changed",
          "advisories", "mirror_age", "ttfb", "memory"]


def build(base: Path, runs: int) -> Settings:
    state, mirror, clients = base / "state", base / "mirror", base / "clients"
    clients.mkdir(parents=True)
    stores = "".join(f"  - {{name: {s}, host: h, root: /srv/{s}, mirror: '{mirror}'}}\n" for s in STORES)
    (clients / "big.yaml").write_text(f"name: big\nplan: standard\nstores:\n{stores}")
    start = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
    step = 30 * 86400 / runs
    with History(state / "health.sqlite") as history, history.db:
        for s in STORES:
            rows = []
            for n in range(runs):
                at = start + n * step
                down = n % 500 < 3  # a short outage every 500 runs
                rows += [(at, s, c, "CRITICAL" if down and c == "home" else "OK", 1 if down else None, None, "", "")
                         for c in CHECKS]
            history.db.executemany("INSERT INTO results VALUES (?,?,?,?,?,?,?,?)", rows)
    with Ledger.in_state_dir(state) as ledger:
        for n in range(300):
            t = datetime(2026, 11, 1, 8, tzinfo=UTC) + timedelta(hours=2 * n)
            ledger.add(client="big", store=STORES[n % 4], task=["info", "mirror", "health", "manual"][n % 4],
                       started=t, ended=t + timedelta(minutes=3), note="work", source="manual" if n % 4 == 3 else "auto")
    for s in STORES:
        for day in range(1, 16):
            name = f"202611{day:02d}T010000Z"
            folder = mirror / "big" / s / name
            folder.mkdir(parents=True)
            manifest.write(folder, manifest.Manifest("big", s, name, opencart_version="4.1.0.4", verified=True))
    return Settings(inventory=clients, state_dir=state)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3000)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="maint-report-bench-"))
    try:
        settings = build(base, args.runs)
        plans = load_plans(PLAYBOOKS_DIR / "plans.yaml")
        client = load_inventory(settings.inventory).find_client("big")
        best = float("inf")
        for _ in range(3):
            began = time.perf_counter()
            with Ledger.in_state_dir(settings.state_dir) as ledger:
                report = build_report(settings, plans, ledger, client, date(2026, 11, 1), date(2026, 12, 2))
            page = render_html(report, Branding())
            best = min(best, time.perf_counter() - began)
        html = base / "big.html"
        html.write_text(page)
        print(f"report, 4 stores x {args.runs:,} runs ({4 * args.runs * len(CHECKS):,} rows): {best:.2f} s "
              f"(target < 3 s), {len(page) / 1024:.0f} KiB of HTML, "
              f"{sum(len(s.availability.incidents) for s in report.stores if s.availability)} incidents")
        try:
            began = time.perf_counter()
            pdf.html_to_pdf(html, base / "big.pdf")
            print(f"PDF by Chromium: {time.perf_counter() - began:.2f} s")
        except Exception as exc:  # noqa: BLE001
            print(f"PDF skipped: {exc}")
    finally:
        shutil.rmtree(base)


if __name__ == "__main__":
    main()
