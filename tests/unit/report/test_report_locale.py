"""The report's numbers and dates in the client's locale (inventory `locale:`, or `maint.report.locale`)."""

from __future__ import annotations

import dataclasses
import re
from datetime import date
from pathlib import Path

import pytest

from maint.billing.ledger import Ledger
from maint.billing.plans import load_plans
from maint.config import Settings
from maint.errors import ConfigError
from maint.inventory import load_inventory
from maint.report.formats import Formats
from maint.report.html import Branding, render_html
from maint.report.service import build_report
from tests.unit.report.report_month import PROJECT, build_month, write_inventory

PLANS = load_plans(PROJECT / "maint" / "playbooks" / "plans.yaml")
NBSP = "\xa0"


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("month")
    build_month(base / "state", base / "mirror")
    write_inventory(base / "clients", base / "mirror")
    return base


def html_for(records: Path, locale: str = "", agency_locale: str = "") -> str:
    raw = {"report": {"locale": agency_locale}} if agency_locale else {}
    settings = Settings(inventory=records / "clients", state_dir=records / "state", raw=raw)
    client = load_inventory(settings.inventory).find_client("demo")
    if locale:
        client = dataclasses.replace(client, locale=locale)
    with Ledger.in_state_dir(settings.state_dir) as ledger:
        return render_html(build_report(settings, PLANS, ledger, client, date(2026, 11, 1), date(2026, 12, 2)), Branding())


@pytest.mark.parametrize(
    ("locale", "number", "percent", "day", "month"),
    [
        ("en_GB", "1,240", "99.31 %", "20 Nov", "December 2026"),
        ("de_DE", "1.240", "99,31 %", "20. Nov.", "Dezember 2026"),
        ("en_ZA", f"1{NBSP}240", "99,31 %", "20 Nov", "December 2026"),
        ("en_US", "1,240", "99.31 %", "Nov 20", "December 2026"),
    ],
)
def test_numbers_dates_and_month_names_follow_the_locale(locale, number, percent, day, month) -> None:
    fmt = Formats.of(locale)
    assert fmt.number(1240) == number
    assert fmt.percent(100 * 715 / 720) == percent
    assert fmt.percent(100.0) == "100 %"
    assert fmt.day(date(2026, 11, 20)) == day
    assert fmt.month(date(2026, 12, 1)) == month


def test_amounts_written_by_the_statement_are_rewritten_not_other_numbers() -> None:
    de = Formats.of("de-DE")  # either spelling
    assert de.amounts("R1,234.50") == "R1.234,50"
    assert de.amounts("12h30") == "12h30" and de.amounts("R0.00 at R450.00/h") == "R0,00 at R450,00/h"
    assert Formats.of("en_ZA").amounts("1,905") == f"1{NBSP}905"
    assert Formats.of().amounts("R1,234.50") == "R1,234.50"


def test_a_wrong_locale_names_where_it_was_set() -> None:
    with pytest.raises(ConfigError, match=r"clients/demo.yaml: locale: 'xx_YY' is not a locale"):
        Formats.of("xx_YY", "clients/demo.yaml: locale")


def test_the_german_report(records) -> None:
    html = html_for(records, "de_DE")
    assert "Updated 1.240 prices from prices-nov.xlsx" in html
    assert "Availability: 99,31 %" in html
    assert "<span class=d>20. Nov.</span> 10:00–13:00" in html  # the first outage, 3 hours
    assert "Maintenance report for November 2026" in html
    assert "Sent the e-mail “Winter deals” to 1.905 subscribers" in html
    assert "720 health checks from 1. Nov. 00:00" in html
    # The statement's money: comma decimals, point grouping.
    totals = re.findall(r"<td>total due</td><td class=n>R([\d.,]+)</td>", html)
    assert totals and re.fullmatch(r"\d{1,3}(\.\d{3})*,\d\d", totals[0])
    assert "Compatibility and security check (30. Nov. 2026)" in html


def test_the_south_african_report_and_the_agency_default(records) -> None:
    html = html_for(records, "en_ZA")
    assert f"Updated 1{NBSP}240 prices" in html and "Availability: 99,31 %" in html
    assert f"Updated 1{NBSP}240 prices" in html_for(records, agency_locale="en_ZA")
    # The client's own locale wins over the agency's.
    assert "Updated 1.240 prices" in html_for(records, "de_DE", agency_locale="en_ZA")
    # Without either: British English, as before.
    assert "Updated 1,240 prices" in html_for(records) and "Availability: 99.31 %" in html_for(records)


def test_the_inventory_takes_a_locale(tmp_path) -> None:
    (tmp_path / "acme.yaml").write_text(
        "name: acme\nplan: starter\nlocale: de_DE\nstores:\n  - {name: acme-shop, host: h, root: /srv/a}\n"
    )
    assert load_inventory(tmp_path).find_client("acme").locale == "de_DE"


def test_a_client_with_a_wrong_locale_gets_an_error_naming_its_inventory_file(records) -> None:
    with pytest.raises(ConfigError, match=r"demo\.yaml: locale: 'klingon' is not a locale"):
        html_for(records, "klingon")
