"""The storefront as a customer sees it, before and after an upgrade: pages work, prices are the same.

Reading pages must not change the shop's data: OpenCart 3 counts each product page visit in
`product.viewed`, 4.1 logs visits in `product_report`, and every request may start a session (3.0
keeps them in the database) and a cart. The StorefrontReader records those first and puts them back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import requests

from maint.health.pages import DB_ERROR_RE, FATAL_RE, cart_add_url, has_login_form, page_title, route_url
from maint.remote.sql import table
from maint.storefront.reader import MONEY as MONEY
from maint.storefront.reader import StorefrontReader as StorefrontReader
from maint.storefront.reader import price_block as price_block
from maint.upgrade.target import Target

SAMPLE = 8  # products without a special or discount whose price is compared too
PAGE_TIMEOUT = 60


@dataclass
class Counts:
    product: int
    customer: int
    order: int

    def as_dict(self) -> dict[str, int]:
        return {"product": self.product, "customer": self.customer, "order": self.order}


@dataclass
class Before:
    counts: Counts
    prices: dict[int, list[str]] = field(default_factory=dict)
    log_size: int = 0


def _has_table(db: Any, name: str) -> bool:
    with db.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
                    (name,))
        return bool(cur.fetchone()[0])


def counts(target: Target) -> Counts:
    p = target.prefix
    with target.db() as db, db.cursor() as cur:
        values = []
        for name in ("product", "customer", "order"):
            cur.execute(f"SELECT COUNT(*) FROM {table(p, name)}")
            values.append(int(cur.fetchone()[0]))
    return Counts(*values)


def priced_products(target: Target) -> list[int]:
    """Enabled products with a special or a quantity discount, then a sample of the others."""
    p = target.prefix
    with target.db() as db, db.cursor() as cur:
        special = []
        for name in ("product_special", "product_discount"):
            if _has_table(db, p + name):
                cur.execute(f"SELECT DISTINCT product_id FROM {table(p, name)}")
                special += [int(r[0]) for r in cur.fetchall()]
        cur.execute(f"SELECT product_id FROM {table(p, 'product')} WHERE status = 1 ORDER BY product_id")
        enabled = [int(r[0]) for r in cur.fetchall()]
    chosen = sorted(set(special) & set(enabled))
    others = [pid for pid in enabled if pid not in chosen]
    step = max(1, len(others) // SAMPLE)
    return chosen + others[::step][:SAMPLE]


def page_problem(name: str, response: requests.Response) -> str:
    """'' when the page is a working storefront page, else what is wrong with an excerpt."""
    body = response.text
    if response.status_code != 200:
        return f"{name}: HTTP {response.status_code}"
    for pattern in (FATAL_RE, DB_ERROR_RE):
        hit = pattern.search(body)
        if hit:
            text = re.sub(r"<[^>]+>", "", body[max(0, hit.start() - 20): hit.start() + 220])
            return f"{name}: {' '.join(text.split())[:200]}"
    if not page_title(body):
        return f"{name}: no page title; the body starts {' '.join(re.sub(r'<[^>]+>', ' ', body).split())[:160]!r}"
    return ""


def buyable_product(target: Target) -> tuple[int, int] | None:
    """(product_id, minimum quantity) of a product a customer can put in the cart and check out."""
    p = target.prefix
    with target.db() as db, db.cursor() as cur:
        cur.execute(f"SELECT `value` FROM {table(p, 'setting')} WHERE store_id = 0 AND `key` = 'config_stock_checkout'")
        row = cur.fetchone()
        stock_checkout = bool(row and str(row[0]) == "1")
        no_options = (f"AND NOT EXISTS (SELECT 1 FROM {table(p, 'product_option')} po WHERE po.product_id = "
                      "p.product_id AND po.required = 1) " if _has_table(db, p + "product_option") else "")
        cur.execute(
            f"SELECT p.product_id, GREATEST(p.minimum, 1) FROM {table(p, 'product')} p "
            f"WHERE p.status = 1 AND p.date_available <= NOW() AND (p.quantity > 0 OR %s) {no_options}"
            "ORDER BY p.quantity DESC, p.product_id LIMIT 1", (1 if stock_checkout else 0,))
        row = cur.fetchone()
    return (int(row[0]), int(row[1])) if row else None


def check_pages(reader: StorefrontReader) -> tuple[list[str], list[str]]:
    """(passed, problems) for home, a product, search, add to cart, the cart, checkout and the admin login."""
    target = reader.target
    passed: list[str] = []
    problems: list[str] = []

    def look(name: str, response: requests.Response) -> bool:
        problem = page_problem(name, response)
        (problems.append(problem) if problem else passed.append(name))
        return not problem

    home = reader.get()
    if look("home", home) and "product_id=" not in home.text:
        problems.append("home: no product links on the home page")
    product = buyable_product(target)
    if product is None:
        problems.append("cart: no product a customer can buy (enabled, in stock, no required options)")
    else:
        pid, minimum = product
        page = reader.get("product/product", product_id=pid)
        if look("product", page):
            words = re.findall(r"<h1[^>]*>([^<]+)</h1>", page.text)
            word = (words[0].split() if words else ["a"])[0]
            look("search", reader.get("product/search", search=word))
            add_url, _style = cart_add_url(page.text, target.url)
            added = reader.http.post(add_url, data={"product_id": pid, "quantity": minimum}, timeout=PAGE_TIMEOUT)
            if added.status_code != 200 or '"error"' in added.text:
                problems.append(f"add to cart: HTTP {added.status_code} {added.text[:160]}")
            else:
                passed.append("add to cart")
                checkout = reader.http.get(route_url(target.url, "checkout/checkout", "slash"), timeout=PAGE_TIMEOUT,
                                           allow_redirects=False)
                if checkout.status_code in (301, 302, 303):
                    problems.append(f"checkout: sent back to {checkout.headers.get('Location', '?')}")
                else:
                    look("checkout", checkout)
    admin = reader.http.get(urljoin(target.url, target.admin_dir.strip("/") + "/"), timeout=PAGE_TIMEOUT)
    if admin.status_code == 200 and has_login_form(admin.text):
        passed.append("admin login")
    else:
        problems.append(f"admin login: HTTP {admin.status_code}, no login form")
    return passed, problems


def failing_pages(problems: list[str]) -> set[str]:
    """The page names of check_pages' problems ("checkout: ..." -> "checkout")."""
    return {problem.split(":", 1)[0] for problem in problems}


def new_problems(problems: list[str], baseline: set[str]) -> tuple[list[str], list[str]]:
    """(problems on pages that worked before, problems the store already had)."""
    new = [p for p in problems if p.split(":", 1)[0] not in baseline]
    return new, [p for p in problems if p not in new]


ERROR_LINE = re.compile(r"PHP (?:Fatal error|Parse error)|(?:^|\s-\s)(?!PHP (?:Unknown|Notice|Warning|Deprecated))"
                        r"(?:syntax error|Uncaught|Call to|Class .* not found|Error:)", re.IGNORECASE)


def log_size(target: Target) -> int:
    logs = target.path("DIR_LOGS")
    if not logs:
        return 0
    out = target.sh(f"stat -c %s '{logs}error.log' 2>/dev/null || echo 0", check=False).stdout.strip()
    return int(out) if out.isdigit() else 0


def new_log_errors(target: Target, since: int) -> list[str]:
    """Error lines (not deprecations or notices) written to DIR_LOGS/error.log after byte `since`."""
    logs = target.path("DIR_LOGS")
    if not logs:
        return []
    text = target.sh(f"tail -c +{since + 1} '{logs}error.log' 2>/dev/null | head -c 200000", check=False).stdout
    return [line.strip()[:240] for line in text.splitlines() if ERROR_LINE.search(line)]
