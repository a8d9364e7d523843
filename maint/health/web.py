"""Page checks over HTTP, as a customer walks the shop: home → product → search → cart → checkout.

One requests.Session per store keeps the OCSESSID cookie, so the cart and checkout see what was
added. Transient connection errors are retried a bounded number of times (tenacity); a timeout is
not retried, so a slow store costs at most its timeout.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import requests
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

from maint.health import pages
from maint.health.grading import grade
from maint.health.model import CheckResult, CheckSpec, Observation, State
from maint.remote.http import describe_request_error  # noqa: F401  (re-exported for the probes)

USER_AGENT = "maint-health/0.1 (+agency monitoring)"
WEB_PROBES = ("reachable", "home", "product", "search", "cart", "checkout", "admin_login", "page_notices")
CANDIDATES = 4  # product pages read to find a buyable product when the database can't say


@dataclass(frozen=True)
class Purchase:
    """The product the cart and checkout checks buy, and why that one."""

    product_id: int
    quantity: int
    why: str


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, requests.ConnectionError) and not isinstance(exc, requests.Timeout)


@dataclass
class Fetched:
    status: int
    headers: Mapping[str, str]
    text: str
    url: str
    seconds: float


class PageError(Exception):
    """The page could not be fetched at all; the message is the evidence."""




@dataclass
class Browser:
    """A customer's browser for one store: a session with cookies, retries and per-request timeouts."""

    base_url: str
    attempts: int = 3
    session: requests.Session = field(default_factory=requests.Session)
    seen: list[tuple[str, str]] = field(default_factory=list)  # (url, body) of every page, for notices

    def __post_init__(self) -> None:
        self.base_url = self.base_url if self.base_url.endswith("/") else self.base_url + "/"
        self.session.headers["User-Agent"] = USER_AGENT

    def request(self, method: str, url: str, timeout: float, **kwargs: object) -> Fetched:
        @retry(
            retry=retry_if_exception(_transient),
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=0.2, max=1.0),
            reraise=True,
        )
        def once() -> requests.Response:
            return self.session.request(method, url, timeout=timeout, allow_redirects=True, **kwargs)  # type: ignore[arg-type]

        began = time.monotonic()
        try:
            response = once()
        except requests.RequestException as exc:
            raise PageError(describe_request_error(exc, timeout)) from None
        fetched = Fetched(
            response.status_code, response.headers, response.text, response.url, time.monotonic() - began
        )
        self.seen.append((url, fetched.text))
        return fetched

    def get(self, url: str, timeout: float) -> Fetched:
        return self.request("GET", urljoin(self.base_url, url), timeout)


@dataclass
class WebState:
    """What earlier page checks learned, for the later ones."""

    reachable: bool = True
    home_ok: bool = False
    home_html: str = ""
    product_id: int | None = None
    product_html: str = ""
    cart_ok: bool = False
    cart_product: int | None = None
    cart_product_html: str = ""


def check_reachable(url: str, spec: CheckSpec, st: WebState) -> Observation:
    """A TCP connection to the store's web server (the host check the page checks depend on)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    began = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=spec.timeout):
            pass
    except socket.gaierror:
        st.reachable = False
        return Observation(None, f"DNS: {host} does not resolve", State.CRITICAL)
    except TimeoutError:
        st.reachable = False
        return Observation(None, f"no answer from {host}:{port} within {spec.timeout:g}s", State.CRITICAL)
    except OSError as exc:
        st.reachable = False
        why = "connection refused (web server down?)" if isinstance(exc, ConnectionRefusedError) else str(exc)
        return Observation(None, f"{host}:{port}: {why}", State.CRITICAL)
    seconds = time.monotonic() - began
    return Observation(None, f"{host}:{port} accepts connections ({seconds * 1000:.0f} ms)")


def check_home(b: Browser, spec: CheckSpec, st: WebState, maintenance_expected: bool) -> Observation:
    page = b.get("", spec.timeout)
    seconds = round(page.seconds, 3)
    verdict = pages.classify_page(page.status, page.headers, page.text)
    if verdict.kind == "maintenance" and maintenance_expected:
        return Observation(seconds, "maintenance window (expected): HTTP 503", State.OK)
    if not verdict.ok:
        return Observation(seconds, verdict.evidence, State.CRITICAL)
    missing = pages.storefront_missing(page.text)
    if missing:
        found = pages.notices(page.text)
        noise = f", {len(found)} PHP notice(s)" if found else ""
        return Observation(
            seconds,
            f"HTTP {page.status} but not the storefront (no {', no '.join(missing)}{noise}): "
            f"{pages.excerpt(page.text)!r}",
            State.CRITICAL,
        )
    st.home_ok, st.home_html = True, page.text
    return Observation(seconds, f"HTTP {page.status} in {page.seconds:.2f}s")


def check_product(b: Browser, spec: CheckSpec, st: WebState) -> Observation:
    wanted = int(spec.params.get("product_id") or 0)
    ids = [wanted] if wanted else pages.product_ids(st.home_html)
    if not ids:
        return Observation("none", "the home page links no products (empty product list)", State.CRITICAL)
    page = b.get(f"index.php?route=product/product&product_id={ids[0]}", spec.timeout)
    verdict = pages.classify_page(page.status, page.headers, page.text)
    if not verdict.ok:
        return Observation(None, f"product {ids[0]}: {verdict.evidence}", State.CRITICAL)
    price = pages.product_price(page.text)
    if price is None:
        return Observation(None, f"product {ids[0]} page shows no price", State.CRITICAL)
    st.product_id, st.product_html = ids[0], page.text
    return Observation(price, f"product {ids[0]} ({pages.product_name(page.text) or 'no name'}) at {price}")


def check_search(b: Browser, spec: CheckSpec, st: WebState) -> Observation:
    term = str(spec.params.get("term") or "")
    if not term:
        name = pages.product_name(st.product_html)
        term = name.split()[0] if name else ""
    if not term:
        return Observation(None, "no search term (no product page read; set params.term)", State.UNKNOWN)
    page = b.request(
        "GET",
        urljoin(b.base_url, "index.php"),
        spec.timeout,
        params={"route": "product/search", "search": term},
    )
    verdict = pages.classify_page(page.status, page.headers, page.text)
    if not verdict.ok:
        return Observation(None, f"search {term!r}: {verdict.evidence}", State.CRITICAL)
    found = pages.search_results(page.text)
    if found == 0:
        return Observation(0, f"search for {term!r} returned no products", State.CRITICAL)
    return Observation(found, f"search for {term!r}: {found} product(s)")


def choose_purchase(
    b: Browser,
    spec: CheckSpec,
    st: WebState,
    named: int,
    purchase: Future[Purchase | None] | None,
    wait: float,
) -> Purchase | None:
    """The product to buy: the one the store names, else one the database says a customer can buy,
    else the first home-page product whose page shows no required option and no "Out Of Stock"."""
    if named:
        return Purchase(named, 0, "named in the store's health options")
    if purchase is not None:
        try:
            chosen = purchase.result(timeout=wait)
        except (FutureTimeout, Exception):  # noqa: BLE001 - the host side failed: fall back to the pages
            chosen = None
        if chosen is not None:
            return chosen
    for product_id in pages.product_ids(st.home_html)[:CANDIDATES]:
        if product_id == st.product_id:
            html = st.product_html
        else:
            page = b.get(f"index.php?route=product/product&product_id={product_id}", spec.timeout)
            if not pages.classify_page(page.status, page.headers, page.text).ok:
                continue
            html = page.text
        if pages.required_options(html) or pages.out_of_stock(html):
            continue
        st.cart_product, st.cart_product_html = product_id, html
        return Purchase(product_id, 0, "first home-page product without required options in stock")
    return None


def check_cart(
    b: Browser, spec: CheckSpec, st: WebState, named: int = 0,
    purchase: Future[Purchase | None] | None = None, wait: float = 15.0,
) -> Observation:  # fmt: skip
    chosen = choose_purchase(b, spec, st, named, purchase, wait)
    if chosen is None:
        return Observation(
            None,
            "no product a customer can buy (all disabled, out of stock or with required options?); "
            "name one: options.health.checkout.product",
            State.WARNING,
        )
    if st.cart_product != chosen.product_id:
        page = b.get(f"index.php?route=product/product&product_id={chosen.product_id}", spec.timeout)
        verdict = pages.classify_page(page.status, page.headers, page.text)
        if not verdict.ok:
            return Observation(
                None, f"product {chosen.product_id} ({chosen.why}): {verdict.evidence}", State.CRITICAL
            )
        st.cart_product, st.cart_product_html = chosen.product_id, page.text
    product_id, html = chosen.product_id, st.cart_product_html
    quantity = chosen.quantity or pages.quantity_field(html)
    add_url, style = pages.cart_add_url(html, b.base_url)
    page = b.request("POST", add_url, spec.timeout, data={"product_id": product_id, "quantity": quantity})
    broken = ""
    try:
        answer = json.loads(page.text)
    except ValueError:
        # PHP notices printed before the JSON (error display on) break the shop's own script,
        # so this is a failure either way; reading past them still tells whether the cart works.
        found = pages.notices(page.text)
        start = page.text.find('{"')
        try:
            answer = json.loads(page.text[start:]) if found and start >= 0 else None
        except ValueError:
            answer = None
        if answer is None:
            verdict = pages.classify_page(page.status, page.headers, page.text)
            return Observation(None, f"add to cart did not answer JSON: {verdict.evidence}", State.CRITICAL)
        broken = (
            f"add to cart answer starts with {len(found)} PHP notice(s), so the shop's script cannot read it"
        )
    if not isinstance(answer, dict):
        return Observation(None, f"add to cart answered {page.text[:80]!r}", State.CRITICAL)
    if answer.get("redirect") and not answer.get("success"):
        return Observation(
            None,
            f"product {product_id} needs options; name another: options.health.checkout.product",
            State.WARNING,
        )
    if not answer.get("success"):
        error = answer.get("error")
        detail = (
            "; ".join(map(str, error.values())) if isinstance(error, dict) else str(error or answer)[:120]
        )
        return Observation(None, f"add to cart of product {product_id} refused: {detail}", State.CRITICAL)
    if not b.session.cookies:
        why = f" ({broken}: headers already sent)" if broken else ""
        return Observation(
            None, f"add to cart answered without setting a session cookie{why}", State.CRITICAL
        )
    cart = b.get(pages.route_url(b.base_url, "checkout/cart", style), spec.timeout)
    verdict = pages.classify_page(cart.status, cart.headers, cart.text)
    if not verdict.ok:
        return Observation(None, f"cart page: {verdict.evidence}", State.CRITICAL)
    if not pages.cart_has_product(cart.text, product_id, pages.product_name(html)):
        return Observation(
            None, f"product {product_id} added but the cart page does not list it", State.CRITICAL
        )
    st.cart_ok = True
    if broken:
        return Observation(0, f"{broken} (the cart itself works)", State.CRITICAL)
    return Observation(
        1,
        f"product {product_id} x{quantity} ({chosen.why}) added; cart lists it "
        f"(cookie {', '.join(b.session.cookies.keys())})",
    )


def check_checkout(b: Browser, spec: CheckSpec, st: WebState) -> Observation:
    if not st.cart_ok:
        return Observation(None, "not checked: nothing in the cart", State.UNKNOWN)
    style = pages.cart_add_url(st.cart_product_html, b.base_url)[1]
    page = b.get(pages.route_url(b.base_url, "checkout/checkout", style), spec.timeout)
    verdict = pages.classify_page(page.status, page.headers, page.text)
    if not verdict.ok:
        return Observation(None, f"checkout: {verdict.evidence}", State.CRITICAL)
    if "checkout/cart" in page.url and "checkout/checkout" not in page.url:
        return Observation(
            None, f"checkout sends the customer back to the cart (product {st.cart_product})", State.CRITICAL
        )
    return Observation(None, f"checkout opens ({verdict.title or 'HTTP ' + str(page.status)})")


def check_admin_login(b: Browser, spec: CheckSpec, admin_dir: str) -> Observation:
    page = b.get(f"{admin_dir.strip('/')}/", spec.timeout)
    verdict = pages.classify_page(page.status, page.headers, page.text)
    if not verdict.ok:
        return Observation(None, f"admin: {verdict.evidence}", State.CRITICAL)
    if not pages.has_login_form(page.text):
        return Observation(
            None, f"admin page has no login form ({verdict.title or 'no title'})", State.CRITICAL
        )
    return Observation(None, f"login form at /{admin_dir.strip('/')}/")


def check_notices(b: Browser) -> Observation:
    found = [n for _, body in b.seen for n in pages.notices(body)]
    if not b.seen:
        return Observation(None, "no page read", State.UNKNOWN)
    return Observation(len(found), found[0] if found else f"none in {len(b.seen)} page(s)")


def run_web_checks(
    store: str,
    base_url: str,
    specs: list[CheckSpec],
    *,
    admin_dir: str = "admin",
    maintenance_expected: bool = False,
    attempts: int = 3,
    purchase: Future[Purchase | None] | None = None,
    purchase_wait: float = 15.0,
) -> list[CheckResult]:
    """Run the page checks of one store in customer order; each result graded on its own.

    ``purchase`` is answered by the host checks (a product the database says a customer can buy).
    """
    b = Browser(base_url, attempts=attempts)
    st = WebState()
    by_probe = {s.probe: s for s in specs}
    named = purchase_product(specs)
    steps: list[tuple[str, Callable[[CheckSpec], Observation]]] = [
        ("reachable", lambda s: check_reachable(b.base_url, s, st)),
        ("home", lambda s: check_home(b, s, st, maintenance_expected)),
        ("product", lambda s: check_product(b, s, st)),
        ("search", lambda s: check_search(b, s, st)),
        ("cart", lambda s: check_cart(b, s, st, named, purchase, purchase_wait)),
        ("checkout", lambda s: check_checkout(b, s, st)),
        ("admin_login", lambda s: check_admin_login(b, s, admin_dir)),
        ("page_notices", lambda s: check_notices(b)),
    ]
    results = []
    for probe, step in steps:
        spec = by_probe.get(probe)
        needs_home = probe in ("product", "search", "cart", "checkout")
        if spec is None:
            if probe == "home":
                # Later checks still need the home page's product links.
                _quiet_home(b, st)
            continue
        began = time.monotonic()
        if probe != "reachable" and not st.reachable:
            obs = Observation(None, "not checked: the web server is unreachable", State.UNKNOWN)
        elif needs_home and not st.home_ok:
            obs = Observation(None, "not checked: the home page failed", State.UNKNOWN)
        else:
            try:
                obs = step(spec)
            except PageError as exc:
                obs = Observation(None, str(exc), State.CRITICAL)
        results.append(grade(store, spec, obs, time.monotonic() - began))
    b.session.close()
    return results


def purchase_product(specs: list[CheckSpec]) -> int:
    """The product the store names for buying (checkout's, else cart's ``product_id``), or 0."""
    by_probe = {s.probe: s for s in specs}
    for probe in ("checkout", "cart"):
        spec = by_probe.get(probe)
        if spec is not None and int(spec.params.get("product_id") or 0):
            return int(spec.params["product_id"])
    return 0


def _quiet_home(b: Browser, st: WebState) -> None:
    try:
        page = b.get("", 10.0)
    except PageError:
        return
    if pages.classify_page(page.status, page.headers, page.text).ok and not pages.storefront_missing(
        page.text
    ):
        st.home_ok, st.home_html = True, page.text
