"""Price lists: parse rows, resolve products, and plan old → new for `product.price`.

Pure functions over sheet rows and a catalog snapshot, so every rule is unit tested without a store.
"""

from __future__ import annotations

import bisect
import heapq
import operator
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from itertools import chain, compress, repeat
from operator import itemgetter, ne, sub, truediv
from typing import Any

from maint.pricing.columns import Columns
from maint.pricing.issues import Issue
from maint.sheets import Column, Sheet, SheetRow
from maint.sheets.headers import is_change_header
from maint.sheets.table import Row
from maint.sheets.values import (
    FOUR_PLACES,
    MAX_PRICE,
    CellValue,
    PriceChange,
    cell_text,
    is_blank,
    parse_date,
    parse_price,
)

LARGE_CHANGE = Decimal("0.5")  # ±50 % needs --allow-large-changes


NO_DATE = "0000-00-00"  # OpenCart's "no date" for open-ended specials and discounts (facts B6)


def _four_places(value: Decimal | str) -> Decimal:
    """Rounded to the store's 4 places: "12.5" as the store has it, 12.5000."""
    return Decimal(value).quantize(FOUR_PLACES, ROUND_HALF_UP)


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


class PriceRows(Columns[PriceRow]):
    """The valid rows of a price list, kept column by column: 100,000 row objects would cost more to make
    than the rest of the plan. Reads as a sequence of PriceRow.

    Most rows are plain: a key and an absolute price written "19.99" (digits, maybe a point and more
    digits: nothing to clean), kept as that text.
    The others (any other way of writing a price, a percent change, a special) came through append() and
    are kept whole in `general`, by index; `irregular` lists those whose new price depends on the store.
    """

    def __init__(self) -> None:
        self.numbers: list[int] = []
        self.keys: list[str] = []  # trimmed
        self.raws: list[str] = []  # the price cell as written
        self.general: dict[int, PriceRow] = {}
        self.irregular: list[int] = []  # a percent change, a special, or no price (a special only)
        self._normalised: list[str] | None = None
        self._new: tuple[list[str], list[float]] | None = None
        self.sources: list[tuple[int, str]] = []  # (first index, "file [sheet]") of each sheet read

    def source(self, index: int, default: str) -> str:
        """Where the row at `index` came from, for error tables ("list.xlsx [Prices]")."""
        if not self.sources:
            return default
        return self.sources[bisect.bisect_right(self.sources, (index, "\uffff")) - 1][1]

    def __len__(self) -> int:
        return len(self.numbers)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PriceRows) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def record(self, index: int) -> PriceRow:
        if index in self.general:
            return self.general[index]
        raw = self.raws[index]
        return PriceRow(self.numbers[index], self.keys[index], PriceChange(Decimal(raw)), raw)

    def append(self, row: PriceRow) -> None:
        index = len(self.numbers)
        self.general[index] = row
        if row.change is None or row.change.percent or row.special is not None:
            self.irregular.append(index)
        self.numbers.append(row.row)
        self.keys.append(row.key)
        self.raws.append(row.raw)

    def extend_plain(self, numbers: list[int], keys: list[str], raws: list[str]) -> None:
        """Plain rows: an absolute price written "19.99" (below MAX_PRICE), no special."""
        self.numbers += numbers
        self.keys += keys
        self.raws += raws

    def normalised_keys(self) -> list[str]:
        """normalise_key() of every key (kept: the catalog read and the resolve both need them)."""
        if self._normalised is None:
            self._normalised = list(map(str.casefold, map(str.strip, self.keys)))
        return self._normalised

    def new_prices(self) -> tuple[list[str], list[float]]:
        """Each absolute price as the text to store and as a float; irregular rows hold "0" (their price
        is worked out one by one, against the store's).

        A plain cell with at most 4 decimals is stored as written ("19.99" goes into a DECIMAL(15,4) as
        19.9900); others are rounded to 4 places first. The floats are exact enough to compare prices:
        a number of at most 15 significant digits (11 before the point, 4 after) has a float of its own.
        """
        if self._new is None:
            texts = self.raws.copy()
            for i, row in self.general.items():
                change = row.change
                texts[i] = "0" if change is None or change.percent else str(_four_places(change.amount))
            if _MORE_THAN_4_DECIMALS.search("\n".join(texts)):  # rare: find the rows one by one
                for i, text in enumerate(texts):
                    if _MORE_THAN_4_DECIMALS.search(text):
                        texts[i] = str(_four_places(text))
            self._new = texts, list(map(float, texts))
        return self._new

    @classmethod
    def of(cls, rows: Iterable[PriceRow]) -> PriceRows:
        if isinstance(rows, PriceRows):
            return rows
        columns = cls()
        for row in rows:
            columns.append(row)
        return columns


@dataclass(slots=True)
class CatalogEntry:
    product_id: int
    price: Decimal


Catalog = Mapping[str, list[CatalogEntry]]  # normalised key → products that carry it


class ProductMatches(Catalog):
    """The store's products whose key is among a list's keys: a Catalog (normalised key → products).

    Built the other way round, for speed: the list's keys are indexed first, while the products may still
    be on their way, then each product's key is looked up among them, column by column at C speed. Each
    product is kept as its id and price, both as texts (the price with 4 places, "12.5000", as the store
    writes a DECIMAL(15,4)); `found` files a product under its key's first index in the list, and a key
    carried by several products goes to `ambiguous` instead.
    """

    def __init__(self, keys: list[str]) -> None:
        """`keys`: normalised (normalise_key), in list order, repeats allowed."""
        self.wanted = keys
        # each key's first index in the list: the one its products are filed under
        self.first_of = dict(zip(reversed(keys), range(len(keys) - 1, -1, -1), strict=True))
        self.firsts = list(map(self.first_of.__getitem__, keys))  # for every row, its key's first index
        self.ids: list[str] = []
        self.prices: list[str] = []
        self.floats: list[float] = []  # the prices as floats (made as each chunk arrives)
        self.found: dict[int, int] = {}  # first index → position in ids and prices
        self.repeats = len(self.first_of) != len(keys)  # a key twice in the list
        self._seen: set[str] = set()
        self.ambiguous: dict[int, list[int]] = {}

    def add(self, ids: Sequence[object], keys: Sequence[str], prices: Sequence[str]) -> None:
        """Products, their `keys` normalised; those whose key is not in the list are dropped."""
        found = list(map(self.first_of.get, keys))
        missing = found.count(None)
        if missing == len(found):
            return
        hits: list[int] = found  # type: ignore[assignment]  # no None left once filtered
        if missing:
            kept = list(map(operator.is_not, found, repeat(None)))
            hits, ids, prices = (
                list(compress(hits, kept)),
                list(compress(ids, kept)),
                list(compress(prices, kept)),
            )
        start = len(self.ids)
        texts = list(map(str, ids))
        self.ids += texts
        self.prices += prices
        self.floats += map(float, prices)
        seen = len(self._seen)
        self._seen.update(texts)
        self.repeats = self.repeats or len(self._seen) != seen + len(texts)  # a product under two keys
        fresh = dict(zip(hits, range(start, start + len(hits)), strict=True))
        if (
            len(fresh) == len(hits)
            and fresh.keys().isdisjoint(self.found)
            and fresh.keys().isdisjoint(self.ambiguous)
        ):
            self.found.update(fresh)  # the usual case: every key names one product
            return
        for position, first in enumerate(hits, start):
            if first in self.ambiguous:
                self.ambiguous[first].append(position)
            elif first in self.found:
                self.ambiguous[first] = [self.found.pop(first), position]
            else:
                self.found[first] = position

    def _entry(self, position: int) -> CatalogEntry:
        return CatalogEntry(int(self.ids[position]), Decimal(self.prices[position]))

    def __getitem__(self, key: str) -> list[CatalogEntry]:
        first = self.first_of[key]
        if first in self.found:
            return [self._entry(self.found[first])]
        return [self._entry(p) for p in self.ambiguous[first]]

    def __iter__(self) -> Iterator[str]:
        return (self.wanted[first] for first in chain(self.found, self.ambiguous))

    def __len__(self) -> int:
        return len(self.found) + len(self.ambiguous)

    @classmethod
    def of(cls, catalog: Catalog, keys: list[str]) -> ProductMatches:
        """`catalog` as matches of `keys` (itself, when it was built for this very list)."""
        if isinstance(catalog, ProductMatches) and catalog.wanted is keys:
            return catalog
        matches = cls(keys)
        for key, entries in catalog.items():
            prices = [str(_four_places(e.price)) for e in entries]
            matches.add([e.product_id for e in entries], [key] * len(entries), prices)
        return matches


def normalise_key(value: str) -> str:
    # MariaDB compares the store's varchar keys case-insensitively and ignores trailing spaces.
    return value.strip().casefold()


def key_text(value: object) -> str:
    return cell_text(value)  # type: ignore[arg-type]


def label(column: Column) -> str:
    """How an error table names a column: its letter and header, "B (Preis)"."""
    return f"{column.letter} ({column.header})"


BATCH = 2048  # rows checked at once on the fast path
# A plain number ("19.99": parse_decimal() takes it as it is) with at most 11 digits before the point, so
# surely below MAX_PRICE (1e11); other plain cells (leading zeros, too large) take the general path.
# ASCII digits only: such a cell is stored as written (see PriceRows.new_prices)
_PLAIN_BELOW_MAX = re.compile(r"[0-9]{1,11}(?:\.[0-9]{1,8})?\Z")
_MORE_THAN_4_DECIMALS = re.compile(r"\.\d{5}")


def parse_price_rows(
    sheet: Sheet, match: str, rows: PriceRows | None = None, issues: list[Issue] | None = None
) -> tuple[PriceRows, list[Issue]]:
    """Every data row parsed, with every problem (format, empty cells, bad numbers) collected; `rows`
    and `issues` of earlier sheets of the same workbook are added to."""
    rows = PriceRows() if rows is None else rows
    issues = [] if issues is None else issues
    rows.sources.append((len(rows), sheet.label))
    # Fast path for batches of common rows (text key, plain "19.99" price, no special columns): the same
    # result as the general path below, checked a batch at a time at C speed instead of cell by cell; a
    # batch with any other row goes the general way. 100,000-row lists spend most of their parse here.
    fast = "special" not in sheet.columns and sheet.decimal_comma is not True
    for batch in sheet.batches(BATCH):
        if not (fast and _plain_batch(sheet, batch, match, rows)):
            _parse_rows(sheet, sheet.rows_of(batch), match, rows, issues)
    return rows, issues


def _plain_batch(sheet: Sheet, batch: list[Row], match: str, rows: PriceRows) -> bool:
    """Add the batch if every row in it is a common row (see parse_price_rows); False adds nothing."""
    key_index, price_index = sheet.columns[match].index, sheet.columns["price"].index
    numbers, cells = zip(*batch, strict=True)
    if sheet.problems and not sheet.problems.keys().isdisjoint(numbers):
        return False  # a hidden row, merged or formula cell: reported by the general path
    if min(map(len, cells)) <= max(key_index, price_index) or not all(map(any, cells)):
        return False  # short rows and empty rows
    keys, prices = list(map(itemgetter(key_index), cells)), list(map(itemgetter(price_index), cells))
    if set(map(type, keys)) != {str} or set(map(type, prices)) != {str}:
        return False
    if not all(map(_PLAIN_BELOW_MAX.match, prices)):
        return False
    stripped = list(map(str.strip, keys))
    if not all(stripped) or (match == "product_id" and not all(map(str.isdigit, stripped))):
        return False
    rows.extend_plain(list(numbers), stripped, prices)
    return True


def _parse_rows(
    sheet: Sheet, sheet_rows: Iterable[SheetRow], match: str, rows: PriceRows, issues: list[Issue]
) -> None:
    key_col, price_col = sheet.columns[match], sheet.columns["price"]
    names = {col.letter: label(col) for col in sheet.columns.values()}
    for row in sheet_rows:
        if row.problems:
            # a hidden row, merged or formula cell makes the row's values untrustworthy: report only that
            issues.extend(
                Issue(sheet.label, row.number, names.get(letter, letter), value, reason)
                for letter, value, reason in row.problems
            )
            continue
        bad = False
        key_cell, price_cell = row.values[match], row.values["price"]
        key = key_text(key_cell)
        if is_blank(key_cell):
            issues.append(Issue(sheet.label, row.number, label(key_col), "", f"empty {match}"))
            bad = True
        elif match == "product_id" and not key.isdigit():
            issues.append(
                Issue(sheet.label, row.number, label(key_col), key, "product_id must be a whole number")
            )
            bad = True
        special, special_bad = _parse_special(sheet, row.number, row.values, issues)
        change: PriceChange | None = None
        if not (is_blank(price_cell) and (special is not None or special_bad)):
            try:
                change = parse_price(
                    price_cell,
                    decimal_comma=sheet.decimal_comma,
                    change_column=is_change_header(price_col.header),
                )
            except ValueError as exc:
                issues.append(
                    Issue(sheet.label, row.number, label(price_col), cell_text(price_cell), f"price: {exc}")
                )
                continue
        if not bad and not special_bad:
            rows.append(PriceRow(row.number, key, change, cell_text(price_cell), special))


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
        change_column = is_change_header(sheet.columns["special"].header)
        amount = parse_price(cell, decimal_comma=sheet.decimal_comma, change_column=change_column)
        if amount.percent and amount.amount >= 0:
            raise ValueError("a special in percent must be negative, e.g. -10%")
    except ValueError as exc:
        issues.append(
            Issue(sheet.label, number, label(sheet.columns["special"]), cell_text(cell), f"special: {exc}")
        )
    dates: list[str] = []
    for name in ("special_start", "special_end"):
        value = values.get(name)
        try:
            dates.append(NO_DATE if is_blank(value) else parse_date(value).isoformat())
        except ValueError as exc:
            issues.append(
                Issue(sheet.label, number, label(sheet.columns[name]), cell_text(value), f"{name}: {exc}")
            )
            dates.append(NO_DATE)
    if NO_DATE not in dates and dates[1] < dates[0]:
        issues.append(
            Issue(
                sheet.label,
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
class PriceChanges(Columns[PriceDiff]):
    """The planned changes in sheet order, column by column (see PriceRows); reads as PriceDiffs.

    Product ids and prices are kept as texts (old prices as the store writes a DECIMAL(15,4), "12.5000",
    new ones maybe as the sheet wrote them, "12.5"): they go into the undo file and the change list as
    they are, and become numbers only for the few changes anyone looks at."""

    id_texts: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    old_texts: list[str] = field(default_factory=list)
    new_texts: list[str] = field(default_factory=list)
    # old and new as floats, when the planner had them cheaply (from text); else made from the texts
    floats: tuple[list[float], list[float]] | None = field(default=None, repr=False, compare=False)
    _ratios: list[float] | None = field(default=None, init=False, repr=False, compare=False)
    _large: list[PriceDiff] | None = field(default=None, init=False, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.rows)

    def record(self, index: int) -> PriceDiff:
        return PriceDiff(
            int(self.id_texts[index]),
            self.keys[index],
            self.rows[index],
            Decimal(self.old_texts[index]),
            _four_places(self.new_texts[index]),
        )

    @classmethod
    def of(cls, diffs: Iterable[PriceDiff]) -> PriceChanges:
        if isinstance(diffs, PriceChanges):
            return diffs
        changes = cls()
        for d in diffs:
            changes.id_texts.append(str(d.product_id))
            changes.keys.append(d.key)
            changes.rows.append(d.row)
            changes.old_texts.append(str(_four_places(d.old)))
            changes.new_texts.append(str(_four_places(d.new)))
        return changes

    def ratios(self) -> list[float]:
        """|new - old| / old of each change as a float (infinite from a zero price), to rank them quickly."""
        if self._ratios is None:
            old, new = self.floats or (list(map(float, self.old_texts)), list(map(float, self.new_texts)))
            if 0.0 in old:
                inf = float("inf")
                self._ratios = [abs(n - o) / o if o else inf for o, n in zip(old, new, strict=True)]
            else:
                self._ratios = list(map(truediv, map(abs, map(sub, new, old)), old))
        return self._ratios

    def large(self) -> list[PriceDiff]:
        """The changes beyond ±50 %: screened by float, decided exactly (PriceDiff.large)."""
        if self._large is None:
            ratios = self.ratios()
            near = float(LARGE_CHANGE) * (1 - 1e-9)
            screened = map(self.record, compress(range(len(ratios)), map(near.__lt__, ratios)))
            self._large = [d for d in screened if d.large]
        return self._large

    def largest(self, count: int) -> list[PriceDiff]:
        """The `count` largest relative changes, largest first, ties by product id."""
        ratios = self.ratios()
        if count <= 0 or not ratios:
            return []
        floor = min(heapq.nlargest(count, ratios))
        candidates = list(compress(range(len(ratios)), map(floor.__le__, ratios)))
        candidates.sort(key=lambda i: (-ratios[i], int(self.id_texts[i])))
        return [self[i] for i in candidates[:count]]


@dataclass(frozen=True)
class Rounding:
    """A percent change whose exact result had more decimals than the store's currency shows."""

    row: int
    key: str
    what: str  # "price" or "special"
    old: Decimal
    change: str  # the cell as written, "-3%"
    exact: Decimal
    new: Decimal

    def describe(self) -> str:
        return f"row {self.row} {self.key} {self.what}: {self.old:f} {self.change} = {self.exact.normalize():f} → {self.new:f}"

    def as_dict(self) -> dict[str, object]:
        return {
            "row": self.row,
            "key": self.key,
            "what": self.what,
            "old": str(self.old),
            "change": self.change,
            "exact": str(self.exact.normalize()),
            "new": str(self.new),
        }


@dataclass
class PricePlan:
    file: str
    changes: PriceChanges = field(default_factory=PriceChanges)
    unchanged: int = 0
    skipped: list[Issue] = field(default_factory=list)
    relative: bool = False  # the file has "+5%"-style rows: applying it twice would compound
    specials: list[tuple[int, str, int, Special, Decimal]] = field(
        default_factory=list
    )  # id, key, row, special, price
    special_pairs_changed: int = 0
    special_op: Any = None  # the SetReplace for specials, once planned against the store
    places: int = 2  # the store's currency decimals, to which percent changes are rounded
    rounded: list[Rounding] = field(default_factory=list)  # percent changes whose exact result was rounded

    def __post_init__(self) -> None:
        self.changes = PriceChanges.of(self.changes)  # PriceDiffs given one by one (tests) become columns

    @property
    def empty(self) -> bool:
        return not self.changes and not self.special_pairs_changed

    @property
    def large(self) -> list[PriceDiff]:
        return self.changes.large()

    def largest(self, count: int = 10) -> list[PriceDiff]:
        return self.changes.largest(count)


def resolve_prices(
    rows: Iterable[PriceRow], catalog: Catalog, *, file: str, match: str, column: str, places: int = 2
) -> tuple[PricePlan, list[Issue]]:
    """Match rows to products, catch unknown and duplicate products, and compute each new price.

    Column-wise: the common row (a known key, an absolute price, no special) costs a few C-speed passes
    over the lists; the others are settled one by one, in the same pass order as the rules below.
    """
    table = PriceRows.of(rows)
    matches = ProductMatches.of(catalog, table.normalised_keys())
    plan = PricePlan(file, places=places)
    issues: list[Issue] = []
    count = len(table)
    positions = list(map(matches.found.get, matches.firsts, repeat(-1)))
    excluded = list(map(operator.eq, positions, repeat(-1)))  # unknown, ambiguous, duplicate, …
    for i in compress(range(count), excluded):
        key, number = table.keys[i], table.numbers[i]
        if matches.firsts[i] in matches.ambiguous:
            products = [matches.ids[p] for p in matches.ambiguous[matches.firsts[i]]]
            reason = f"{match} matches {len(products)} products ({', '.join(products[:5])})"
        else:
            reason = f"unknown product ({match} not in the store)"
        issues.append(Issue(table.source(i, file), number, column, key, reason))
    id_texts = list(map([*matches.ids, ""].__getitem__, positions))  # -1: the "" of an excluded row
    old = list(map([*matches.prices, "0.0000"].__getitem__, positions))
    old_floats = list(map([*matches.floats, 0.0].__getitem__, positions))
    # the first row naming a product wins; later rows naming it are duplicates
    if matches.repeats:
        resolved: Sequence[int] = range(count)
        ids = id_texts
        if any(excluded):
            resolved = list(compress(range(count), map(operator.not_, excluded)))
            ids = list(map(id_texts.__getitem__, resolved))
        numbers = list(map(table.numbers.__getitem__, resolved))
        first_row_of = dict(zip(reversed(ids), reversed(numbers), strict=True))
        for i, product_id, number in zip(resolved, ids, numbers, strict=True):
            first = first_row_of[product_id]
            if first != number:
                excluded[i] = True
                reason = f"duplicate: product {product_id} is already in row {first}"
                issues.append(Issue(table.source(i, file), number, column, table.keys[i], reason))
    texts, floats = table.new_prices()
    new, new_floats = texts.copy(), floats.copy()
    # rows with a percent change or a special, one by one
    for i in table.irregular:
        if excluded[i]:
            continue
        row = table[i]
        current = Decimal(old[i])
        try:
            price = current if row.change is None else row.change.apply_to(current, places)
            special_price = None if row.special is None else row.special.amount.apply_to(price, places)
        except InvalidOperation:
            price = MAX_PRICE
        else:
            if row.change is not None and row.change.percent and row.change.exact(current) != price:
                plan.rounded.append(
                    Rounding(row.row, row.key, "price", current, row.raw, row.change.exact(current), price)
                )
            special = row.special
            if special is not None and special_price is not None and special.amount.percent:
                exact = special.amount.exact(price)
                if exact != special_price:
                    change = f"{special.amount.amount:+f}%"
                    plan.rounded.append(
                        Rounding(row.row, row.key, "special", price, change, exact, special_price)
                    )
        if price >= MAX_PRICE:
            excluded[i] = True
            issues.append(
                Issue(
                    table.source(i, file),
                    row.row,
                    column,
                    row.key,
                    "the new price is too large for the store",
                )
            )
            continue
        new[i], new_floats[i] = str(price), float(price)
        if row.special is not None and special_price is not None:
            if special_price >= price:
                excluded[i] = True
                reason = f"special price {special_price} is not below the price {price}"
                issues.append(Issue(table.source(i, file), row.row, column, row.key, reason))
                continue
            plan.specials.append((int(id_texts[i]), row.key, row.row, row.special, special_price))
            plan.relative = plan.relative or row.special.amount.percent
        if row.change is None:
            excluded[i] = True  # a special only: no price change
            continue
        plan.relative = plan.relative or row.change.percent
    # floats tell prices apart exactly here (see PriceRows.new_prices); the texts may differ ("12.5", "12.5000")
    changed = list(map(ne, new_floats, old_floats))
    if any(excluded):
        changed = list(map(bool.__and__, map(operator.not_, excluded), changed))
    plan.unchanged = count - sum(excluded) - sum(changed)
    columns = (id_texts, table.keys, table.numbers, old, new, old_floats, new_floats)
    if not all(changed):
        columns = tuple(list(compress(column, changed)) for column in columns)  # type: ignore[assignment]
    plan.changes = PriceChanges(*columns[:5], floats=(columns[5], columns[6]))
    issues.sort(key=lambda issue: issue.row)
    return plan, issues
