"""What a product page should show (special, discount, tax, currency), and how changes are worded."""

from __future__ import annotations

from decimal import Decimal

from maint.pricing.prices import PriceDiff
from maint.pricing.service import percent
from maint.pricing.storefront import Currency, Expected, shows, with_tax

UK_TAXABLE_GOODS = [("P", Decimal("20.0000")), ("F", Decimal("2.0000"))]  # stock sample data: VAT + eco tax


def test_tax_is_added_as_opencart_calculates_it() -> None:
    assert with_tax(Decimal("122.22"), UK_TAXABLE_GOODS) == Decimal("148.664")
    assert with_tax(Decimal("90"), UK_TAXABLE_GOODS) == Decimal("110")
    assert with_tax(Decimal("90"), []) == Decimal("90")


def test_a_page_showing_the_special_over_the_new_price_is_what_it_should_show() -> None:
    # stock 4.0.2.3 product 42 after `fab prices` set 122.22: the page shows $110.00 and, struck through, $148.66
    expected = Expected(
        42, with_tax(Decimal("122.22"), UK_TAXABLE_GOODS), with_tax(Decimal("90"), UK_TAXABLE_GOODS)
    )
    page = '<span class="price-old">$148.66</span> <h2 class="price-new">$110.00</h2><p>Ex Tax: $90.00</p>'
    assert shows(page, expected)
    assert not shows('<h2 class="price-new">$122.22</h2>', expected)


def test_currency_rate_decimals_and_marks_are_taken_into_account() -> None:
    euro = Currency("EUR", 2, Decimal("0.78460002"), "", "€")
    expected = Expected(40, Decimal("1234.56"), None, euro)
    assert shows("<p>968,64€</p>", expected) and shows("968.64€", expected)
    yen = Currency("JPY", 0, Decimal("150"))
    assert shows("¥15,000", Expected(1, Decimal("100"), None, yen))
    assert "1 049,50" in Currency("ZAR").texts(Decimal("1049.50"))


def test_changes_are_shown_with_enough_decimals_to_tell_them_from_zero() -> None:
    def change(old: str, new: str) -> str:
        return percent(PriceDiff(1, "k", 2, Decimal(old), Decimal(new)))

    assert change("100", "99.95") == "-0.05%"
    assert change("199.99", "193.99") == "-3.0%"
    assert change("118.57", "118.51") == "-0.051%"
    assert change("100", "99.9999") == "-0.0001%"
    assert change("100", "99.5") == "-0.5%"
    assert change("100", "90") == "-10.0%"
    assert change("100", "133.3333") == "+33.3%"
    assert change("0", "5") == "new"
