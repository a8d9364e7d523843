"""One reader for storefront pages, for every check that opens them (prices after an apply, the upgrade's
verification, extensions, product lists): pages are fetched under one session id of the reader's own,
and what the visits wrote into the shop's data is taken back afterwards.

What a page visit writes, per release (catalog/controller/product/product.php and the session library):
- 3.0: `product.viewed` + 1 for every product page served (the client's "most viewed" report), and a
  session row in `session` (3.0's default session engine is the database);
- 4.0/4.1: a `product_report` row per product page when `config_product_report_status` is on, and a
  session file `DIR_SESSION/sess_<id>` (or a `session` row when the store keeps sessions in the database);
- any release: `cart` rows for what the reader put in the cart.

A product's view counter is read before the reader first opens its page and, afterwards, lowered by the
views the reader caused, never more than it rose: visits customers made meanwhile still count, and a
page a cache served without counting is not counted off. Report rows are removed only when they are
newer than the reader's start and for the products it opened; session and cart rows only for the
reader's own session ids.
"""

from __future__ import annotations

import re
import secrets
import shlex
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any, Protocol

import requests

from maint.health import pages
from maint.remote.sql import table

PAGE_TIMEOUT = 60
SESSION_COOKIE = "OCSESSID"  # system/config/default.php session_name, 3.0 and 4.x
_SESSION_ID = re.compile(r"[A-Za-z0-9,-]{22,64}")  # what 3.0 and 4.x accept as a session id
_SIDE_TABLES = ("product_report", "session", "cart")


class StoreSide(Protocol):
    """What the reader needs of a store: its storefront URL (trailing slash), table prefix, a database
    connection, its paths (DIR_SESSION) and a shell there (to remove session files)."""

    @property
    def url(self) -> str: ...

    @property
    def prefix(self) -> str: ...

    def db(self) -> AbstractContextManager[Any]: ...

    def path(self, key: str) -> str: ...

    def sh(self, command: str, *, check: bool = ...) -> Any: ...


def new_session_id() -> str:
    # 32 letters and digits: accepted by 3.0 (22-52 of [a-zA-Z0-9,-]) and 4.x ([a-zA-Z0-9]{26,32})
    return secrets.token_hex(16)


class StorefrontReader:
    """Fetches storefront pages with one cookie session of its own and, on leaving the `with` block (or
    `undo_visits()`), takes back what the visits wrote."""

    def __init__(self, target: StoreSide, *, user_agent: str = "maint-storefront-check") -> None:
        # the caller's own store object (the upgrade's Target, prices' connections): its checks read more of it
        self.target: Any = target
        self.session_id = new_session_id()
        self.http = requests.Session()
        self.http.headers["User-Agent"] = user_agent
        self.http.cookies.set(SESSION_COOKIE, self.session_id)
        self._tables: set[str] = set()
        self._counts_views = False
        self._viewed: dict[int, int] = {}  # view counter before the reader's first visit
        self._recorded: set[int] = set()  # products whose counter was read (or found missing)
        self._served: Counter[int] = Counter()  # product pages served to the reader
        self._report_max: int | None = None

    def __enter__(self) -> StorefrontReader:
        p = self.target.prefix
        with self.target.db() as db, db.cursor() as cur:
            names = {p + n: n for n in _SIDE_TABLES}
            cur.execute(
                "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
                f"AND TABLE_NAME IN ({', '.join(['%s'] * len(names))})",
                list(names),
            )
            self._tables = {names[str(r[0])] for r in cur.fetchall() if str(r[0]) in names}
            cur.execute(
                "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
                "AND TABLE_NAME = %s AND COLUMN_NAME = 'viewed'",
                (p + "product",),
            )
            self._counts_views = bool(cur.fetchone()[0])
            if "product_report" in self._tables:
                cur.execute(f"SELECT COALESCE(MAX(product_report_id), 0) FROM {table(p, 'product_report')}")  # noqa: S608
                self._report_max = int(cur.fetchone()[0])
        return self

    def __exit__(self, *exc: object) -> None:
        self.undo_visits()

    def record(self, product_ids: Iterable[int]) -> None:
        """Read the view counters of products whose pages are about to be opened (once per product)."""
        ids = sorted({int(i) for i in product_ids} - self._recorded)
        self._recorded.update(ids)
        if not ids or not self._counts_views:
            return
        with self.target.db() as db, db.cursor() as cur:
            cur.execute(
                f"SELECT product_id, viewed FROM {table(self.target.prefix, 'product')} "  # noqa: S608
                f"WHERE product_id IN ({', '.join(['%s'] * len(ids))})",
                ids,
            )
            self._viewed.update({int(a): int(b or 0) for a, b in cur.fetchall()})

    def get(self, route: str = "", **query: Any) -> requests.Response:
        """A storefront page: the home page, or index.php?route=…&… of the store's URL."""
        product_id = int(query["product_id"]) if route == "product/product" and "product_id" in query else None
        if product_id is not None:
            self.record([product_id])
        url = self.target.url if not route else route_url(self.target.url, route, **query)
        response = self.http.get(url, timeout=PAGE_TIMEOUT)
        if product_id is not None and response.status_code == 200:
            self._served[product_id] += 1  # the product was found and shown: 3.0 counted a view
        return response

    def product_pages(self, product_ids: Sequence[int], *, timeout: float = PAGE_TIMEOUT) -> list[Any]:
        """The products' pages fetched in parallel (a response, or the exception that stopped it, each)."""
        self.record(product_ids)

        def fetch(product_id: int) -> Any:
            try:
                response = self.http.get(route_url(self.target.url, "product/product", product_id=product_id),
                                         timeout=timeout)
            except requests.RequestException as exc:
                return exc
            if response.status_code == 200:
                self._served[product_id] += 1
            return response

        if not product_ids:
            return []
        with ThreadPoolExecutor(max_workers=min(8, len(product_ids))) as pool:
            return list(pool.map(fetch, product_ids))

    def prices(self, product_ids: list[int]) -> dict[int, list[str]]:
        """The money amounts of each product page's price area (`price_block`), pages fetched in parallel."""
        out: dict[int, list[str]] = {}
        for pid, page in zip(product_ids, self.product_pages(product_ids), strict=True):
            if isinstance(page, Exception):
                raise page
            out[pid] = price_block(page.text)
        return out

    def session_ids(self) -> list[str]:
        """The reader's own session id and any other the store gave it instead."""
        found = {self.session_id, *(c.value for c in self.http.cookies if c.name == SESSION_COOKIE and c.value)}
        return sorted(s for s in found if s and _SESSION_ID.fullmatch(s))

    def undo_visits(self) -> None:
        p = self.target.prefix
        sessions = self.session_ids()
        with self.target.db() as db, db.cursor() as cur:
            if self._counts_views:
                for product_id, served in sorted(self._served.items()):
                    if product_id in self._viewed:
                        cur.execute(
                            f"UPDATE {table(p, 'product')} SET viewed = viewed - "  # noqa: S608
                            "LEAST(%s, GREATEST(CAST(viewed AS SIGNED) - %s, 0)) WHERE product_id = %s",
                            (served, self._viewed[product_id], product_id),
                        )
            if self._report_max is not None and self._served:
                ids = sorted(self._served)
                cur.execute(
                    f"DELETE FROM {table(p, 'product_report')} WHERE product_report_id > %s "  # noqa: S608
                    f"AND product_id IN ({', '.join(['%s'] * len(ids))})",
                    [self._report_max, *ids],
                )
            if sessions:
                marks = ", ".join(["%s"] * len(sessions))
                for name in ("session", "cart"):
                    if name in self._tables:
                        cur.execute(f"DELETE FROM {table(p, name)} WHERE session_id IN ({marks})", sessions)  # noqa: S608
            db.commit()
        self._served.clear()
        session_dir = self.target.path("DIR_SESSION")
        if session_dir and sessions:
            folder = session_dir.rstrip("/") + "/"
            self.target.sh("rm -f -- " + " ".join(shlex.quote(f"{folder}sess_{s}") for s in sessions), check=False)


def route_url(base: str, route: str, **query: Any) -> str:
    return pages.route_url(base, route, "slash", **query)


MONEY = re.compile(r"(?:[$€£¥]|\bR)\s?\d[\d.,\s]*\d|\d[\d.,]*\d\s?(?:€|zł|Kč|kr|Ft|lei|CHF)")


def price_block(html: str) -> list[str]:
    """The money amounts of a product page's own price area: between its <h1> and the product form
    (price, old price, tax line, quantity discounts), without related products or the cart total."""
    start = html.find("<h1")
    end = html.find('id="product"', start)
    if start < 0:
        return []
    block = re.sub(r"<[^>]+>", " ", html[start:end if end > 0 else start + 4000])
    return [" ".join(m.split()) for m in MONEY.findall(block)]
