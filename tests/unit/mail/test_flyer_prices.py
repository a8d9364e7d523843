"""The price a customer sees, computed the way OpenCart's catalog computes it (facts B3.3, B6)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from maint.flyer.prices import Currency, PriceRow, Tax, TaxRate, shown_price
from maint.flyer.store import parse_language_marks

TODAY = date(2026, 12, 6)
USD = Currency("USD", "$", "", 2, D("1"))


def row(price, qty=1, prio=1, start="0000-00-00", end="0000-00-00", kind="F"):
    return PriceRow(qty, prio, D(price), start, end, kind)


def test_a_quantity_one_discount_replaces_the_price_and_tiers_are_listed_by_quantity() -> None:
    shown, _ = shown_price(D("100"), [row("90"), row("80", qty=10), row("70", qty=20), row("75", qty=10, prio=2)], [], TODAY)
    assert shown.price == D("90") and shown.tiers == ((10, D("80")), (20, D("70")))


def test_the_special_is_the_first_by_priority_then_price_and_only_while_its_dates_hold() -> None:
    specials = [row("60", prio=2), row("70", prio=1), row("50", end="2026-12-06"), row("40", start="2026-12-07")]
    shown, chosen = shown_price(D("100"), [], specials, TODAY)
    assert shown.special == D("70") and chosen is specials[1]


def test_a_special_ending_today_is_already_gone_and_one_starting_today_shows() -> None:
    assert shown_price(D("100"), [], [row("50", end="2026-12-06")], TODAY)[0].special is None
    assert shown_price(D("100"), [], [row("50", start="2026-12-06")], TODAY)[0].special == D("50")


def test_41_rows_with_null_dates_are_ignored_and_types_are_fixed_subtract_or_percent() -> None:
    assert shown_price(D("100"), [], [PriceRow(1, 1, D("50"), None, None, "F")], TODAY)[0].special is None
    for kind, expected in (("F", D("12")), ("S", D("88")), ("P", D("88"))):
        assert shown_price(D("100"), [], [row("12", kind=kind)], TODAY)[0].special == expected


def test_a_special_that_ends_before_the_send_date_is_detected() -> None:
    special = row("50", end="2026-12-10")
    assert special.ends_before(date(2026, 12, 10)) and not special.ends_before(date(2026, 12, 9))
    assert not row("50").ends_before(date(2030, 1, 1))


def test_tax_adds_percentage_and_fixed_rates_only_when_the_store_shows_prices_with_tax() -> None:
    rates = {9: (TaxRate(86, D("20"), "P"), TaxRate(87, D("2"), "F"))}
    assert Tax(True, rates).apply(D("101"), 9) == D("123.2")  # the iPhone of the sample data: $123.20
    assert Tax(False, rates).apply(D("101"), 9) == D("101")
    assert Tax(True, rates).apply(D("101"), 0) == D("101")


@pytest.mark.parametrize(
    ("currency", "amount", "text"),
    [
        (USD, "1234.565", "$1,234.57"),
        (Currency("EUR", "", "€", 2, D("0.7846"), ",", "."), "1000", "784,60€"),
        (Currency("GBP", "£", "", 2, D("0.6125"), left_space=True), "100", "£ 61.25"),
        (Currency("JPY", "¥", "", 0, D("1")), "1234567.5", "¥1,234,568"),
    ],
)
def test_currency_format_follows_opencart(currency, amount, text) -> None:
    assert currency.format(D(amount)) == text


def test_decimal_marks_are_read_from_the_language_file() -> None:
    php = "<?php\n$_['decimal_point']         = ',';\n$_['thousand_point']        = '.';\n"
    assert parse_language_marks(php) == {"decimal_point": ",", "thousand_point": "."}
