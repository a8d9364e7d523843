"""Where each release keeps what the tasks change (facts part B3.3, B6)."""

from __future__ import annotations

from dataclasses import dataclass

from maint.errors import PreconditionError


@dataclass(frozen=True)
class PriceSchema:
    line: str
    sku_in_product_code: bool  # 4.1 moved sku/upc/ean/… to product_code(code, value)
    special_table: str | None  # 3.0 / 4.0: product_special; 4.1: product_discount rows with special=1
    discount_type: bool  # 4.1: product_discount.type F/S/P (default P) and .special
    clear_product_cache: bool  # 4.x keeps prices in cache.product.* for an hour


def price_schema(version: str) -> PriceSchema:
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    if parts[:1] == (3,):
        return PriceSchema("3.0", False, "product_special", False, False)
    if parts == (4, 0):
        return PriceSchema("4.0", False, "product_special", False, True)
    if parts[:1] == (4,) and len(parts) == 2 and parts[1] >= 1:
        return PriceSchema("4.1", True, None, True, True)
    raise PreconditionError(f"prices: OpenCart {version} is not supported (3.0.x, 4.0.x, 4.1.x are)")
