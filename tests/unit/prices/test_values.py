"""Cell values as clients write them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from maint.sheets.values import PriceChange, parse_date, parse_decimal, parse_int, parse_price


@pytest.mark.parametrize(
    ("text", "decimal_comma", "expected"),
    [
        ("12.50", None, "12.50"),
        ("12,50", None, "12.50"),
        ("1.234,56", None, "1234.56"),
        ("1,234.56", None, "1234.56"),
        ("R 1 049,50", None, "1049.50"),
        ("R\u00a01\u00a0049,50", None, "1049.50"),
        ("R 104,99", None, "104.99"),
        ("104,99 ZAR", None, "104.99"),
        ("CHF 1'049.50", None, "1049.50"),
        ("USD 1,049.50", None, "1049.50"),
        ("1.049,50 €", None, "1049.50"),
        ("1,234", True, "1.234"),
        ("1.234", None, "1.234"),
        ("1.234", True, "1234"),
        ("1.234.567", None, "1234567"),
        ("1 234,50", None, "1234.50"),
        ("1'234.50", None, "1234.50"),
        ("€ 12", None, "12"),
        ("12,5 EUR", None, "12.5"),
        ("$1,299.00", None, "1299.00"),
        ("CHF 9.90", None, "9.90"),
        (".5", None, ".5"),
    ],
)
def test_decimal_reads_currency_thousands_and_decimal_comma(
    text: str, decimal_comma: bool | None, expected: str
) -> None:
    assert parse_decimal(text, decimal_comma=decimal_comma) == Decimal(expected)


@pytest.mark.parametrize(
    "text", ["call us", "12.50.3,1", "1e5", "0x10", "12;3", "", "--1", "1,2,3.4.5", "NaN"]
)
def test_decimal_refuses_what_is_not_a_number(text: str) -> None:
    with pytest.raises(ValueError):
        parse_decimal(text)


def test_decimal_takes_excel_numbers_exactly() -> None:
    assert parse_decimal(19.99) == Decimal("19.99")
    assert parse_decimal(7) == Decimal(7)
    with pytest.raises(ValueError):
        parse_decimal(True)


@pytest.mark.parametrize(
    ("text", "change"),
    [
        ("-10%", PriceChange(Decimal("-10"), percent=True)),
        ("+5 %", PriceChange(Decimal("5"), percent=True)),
        ("2,5%", PriceChange(Decimal("2.5"), percent=True)),
        ("19,99 €", PriceChange(Decimal("19.99"))),
    ],
)
def test_price_is_absolute_or_a_percent_change(text: str, change: PriceChange) -> None:
    assert parse_price(text) == change


def test_percent_change_rounds_to_the_stores_four_places() -> None:
    assert PriceChange(Decimal("-10"), percent=True).apply_to(Decimal("19.99")) == Decimal("17.9910")
    assert PriceChange(Decimal("5"), percent=True).apply_to(Decimal("0.0001")) == Decimal("0.0001")
    assert PriceChange(Decimal("12.345678")).apply_to(Decimal("1")) == Decimal("12.3457")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("-5", "negative"),
        ("-100%", "-100%"),
        ("", "empty"),
        ("1e12", "not a number"),
        ("999999999999", "too large"),
    ],
)
def test_price_refuses_negative_empty_and_too_large(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_price(text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-31", dt.date(2026, 12, 31)),
        ("31.12.2026", dt.date(2026, 12, 31)),
        ("31/12/2026", dt.date(2026, 12, 31)),
        ("2026-12-31 00:00:00", dt.date(2026, 12, 31)),
        (46387, dt.date(2026, 12, 31)),
        (dt.datetime(2026, 12, 31, 10, 0), dt.date(2026, 12, 31)),
    ],
)
def test_dates_in_iso_european_and_excel_forms(value: object, expected: dt.date) -> None:
    assert parse_date(value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["12/31/2026", "tomorrow", "2026-02-30", "31.12.1850", True])
def test_dates_refuse_us_order_and_nonsense(value: object) -> None:
    with pytest.raises(ValueError):
        parse_date(value)  # type: ignore[arg-type]


def test_whole_numbers() -> None:
    assert parse_int("10") == 10
    assert parse_int(5.0) == 5
    with pytest.raises(ValueError):
        parse_int("1.5")
    with pytest.raises(ValueError):
        parse_int("-1")


@pytest.mark.parametrize("text", ["1,050", "R 1,050", "1,050 €"])
def test_a_lone_comma_before_three_digits_is_refused_as_ambiguous(text: str) -> None:
    with pytest.raises(ValueError, match="ambiguous: .* could be 1050 or 1.05"):
        parse_decimal(text)


@pytest.mark.parametrize("text", ["1r2", "R", "12 EURO", "price 12", "12 R R"])
def test_only_a_currency_may_stand_next_to_an_amount(text: str) -> None:
    with pytest.raises(ValueError):
        parse_decimal(text)


def test_a_percent_change_is_rounded_half_up_to_the_currency_decimals() -> None:
    change = parse_price("-3%")
    assert change.exact(Decimal("199.99")) == Decimal("193.9903")
    assert change.apply_to(Decimal("199.99"), 2) == Decimal("193.9900")
    assert parse_price("+5%").apply_to(Decimal("0.10"), 1) == Decimal("0.1000")  # 0.105 half up at 1 place
    assert parse_price("+0.5%").apply_to(Decimal("1.00"), 2) == Decimal("1.0100")  # 1.005 → 1.01, half up
    assert parse_price("-3%").apply_to(Decimal("199.99"), 0) == Decimal("194.0000")
