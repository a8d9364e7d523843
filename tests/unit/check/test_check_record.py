"""`fab check`'s verdicts kept per store (maint.verdicts): what is kept, how, and what a reader gets back."""

from __future__ import annotations

import stat
from datetime import UTC, datetime

from maint import verdicts

REPORT = {
    "store": "demo",
    "version": "3.0.3.8",
    "status": "critical",
    "recommended_upgrade": "3.0.5.1",
    "recommendation": "upgrade to 3.0.5.1: …",
    "verdicts": [
        {"component": "opencart", "found": "3.0.3.8", "status": "critical"},
        {"component": "php", "found": "8.2.29", "status": "unsupported"},
        {"component": "database", "found": "MariaDB 10.11.6", "status": "ok"},
        {"component": "web server", "found": "?", "status": "unknown"},  # the probe failed: no version
        {"component": "php extensions", "found": "gd, zip", "status": "ok"},
    ],
    "advisories": [
        {"id": "CVE-2024-21514", "grade": "critical", "fixed": "3.0.4.0", "severity": "high",
         "summary": "SQL injection", "action": "upgrade to 3.0.4.0", "source": "nvd"},
    ],
}


def test_a_check_report_keeps_the_versions_found_and_the_advisories_by_id() -> None:
    at = datetime(2026, 11, 30, 8, tzinfo=UTC)
    found = verdicts.from_report(REPORT, at)
    assert found.versions == {"opencart": "3.0.3.8", "php": "8.2.29", "database": "MariaDB 10.11.6"}
    assert found.status == "critical" and found.recommended == "3.0.5.1"
    assert found.advisories == [
        {"id": "CVE-2024-21514", "grade": "critical", "fixed": "3.0.4.0", "severity": "high",
         "summary": "SQL injection", "action": "upgrade to 3.0.4.0"},
    ]


def test_records_are_private_appended_and_read_back_oldest_first(tmp_path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    late = verdicts.from_report(REPORT, datetime(2026, 11, 30, 8, tzinfo=UTC))
    early = verdicts.from_report({**REPORT, "status": "ok", "advisories": []}, datetime(2026, 11, 2, tzinfo=UTC))
    path = verdicts.record(state, late)
    verdicts.record(state, early)
    assert path == state / "check" / "demo.jsonl"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    with path.open("a") as half:
        half.write('{"at": "2026-11-30T09:00:00+00:00", "store": "de')  # a run killed mid-write
    assert [(r.at.day, r.status) for r in verdicts.read(state, "demo")] == [(2, "ok"), (30, "critical")]
    assert verdicts.read(state, "another") == []
