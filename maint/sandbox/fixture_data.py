"""Rows of the fixture store, generated from a seed.

Every table gets its own RNG seeded with (seed, table), so the rows of one table do not depend on
which other tables were generated first. Timestamps are fixed. Big tables are produced lazily (a
generator of tuples) so the builder can stream them into a TSV file for LOAD DATA LOCAL INFILE.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

ADMIN_USER = "admin"
ADMIN_PASSWORD = "Fixture-Admin-42"
# 4.x keeps bcrypt hashes; precomputed with PHP's password_hash() so the build stays deterministic.
_ADMIN_BCRYPT = "$2y$10$r2TuFjbmAjVhVPzd3QULv.FMBCK3Nm2/vfl2trc0qFbukSqVQW.9y"
CUSTOMER_PASSWORD = "customer"
_CUSTOMER_BCRYPT = "$2y$04$5HL2iafhazO.8mOLAZU6FeYPCU/4KB056bFL0sPIB1shojU1yAkBu"
_SALT = "fXt5aLt9Q"  # 3.0 keeps sha1(salt . sha1(salt . sha1(password))) with a 9-character salt

BASE_TIME = datetime(2024, 1, 1, 9, 0, 0)
DATE_ZERO = "0000-00-00"
GROUP_NAMES = ("Default", "Retail", "Wholesale")
_ADJECTIVES = ("Sturdy", "Compact", "Classic", "Deluxe", "Bright", "Silent", "Rapid", "Vintage", "Smart", "Solid")
_NOUNS = ("Widget", "Lamp", "Kettle", "Backpack", "Chair", "Camera", "Speaker", "Clock", "Mug", "Blender")
_FIRST = ("Anna", "Ben", "Clara", "David", "Eva", "Felix", "Greta", "Hugo", "Ida", "Jonas")
_LAST = ("Meyer", "Schmidt", "Novak", "Rossi", "Dubois", "Jensen", "Kowalski", "Silva", "Berg", "Costa")


@dataclass(frozen=True)
class TableRows:
    """Rows for one table: column names and an iterable of tuples in that order (None = NULL)."""

    table: str
    columns: tuple[str, ...]
    rows: Iterable[tuple[object, ...]]


def line_of(version: str) -> str:
    return "3.0" if version.startswith("3.") else "4.x"


def _rng(seed: int, table: str) -> random.Random:
    return random.Random(f"{seed}:{table}")


def _stamp(offset_hours: int = 0) -> str:
    return (BASE_TIME + timedelta(hours=offset_hours)).strftime("%Y-%m-%d %H:%M:%S")


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}00"


def sha1_salted(password: str, salt: str = _SALT) -> str:
    """OpenCart 3.0's password hash."""

    def sha1(text: str) -> str:
        return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 - reproducing OpenCart's scheme

    return sha1(salt + sha1(salt + sha1(password)))


def code_width(count: int) -> int:
    return max(5, len(str(count)))


def product_model(product_id: int, count: int) -> str:
    return f"M{product_id:0{code_width(count)}d}"


def product_sku(product_id: int, count: int) -> str:
    return f"SKU-{product_id:0{code_width(count)}d}"


def product_image(product_id: int) -> str:
    """Path (relative to image/) of a product's picture; also the name of a generated image file."""
    return f"catalog/products/{product_id // 1000:03d}/p{product_id:06d}.jpg"


LOGO_IMAGE = "catalog/logo.png"  # config_logo, under image/ as OpenCart keeps it


def currencies() -> TableRows:
    """The three currencies of OpenCart's sample data (USD the default, value 1)."""
    return TableRows(
        "currency",
        ("currency_id", "title", "code", "symbol_left", "symbol_right", "decimal_place", "value", "status",
         "date_modified"),
        [(1, "Pound Sterling", "GBP", "£", "", "2", 0.61250001, 1, _stamp()),
         (2, "US Dollar", "USD", "$", "", "2", 1.0, 1, _stamp()),
         (3, "Euro", "EUR", "", "€", "2", 0.78460002, 1, _stamp())],
    )


def product_price_cents(seed: int, count: int) -> Iterator[int]:
    rng = _rng(seed, "price")
    for _ in range(count):
        yield rng.randint(500, 50000)


# ------------------------------------------------------------------------------------------------
# big tables (streamed)


def home_first(seed: int, count: int) -> tuple[int, ...]:
    """The ids of the first products the home page lists (by name, as its query sorts them)."""
    first = heapq.nsmallest(2, ((name.lower(), pid) for pid, name in enumerate(product_names(seed, count), 1)))
    return tuple(pid for _, pid in first)


def stock_traps(seed: int, count: int) -> tuple[int | None, int | None]:
    """(out of stock, required option): as in the stock sample data (product 49 has quantity 0,
    42/30/35/47 have required options), the first products a customer sees can't simply be bought."""
    first = home_first(seed, count)
    return (first[0] if first else None, first[1] if len(first) > 1 else None)


def products(version: str, count: int, seed: int, image_files: int) -> TableRows:
    has_codes = version != "4.1.0.4"
    cols = ["product_id", "model"]
    if has_codes:
        cols += ["sku", "upc", "ean", "jan", "isbn", "mpn"]
    cols += [
        "location", "quantity", "stock_status_id", "image", "manufacturer_id", "shipping", "price", "points",
        "tax_class_id", "date_available", "weight", "weight_class_id", "length", "width", "height",
        "length_class_id", "subtract", "minimum", "sort_order", "status", "date_added", "date_modified",
    ]
    if version == "4.1.0.4":
        cols += ["master_id", "variant", "override", "rating"]
    else:
        cols += ["viewed"]

    empty = stock_traps(seed, count)[0]

    def rows() -> Iterator[tuple[object, ...]]:
        rng = _rng(seed, "product")
        for pid, cents in enumerate(product_price_cents(seed, count), start=1):
            row: list[object] = [pid, product_model(pid, count)]
            if has_codes:
                row += [product_sku(pid, count), "", "", "", "", ""]
            image = product_image(pid) if pid <= image_files else ""
            quantity = rng.randint(0, 500)
            row += [
                "", 0 if pid == empty else quantity, 7, image, rng.randint(0, 10), 1, _money(cents), 0, 9,
                "2024-01-01", f"{rng.randint(1, 5000) / 1000:.8f}", 1, "0.00000000", "0.00000000", "0.00000000",
                1, 1, 1, 0, 1, _stamp(), _stamp(),
            ]
            row += [0, "", "", 0] if version == "4.1.0.4" else [0]
            yield tuple(row)

    return TableRows("product", tuple(cols), rows())


def product_options(count: int, seed: int) -> TableRows:
    """One required option (a select) on the product stock_traps() names."""
    needs_option = stock_traps(seed, count)[1]
    rows = [(1, needs_option, 5, "", 1)] if needs_option else []
    return TableRows("product_option", ("product_option_id", "product_id", "option_id", "value", "required"), rows)


def product_stores(count: int) -> TableRows:
    return TableRows("product_to_store", ("product_id", "store_id"), ((pid, 0) for pid in range(1, count + 1)))


def product_names(seed: int, count: int) -> Iterator[str]:
    rng = _rng(seed, "product_description")
    for pid in range(1, count + 1):
        yield f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {pid}"


def product_descriptions(count: int, seed: int) -> TableRows:
    cols = ("product_id", "language_id", "name", "description", "tag", "meta_title", "meta_description",
            "meta_keyword")

    def rows() -> Iterator[tuple[object, ...]]:
        for pid, name in enumerate(product_names(seed, count), start=1):
            yield (pid, 1, name, f"&lt;p&gt;{name}: a fixture product.&lt;/p&gt;", "", name, "", "")

    return TableRows("product_description", cols, rows())


def _discount_cents(cents: int, percent_off: int) -> int:
    return cents * (100 - percent_off) // 100


def has_discounts(product_id: int) -> bool:
    return product_id % 4 == 1


def has_special(product_id: int) -> bool:
    return product_id % 5 == 2


def discount_tiers(groups: int) -> tuple[tuple[int, int, int], ...]:
    """(customer_group_id, quantity, percent off) of the quantity tiers every discounted product has."""
    tiers = [(1, 10, 10), (1, 20, 20)]
    if groups >= 3:
        tiers.append((3, 5, 15))
    elif groups >= 2:
        tiers.append((2, 5, 15))
    return tuple(tiers)


SPECIAL_PERCENT_OFF = 15


def discounts(version: str, count: int, seed: int, groups: int) -> TableRows:
    """Quantity tiers with fixed prices; on 4.1 also the specials (special=1, quantity=1), as 4.1 stores them."""
    is_41 = version == "4.1.0.4"
    cols = ["product_id", "customer_group_id", "quantity", "priority", "price"]
    cols += ["type", "special", "date_start", "date_end"] if is_41 else ["date_start", "date_end"]

    def rows() -> Iterator[tuple[object, ...]]:
        for pid, cents in enumerate(product_price_cents(seed, count), start=1):
            if has_discounts(pid):
                for group, qty, off in discount_tiers(groups):
                    price = _money(_discount_cents(cents, off))
                    extra: tuple[object, ...] = ("F", 0) if is_41 else ()
                    yield (pid, group, qty, 1, price, *extra, DATE_ZERO, DATE_ZERO)
            if is_41 and has_special(pid):
                yield (pid, 1, 1, 1, _money(_discount_cents(cents, SPECIAL_PERCENT_OFF)), "F", 1, DATE_ZERO, DATE_ZERO)

    return TableRows("product_discount", tuple(cols), rows())


def specials(count: int, seed: int) -> TableRows:
    cols = ("product_id", "customer_group_id", "priority", "price", "date_start", "date_end")

    def rows() -> Iterator[tuple[object, ...]]:
        for pid, cents in enumerate(product_price_cents(seed, count), start=1):
            if has_special(pid):
                yield (pid, 1, 1, _money(_discount_cents(cents, SPECIAL_PERCENT_OFF)), DATE_ZERO, DATE_ZERO)

    return TableRows("product_special", cols, rows())


def product_codes(count: int) -> TableRows:
    def rows() -> Iterator[tuple[object, ...]]:
        for pid in range(1, count + 1):
            yield (pid, "SKU", product_sku(pid, count))

    return TableRows("product_code", ("product_id", "code", "value"), rows())


def customers(version: str, count: int, seed: int, groups: int) -> TableRows:
    line30 = line_of(version) == "3.0"
    cols = ["customer_id", "customer_group_id", "store_id", "language_id", "firstname", "lastname", "email",
            "telephone", "password", "newsletter", "custom_field", "ip", "status", "safe", "token", "code",
            "date_added"]
    if line30:
        cols += ["fax", "salt", "cart", "wishlist", "address_id"]
    elif version == "4.1.0.4":
        cols += ["commenter"]
    password = sha1_salted(CUSTOMER_PASSWORD) if line30 else _CUSTOMER_BCRYPT

    def rows() -> Iterator[tuple[object, ...]]:
        rng = _rng(seed, "customer")
        for cid in range(1, count + 1):
            group = (cid - 1) % max(groups, 1) + 1
            row: list[object] = [
                cid, group, 0, 1, rng.choice(_FIRST), rng.choice(_LAST), f"customer{cid:05d}@example.test",
                f"555-{cid:05d}", password, rng.randint(0, 1), "", "127.0.0.1", 1, 0, "", "", _stamp(cid),
            ]
            if line30:
                row += ["", _SALT, "", "", 0]
            elif version == "4.1.0.4":
                row += [0]
            yield tuple(row)

    return TableRows("customer", tuple(cols), rows())


def orders(count: int, customer_count: int, seed: int, groups: int) -> TableRows:
    cols = ("order_id", "invoice_no", "store_id", "customer_id", "customer_group_id", "firstname", "lastname",
            "email", "total", "order_status_id", "currency_code", "date_added", "date_modified")

    def rows() -> Iterator[tuple[object, ...]]:
        rng = _rng(seed, "order")
        for oid in range(1, count + 1):
            cid = rng.randint(1, customer_count) if customer_count else 0
            group = (cid - 1) % max(groups, 1) + 1 if cid else 1
            email = f"customer{cid:05d}@example.test" if cid else f"guest{oid:05d}@example.test"
            yield (oid, 0, 0, cid, group, rng.choice(_FIRST), rng.choice(_LAST), email,
                   _money(rng.randint(500, 200000)), rng.choice((1, 2, 3, 5, 7)), "USD", _stamp(oid), _stamp(oid))

    return TableRows("order", cols, rows())


# ------------------------------------------------------------------------------------------------
# small tables


def settings(version: str, store_name: str) -> TableRows:
    line30 = line_of(version) == "3.0"
    values: list[tuple[str, str, object, int]] = [
        ("config", "config_name", store_name, 0),
        ("config", "config_owner", "Fixture Owner", 0),
        ("config", "config_email", "shop@example.test", 0),
        ("config", "config_telephone", "555-0100", 0),
        ("config", "config_meta_title", store_name, 0),
        ("config", "config_currency", "USD", 0),
        ("config", "config_logo", LOGO_IMAGE, 0),
        ("config", "config_maintenance", "0", 0),
        ("config", "config_stock_checkout", "0", 0),
        ("config", "config_error_display", "1", 0),
        ("config", "config_error_log", "1", 0),
        ("config", "config_error_filename", "error.log", 0),
        ("config", "config_seo_url", "0", 0),
        ("config", "config_customer_group_id", "1", 0),
        ("config", "config_customer_group_display", json.dumps(["1"]), 1),
    ]
    if line30:
        values += [
            ("config", "config_theme", "default", 0),
            ("theme_default", "theme_default_directory", "default", 0),
            ("theme_default", "theme_default_status", "1", 0),
            ("theme_default", "theme_default_product_limit", "15", 0),
            ("config", "config_language", "en-gb", 0),
            ("config", "config_admin_language", "en-gb", 0),
        ]
    else:
        values += [
            ("config", "config_theme", "basic", 0),
            ("config", "config_pagination", "10", 0),
            ("config", "config_language_admin", "en-gb", 0),
            ("config", "config_login_attempts", "5", 0),
            ("config", "config_user_2fa", "0", 0),
            ("config", "config_session_expire", "86400", 0),
            ("config", "config_session_samesite", "Strict", 0),
        ]
        lang_key = "config_language_catalog" if version == "4.1.0.4" else "config_language"
        values.append(("config", lang_key, "en-gb", 0))
    rows = [(i, 0, code, key, value, ser) for i, (code, key, value, ser) in enumerate(values, start=1)]
    return TableRows("setting", ("setting_id", "store_id", "code", "key", "value", "serialized"), rows)


def customer_groups(count: int) -> list[TableRows]:
    names = [GROUP_NAMES[i] if i < len(GROUP_NAMES) else f"Group {i + 1}" for i in range(count)]
    return [
        TableRows("customer_group", ("customer_group_id", "approval", "sort_order"),
                  [(i, 0, i) for i in range(1, count + 1)]),
        TableRows("customer_group_description", ("customer_group_id", "language_id", "name", "description"),
                  [(i, 1, name, f"{name} customers") for i, name in enumerate(names, start=1)]),
        # the sample data's reward points (products 1-3) and tax rates 86/87, for every group
        TableRows("product_reward", ("product_id", "customer_group_id", "points"),
                  [(pid, i, 10 * pid) for i in range(1, count + 1) for pid in (1, 2, 3)]),
        TableRows("tax_rate_to_customer_group", ("tax_rate_id", "customer_group_id"),
                  [(rate, i) for i in range(1, count + 1) for rate in (86, 87)]),
        TableRows("custom_field_customer_group", ("custom_field_id", "customer_group_id", "required"),
                  [(1, i, 0) for i in range(1, count + 1)]),
    ]


def extensions(version: str) -> list[TableRows]:
    line30 = line_of(version) == "3.0"
    pairs = [("payment", "cod"), ("shipping", "flat"), ("total", "sub_total"), ("total", "total"),
             ("module", "featured"), ("theme", "default" if line30 else "basic")]
    if version == "3.0.3.8":
        pairs.append(("payment", "divido"))  # shipped until 3.0.4.0 (CVE-2024-21514); the 3.0.5.1 upgrade drops it
    stamp = _stamp()
    if line30:
        out = [
            TableRows("extension", ("extension_id", "type", "code"),
                      [(i, t, c) for i, (t, c) in enumerate(pairs, start=1)]),
            TableRows("extension_install", ("extension_install_id", "extension_download_id", "filename", "date_added"),
                      [(1, 0, "fixture_banner.ocmod.zip", stamp), (2, 0, "fixture_seo.ocmod.zip", stamp)]),
            TableRows("extension_path", ("extension_path_id", "extension_install_id", "path", "date_added"),
                      [(1, 1, "catalog/controller/extension/module/fixture_banner.php", stamp),
                       (2, 2, "catalog/controller/extension/module/fixture_seo.php", stamp)]),
        ]
    else:
        install_cols = ["extension_install_id", "extension_id", "extension_download_id", "name", "code", "version",
                        "author", "link", "status", "date_added"]
        install_rows: list[tuple[object, ...]] = [
            (1, 0, 0, "Fixture Banner", "fixture_banner", "1.0.0", "Fixture", "", 1, stamp),
            (2, 0, 0, "Fixture SEO", "fixture_seo", "1.2.0", "Fixture", "", 1, stamp),
        ]
        if version == "4.1.0.4":
            install_cols.insert(4, "description")
            install_rows = [(*r[:4], f"{r[3]} extension", *r[4:]) for r in install_rows]
        out = [
            TableRows("extension", ("extension_id", "extension", "type", "code"),
                      [(i, "opencart", t, c) for i, (t, c) in enumerate(pairs, start=1)]),
            TableRows("extension_install", tuple(install_cols), install_rows),
            TableRows("extension_path", ("extension_path_id", "extension_install_id", "path"),
                      [(1, 1, "fixture_banner/admin/controller/module/banner.php"),
                       (2, 2, "fixture_seo/catalog/controller/seo.php")]),
        ]
    # The stock Featured module (opencart-facts: the same four sample products in 3.0.5.1 and 4.1.0.4),
    # its setting as PHP's json_encode writes it.
    if line30:
        featured = (28, "Home Page", "featured",
                    '{"name":"Home Page","product":["4","1","3","2"],"limit":"4","width":"200","height":"200",'
                    '"status":"1"}')
    else:
        featured = (2, "Featured", "opencart.featured",
                    '{"name":"Featured","product_name":"","product":["4","1","3","2"],"axis":"horizontal",'
                    '"limit":"4","width":"200","height":"200","status":"1"}')
    out.append(TableRows("module", ("module_id", "name", "code", "setting"), [featured]))
    if version in ("3.0.3.8", "3.0.5.1", "4.1.0.4"):
        out.append(modifications(version))
    return out


def _ocmod_xml(code: str, name: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<modification>\n'
        f"  <name>{name}</name>\n  <code>{code}</code>\n  <version>1.0</version>\n  <author>Fixture</author>\n"
        '  <file path="catalog/controller/common/footer.php">\n'
        '    <operation><search><![CDATA[$data[\'powered\']]]></search>'
        "<add position=\"after\"><![CDATA[// fixture]]></add></operation>\n  </file>\n</modification>\n"
    )


def modifications(version: str) -> TableRows:
    cols = ["modification_id", "extension_install_id", "name", "code", "author", "version", "link", "xml", "status",
            "date_added"]
    mods = [(1, 1, "Fixture Banner", "fixture_banner"), (2, 2, "Fixture SEO", "fixture_seo")]
    rows: list[tuple[object, ...]] = [
        (mid, inst, name, code, "Fixture", "1.0", "", _ocmod_xml(code, name), 1, _stamp())
        for mid, inst, name, code in mods
    ]
    if version == "4.1.0.4":
        cols.insert(3, "description")
        rows = [(*r[:3], f"{r[2]} OCMOD", *r[3:]) for r in rows]
    return TableRows("modification", tuple(cols), rows)


def languages(version: str) -> TableRows:
    if line_of(version) == "3.0":
        return TableRows("language", ("language_id", "name", "code", "locale", "image", "directory", "sort_order",
                                      "status"),
                         [(1, "English", "en-gb", "en-US,en_US.UTF-8,en_US,en-gb,english", "gb.png", "english", 1, 1)])
    return TableRows("language", ("language_id", "name", "code", "locale", "extension", "sort_order", "status"),
                     [(1, "English", "en-gb", "en-gb,en", "", 1, 1)])


EXTENSION_TYPES = ("module", "payment", "shipping", "total", "theme", "dashboard", "report", "analytics",
                   "captcha", "feed", "fraud")


def admin_users(version: str) -> list[TableRows]:
    # The Administrator group's routes the toolkit uses (the stock group has every route), written as PHP's
    # json_encode writes it, so a permission the installer adds and maint takes back leaves the same bytes.
    routes = ["common/dashboard", "setting/setting", "marketplace/modification", "marketplace/installer"]
    if line_of(version) == "3.0":
        routes += ["marketplace/install", *(f"extension/extension/{t}" for t in EXTENSION_TYPES)]
    else:
        routes += [f"extension/{t}" for t in EXTENSION_TYPES]
    permission = json.dumps({"access": routes, "modify": routes}, separators=(",", ":")).replace("/", "\\/")
    groups = TableRows("user_group", ("user_group_id", "name", "permission"), [(1, "Administrator", permission)])
    common = ["user_id", "user_group_id", "username", "password", "firstname", "lastname", "email", "image",
              "code", "ip", "status", "date_added"]
    if line_of(version) == "3.0":
        row: tuple[object, ...] = (1, 1, ADMIN_USER, sha1_salted(ADMIN_PASSWORD), "Fixture", "Admin",
                                   "admin@example.test", "", "", "127.0.0.1", 1, _stamp(), _SALT)
        return [groups, TableRows("user", (*common, "salt"), [row])]
    row = (1, 1, ADMIN_USER, _ADMIN_BCRYPT, "Fixture", "Admin", "admin@example.test", "", "", "127.0.0.1", 1,
           _stamp())
    return [groups, TableRows("user", tuple(common), [row])]
