"""What a flyer needs from the store, read over SQL and SFTP: settings, currency, tax, products, images.

Release schemas differ (facts B3.3, B6): 3.0/4.0 keep specials in `product_special`, 4.1 in
`product_discount` rows with `special=1` and a `type`; 4.1 keeps the SKU in `product_code`.
`maint.pricing.schema.price_schema()` says which, for prices and flyers alike.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import paramiko
import pymysql.connections
from fabric import Connection

from maint.errors import FactError, InputError, PreconditionError
from maint.flyer.prices import Currency, PriceRow, Tax, TaxRate
from maint.pricing.schema import PriceSchema
from maint.remote.sql import query, table

SETTING_KEYS = (
    "config_name", "config_logo", "config_email", "config_currency", "config_tax", "config_customer_group_id",
    "config_language", "config_language_catalog", "config_country_id", "config_zone_id", "config_tax_default",
    "config_symbol_left_space", "config_symbol_right_space", "config_mail_engine", "config_mail_smtp_hostname",
    "config_mail_smtp_username", "config_mail_smtp_password", "config_mail_smtp_port", "config_mail_smtp_timeout",
)
MAX_IMAGE_BYTES = 20 * 1024 * 1024


def store_settings(db: pymysql.connections.Connection, prefix: str, keys: Sequence[str] = SETTING_KEYS,
                   store_id: int = 0) -> dict[str, str]:
    """A store's settings for `keys`; absent keys are left out. Another store of a multi-store install
    (store_id > 0) reads the default store's (0) with its own over them, as OpenCart's startup does; the
    mail settings exist only on store 0."""
    marks = ",".join(["%s"] * len(keys))
    rows = query(
        db, f"SELECT `key`, `value` FROM {table(prefix, 'setting')} WHERE store_id IN (0, %s) AND `key` IN ({marks}) "
            "ORDER BY store_id",
        (store_id, *keys),
    )
    return {str(k): "" if v is None else str(v) for k, v in rows}


def store_url(db: pymysql.connections.Connection, prefix: str, store_id: int, default: str) -> str:
    """The shop's address: config.php's for the default store, the `oc_store` row's for another."""
    if not store_id:
        return default
    rows = query(db, f"SELECT url FROM {table(prefix, 'store')} WHERE store_id = %s", (store_id,))
    if not rows:
        raise PreconditionError(f"store_id {store_id} (the inventory's store_id) has no row in the store's "
                                f"{table(prefix, 'store')} table")
    return str(rows[0][0] or default)


def existing_tables(db: pymysql.connections.Connection, prefix: str, names: Iterable[str]) -> set[str]:
    wanted = {prefix + n: n for n in names}
    rows = query(
        db,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() "
        f"AND table_name IN ({','.join(['%s'] * len(wanted))})",
        tuple(wanted),
    )
    return {wanted[r[0]] for r in rows if r[0] in wanted}


_LANG_MARK = re.compile(r"""\$_\[['"](decimal_point|thousand_point)['"]\]\s*=\s*(['"])(.*?)\2\s*;""")


def parse_language_marks(php: str) -> dict[str, str]:
    """decimal_point / thousand_point from a catalog language file (en-gb.php on 3.0, default.php on 4.x)."""
    return {m.group(1): m.group(3) for m in _LANG_MARK.finditer(php)}


@dataclass
class StoreData:
    name: str
    logo: str  # path under image/, or ""
    email: str
    url: str
    customer_group_id: int
    language_id: int
    language_code: str
    currency: Currency
    tax: Tax
    settings: Mapping[str, str] = field(repr=False)
    notes: list[str] = field(default_factory=list)


def read_store(
    db: pymysql.connections.Connection,
    prefix: str,
    url: str,
    language_file: Any,
    store_id: int = 0,
) -> StoreData:
    """The store's settings, language, currency and tax rules. `language_file(code) -> php text | None`."""
    settings = store_settings(db, prefix, store_id=store_id)
    notes: list[str] = []
    code = settings.get("config_language_catalog") or settings.get("config_language") or ""
    langs = query(db, f"SELECT language_id, code FROM {table(prefix, 'language')} ORDER BY sort_order, language_id")
    if not langs:
        raise PreconditionError("the store has no language rows")
    match = [r for r in langs if r[1] == code]
    language_id, language_code = (match[0] if match else langs[0])
    if not match:
        notes.append(f"catalog language {code!r} not found; using {language_code}")
    currency_code = settings.get("config_currency") or ""
    if "currency" not in existing_tables(db, prefix, ["currency"]):
        raise PreconditionError("the store has no currency table: prices can't be formatted as it shows them")
    rows = query(
        db,
        f"SELECT code, symbol_left, symbol_right, decimal_place, value FROM {table(prefix, 'currency')} WHERE code = %s",
        (currency_code,),
    )
    if not rows:
        raise PreconditionError(f"the store's currency {currency_code!r} (config_currency) has no currency row")
    code_, left, right, places, value = rows[0]
    marks = parse_language_marks(language_file(str(language_code)) or "")
    if not marks:
        notes.append(f"decimal marks of language {language_code} not readable; using '.' and ','")
    currency = Currency(
        str(code_), str(left or ""), str(right or ""), int(places or 0), Decimal(str(value or 1)),
        marks.get("decimal_point", "."), marks.get("thousand_point", ","),
        settings.get("config_symbol_left_space") == "1", settings.get("config_symbol_right_space") == "1",
    )
    group = int(settings.get("config_customer_group_id") or 1)
    tax = read_tax(db, prefix, settings, group)
    return StoreData(
        name=settings.get("config_name") or "",
        logo=settings.get("config_logo") or "",
        email=settings.get("config_email") or "",
        url=url,
        customer_group_id=group,
        language_id=int(language_id),
        language_code=str(language_code),
        currency=currency,
        tax=tax,
        settings=settings,
        notes=notes,
    )


TAX_TABLES = ("tax_rule", "tax_rate", "tax_rate_to_customer_group", "zone_to_geo_zone")


def read_tax(db: pymysql.connections.Connection, prefix: str, settings: Mapping[str, str], group: int) -> Tax:
    """The rates a guest pays: rules based on the store's address, and on the default shipping/payment
    address (`config_tax_default`), as Cart\\Tax sets them up for a visitor who is not logged in."""
    if settings.get("config_tax") != "1":
        return Tax(False, {})
    missing = set(TAX_TABLES) - existing_tables(db, prefix, TAX_TABLES)
    if missing:
        raise PreconditionError(f"the store shows prices with tax but has no {', '.join(sorted(missing))} table")
    country, zone = int(settings.get("config_country_id") or 0), int(settings.get("config_zone_id") or 0)
    based = ["store"]
    if settings.get("config_tax_default") in ("shipping", "payment"):
        based.append(settings["config_tax_default"])
    rows = query(
        db,
        f"SELECT tr1.tax_class_id, tr2.tax_rate_id, tr2.rate, tr2.type FROM {table(prefix, 'tax_rule')} tr1 "
        f"LEFT JOIN {table(prefix, 'tax_rate')} tr2 ON tr1.tax_rate_id = tr2.tax_rate_id "
        f"INNER JOIN {table(prefix, 'tax_rate_to_customer_group')} tr2cg ON tr2.tax_rate_id = tr2cg.tax_rate_id "
        f"LEFT JOIN {table(prefix, 'zone_to_geo_zone')} z2gz ON tr2.geo_zone_id = z2gz.geo_zone_id "
        f"WHERE tr1.based IN ({','.join(['%s'] * len(based))}) AND tr2cg.customer_group_id = %s "
        "AND z2gz.country_id = %s AND (z2gz.zone_id = 0 OR z2gz.zone_id = %s) ORDER BY tr1.priority",
        (*based, group, country, zone),
    )
    by_class: dict[int, dict[int, TaxRate]] = {}
    for class_id, rate_id, rate, kind in rows:
        if rate_id is None:
            continue
        by_class.setdefault(int(class_id), {})[int(rate_id)] = TaxRate(int(rate_id), Decimal(str(rate)), str(kind))
    return Tax(True, {k: tuple(v.values()) for k, v in by_class.items()})


@dataclass
class ProductRow:
    product_id: int
    name: str
    model: str
    sku: str
    price: Decimal
    tax_class_id: int
    image: str
    status: int
    date_available: str
    quantity: int
    in_store: bool = True
    discounts: list[PriceRow] = field(default_factory=list)
    specials: list[PriceRow] = field(default_factory=list)


def _date(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else str(value)


def resolve_keys(
    db: pymysql.connections.Connection, prefix: str, schema: PriceSchema, keys: Sequence[str], *, what: str
) -> list[int]:
    """Product ids for keys given as SKU, model or id (in that order of precedence), in the keys' order."""
    product = table(prefix, "product")
    out: list[int] = []
    for key in keys:
        key = key.strip()
        if not key:
            continue
        if schema.sku_in_product_code:
            rows = query(db, f"SELECT product_id FROM {table(prefix, 'product_code')} WHERE code = 'SKU' AND value = %s",
                         (key,))
        else:
            rows = query(db, f"SELECT product_id FROM {product} WHERE sku = %s", (key,))
        if not rows:
            rows = query(db, f"SELECT product_id FROM {product} WHERE model = %s", (key,))
        if not rows and key.isdigit():
            rows = query(db, f"SELECT product_id FROM {product} WHERE product_id = %s", (int(key),))
        ids = sorted({int(r[0]) for r in rows})
        if not ids:
            raise InputError(f"no product with SKU, model or id {key!r}", column=what)
        if len(ids) > 1:
            raise InputError(f"{key!r} names {len(ids)} products ({', '.join(map(str, ids))}); give the id",
                             column=what)
        if ids[0] not in out:
            out.append(ids[0])
    return out


def current_specials(
    db: pymysql.connections.Connection, prefix: str, schema: PriceSchema, group: int, today: date
) -> list[int]:
    """Products of enabled status with a special that holds today for the default group."""
    if schema.special_table:
        rows = query(db, f"SELECT product_id, priority, price, date_start, date_end FROM "
                         f"{table(prefix, schema.special_table)} WHERE customer_group_id = %s", (group,))
        specials = [(int(r[0]), PriceRow(1, int(r[1]), Decimal(str(r[2])), _date(r[3]), _date(r[4]))) for r in rows]
    else:
        rows = query(db, f"SELECT product_id, priority, price, date_start, date_end, type FROM "
                         f"{table(prefix, 'product_discount')} WHERE customer_group_id = %s AND special = 1 "
                         "AND quantity = 1", (group,))
        specials = [(int(r[0]), PriceRow(1, int(r[1]), Decimal(str(r[2])), _date(r[3]), _date(r[4]), str(r[5] or "P")))
                    for r in rows]
    ids = sorted({pid for pid, row in specials if row.holds_on(today)})
    if not ids:
        return []
    enabled = query(db, f"SELECT product_id FROM {table(prefix, 'product')} WHERE status = 1 AND product_id IN "
                        f"({','.join(['%s'] * len(ids))}) ORDER BY product_id", tuple(ids))
    return [int(r[0]) for r in enabled]


def read_products(
    db: pymysql.connections.Connection, prefix: str, schema: PriceSchema, ids: Sequence[int], group: int,
    language_id: int,
    store_id: int = 0,
) -> dict[int, ProductRow]:
    if not ids:
        return {}
    marks = ",".join(["%s"] * len(ids))
    product, desc = table(prefix, "product"), table(prefix, "product_description")
    sku = "''" if schema.sku_in_product_code else "p.sku"
    rows = query(
        db,
        f"SELECT p.product_id, COALESCE(pd.name, ''), p.model, {sku}, p.price, p.tax_class_id, COALESCE(p.image, ''), "
        f"p.status, p.date_available, p.quantity FROM {product} p LEFT JOIN {desc} pd "
        f"ON pd.product_id = p.product_id AND pd.language_id = %s WHERE p.product_id IN ({marks})",
        (language_id, *ids),
    )
    found = {
        # names are stored HTML-escaped (`Apple Cinema 30&quot;`); the storefront decodes them
        int(r[0]): ProductRow(int(r[0]), html.unescape(str(r[1])), str(r[2] or ""), str(r[3] or ""), Decimal(str(r[4])),
                              int(r[5] or 0), str(r[6] or ""), int(r[7] or 0), _date(r[8]) or "", int(r[9] or 0))
        for r in rows
    }
    if schema.sku_in_product_code:
        for pid, value in query(db, f"SELECT product_id, value FROM {table(prefix, 'product_code')} "
                                    f"WHERE code = 'SKU' AND product_id IN ({marks})", tuple(ids)):
            if int(pid) in found:
                found[int(pid)].sku = str(value)
    if "product_to_store" in existing_tables(db, prefix, ["product_to_store"]):
        in_store = {int(r[0]) for r in query(db, f"SELECT product_id FROM {table(prefix, 'product_to_store')} "
                                                 f"WHERE store_id = %s AND product_id IN ({marks})", (store_id, *ids))}
        for pid, row in found.items():
            row.in_store = pid in in_store
    discount = table(prefix, "product_discount")
    if schema.discount_type:
        for pid, qty, prio, price, start, end, kind, special in query(
            db, f"SELECT product_id, quantity, priority, price, date_start, date_end, type, special FROM {discount} "
                f"WHERE customer_group_id = %s AND product_id IN ({marks})", (group, *ids)):
            rule = PriceRow(int(qty), int(prio), Decimal(str(price)), _date(start), _date(end), str(kind or "P"))
            (found[int(pid)].specials if int(special or 0) == 1 else found[int(pid)].discounts).append(rule)
    else:
        for pid, qty, prio, price, start, end in query(
            db, f"SELECT product_id, quantity, priority, price, date_start, date_end FROM {discount} "
                f"WHERE customer_group_id = %s AND product_id IN ({marks})", (group, *ids)):
            found[int(pid)].discounts.append(PriceRow(int(qty), int(prio), Decimal(str(price)), _date(start), _date(end)))
        assert schema.special_table
        for pid, prio, price, start, end in query(
            db, f"SELECT product_id, priority, price, date_start, date_end FROM {table(prefix, schema.special_table)} "
                f"WHERE customer_group_id = %s AND product_id IN ({marks})", (group, *ids)):
            found[int(pid)].specials.append(PriceRow(1, int(prio), Decimal(str(price)), _date(start), _date(end)))
    return found


def fetch_image(conn: Connection, dir_image: str, path: str) -> bytes:
    """An image file from the store's image folder (DIR_IMAGE), over SFTP. FactError when unreadable."""
    if not path or ".." in path.split("/"):
        raise FactError(f"unusable image path {path!r}")
    full = dir_image.rstrip("/") + "/" + path.lstrip("/")
    try:
        with conn.sftp().open(full, "rb") as handle:
            data: bytes = handle.read(MAX_IMAGE_BYTES + 1)
    except FileNotFoundError:
        raise FactError(f"image {path} is not on the host") from None
    except (OSError, paramiko.SSHException) as exc:
        raise FactError(f"image {path} can't be read: {exc}") from None
    if len(data) > MAX_IMAGE_BYTES:
        raise FactError(f"image {path} is larger than {MAX_IMAGE_BYTES >> 20} MB")
    return data
