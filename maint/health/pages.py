"""Read storefront and admin pages the way a customer would see them (pure parsing, no I/O).

Status codes alone lie (opencart-facts B6): 4.x prints database errors with HTTP 200, 3.0 answers
500 with an empty body when the database is down, maintenance is 503, and 3.0.3.8 on PHP 8.2
sprinkles deprecation notices through every page. So every page is also read as text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, urljoin, urlsplit

from bs4 import BeautifulSoup

DB_ERROR_RE = re.compile(
    r"Could not make a database link|Error No:\s*\d+|SQLSTATE\[|mysqli_sql_exception|Unknown database"
)
FATAL_RE = re.compile(
    r"(?:<b>)?(?:PHP )?(Fatal error|Parse error|Fatal Error)(?:</b>)?:|Uncaught [A-Za-z\\]+:"
    # OpenCart 4.0's exception handler: "<b>syntax error, …</b>: in <b>/…/home.php</b> on line <b>1</b>"
    r"|<b>[^<]{1,400}</b>: in <b>[^<]+</b> on line <b>\d+</b>"
    # 4.1's: "Error: message", "File: …", "Line: N" on lines of their own
    r"|^Error: [^\n]{1,400}\nFile: [^\n]+\nLine: \d+",
    re.MULTILINE,
)
# A PHP notice as PHP itself or OpenCart's error handler prints it: "<b>Warning</b>: msg in <b>file</b> on line <b>n</b>".
# Requiring "in FILE on line N" keeps OpenCart's own alert texts ("Warning: You must agree…") out.
NOTICE_RE = re.compile(
    r"(?:<b>)?(Deprecated|Warning|Notice|Unknown|Strict Standards)(?:</b>)?:\s+(.{1,400}?)\s+in\s+"
    r"(?:<b>)?(/\S+?)(?:</b>)?\s+on line\s+(?:<b>)?(\d+)",
    re.DOTALL,
)
MONEY_RE = re.compile(r"(?:[$€£¥]\s?\d[\d.,]*\d|\d[\d.,]*\d?\s?(?:€|zł|Kč|kr|Ft|lei|CHF))")
EMPTY_SEARCH_RE = re.compile(r"no product that matches the search criteria", re.IGNORECASE)
EMPTY_CART_RE = re.compile(r"Your shopping cart is empty", re.IGNORECASE)


@dataclass(frozen=True)
class PageVerdict:
    kind: str  # ok, maintenance, db_error, php_fatal, server_error, http_error, blank
    evidence: str
    title: str = ""

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


def _text_excerpt(html: str, start: int, limit: int = 160) -> str:
    snippet = BeautifulSoup(html[start : start + limit * 3], "html.parser").get_text(" ")
    return " ".join(snippet.split())[:limit]


def page_title(html: str) -> str:
    match = re.search(r"<title[^>]*>(.*?)</title>", html, re.IGNORECASE | re.DOTALL)
    return " ".join(match.group(1).split()) if match else ""


def classify_page(status: int, headers: Mapping[str, str], body: str) -> PageVerdict:
    """What a customer gets: a working page or which kind of failure, with a short evidence text."""
    title = page_title(body)
    retry_after = any(k.lower() == "retry-after" for k in headers)
    if status == 503 and (retry_after or "maintenance" in title.lower()):
        return PageVerdict("maintenance", f"HTTP 503 maintenance page ({title or 'no title'})", title)
    if match := DB_ERROR_RE.search(body):
        return PageVerdict(
            "db_error", f"HTTP {status} database error: {_text_excerpt(body, max(match.start() - 60, 0))}"
        )
    if match := FATAL_RE.search(body):
        return PageVerdict(
            "php_fatal", f"HTTP {status} PHP fatal error: {_text_excerpt(body, match.start())}"
        )
    if status >= 500:
        detail = "an empty body" if not body.strip() else repr(title or _text_excerpt(body, 0, 80))
        return PageVerdict("server_error", f"HTTP {status} with {detail}", title)
    if status >= 400:
        return PageVerdict("http_error", f"HTTP {status} ({title or 'no title'})", title)
    if not body.strip():
        return PageVerdict("blank", f"HTTP {status} with a blank page")
    return PageVerdict("ok", f"HTTP {status}", title)


def storefront_missing(html: str) -> list[str]:
    """What a working storefront page has and this page lacks: title, header, cart (empty: a storefront).

    A controller that dies on a parse error still answers HTTP 200 (4.0.2.3 with only the error,
    3.0.3.8 with its deprecation notices and nothing else), so the page itself must be recognised.
    A header or product links will do (an empty catalogue is the product check's finding, and a
    theme may drop the header element).
    """
    soup = BeautifulSoup(html, "html.parser")
    missing = []
    if not page_title(html):
        missing.append("title")
    if soup.find("header") is None and not soup.select_one("#logo, #top, #menu") and not product_ids(html):
        missing.append("header or product links")
    has_cart = soup.select_one("#cart, #header-cart") is not None or any(
        "checkout/cart" in str(a["href"]) for a in soup.find_all("a", href=True)
    )
    if not has_cart:
        missing.append("cart link")
    return missing


def excerpt(html: str, limit: int = 160) -> str:
    """The start of the page's visible text, on one line."""
    return _text_excerpt(html, 0, limit) or "(no visible text)"


def notices(body: str) -> list[str]:
    """PHP warnings/notices/deprecations printed into the page, as 'Kind: message (file:line)'."""
    found = []
    for m in NOTICE_RE.finditer(body):
        message = " ".join(re.sub(r"<[^>]+>", "", m.group(2)).split())[:120]
        found.append(f"{m.group(1)}: {message} ({m.group(3)}:{m.group(4)})")
    return found


def product_ids(html: str) -> list[int]:
    """Product ids linked from a page, in page order, without repeats."""
    soup = BeautifulSoup(html, "html.parser")
    ids: list[int] = []
    for link in soup.find_all("a", href=True):
        query = parse_qs(urlsplit(str(link["href"])).query)
        if query.get("route", [""])[0].startswith("product/product") and query.get("product_id"):
            raw = query["product_id"][0]
            if raw.isdigit() and int(raw) not in ids:
                ids.append(int(raw))
    return ids


def product_price(html: str) -> str | None:
    """The price a product page shows, or None when it shows none."""
    soup = BeautifulSoup(html, "html.parser")
    content = soup.find(id="content") or soup
    candidates = [
        *content.select(".price-new, .price, .product-price, [itemprop=price]"),
        *content.find_all("h2"),
    ]
    for element in candidates:
        match = MONEY_RE.search(element.get_text(" "))
        if match:
            return match.group(0).strip()
    return None


def product_name(html: str) -> str:
    soup = BeautifulSoup(html, "html.parser")
    content = soup.find(id="content") or soup
    heading = content.find("h1")
    return " ".join(heading.get_text(" ").split()) if heading else ""


def search_results(html: str) -> int:
    """How many products a search results page lists (0 for the 'no product matches' page)."""
    soup = BeautifulSoup(html, "html.parser")
    return (
        len(soup.select(".product-thumb, .product-layout .product-thumb"))
        if not EMPTY_SEARCH_RE.search(html)
        else 0
    )


def cart_add_url(product_html: str, base_url: str) -> tuple[str, str]:
    """The add-to-cart endpoint and route style ('dot' for 4.0.2+, 'pipe' for 4.0.0/4.0.1, else 'slash')."""
    soup = BeautifulSoup(product_html, "html.parser")
    form = soup.find("form", id="form-product")
    button = soup.find(id="button-cart")
    action = ""
    if form is not None and form.get("action"):
        action = str(form["action"])
    elif button is not None and button.get("data-action"):
        action = str(button["data-action"])
    if action:
        style = "dot" if "cart.add" in action else "pipe" if "cart|add" in action else "slash"
        return urljoin(base_url, action), style
    if "checkout/cart.add" in product_html:
        return urljoin(base_url, "index.php?route=checkout/cart.add"), "dot"
    if "checkout/cart|add" in product_html:
        return urljoin(base_url, "index.php?route=checkout/cart|add"), "pipe"
    return urljoin(base_url, "index.php?route=checkout/cart/add"), "slash"


def route_url(base_url: str, route: str, style: str, **query: str | int) -> str:
    """A storefront URL for a route written with '/' (e.g. 'checkout/cart'), in the store's style."""
    from urllib.parse import urlencode

    if style == "dot" and route.count("/") > 1:
        head, _, method = route.rpartition("/")
        route = f"{head}.{method}"
    params = {"route": route, **{k: str(v) for k, v in query.items()}}
    return urljoin(base_url, "index.php?" + urlencode(params, safe="/.|"))


def has_login_form(html: str) -> bool:
    soup = BeautifulSoup(html, "html.parser")
    return (
        soup.find("input", attrs={"name": "username"}) is not None
        and soup.find("input", attrs={"type": "password"}) is not None
    )


def cart_has_product(html: str, product_id: int, name: str = "") -> bool:
    """Whether a cart page lists the product (by link, data attribute, or name in the cart table)."""
    if EMPTY_CART_RE.search(html):
        return False
    if product_id in product_ids(html):
        return True
    soup = BeautifulSoup(html, "html.parser")
    if soup.select_one(f'[data-product-id="{int(product_id)}"]') is not None:
        return True
    content = soup.find(id="content") or soup
    return bool(name) and name in content.get_text(" ")


def _product_form(html: str) -> BeautifulSoup:
    """The add-to-cart part of a product page: 3.0's div#product, 4.x's form#form-product."""
    soup = BeautifulSoup(html, "html.parser")
    return soup.find(id="form-product") or soup.find(id="product") or soup  # type: ignore[return-value]


def required_options(html: str) -> int:
    """Required options a product page asks for (OpenCart marks their group with class "required")."""
    return len(_product_form(html).select(".required"))


def out_of_stock(html: str) -> bool:
    """Whether a product page says the product is out of stock (its stock text, in English)."""
    return re.search(r"Availability:\s*(?:</[^>]+>\s*)*Out Of Stock", html, re.IGNORECASE) is not None


def quantity_field(html: str) -> int:
    """The quantity a product page pre-fills: the product's minimum (1 when absent)."""
    field = _product_form(html).find("input", attrs={"name": "quantity"})
    raw = str(field.get("value") or "") if field is not None else ""
    return int(raw) if raw.isdigit() and int(raw) > 0 else 1
