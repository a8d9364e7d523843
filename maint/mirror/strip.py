"""Strip groups: tables whose rows hold personal data, dumped as structure only (`--strip customers,orders`).

Names are matched without the store's DB_PREFIX, so `oc_customer` and `shop2_customer` are both caught;
lookup tables (customer groups, order statuses) keep their rows so the copy still works.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

from maint.errors import InputError

GROUPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # group: (patterns, exceptions)
    "customers": (
        ("customer", "customer_*", "address", "affiliate*", "gdpr", "newsletter*", "coupon_history", "review"),
        ("customer_group", "customer_group_description"),
    ),
    "orders": (
        ("order", "order_*", "return", "return_history", "subscription", "subscription_history",
         "subscription_log", "voucher", "voucher_history", "customer_transaction", "customer_reward",
         "recurring_order*", "paypal_order*"),
        ("order_status",),
    ),
    "sessions": (("session", "api_session", "customer_online", "customer_token", "user_login", "cart"), ()),
}


def parse_groups(text: str) -> list[str]:
    """`customers,orders` → ["customers", "orders"], rejecting unknown names."""
    groups = [g.strip() for g in text.split(",") if g.strip()]
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise InputError(f"unknown strip group(s) {', '.join(unknown)}; known: {', '.join(GROUPS)}", column="--strip")
    return groups


def stripped_tables(tables: Iterable[str], prefix: str, groups: Iterable[str]) -> list[str]:
    """The full table names (with prefix) that the groups strip, in input order."""
    chosen = [GROUPS[g] for g in groups]
    out = []
    for name in tables:
        if prefix and not name.startswith(prefix):
            continue
        base = name[len(prefix) :]
        for patterns, exceptions in chosen:
            if base in exceptions:
                continue
            if any(fnmatchcase(base, p) for p in patterns):
                out.append(name)
                break
    return out
