"""The price a customer of the default group sees today, computed as OpenCart's catalog does.

Pure functions over rows read by `maint.flyer.store`, so each rule is tested without a database:
- a quantity-1 discount (3.0, 4.x: `special=0`) replaces the price; the special shown is the first row by
  priority, then price, whose dates hold (`date_start` '0000-00-00' or before now, `date_end`
  '0000-00-00' or after now: a special ending today is already gone); 4.1 rows with NULL dates are
  ignored, as its SQL ignores them (facts B6);
- 4.1 rows carry `type`: F a fixed price, S an amount off, P a percentage off the product's price;
- tax is added when the store shows prices with tax (`config_tax`), from the tax rules of the store's
  own address (catalog/library/cart/tax.php: percentage and fixed rates, keyed by rate);
- currency as `Currency::format`: value × rate, rounded to the currency's places, the language's
  decimal and thousands marks, symbols left/right.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

ZERO_DATE = "0000-00-00"


@dataclass(frozen=True)
class PriceRow:
    """A product_discount or product_special row for the default customer group."""

    quantity: int
    priority: int
    price: Decimal
    date_start: str | None  # 'YYYY-MM-DD', '0000-00-00' or None (4.1 allows NULL)
    date_end: str | None
    type: str = "F"  # 4.1: F fixed, S subtract, P percent; 3.0/4.0 rows are fixed prices

    def holds_on(self, day: date) -> bool:
        """OpenCart's `(date_start = '0000-00-00' OR date_start < NOW()) AND (date_end = … OR date_end > NOW())`."""
        if self.date_start is None or self.date_end is None:
            return False
        start_ok = self.date_start == ZERO_DATE or self.date_start <= day.isoformat()
        end_ok = self.date_end == ZERO_DATE or self.date_end > day.isoformat()
        return start_ok and end_ok

    def ends_before(self, day: date) -> bool:
        """The row is gone by `day` (it ends on or before it)."""
        return self.date_end not in (None, ZERO_DATE) and str(self.date_end) <= day.isoformat()

    def amount(self, base: Decimal) -> Decimal:
        if self.type == "P":
            return base - base * (self.price / Decimal(100))
        if self.type == "S":
            return base - self.price
        return self.price


@dataclass(frozen=True)
class TaxRate:
    rate_id: int
    rate: Decimal
    type: str  # P percent, F fixed amount


@dataclass(frozen=True)
class Currency:
    code: str
    symbol_left: str
    symbol_right: str
    decimal_place: int
    value: Decimal
    decimal_point: str = "."
    thousand_point: str = ","
    left_space: bool = False
    right_space: bool = False

    def format(self, amount: Decimal) -> str:
        value = (amount * self.value) if self.value else amount
        places = Decimal(1).scaleb(-self.decimal_place)
        rounded = value.quantize(places, rounding=ROUND_HALF_UP)
        sign = "-" if rounded < 0 else ""
        whole, _, frac = f"{abs(rounded):.{self.decimal_place}f}".partition(".")
        groups: list[str] = []
        while len(whole) > 3:
            groups.insert(0, whole[-3:])
            whole = whole[:-3]
        groups.insert(0, whole)
        number = sign + self.thousand_point.join(groups) + (self.decimal_point + frac if frac else "")
        left = self.symbol_left + (" " if self.left_space and self.symbol_left else "")
        right = (" " if self.right_space and self.symbol_right else "") + self.symbol_right
        return f"{left}{number}{right}"


@dataclass(frozen=True)
class Tax:
    show_with_tax: bool
    rates: dict[int, tuple[TaxRate, ...]]  # tax_class_id → rates

    def apply(self, value: Decimal, tax_class_id: int) -> Decimal:
        if not self.show_with_tax or not tax_class_id:
            return value
        extra = Decimal(0)
        for r in self.rates.get(tax_class_id, ()):
            extra += value * r.rate / Decimal(100) if r.type == "P" else r.rate
        return value + extra


@dataclass(frozen=True)
class ShownPrice:
    """What the product page shows: the price, a special if any, and the quantity tiers."""

    price: Decimal  # ex tax, after a quantity-1 discount
    special: Decimal | None
    special_ends: str | None  # 'YYYY-MM-DD', or None when open-ended
    tiers: tuple[tuple[int, Decimal], ...]  # (quantity, price ex tax), quantity > 1

    def texts(self, tax: Tax, tax_class_id: int, currency: Currency) -> dict[str, object]:
        def fmt(v: Decimal) -> str:
            return currency.format(tax.apply(v, tax_class_id))

        return {
            "price": fmt(self.price),
            "special": fmt(self.special) if self.special is not None else None,
            "special_ends": self.special_ends,
            "tiers": [(q, fmt(p)) for q, p in self.tiers],
        }


def shown_price(
    base: Decimal,
    discounts: Sequence[PriceRow],
    specials: Sequence[PriceRow],
    today: date,
) -> tuple[ShownPrice, PriceRow | None]:
    """The prices shown on `today`, and the special row they come from (to check its end date)."""
    valid = [d for d in discounts if d.holds_on(today)]
    single = _first(d for d in valid if d.quantity == 1)
    price = single.amount(base) if single is not None else base
    special_row = _first(s for s in specials if s.holds_on(today) and s.quantity <= 1)
    special = special_row.amount(base) if special_row is not None else None
    tiers = sorted(
        ((d.quantity, d.priority, d.amount(base)) for d in valid if d.quantity > 1), key=lambda t: (t[0], t[1], t[2])
    )
    seen: set[int] = set()
    shown_tiers = []
    for quantity, _, amount in tiers:
        if quantity not in seen:
            seen.add(quantity)
            shown_tiers.append((quantity, amount))
    ends = special_row.date_end if special_row is not None and special_row.date_end != ZERO_DATE else None
    return ShownPrice(price, special, ends, tuple(shown_tiers)), special_row


def _first(rows: Iterable[PriceRow]) -> PriceRow | None:
    """OpenCart's `ORDER BY priority ASC, price ASC LIMIT 1`."""
    return min(rows, key=lambda r: (r.priority, r.price), default=None)
