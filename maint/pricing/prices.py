"""Price lists: parse rows, resolve products, and plan old → new for `product.price`.

Pure functions over sheet rows and a catalog snapshot, so every rule is unit tested without a store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from maint.pricing.issues import Issue
from maint.sheets import Column, Sheet
from maint.sheets.values import (
    MAX_PRICE,
    PLAIN_DECIMAL,
    CellValue,
    PriceChange,
    cell_text,
    is_blank,
    parse_date,
    parse_price,
)

LARGE_CHANGE = Decimal("0.5")  # ±50 % needs --allow-large-changes


NO_DATE = "0000-00-00"  # OpenCart's "no date" for open-ended specials and discounts (facts B6)


@dataclass(slots=True)
class Special:
    """A special price from the optional special / special_start / special_end columns."""

    amount: PriceChange  # absolute, or "-10%" off the (new) price
    date_start: str = NO_DATE
    date_end: str = NO_DATE


@dataclass(slots=True)  # per row: slots, not frozen, for speed
class PriceRow:
    row: int
    key: str
    change: PriceChange | None  # None: a row that only sets a special price
    raw: str
    special: Special | None = None


@dataclass(slots=True)
class CatalogEntry:
    product_id: int
    price: Decimal


Catalog = Mapping[str, list[CatalogEntry]]  # normalised key → products that carry it


def normalise_key(value: str) -> str:
    # MariaDB compares the store's varchar keys case-insensitively and ignores trailing spaces.
    return value.strip().casefold()


def key_text(value: object) -> str:
    return cell_text(value)  # type: ignore[arg-type]


def label(column: Column) -> str:
    """How an error table names a column: its letter and header, "B (Preis)"."""
    return f"{column.letter} ({column.header})"


def parse_price_rows(sheet: Sheet, match: str) -> tuple[list[PriceRow], list[Issue]]:
    """Every data row parsed, with every problem (format, empty cells, bad numbers) collected."""
    rows: list[PriceRow] = []
    issues: list[Issue] = []
    key_col, price_col = sheet.columns[match], sheet.columns["price"]
    names = {col.letter: label(col) for col in sheet.columns.values()}
    # Fast path for the common row (text key, plain "19.99" price, no special columns): the same result as
    # the general path below, without its calls per cell; 100,000-row lists spend most of their parse here.
    plain = None if "special" in sheet.columns or sheet.decimal_comma is True else PLAIN_DECIMAL.match
    by_id = match == "product_id"
    for row in sheet.rows:
        if plain is not None and not row.problems:
            key_cell, price_cell = row.values[match], row.values["price"]
            if type(key_cell) is str and type(price_cell) is str and plain(price_cell):
                key = key_cell.strip()
                if key and (not by_id or key.isdigit()):
                    amount = Decimal(price_cell)
                    if amount < MAX_PRICE:
                        rows.append(PriceRow(row.number, key, PriceChange(amount), price_cell))
                        continue
        if row.problems:
            # a hidden row, merged or formula cell makes the row's values untrustworthy: report only that
            issues.extend(
                Issue(sheet.file, row.number, names.get(letter, letter), value, reason)
                for letter, value, reason in row.problems
            )
            continue
        bad = False
        key_cell, price_cell = row.values[match], row.values["price"]
        key = key_text(key_cell)
        if is_blank(key_cell):
            issues.append(Issue(sheet.file, row.number, label(key_col), "", f"empty {match}"))
            bad = True
        elif match == "product_id" and not key.isdigit():
            issues.append(
                Issue(sheet.file, row.number, label(key_col), key, "product_id must be a whole number")
            )
            bad = True
        special, special_bad = _parse_special(sheet, row.number, row.values, issues)
        change: PriceChange | None = None
        if not (is_blank(price_cell) and (special is not None or special_bad)):
            try:
                change = parse_price(price_cell, decimal_comma=sheet.decimal_comma)
            except ValueError as exc:
                issues.append(
                    Issue(sheet.file, row.number, label(price_col), cell_text(price_cell), f"price: {exc}")
                )
                continue
        if not bad and not special_bad:
            rows.append(PriceRow(row.number, key, change, cell_text(price_cell), special))
    return rows, issues


def _parse_special(
    sheet: Sheet, number: int, values: Mapping[str, CellValue], issues: list[Issue]
) -> tuple[Special | None, bool]:
    """The row's special price, if the sheet has the column and the cell is filled; (special, had errors)."""
    cell = values.get("special")
    if "special" not in sheet.columns or is_blank(cell):
        return None, False
    before = len(issues)
    amount = None
    try:
        amount = parse_price(cell, decimal_comma=sheet.decimal_comma)
        if amount.percent and amount.amount >= 0:
            raise ValueError("a special in percent must be negative, e.g. -10%")
    except ValueError as exc:
        issues.append(
            Issue(sheet.file, number, label(sheet.columns["special"]), cell_text(cell), f"special: {exc}")
        )
    dates: list[str] = []
    for name in ("special_start", "special_end"):
        value = values.get(name)
        try:
            dates.append(NO_DATE if is_blank(value) else parse_date(value).isoformat())
        except ValueError as exc:
            issues.append(
                Issue(sheet.file, number, label(sheet.columns[name]), cell_text(value), f"{name}: {exc}")
            )
            dates.append(NO_DATE)
    if NO_DATE not in dates and dates[1] < dates[0]:
        issues.append(
            Issue(
                sheet.file,
                number,
                label(sheet.columns["special_end"]),
                dates[1],
                "the special ends before it starts",
            )
        )
    if len(issues) > before or amount is None:
        return None, True
    return Special(amount, dates[0], dates[1]), False


@dataclass(slots=True)
class PriceDiff:
    product_id: int
    key: str
    row: int
    old: Decimal
    new: Decimal

    @property
    def ratio(self) -> Decimal | None:
        """Relative change (0.1 = +10 %); None when the old price was zero."""
        return None if self.old == 0 else (self.new - self.old) / self.old

    @property
    def large(self) -> bool:
        ratio = self.ratio
        return (self.new != 0) if ratio is None else abs(ratio) > LARGE_CHANGE


@dataclass
class PricePlan:
    file: str
    changes: list[PriceDiff] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[Issue] = field(default_factory=list)
    relative: bool = False  # the file has "+5%"-style rows: applying it twice would compound
    specials: list[tuple[int, str, int, Special, Decimal]] = field(
        default_factory=list
    )  # id, key, row, special, price
    special_pairs_changed: int = 0
    special_op: Any = None  # the SetReplace for specials, once planned against the store

    @property
    def empty(self) -> bool:
        return not self.changes and not self.special_pairs_changed

    @property
    def large(self) -> list[PriceDiff]:
        return [c for c in self.changes if c.large]

    def largest(self, count: int = 10) -> list[PriceDiff]:
        return sorted(
            self.changes,
            key=lambda c: (-(abs(c.ratio) if c.ratio is not None else Decimal("Infinity")), c.product_id),
        )[:count]


def resolve_prices(
    rows: Iterable[PriceRow], catalog: Catalog, *, file: str, match: str, column: str
) -> tuple[PricePlan, list[Issue]]:
    """Match rows to products, catch unknown and duplicate products, and compute each new price."""
    plan = PricePlan(file)
    issues: list[Issue] = []
    first_row_of: dict[int, int] = {}
    for row in rows:
        entries = catalog.get(normalise_key(row.key), [])
        if not entries:
            issues.append(
                Issue(file, row.row, column, row.key, f"unknown product ({match} not in the store)")
            )
            continue
        if len(entries) > 1:
            ids = ", ".join(str(e.product_id) for e in entries[:5])
            issues.append(
                Issue(file, row.row, column, row.key, f"{match} matches {len(entries)} products ({ids})")
            )
            continue
        entry = entries[0]
        if entry.product_id in first_row_of:
            issues.append(
                Issue(
                    file,
                    row.row,
                    column,
                    row.key,
                    f"duplicate: product {entry.product_id} is already in row "
                    f"{first_row_of[entry.product_id]}",
                )
            )
            continue
        first_row_of[entry.product_id] = row.row
        new = entry.price if row.change is None else row.change.apply_to(entry.price)
        if row.special is not None:
            special_price = row.special.amount.apply_to(new)
            if special_price >= new:
                issues.append(
                    Issue(
                        file,
                        row.row,
                        column,
                        row.key,
                        f"special price {special_price} is not below the price {new}",
                    )
                )
                continue
            plan.specials.append((entry.product_id, row.key, row.row, row.special, special_price))
            plan.relative = plan.relative or row.special.amount.percent
        if row.change is None:
            continue
        plan.relative = plan.relative or row.change.percent
        if new == entry.price:
            plan.unchanged += 1
        else:
            plan.changes.append(PriceDiff(entry.product_id, row.key, row.row, entry.price, new))
    return plan, issues
