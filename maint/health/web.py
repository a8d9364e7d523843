"""Page checks over HTTP, as a customer walks the shop: home → product → search → cart → checkout.

One requests.Session per store keeps the OCSESSID cookie, so the cart and checkout see what was
added. Transient connection errors are retried a bounded number of times (tenacity); a timeout is
not retried, so a slow store costs at most its timeout.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin

import requests
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

from maint.health import pages
from maint.health.grading import grade
from maint.health.model import CheckResult, CheckSpec, Observation, State
from maint.remote.http import describe_request_error  # noqa: F401  (re-exported for the probes)

USER_AGENT = "maint-health/0.1 (+agency monitoring)"
WEB_PROBES = ("home", "product", "search", "cart", "checkout", "admin_login", "page_notices")


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

    home_ok: bool = False
    home_html: str = ""
    product_id: int | None = None
    product_html: str = ""
    cart_ok: bool = False


def check_home(b: Browser, spec: CheckSpec, st: WebState, maintenance_expected: bool) -> Observation:
    page = b.get("", spec.timeout)
    verdict = pages.classify_page(page.status, page.headers, page.text)
    if verdict.kind == "maintenance" and maintenance_expected:
        return Observation(round(page.seconds, 3), "maintenance window (expected): HTTP 503", State.OK)
    if not verdict.ok:
        return Observation(round(page.seconds, 3), verdict.evidence, State.CRITICAL)
    st.home_ok, st.home_html = True, page.text
    return Observation(round(page.seconds, 3), f"HTTP {page.status} in {page.seconds:.2f}s")


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


def check_cart(b: Browser, spec: CheckSpec, st: WebState) -> Observation:
    if st.product_id is None:
        return Observation(None, "not checked: no product page to add from", State.UNKNOWN)
    add_url, style = pages.cart_add_url(st.product_html, b.base_url)
    page = b.request("POST", add_url, spec.timeout, data={"product_id": st.product_id, "quantity": 1})
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
            f"product {st.product_id} needs options; set options.health.cart.params.product_id",
            State.WARNING,
        )
    if not answer.get("success"):
        error = answer.get("error")
        detail = (
            "; ".join(map(str, error.values())) if isinstance(error, dict) else str(error or answer)[:120]
        )
        return Observation(None, f"add to cart refused: {detail}", State.CRITICAL)
    if not b.session.cookies:
        why = f" ({broken}: headers already sent)" if broken else ""
        return Observation(
            None, f"add to cart answered without setting a session cookie{why}", State.CRITICAL
        )
    cart = b.get(pages.route_url(b.base_url, "checkout/cart", style), spec.timeout)
    verdict = pages.classify_page(cart.status, cart.headers, cart.text)
    if not verdict.ok:
        return Observation(None, f"cart page: {verdict.evidence}", State.CRITICAL)
    if not pages.cart_has_product(cart.text, st.product_id, pages.product_name(st.product_html)):
        return Observation(
            None, f"product {st.product_id} added but the cart page does not list it", State.CRITICAL
        )
    st.cart_ok = True
    if broken:
        return Observation(0, f"{broken} (the cart itself works)", State.CRITICAL)
    return Observation(
        1, f"product {st.product_id} added; cart lists it (cookie {', '.join(b.session.cookies.keys())})"
    )


def check_checkout(b: Browser, spec: CheckSpec, st: WebState) -> Observation:
    if not st.cart_ok:
        return Observation(None, "not checked: nothing in the cart", State.UNKNOWN)
    style = pages.cart_add_url(st.product_html, b.base_url)[1]
    page = b.get(pages.route_url(b.base_url, "checkout/checkout", style), spec.timeout)
    verdict = pages.classify_page(page.status, page.headers, page.text)
    if not verdict.ok:
        return Observation(None, f"checkout: {verdict.evidence}", State.CRITICAL)
    if "checkout/cart" in page.url and "checkout/checkout" not in page.url:
        return Observation(None, "checkout sends the customer back to the cart", State.CRITICAL)
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
) -> list[CheckResult]:
    """Run the page checks of one store in customer order; each result graded on its own."""
    b = Browser(base_url, attempts=attempts)
    st = WebState()
    by_probe = {s.probe: s for s in specs}
    steps: list[tuple[str, Callable[[CheckSpec], Observation]]] = [
        ("home", lambda s: check_home(b, s, st, maintenance_expected)),
        ("product", lambda s: check_product(b, s, st)),
        ("search", lambda s: check_search(b, s, st)),
        ("cart", lambda s: check_cart(b, s, st)),
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
        if needs_home and not st.home_ok:
            obs = Observation(None, "not checked: the home page failed", State.UNKNOWN)
        else:
            try:
                obs = step(spec)
            except PageError as exc:
                obs = Observation(None, str(exc), State.CRITICAL)
        results.append(grade(store, spec, obs, time.monotonic() - began))
    b.session.close()
    return results


def _quiet_home(b: Browser, st: WebState) -> None:
    try:
        page = b.get("", 10.0)
    except PageError:
        return
    if pages.classify_page(page.status, page.headers, page.text).ok:
        st.home_ok, st.home_html = True, page.text
