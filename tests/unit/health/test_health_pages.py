"""Captured pages (fixtures/health/pages/<case>.html + <case>.yaml) against what the parser reads."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from maint.health import pages

PAGES = Path(__file__).resolve().parents[3] / "fixtures" / "health" / "pages"
CASES = sorted(p.stem for p in PAGES.glob("*.yaml"))


def load(case: str) -> tuple[dict, str]:
    meta = yaml.safe_load((PAGES / f"{case}.yaml").read_text())
    return meta, (PAGES / f"{case}.html").read_text()


@pytest.mark.parametrize("case", CASES)
def test_page_is_classified_and_read_as_captured(case: str) -> None:
    meta, html = load(case)
    expect = meta["expect"]
    verdict = pages.classify_page(meta["status"], meta.get("headers") or {}, html)
    assert verdict.kind == expect["kind"], verdict.evidence
    assert len(pages.notices(html)) == expect["notices"]
    if "product_ids" in expect:
        assert pages.product_ids(html) == expect["product_ids"]
    if "price" in expect:
        assert pages.product_price(html) == expect["price"]
    if "name" in expect:
        assert pages.product_name(html) == expect["name"]
    if "results" in expect:
        assert pages.search_results(html) == expect["results"]
    if "cart_style" in expect:
        assert pages.cart_add_url(html, "http://127.0.0.1:8080/")[1] == expect["cart_style"]
    if "cart_has" in expect:
        # [product id the cart lists (or null), product id it does not list]
        listed, absent = expect["cart_has"]
        if listed is not None:
            assert pages.cart_has_product(html, listed)
        assert not pages.cart_has_product(html, absent)
    if "login_form" in expect:
        assert pages.has_login_form(html) is expect["login_form"]
    if "storefront" in expect:
        assert (pages.storefront_missing(html) == []) is expect["storefront"]


def test_a_dead_4023_home_page_is_a_php_fatal_whose_evidence_quotes_the_error() -> None:
    _, html = load("home_4023_parse_error_200")
    verdict = pages.classify_page(200, {}, html)
    assert verdict.kind == "php_fatal"
    assert 'syntax error, unexpected identifier "error"' in verdict.evidence


def test_a_3038_page_of_deprecation_notices_only_is_not_the_storefront() -> None:
    _, html = load("home_3038_deprecations_only_200")
    assert pages.storefront_missing(html) == ["title", "header or product links", "cart link"]
    assert pages.excerpt(html).startswith("Unknown : Creation of dynamic property Registry::$load")


def test_41_exception_text_is_a_php_fatal() -> None:
    body = (
        'Error: syntax error, unexpected identifier "error"\nFile: /srv/s/home.php\nLine: 1\n\nBacktrace: 0\n'
    )
    assert pages.classify_page(200, {}, body).kind == "php_fatal"


def test_required_options_stock_and_minimum_are_read_from_a_product_page() -> None:
    html = (
        '<div id="product"><div class="form-group required"><select name="option[227]"></select></div>'
        '<input type="text" name="quantity" value="2" /></div>'
        '<form id="form-review"><div class="form-group required"><input name="name"/></div></form>'
        "<li>Availability: Out Of Stock</li>"
    )
    assert pages.required_options(html) == 1 and pages.quantity_field(html) == 2 and pages.out_of_stock(html)
    assert pages.required_options('<form id="form-product"><input name="quantity" value="1"/></form>') == 0


def test_empty_500_evidence_says_the_body_was_empty() -> None:
    assert pages.classify_page(500, {}, "").evidence == "HTTP 500 with an empty body"


def test_db_error_evidence_quotes_the_message_without_tags() -> None:
    _, html = load("home_41_db_error_200")
    evidence = pages.classify_page(200, {}, html).evidence
    assert "Could not make a database link" in evidence and "<b>" not in evidence


def test_notices_ignore_opencart_alert_texts() -> None:
    assert pages.notices('<div class="alert">Warning: You must agree to the Privacy Policy!</div>') == []


def test_route_url_uses_the_store_method_separator() -> None:
    base = "http://127.0.0.1:8080/"
    assert pages.route_url(base, "checkout/cart/add", "dot").endswith("route=checkout/cart.add")
    assert pages.route_url(base, "checkout/cart/add", "slash").endswith("route=checkout/cart/add")
    assert pages.route_url(base, "checkout/checkout", "dot").endswith("route=checkout/checkout")
