"""What a product page should show after a price change, and a look at a few pages that changes nothing.

A page shows the price a guest of the default customer group pays: an active quantity-1 discount
replaces the base price, an active special is shown over it, with taxes when `config_tax` is on (the
tax class's rates for the store's address, as system/library/cart/tax.php works them out) and in the
default currency (its rate, decimals and symbols). The check computes that from the store's own rows,
with OpenCart's own queries (catalog/model/catalog/product.php getProduct of each release), before it
warns that a page does not show it.

Opening a product page is not free of side effects (3.0 counts the visit in `product.viewed`, every
request leaves a session, 4.x may log it in `product_report`): the pages are read through
`maint.storefront.StorefrontReader`, which takes all of that back, as for the upgrade's checks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pymysql

from maint.pricing.schema import PriceSchema
from maint.remote.sql import table
from maint.storefront import StorefrontReader

NO_SUCH_TABLE = 1146


@dataclass(frozen=True)
class Currency:
    """The store's default currency (setting config_currency); OpenCart's defaults when it can't be read."""

    code: str = ""
    places: int = 2
    value: Decimal = Decimal(1)
    symbol_left: str = ""
    symbol_right: str = ""

    def amount(self, price: Decimal) -> Decimal:
        """The number a page prints for `price` (currency->format: converted, rounded to its decimals)."""
        step = Decimal(1).scaleb(-self.places)
        return (price * self.value).quantize(step, ROUND_HALF_UP)

    def texts(self, price: Decimal) -> set[str]:
        """The ways a page may write the amount: with "." or "," as the decimal mark, grouped or not."""
        number = self.amount(price)
        if self.places:
            whole, decimals = f"{number:.{self.places}f}".split(".")
        else:
            whole, decimals = f"{number:.0f}", ""
        grouped = f"{int(whole):,}"
        out = set()
        for mark, group in ((".", ","), (",", "."), (",", " "), (".", " "), (".", "'")):
            for digits in (whole, grouped.replace(",", group)):
                out.add(f"{digits}{mark}{decimals}" if decimals else digits)
        return out


def _settings(db: Any, prefix: str, keys: Sequence[str]) -> dict[str, str]:
    marks = ",".join(["%s"] * len(keys))
    with db.cursor() as cur:
        cur.execute(
            f"SELECT `key`, value FROM {table(prefix, 'setting')} WHERE store_id = 0 "  # noqa: S608
            f"AND code = 'config' AND `key` IN ({marks})",
            list(keys),
        )
        return {str(k): str(v) for k, v in cur.fetchall()}


def read_currency(db: Any, prefix: str) -> Currency:
    """The default currency's code, decimals, rate and symbols (a store without a currency table: 2 places)."""
    code = _settings(db, prefix, ["config_currency"]).get("config_currency", "")
    try:
        with db.cursor() as cur:
            cur.execute(
                f"SELECT code, decimal_place, value, symbol_left, symbol_right FROM {table(prefix, 'currency')} "  # noqa: S608
                "WHERE code = %s",
                (code,),
            )
            row = cur.fetchone()
    except pymysql.err.ProgrammingError as exc:
        if exc.args and exc.args[0] == NO_SUCH_TABLE:
            return Currency(code)
        raise
    if not row:
        return Currency(code)
    places = int(row[1]) if str(row[1]).strip().isdigit() else 2
    return Currency(
        str(row[0]), places, Decimal(str(row[2] or 1)) or Decimal(1), str(row[3] or ""), str(row[4] or "")
    )


@dataclass(frozen=True)
class Expected:
    """What a product's page should show: its price (a quantity-1 discount replaces the base price) and,
    when one is active, the special shown over it; both as the page prints them."""

    product_id: int
    price: Decimal
    special: Decimal | None = None
    currency: Currency = field(default_factory=Currency)

    def describe(self) -> str:
        shown = f"{self.currency.amount(self.price)}"
        if self.special is not None:
            return f"{self.currency.amount(self.special)} (special; {shown} struck through)"
        return shown


def _rates(
    db: Any, prefix: str, settings: Mapping[str, str], group: int
) -> dict[int, list[tuple[str, Decimal]]]:
    """Tax class → its (type, rate) list for a guest, as Cart\\Tax is set up by catalog startup."""
    based = ["store"]
    if settings.get("config_tax_default") in ("shipping", "payment"):
        based.append(settings["config_tax_default"])
    country = int(settings.get("config_country_id") or 0)
    zone = int(settings.get("config_zone_id") or 0)
    marks = ",".join(["%s"] * len(based))
    sql = (
        "SELECT tr1.tax_class_id, tr2.tax_rate_id, tr2.type, tr2.rate "  # noqa: S608
        f"FROM {table(prefix, 'tax_rule')} tr1 LEFT JOIN {table(prefix, 'tax_rate')} tr2 "
        "ON (tr1.tax_rate_id = tr2.tax_rate_id) "
        f"INNER JOIN {table(prefix, 'tax_rate_to_customer_group')} tr2cg ON (tr2.tax_rate_id = tr2cg.tax_rate_id) "
        f"LEFT JOIN {table(prefix, 'zone_to_geo_zone')} z2gz ON (tr2.geo_zone_id = z2gz.geo_zone_id) "
        f"WHERE tr1.based IN ({marks}) AND tr2cg.customer_group_id = %s AND z2gz.country_id = %s "
        "AND (z2gz.zone_id = '0' OR z2gz.zone_id = %s) ORDER BY tr1.priority ASC"
    )
    try:
        with db.cursor() as cur:
            cur.execute(sql, [*based, group, country, zone])
            rows = cur.fetchall()
    except pymysql.err.ProgrammingError as exc:
        if exc.args and exc.args[0] == NO_SUCH_TABLE:
            return {}
        raise
    found: dict[int, dict[int, tuple[str, Decimal]]] = {}
    for class_id, rate_id, kind, rate in rows:
        if rate_id is not None:
            found.setdefault(int(class_id), {})[int(rate_id)] = (str(kind), Decimal(str(rate)))
    return {class_id: list(rates.values()) for class_id, rates in found.items()}


def with_tax(value: Decimal, rates: Sequence[tuple[str, Decimal]]) -> Decimal:
    """Cart\\Tax::calculate: a fixed rate adds its amount, a percentage its share of the value."""
    return value + sum((rate if kind == "F" else value * rate / 100 for kind, rate in rates), Decimal(0))


def _open(column: str) -> str:
    return (
        f"(({column}.date_start = '0000-00-00' OR {column}.date_start < NOW()) "
        f"AND ({column}.date_end = '0000-00-00' OR {column}.date_end > NOW()))"
    )


def _discounted(alias: str) -> str:
    """4.1's discount rows: F a fixed price, S an amount off, P a percentage off (facts B6)."""
    return (
        f"(CASE WHEN {alias}.type = 'P' THEN (p.price - (p.price * ({alias}.price / 100))) "
        f"WHEN {alias}.type = 'S' THEN (p.price - {alias}.price) ELSE {alias}.price END)"
    )


def expected_prices(
    db: Any, prefix: str, schema: PriceSchema, product_ids: Sequence[int], group: int
) -> dict[int, Expected]:
    """What each product's page should show now, worked out as the release's getProduct() does."""
    if not product_ids:
        return {}
    settings = _settings(
        db, prefix, ["config_tax", "config_tax_default", "config_country_id", "config_zone_id"]
    )
    currency = read_currency(db, prefix)
    discount_table, special_table = table(prefix, "product_discount"), table(prefix, "product_special")
    if schema.discount_type:  # 4.1: specials are product_discount rows with special = 1
        discount = (
            f"(SELECT {_discounted('pd2')} FROM {discount_table} pd2 WHERE pd2.product_id = p.product_id "
            f"AND pd2.customer_group_id = %s AND pd2.quantity = '1' AND pd2.special = '0' AND {_open('pd2')} "
            "ORDER BY pd2.priority ASC, pd2.price ASC LIMIT 1)"
        )
        special = (
            f"(SELECT {_discounted('ps')} FROM {discount_table} ps WHERE ps.product_id = p.product_id "
            f"AND ps.customer_group_id = %s AND ps.quantity = '1' AND ps.special = '1' AND {_open('ps')} "
            "ORDER BY ps.priority ASC, ps.price ASC LIMIT 1)"
        )
    else:
        discount = (
            f"(SELECT pd2.price FROM {discount_table} pd2 WHERE pd2.product_id = p.product_id "
            f"AND pd2.customer_group_id = %s AND pd2.quantity = '1' AND {_open('pd2')} "
            "ORDER BY pd2.priority ASC, pd2.price ASC LIMIT 1)"
        )
        special = (
            f"(SELECT ps.price FROM {special_table} ps WHERE ps.product_id = p.product_id "
            f"AND ps.customer_group_id = %s AND {_open('ps')} ORDER BY ps.priority ASC, ps.price ASC LIMIT 1)"
        )
    marks = ",".join(["%s"] * len(product_ids))
    with db.cursor() as cur:
        cur.execute(
            f"SELECT p.product_id, p.price, p.tax_class_id, {discount}, {special} "  # noqa: S608
            f"FROM {table(prefix, 'product')} p WHERE p.product_id IN ({marks})",
            [group, group, *product_ids],
        )
        rows = cur.fetchall()
    rates = _rates(db, prefix, settings, group) if settings.get("config_tax", "0") not in ("", "0") else {}
    expected: dict[int, Expected] = {}
    for product_id, price, tax_class, discount_price, special_price in rows:
        class_rates = rates.get(int(tax_class or 0), [])
        base = Decimal(str(discount_price)) if discount_price else Decimal(str(price))
        shown_special = None
        if special_price is not None and Decimal(str(special_price)) >= 0:
            shown_special = with_tax(Decimal(str(special_price)), class_rates)
        expected[int(product_id)] = Expected(
            int(product_id), with_tax(base, class_rates), shown_special, currency
        )
    return expected


def shows(html: str, expected: Expected) -> bool:
    """Whether the page shows the expected price (and special)."""
    text = " ".join(html.replace("\u00a0", " ").replace("&nbsp;", " ").split())
    wanted = [expected.price] + ([expected.special] if expected.special is not None else [])
    return all(any(t in text for t in expected.currency.texts(value)) for value in wanted)


def storefront_mismatches(
    reader: StorefrontReader,
    expected: Mapping[int, Expected] | Callable[[], Mapping[int, Expected]],
    product_ids: Sequence[int],
    *,
    timeout: float = 10.0,
) -> list[str]:
    """Open the products' pages (in parallel, through the `reader`, which takes back what the visits
    wrote) and report those that don't show what they should. `expected` may be a function: it is called
    while the pages load. Taxes, currency and caches are accounted for, so a mismatch is worth a human's
    look; it is still a warning, not a failure: the change itself is done and verified."""
    if not product_ids:
        return []
    reader.record(product_ids)  # before the pages load: expected() then has the database to itself
    with ThreadPoolExecutor(max_workers=1) as pool:
        loading = pool.submit(reader.product_pages, product_ids, timeout=timeout)
        wanted = expected() if callable(expected) else expected
        responses = loading.result()
    problems = []
    for product_id, response in zip(product_ids, responses, strict=True):
        if isinstance(response, Exception):
            problems.append(f"product {product_id}: storefront not reachable ({type(response).__name__})")
            continue
        want = wanted.get(product_id)
        if response.status_code != 200 or want is None or not shows(response.text, want):
            shown = want.describe() if want else "the product"
            problems.append(
                f"product {product_id}: the storefront page does not show {shown} "
                f"(HTTP {response.status_code}; a theme, a cache or an extension?)"
            )
    return problems
