"""Customer-group discounts: parse rows, resolve products and groups, and plan per (product, group).

A discount row is stored as strings in the order of `DISCOUNT_COLUMNS` (plus type/special on 4.1), the
way the database returns them with CAST(… AS CHAR), so plans, undo data and verification compare exactly.
`replace` makes a (product, group) hold exactly the file's tiers; `merge` adds or updates tiers by
quantity and keeps the others.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from maint.pricing.issues import Issue
from maint.pricing.prices import Catalog, Rounding, label, normalise_key
from maint.pricing.schema import PriceSchema
from maint.sheets import Sheet
from maint.sheets.headers import is_change_header
from maint.sheets.values import (
    FOUR_PLACES,
    PriceChange,
    cell_text,
    is_blank,
    parse_date,
    parse_int,
    parse_price,
)

NO_DATE = "0000-00-00"  # what OpenCart stores for an open-ended discount (facts B6)
MODES = ("replace", "merge")

Stored = tuple[str | None, ...]  # (primary key or None for a new row, *content)
Content = tuple[str | None, ...]


def discount_columns(schema: PriceSchema) -> tuple[str, ...]:
    base = ("product_id", "customer_group_id", "quantity", "priority", "price")
    return (
        (*base, "type", "special", "date_start", "date_end")
        if schema.discount_type
        else (*base, "date_start", "date_end")
    )


@dataclass(frozen=True)
class DiscountRow:
    row: int
    key: str
    group: str
    quantity: int
    priority: int
    amount: PriceChange
    date_start: str
    date_end: str
    source: str = ""  # "file [sheet]" of a workbook read as several sheets
    raw: str = ""  # the price cell as written ("-3%"), for the plan's list of roundings


def _date(value: object) -> str:
    return NO_DATE if is_blank(value) else parse_date(value).isoformat()  # type: ignore[arg-type]


def parse_discount_rows(sheet: Sheet, match: str) -> tuple[list[DiscountRow], list[Issue]]:
    rows: list[DiscountRow] = []
    issues: list[Issue] = []
    cols = sheet.columns
    names = {col.letter: label(col) for col in cols.values()}

    def problem(number: int, field_name: str, value: object, reason: str) -> None:
        column = label(cols[field_name]) if field_name in cols else field_name
        issues.append(Issue(sheet.label, number, column, cell_text(value), reason))  # type: ignore[arg-type]

    for row in sheet.rows:
        if row.problems:
            issues.extend(
                Issue(sheet.label, row.number, names.get(letter, letter), value, reason)
                for letter, value, reason in row.problems
            )
            continue
        before = len(issues)
        values = row.values
        key, group = cell_text(values[match]), cell_text(values["group"])
        if not key:
            problem(row.number, match, "", f"empty {match}")
        if not group:
            problem(row.number, "group", "", "empty customer group")
        quantity = priority = 1
        for name, minimum in (("quantity", 1), ("priority", 0)):
            if name in values and not is_blank(values[name]):
                try:
                    number = parse_int(values[name], minimum=minimum)
                except ValueError as exc:
                    problem(row.number, name, values[name], f"{name}: {exc}")
                    continue
                if name == "quantity":
                    quantity = number
                else:
                    priority = number
        amount = None
        try:
            amount = parse_price(
                values["price"],
                decimal_comma=sheet.decimal_comma,
                change_column=is_change_header(cols["price"].header),
            )
            if amount.percent and amount.amount >= 0:
                problem(
                    row.number, "price", values["price"], "a discount in percent must be negative, e.g. -10%"
                )
        except ValueError as exc:
            problem(row.number, "price", values["price"], f"price: {exc}")
        dates = []
        for name in ("date_start", "date_end"):
            try:
                dates.append(_date(values.get(name)))
            except ValueError as exc:
                problem(row.number, name, values.get(name), f"{name}: {exc}")
                dates.append(NO_DATE)
        if dates[0] != NO_DATE and dates[1] != NO_DATE and dates[1] < dates[0]:
            problem(row.number, "date_end", values.get("date_end"), "ends before it starts")
        if len(issues) == before and amount is not None:
            rows.append(
                DiscountRow(
                    row.number,
                    key,
                    group,
                    quantity,
                    priority,
                    amount,
                    dates[0],
                    dates[1],
                    sheet.label,
                    cell_text(values["price"]),
                )
            )
    return rows, issues


@dataclass
class PairChange:
    product_id: int
    group_id: int
    key: str
    group: str
    before: list[Stored]
    after: list[Content]


@dataclass
class DiscountPlan:
    file: str
    mode: str
    pairs: list[PairChange] = field(default_factory=list)
    unchanged_pairs: int = 0
    skipped: list[Issue] = field(default_factory=list)
    places: int = 2  # the store's currency decimals, to which a percent discount stored as a price is rounded
    rounded: list[Rounding] = field(default_factory=list)  # those whose exact result was rounded

    @property
    def deleted(self) -> int:
        return sum(len(p.before) for p in self.pairs)

    @property
    def inserted(self) -> int:
        return sum(len(p.after) for p in self.pairs)


def _content(
    row: DiscountRow, product_id: int, group_id: int, base: Decimal, schema: PriceSchema, places: int = 2
) -> Content:
    if row.amount.percent and schema.discount_type:
        kind, price = "P", -row.amount.amount  # 4.1 stores percent off natively, type P
    else:
        kind, price = "F", row.amount.apply_to(base, places)  # a fixed price (3.0/4.0 know nothing else)
    price_text = str(price.quantize(FOUR_PLACES, ROUND_HALF_UP))
    head = (str(product_id), str(group_id), str(row.quantity), str(row.priority), price_text)
    if schema.discount_type:
        return (*head, kind, "0", row.date_start, row.date_end)
    return (*head, row.date_start, row.date_end)


def resolve_discounts(
    rows: Iterable[DiscountRow],
    catalog: Catalog,
    groups: Mapping[str, int],
    existing: Mapping[tuple[int, int], list[Stored]],
    schema: PriceSchema,
    *,
    file: str,
    match: str,
    key_column: str,
    group_column: str,
    mode: str = "replace",
    places: int = 2,
) -> tuple[DiscountPlan, list[Issue]]:
    """Match products and groups, catch duplicates, and plan each (product, group) whose tiers change."""
    default_file = file
    issues: list[Issue] = []
    wanted: dict[tuple[int, int], list[Content]] = {}
    labels: dict[tuple[int, int], tuple[str, str]] = {}
    seen: dict[tuple[int, int, int], int] = {}
    rounded: list[Rounding] = []
    for row in rows:
        file = row.source or default_file
        entries = catalog.get(normalise_key(row.key), [])
        group_id = groups.get(normalise_key(row.group))
        if not entries:
            issues.append(
                Issue(file, row.row, key_column, row.key, f"unknown product ({match} not in the store)")
            )
        elif len(entries) > 1:
            issues.append(
                Issue(file, row.row, key_column, row.key, f"{match} matches {len(entries)} products")
            )
        if group_id is None:
            issues.append(Issue(file, row.row, group_column, row.group, "unknown customer group"))
        if len(entries) != 1 or group_id is None:
            continue
        entry = entries[0]
        tier = (entry.product_id, group_id, row.quantity)
        if tier in seen:
            issues.append(
                Issue(
                    file,
                    row.row,
                    key_column,
                    row.key,
                    f"duplicate: same product, group and quantity as row {seen[tier]}",
                )
            )
            continue
        seen[tier] = row.row
        pair = (entry.product_id, group_id)
        content = _content(row, entry.product_id, group_id, entry.price, schema, places)
        wanted.setdefault(pair, []).append(content)
        if row.amount.percent and not schema.discount_type:  # 4.1 keeps the percent itself (type P)
            exact, new = row.amount.exact(entry.price), Decimal(str(content[4]))
            if exact != new:
                what = f"discount {row.group} ≥{row.quantity}"
                rounded.append(
                    Rounding(row.row, row.key, what, entry.price, row.raw or f"{row.amount.amount:+f}%", exact, new)
                )
        labels[pair] = (row.key, row.group)
    plan = DiscountPlan(default_file, mode, places=places, rounded=rounded)
    quantity_at = 2
    for pair, desired in wanted.items():
        before = existing.get(pair, [])
        if mode == "merge":
            replaced_quantities = {c[quantity_at] for c in desired}
            kept = [tuple(s[1:]) for s in before if s[1 + quantity_at] not in replaced_quantities]
            after = kept + desired
        else:
            after = desired
        if Counter(tuple(s[1:]) for s in before) == Counter(after):
            plan.unchanged_pairs += 1
            continue
        plan.pairs.append(PairChange(pair[0], pair[1], *labels[pair], before=list(before), after=list(after)))
    return plan, issues
