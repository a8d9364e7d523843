"""The report model from a month of records built in a temporary state dir (tests.unit.report.report_month)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from maint.billing.ledger import Ledger
from maint.billing.plans import load_plans
from maint.billing.service import client_statement
from maint.config import Settings
from maint.inventory import load_inventory
from maint.report.html import Branding, render_html
from maint.report.model import (
    CHANGE_STOPPED,
    Backups,
    Month,
    Platform,
    Report,
    StoreReport,
    check_changes,
    health_changes,
    next_steps,
    parse_advisory_lines,
    platform,
    security_step,
)
from maint.report.service import _health_db, build_report
from maint.verdicts import Recorded
from tests.unit.report.report_month import (
    CHECK_END,
    EXPLAINED,
    MONTH_START,
    OUTAGES,
    PROJECT,
    RUNS,
    ZONE,
    build_month,
    write_inventory,
)

PLANS = load_plans(PROJECT / "maint" / "playbooks" / "plans.yaml")
TODAY = date(2026, 12, 2)


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path]:
    base = tmp_path_factory.mktemp("month")
    build_month(base / "state", base / "mirror")
    inventory = write_inventory(base / "clients", base / "mirror")
    return Settings(inventory=inventory, state_dir=base / "state"), base


def make(
    records: tuple[Settings, Path], client: str = "demo", first: date = date(2026, 11, 1), today: date = TODAY
) -> Report:
    settings, _ = records
    found = load_inventory(settings.inventory).find_client(client)
    with Ledger.in_state_dir(settings.state_dir) as ledger:
        return build_report(settings, PLANS, ledger, found, first, today)


def test_hours_are_the_statement_fab_hours_prints(records) -> None:
    report = make(records)
    settings, _ = records
    with Ledger.in_state_dir(settings.state_dir) as ledger:
        expected = client_statement(
            PLANS, ledger, "demo", "Demo Outfitters", "starter", date(2026, 11, 1), TODAY
        )
    assert report.statement.as_dict() == expected.as_dict()
    # Every November second of the demo client's entries, as the billing rules count them today.
    assert report.statement.usage.hours_used * 3600 == pytest.approx(
        120 + 30 + 300 + 40 + 20 + 5 + 600 + 300 + 5400 + 180 + 60 + 900 + 200 + 100 + 30 + 20
    )


def test_work_done_in_plain_words_without_dry_runs_or_other_months(records) -> None:
    texts = [(w.day.isoformat(), w.store, w.text) for w in make(records).work]
    assert texts == [
        ("2026-11-03", "demo", "Took a backup of the shop's files and database"),
        ("2026-11-05", "demo", "Took a backup of the shop's files and database (did not complete)"),
        ("2026-11-10", "demo", "Updated 1,240 prices from prices-nov.xlsx"),
        ("2026-11-10", "demo", "Undid the earlier price change (1,240 values restored)"),
        ("2026-11-12", "demo4", "Upgraded OpenCart 3.0.3.8 → 3.0.5.1, 42 s of downtime"),
        (
            "2026-11-13",
            "demo4",
            "Tried to upgrade OpenCart 3.0.5.1 → 4.0.2.3; it was rolled back and the shop kept 3.0.5.1",
        ),
        ("2026-11-14", "demo", "Fixed the shipping rule at checkout"),
        ("2026-11-16", "demo", "Checked the shop's platform and versions"),  # three runs, one line
        ("2026-11-16", "demo", CHANGE_STOPPED["prices"]),
        ("2026-11-18", "demo", "Made the flyer “Winter deals” with 6 products"),
        (
            "2026-11-18",
            "demo",
            "Sent the e-mail “Winter deals” to 1,905 subscribers; 3 bounced (refused by their mail server), "
            "2 not delivered yet (retried on the next run), 4 left out (unsubscribed)",
        ),
        ("2026-11-19", "demo", "Installed the extension featured_plus 1.2.0"),
        ("2026-11-19", "demo", "Tried to remove the extension old_slider; it failed and the shop was put back as it was"),
        ("2026-11-21", "demo", "Updated the Featured products list from featured-nov.xlsx: 2 products added, 1 product removed"),
        ("2026-11-21", "demo", "Put a product list back as it was before an earlier change"),
    ]


def test_uptime_and_incidents_computed_by_hand(records) -> None:
    demo = make(records).stores[0]
    av = demo.availability
    assert av is not None
    down_runs = sum(runs for _, runs, _ in OUTAGES) + 1  # + the cart explained by the database
    assert (av.runs, av.up_runs) == (RUNS, RUNS - down_runs)
    assert av.percent == pytest.approx(100 * (RUNS - 5) / RUNS)  # 99.31 %; planned maintenance is up
    assert [(datetime.fromtimestamp(i.start, ZONE), i.seconds, i.level, i.checks) for i in av.incidents] == [
        (OUTAGES[0][0], 3 * 3600, 1, ["home"]),  # down at 10:00, 11:00, 12:00; up again at 13:00
        (OUTAGES[1][0], 3600, 1, ["checkout"]),
        (EXPLAINED, 3600, 2, ["cart"]),
    ]
    # The run before the month (a critical home page) does not count.
    assert av.first_run == MONTH_START.timestamp()


def test_a_store_without_health_results_is_not_monitored_not_100_percent(records) -> None:
    report = make(records)
    demo4 = report.stores[1]
    assert demo4.availability is None
    html = render_html(report, Branding())
    assert "Not monitored this month" in html
    assert "Monitoring: the shop was not monitored this month" in " ".join(demo4.next_steps)


def test_backups_of_the_month_the_newest_verified_and_its_age(records) -> None:
    b = make(records).stores[0].backups
    assert [(s.name, s.verified) for s in b.in_month] == [
        ("20261103T070000Z", True),
        ("20261117T070000Z", False),
    ]
    assert b.newest is not None and b.newest.name == "20261103T070000Z"
    # Month end is 1 Dec 00:00 in Johannesburg, 30 Nov 22:00 UTC.
    assert b.age_at_end == timedelta(days=27, hours=15)
    assert b.kept == 4
    assert [w.day.isoformat() for w in b.failed_runs] == ["2026-11-05"]
    assert any("27 days old" in s for s in make(records).stores[0].next_steps)


def test_platform_from_the_health_history_when_no_check_was_recorded(records) -> None:
    settings, _ = records
    month = Month(date(2026, 11, 1), ZONE)
    db = _health_db(settings.state_dir)
    assert db is not None
    try:
        p = platform(db, "demo", month, Backups(), [], checks=())
    finally:
        db.close()
    assert (p.opencart, p.php, p.database) == ("3.0.5.1", "8.2.29", "10.11.6-MariaDB")
    assert p.changes == ["OpenCart 3.0.3.8 → 3.0.5.1"]
    assert p.advisories_state == "OK" and p.check is None
    assert p.advisories_cleared == ["CVE-2026-0001 applies to 3.0.3.8"]


def test_the_check_verdict_at_month_end_its_advisories_those_cleared_and_version_changes(records) -> None:
    report = make(records)
    demo = report.stores[0]
    p = demo.platform
    assert p.check is not None and p.check.status == "warning" and p.check.at == CHECK_END
    assert (p.opencart, p.php, p.database, p.web_server) == ("3.0.5.1", "8.2.29", "MariaDB 10.11.6", "Apache 2.4.62")
    # October's check is the starting point; the health check's "opencart 3.0.3.8 -> 3.0.5.1" is the same change.
    assert p.changes == [
        "OpenCart 3.0.3.8 → 3.0.5.1 (seen 30 Nov)",
        "PHP 8.1.27 → 8.2.29 (seen 30 Nov)",
        "Web server Apache 2.4.57 → Apache 2.4.62 (seen 30 Nov)",
    ]
    assert p.advisories_cleared == ["CVE-2024-21514: SQL injection", "CVE-2026-0001: stored XSS"]
    assert "Security: 1 known security weakness affects this shop's OpenCart 3.0.5.1; see the advice above." in (
        demo.next_steps
    )
    html = render_html(report, Branding())
    assert "Compatibility and security check (30 Nov 2026): <b class=\"warn\">works, with points to watch</b>" in html
    assert "<td>CVE-2025-9999</td><td>admin path disclosure</td><td>to plan</td><td>no fix yet</td>" in html
    assert "CVE-2025-9999 has no fix yet; meanwhile: rename the admin folder" in html
    assert "Cleared this month: CVE-2024-21514: SQL injection; CVE-2026-0001: stored XSS" in html
    assert "<td>Web server</td><td>Apache 2.4.62</td>" in html
    assert '<div class="tile warn"><b>to watch</b><span>demo: platform and security</span></div>' in html
    assert '<div class="tile unknown"><b>not checked</b><span>demo4: platform and security</span></div>' in html
    # demo4 was never checked: said, not guessed.
    assert report.stores[1].platform.check is None
    assert "Compatibility and security check: <b>not run yet</b>" in html


def test_a_month_without_a_check_names_the_last_one_before_it(records) -> None:
    december = make(records, first=date(2026, 12, 1), today=date(2027, 1, 3))
    p = december.stores[0].platform
    assert p.check is None and p.check_before is not None and p.check_before.at == CHECK_END
    assert "<b>not run this month</b> (the last one, on 30 Nov 2026, found: works, with points to watch)" in (
        render_html(december, Branding())
    )


def test_nothing_from_another_client(records) -> None:
    html = render_html(make(records), Branding())
    for foreign in ("other-shop", "Other client's secret work", "other down", "Olga", "Other news"):
        assert foreign not in html
    other = make(records, "other")
    assert [w.text for w in other.work] == ["Other client's secret work"]
    assert "Fixed the shipping rule" not in render_html(other, Branding())


def test_a_month_with_no_records_says_so(records) -> None:
    report = make(records, first=date(2026, 9, 1))
    assert report.work == [] and "No work was recorded for this month." in report.notes
    assert all(s.availability is None and not s.backups.in_month for s in report.stores)
    assert "No work was recorded this month." in render_html(report, Branding())


def test_the_page_makes_no_request_and_names_no_secret(records) -> None:
    html = render_html(make(records), Branding(agency="Acme Web", footer="Acme Web · 021 555 0100"))
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert 'src="http' not in html and "<link" not in html and "<script" not in html
    assert "dana@demo.invalid" not in html and "password" not in html.lower()
    assert "Acme Web · 021 555 0100" in html
    assert "<p>For Dana Demo, No Mail</p>" in html  # the client's contacts by name, from the inventory


def test_branding_embeds_the_logo_and_refuses_a_bad_colour(tmp_path) -> None:
    from maint.errors import ConfigError

    logo = tmp_path / "logo.png"
    logo.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    brand = Branding.from_config({"agency": "Acme Web", "logo": str(logo), "colour": "#123abc"})
    assert brand.logo.startswith("data:image/png;base64,")
    with pytest.raises(ConfigError, match="colour"):
        Branding.from_config({"colour": "red;}body{display:none"})
    with pytest.raises(ConfigError, match="not an image"):
        Branding.from_config({"logo": str(tmp_path / "notes.txt")})


def test_a_new_client_with_no_records_and_no_backup_location_gets_a_report(records) -> None:
    report = make(records, "quiet")
    html = render_html(report, Branding())
    assert "No backup location is set up" in html and "Not monitored this month" in html
    assert "not checked this month" in html


def test_a_setting_still_wrong_at_month_end_is_a_next_step_in_plain_words(records) -> None:
    demo = make(records).stores[0]
    assert demo.standing == {"error_display": "config_error_display=1"}
    assert "Settings: the shop shows PHP errors to visitors (error display is on); we will turn it off." in (
        demo.next_steps
    )


def test_a_shop_first_monitored_mid_month_says_so(records) -> None:
    other = make(records, "other")
    assert other.stores[0].monitored_since == (MONTH_START + timedelta(days=2)).timestamp()
    assert "Monitoring began on 3 Nov, when the shop was added" in render_html(other, Branding())
    assert make(records).stores[0].monitored_since is None  # monitored from the month's first hour


def test_next_steps_name_one_upgrade_target_the_check_s(records) -> None:
    """Advisories fixed in 3.0.4.0 and a check recommending 3.0.5.1 (it fixes them and suits the
    server): the shop owner reads one release, not two."""
    at = datetime(2026, 11, 30, 8, tzinfo=UTC)
    advisory = {"id": "CVE-2024-21514", "grade": "critical", "fixed": "3.0.4.0", "summary": "SQL injection"}
    check = Recorded(at, "s", "critical", {"opencart": "3.0.3.8"}, [advisory], recommended="3.0.5.1")
    store = StoreReport("s", "", None, Backups(), Platform(opencart="3.0.3.8", check=check))
    steps = next_steps(store, month_closed=True)
    platform_steps = [s for s in steps if s.startswith(("Security", "Platform"))]
    assert platform_steps == [
        "Security: 1 known security weakness affects this shop's OpenCart 3.0.3.8. Upgrading to OpenCart "
        "3.0.5.1 fixes those a release can fix; we recommend planning it."
    ]
    plain = Recorded(at, "s", "warning", {"opencart": "4.0.2.3"}, [], recommended="4.1.0.4")
    store = StoreReport("s", "", None, Backups(), Platform(opencart="4.0.2.3", check=plain))
    assert "Platform: we recommend upgrading OpenCart 4.0.2.3 to 4.1.0.4, the newest release that suits this " \
        "shop's server." in next_steps(store, month_closed=True)


def test_the_health_check_s_advisory_evidence_is_read_back_as_rows() -> None:
    detail = (
        "3.0.3.8: CVE-2024-21514 (critical, unauthenticated, fixed in 3.0.4.0): upgrade to 3.0.4.0; "
        "CVE-2026-119558 (medium, customer, no fix): turn off the Free Checkout payment method; "
        "CVE-2021-47923 (medium, unauthenticated, no fix): serve the shop over HTTPS only; later 3.0 releases "
        "are outside the recorded range"
    )
    rows = parse_advisory_lines(detail)
    assert [(r["id"], r["grade"], r["fixed"]) for r in rows] == [
        ("CVE-2024-21514", "critical", "3.0.4.0"),
        ("CVE-2026-119558", "warning", None),
        ("CVE-2021-47923", "warning", None),
    ]
    assert rows[2]["action"] == "serve the shop over HTTPS only; later 3.0 releases are outside the recorded range"
    p = Platform(opencart="3.0.3.8", advisories_state="CRITICAL", advisories_detail=detail)
    assert p.advisory_rows[0]["summary"] == "" and len(p.advisory_rows) == 3
    assert security_step(p).startswith("Security: 3 known security weaknesses affect this shop's OpenCart 3.0.3.8. "
                                       "Upgrading to OpenCart 3.0.4.0")


def test_a_check_that_could_not_read_a_version_does_not_hide_a_change() -> None:
    month = Month(date(2026, 11, 1), ZONE)
    runs = [
        Recorded(datetime(2026, 10, 30, tzinfo=UTC), "s", "ok", {"php": "8.1.27"}),
        Recorded(datetime(2026, 11, 10, tzinfo=UTC), "s", "unknown", {}),  # the store was unreachable
        Recorded(datetime(2026, 11, 20, tzinfo=UTC), "s", "ok", {"php": "8.2.29"}),
        Recorded(datetime(2026, 12, 2, tzinfo=UTC), "s", "ok", {"php": "8.3.1"}),  # next month's
    ]
    assert check_changes(runs, month) == ["PHP 8.1.27 → 8.2.29 (seen 20 Nov)"]


def test_the_health_check_s_version_changes_one_each_without_the_maintainer_s_note() -> None:
    evidence = "opencart 3.0.3.8 → 3.0.5.1; php 8.1.27 → 8.2.29 (run `fab check`)"
    assert health_changes(evidence) == ["OpenCart 3.0.3.8 → 3.0.5.1", "PHP 8.1.27 → 8.2.29"]


def test_a_mail_run_that_sent_nothing_says_so(tmp_path) -> None:
    from maint.billing.account import WorkItem
    from maint.mail.journal import Campaign, Journal, Recipient
    from maint.report.campaigns import CampaignBook

    with Journal.in_state_dir(tmp_path) as journal:
        journal.create(Campaign("c-1", "demo", "demo", "News", "ab", "newsletter", "2026-11-18T09:00:00+00:00", None),
                       [Recipient(f"r{n}@demo.invalid", "", "newsletter") for n in range(3)], [])
        journal.db.execute("UPDATE recipients SET state = 'sent', updated = '2026-11-18T09:01:00+00:00'")
    first = WorkItem(3, "demo", "demo", "mail", datetime(2026, 11, 18, 9, tzinfo=UTC), 90, note="campaign c-1 'News'")
    started = datetime(2026, 11, 25, 9, tzinfo=UTC)  # a later run: no row of the campaign changed in it
    book = CampaignBook.open(tmp_path, "demo")
    try:
        again = WorkItem(1, "demo", "demo", "mail", started, 20, note="campaign c-1 'News': 0 sent now, 0 in all")
        test = WorkItem(2, "demo", "demo", "mail", started, 5)  # --test-to: nothing journalled
        assert book.text(first) == "Sent the e-mail “News” to 3 subscribers"
        assert book.text(again) == "Ran the e-mail “News”; nobody was left to send it to"  # not 3 again
        assert book.text(test) == "Ran an e-mail campaign; nothing went to the shop's customers in this run"
    finally:
        book.close()


def test_advisories_the_health_check_saw_cleared_are_named_by_id_once() -> None:
    from maint.report.model import _cleared_by_id

    early = "3.0.3.8: CVE-2024-21514 (critical, unauthenticated, fixed in 3.0.4.0): upgrade to 3.0.4.0"
    later = early + "; CVE-2021-47923 (medium, unauthenticated, no fix): serve the shop over HTTPS only"
    check = Recorded(datetime(2026, 11, 1, tzinfo=UTC), "s", "critical", {},
                     [{"id": "CVE-2024-21514", "summary": "SQL injection"}])
    assert _cleared_by_id([early, later, "CVE-2026-0001 applies"], [check]) == [
        "CVE-2024-21514: SQL injection", "CVE-2021-47923", "CVE-2026-0001 applies"
    ]
