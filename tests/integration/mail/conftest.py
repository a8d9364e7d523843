"""A sandbox of the flyer and mail tests' own: s30 = 3.0.5.1 (product_special), s4 = 4.1.0.4 (specials in
product_discount, SKU in product_code).

The stand-in stores keep prices without tax: `prepare_flyer_store` adds tax rules as a real install has
them (OpenCart's sample data: tax class 9 = 20 % VAT + 2.00 eco tax, based on the shipping address, UK as
the store's country), bigger product pictures and a logo of its own.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from invoke import Config, Context
from PIL import Image, ImageDraw

from maint.sandbox import Sandbox, StoreSpec
from maint.sandbox.fixture_data import product_image

STORES = (StoreSpec("s30", "3.0.5.1"), StoreSpec("s4", "4.1.0.4"))
IMAGED = tuple(range(1, 16))  # products given a real JPEG (the others keep the fixture's unreadable bytes)
LOGO = "catalog/logo.png"

_TABLES = [
    "CREATE TABLE IF NOT EXISTS `{p}tax_rule` (tax_rule_id int(11) NOT NULL AUTO_INCREMENT PRIMARY KEY, "
    "tax_class_id int(11) NOT NULL, tax_rate_id int(11) NOT NULL, based varchar(10) NOT NULL, "
    "priority int(5) NOT NULL DEFAULT 1)",
    "CREATE TABLE IF NOT EXISTS `{p}tax_rate` (tax_rate_id int(11) NOT NULL AUTO_INCREMENT PRIMARY KEY, "
    "geo_zone_id int(11) NOT NULL DEFAULT 0, name varchar(32) NOT NULL, rate decimal(15,4) NOT NULL DEFAULT 0, "
    "type char(1) NOT NULL, date_added datetime NOT NULL, date_modified datetime NOT NULL)",
    "CREATE TABLE IF NOT EXISTS `{p}tax_rate_to_customer_group` (tax_rate_id int(11) NOT NULL, "
    "customer_group_id int(11) NOT NULL, PRIMARY KEY (tax_rate_id, customer_group_id))",
    "CREATE TABLE IF NOT EXISTS `{p}zone_to_geo_zone` (zone_to_geo_zone_id int(11) NOT NULL AUTO_INCREMENT "
    "PRIMARY KEY, country_id int(11) NOT NULL, zone_id int(11) NOT NULL DEFAULT 0, geo_zone_id int(11) NOT NULL, "
    "date_added datetime NOT NULL, date_modified datetime NOT NULL)",
]
_ROWS = [
    "INSERT INTO `{p}tax_rate` VALUES (86, 3, 'VAT (20%)', 20.0000, 'P', NOW(), NOW()), "
    "(87, 3, 'Eco Tax (-2.00)', 2.0000, 'F', NOW(), NOW())",
    "INSERT INTO `{p}tax_rule` VALUES (121, 10, 86, 'payment', 1), (120, 10, 87, 'store', 0), "
    "(128, 9, 86, 'shipping', 1), (127, 9, 87, 'shipping', 2)",
    # the stand-in seeds these links itself now (group deletion removes them); IGNORE keeps either way
    "INSERT IGNORE INTO `{p}tax_rate_to_customer_group` VALUES (86, 1), (87, 1)",
    "INSERT INTO `{p}zone_to_geo_zone` VALUES (57, 222, 0, 3, NOW(), NOW())",
]
_SETTINGS = {
    "config_tax": "1", "config_tax_default": "shipping", "config_country_id": "222", "config_zone_id": "3563",
    "config_logo": LOGO, "config_name": "Fixture Outfitters",
}


def product_jpeg(product_id: int) -> bytes:
    """A decodable product picture: a coloured tile with the product's number."""
    hue = (product_id * 47) % 255
    image = Image.new("RGB", (400, 400), (hue, 140, 255 - hue))
    draw = ImageDraw.Draw(image)
    draw.ellipse((60, 60, 340, 340), fill=(255, 255, 255))
    draw.text((170, 180), f"#{product_id}", fill=(20, 20, 20))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def logo_png() -> bytes:
    image = Image.new("RGBA", (480, 120), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, 479, 119), radius=24, fill=(11, 61, 92, 255))
    draw.text((40, 50), "FIXTURE OUTFITTERS", fill=(255, 255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def prepare_flyer_store(sandbox: Sandbox, name: str) -> None:
    store = sandbox.store(name)
    with sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
        for sql in _TABLES + _ROWS:
            cur.execute(sql.format(p=store.prefix))
        for key, value in _SETTINGS.items():
            cur.execute(f"DELETE FROM `{store.prefix}setting` WHERE store_id = 0 AND `key` = %s", (key,))
            cur.execute(
                f"INSERT INTO `{store.prefix}setting` (store_id, code, `key`, value, serialized) "
                "VALUES (0, 'config', %s, %s, 0)",
                (key, value),
            )
        db.commit()
    images = store.root / "image"
    for pid in IMAGED:
        (images / product_image(pid)).write_bytes(product_jpeg(pid))
    (images / LOGO).write_bytes(logo_png())


@pytest.fixture(scope="package")
def mail_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    missing = [t for t in ("/usr/sbin/mariadbd", "/usr/sbin/sshd", "php") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"sandbox services not installed: {', '.join(missing)}")
    with Sandbox(tmp_path_factory.mktemp("mail-sandbox"), STORES) as sb:
        for spec in STORES:
            prepare_flyer_store(sb, spec.name)
        yield sb


@pytest.fixture
def task_context(mail_sandbox: Sandbox, tmp_path: Path) -> Callable[..., Context]:
    """(smtp=None) → an invoke Context as `fab` configures it, with a state folder of the test's own."""

    def make(smtp: dict[str, Any] | None = None, **extra: Any) -> Context:
        config = mail_sandbox.maint_config() | {"state_dir": str(tmp_path / "state")} | extra
        if smtp is not None:
            config["smtp"] = smtp
        return Context(Config(overrides={"maint": config}))

    return make


@pytest.fixture
def store_sql(mail_sandbox: Sandbox) -> Callable[..., list[tuple[Any, ...]]]:
    """(store, sql, params) → rows, as the database's admin (for test set-up and checks)."""

    def run(name: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        store = mail_sandbox.store(name)
        with mail_sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
            cur.execute(sql.replace("{p}", store.prefix), params)
            rows = list(cur.fetchall())
            db.commit()
            return rows

    return run
