"""A sandbox of the price tests' own (s3 = 3.0.3.8 MyISAM, s4 = 4.1.0.4 InnoDB, s40 = 4.0.2.3), so that
faults injected here can never disturb other areas' tests; it starts in about two seconds."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from invoke import Config, Context

from maint.sandbox import Sandbox, StoreSpec

STORES = (StoreSpec("s3", "3.0.3.8"), StoreSpec("s4", "4.1.0.4"), StoreSpec("s40", "4.0.2.3"))
PRICE_TABLES = (
    "product",
    "product_discount",
    "product_special",
    "product_code",
    "customer",
    "customer_group",
    "customer_group_description",
)


@pytest.fixture(scope="package")
def price_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    missing = [t for t in ("/usr/sbin/mariadbd", "/usr/sbin/sshd", "php") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"sandbox services not installed: {', '.join(missing)}")
    with Sandbox(tmp_path_factory.mktemp("prices-sandbox"), STORES) as sb:
        yield sb


@pytest.fixture
def task_context(price_sandbox: Sandbox) -> Context:
    """An invoke Context configured the way `fab` would configure it for the sandbox."""
    return Context(Config(overrides={"maint": price_sandbox.maint_config()}))


@pytest.fixture
def store_state(price_sandbox: Sandbox) -> Callable[[str], dict[str, Any]]:
    """name → CHECKSUM TABLE of every table the price tasks touch, plus a hash of the store's files."""

    def state(name: str) -> dict[str, Any]:
        store = price_sandbox.store(name)
        sums: dict[str, Any] = {}
        with price_sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
            for table in PRICE_TABLES:
                cur.execute(
                    "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
                    "AND TABLE_NAME = %s",
                    (store.prefix + table,),
                )
                if cur.fetchone()[0]:
                    cur.execute(f"CHECKSUM TABLE `{store.prefix}{table}` EXTENDED")
                    sums[table] = cur.fetchone()[1]
        digest = hashlib.sha256()
        for path in sorted(p for p in Path(store.root).rglob("*") if p.is_file() and "/cache/" not in str(p)):
            digest.update(str(path).encode() + path.read_bytes())
        sums["files"] = digest.hexdigest()
        return sums

    return state


@pytest.fixture
def prices_of(price_sandbox: Sandbox) -> Callable[[str, list[int]], dict[int, str]]:
    def read(name: str, ids: list[int]) -> dict[int, str]:
        store = price_sandbox.store(name)
        with price_sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
            marks = ",".join(["%s"] * len(ids))
            cur.execute(
                f"SELECT product_id, price FROM `{store.prefix}product` WHERE product_id IN ({marks})", ids
            )
            return {int(pid): str(price) for pid, price in cur.fetchall()}

    return read
