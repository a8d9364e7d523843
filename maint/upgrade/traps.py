"""Data traps of an upgrade pair, captured before and repaired after the release's own upgrader.

- 3.0: patch 1006 runs `UPDATE modification SET status = 0`, disabling every OCMOD modification, and
  wipes the modification cache. Those that were on are switched on again and the cache rebuilt the way the
  admin's Modifications → Refresh does (through a temporary admin user; maint.upgrade.admin).
- 4.0 → 4.1: quantity discounts gain a `type` column defaulting to 'P', so fixed prices are read as
  percentages off, and product_special is left behind (4.1 reads specials from product_discount rows with
  special=1 and quantity=1). The discounts that existed are marked fixed ('F') and the specials carried over,
  so the storefront shows the prices it showed before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from maint.remote.sql import table
from maint.upgrade.target import Target


def _has_table(db: Any, name: str) -> bool:
    with db.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
                    "AND TABLE_NAME = %s", (name,))
        return bool(cur.fetchone()[0])


def _columns(db: Any, name: str) -> set[str]:
    with db.cursor() as cur:
        cur.execute("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
                    "AND TABLE_NAME = %s", (name,))
        return {str(r[0]) for r in cur.fetchall()}


@dataclass
class TrapState:
    from_line: str
    to_line: str
    enabled_modifications: list[tuple[int, str]] = field(default_factory=list)
    discount_ids: list[int] = field(default_factory=list)
    specials: list[tuple[Any, ...]] = field(default_factory=list)

    @property
    def needs_repair(self) -> bool:
        return bool(self.enabled_modifications or self.discount_ids or self.specials)

    def describe(self) -> list[str]:
        """What the plan says about this pair's traps."""
        out = []
        if self.from_line.startswith("3") and self.to_line.startswith("3"):
            names = ", ".join(name for _, name in self.enabled_modifications) or "none are on"
            out.append(f"the 3.0 upgrader switches every OCMOD modification off: switched on again and the "
                       f"modification cache rebuilt afterwards ({names})")
        if self.from_line == "4.0" and self.to_line.startswith("4.1"):
            out.append(f"4.0 → 4.1 reads fixed quantity discounts as percentages and drops specials: "
                       f"{len(self.discount_ids)} discount(s) kept as fixed prices, {len(self.specials)} special(s) "
                       f"carried into product_discount")
        return out


def line_of(version: str) -> str:
    return ".".join(version.split(".")[:2])


def capture(target: Target, from_version: str, to_version: str) -> TrapState:
    state = TrapState(line_of(from_version), line_of(to_version))
    p = target.prefix
    with target.db() as db, db.cursor() as cur:
        if state.from_line.startswith("3") and _has_table(db, p + "modification"):
            cur.execute(f"SELECT modification_id, name FROM {table(p, 'modification')} WHERE status = 1 "
                        "ORDER BY modification_id")
            state.enabled_modifications = [(int(r[0]), str(r[1])) for r in cur.fetchall()]
        if state.from_line == "4.0" and state.to_line.startswith("4.1"):
            cur.execute(f"SELECT product_discount_id FROM {table(p, 'product_discount')} ORDER BY 1")
            state.discount_ids = [int(r[0]) for r in cur.fetchall()]
            if _has_table(db, p + "product_special"):
                cur.execute(f"SELECT product_id, customer_group_id, priority, price, date_start, date_end "
                            f"FROM {table(p, 'product_special')} ORDER BY product_special_id")
                state.specials = [tuple(r) for r in cur.fetchall()]
    return state


def repair(target: Target, state: TrapState) -> list[str]:
    """Undo what the release's upgrader did to the shop's data; returns what was done, in words."""
    done: list[str] = []
    p = target.prefix
    with target.db() as db, db.cursor() as cur:
        if state.enabled_modifications:
            ids = [mid for mid, _ in state.enabled_modifications]
            marks = ", ".join(["%s"] * len(ids))
            cur.execute(f"UPDATE {table(p, 'modification')} SET status = 1 WHERE modification_id IN ({marks})", ids)
            done.append(f"{len(ids)} OCMOD modification(s) switched on again")
        if state.discount_ids and "type" in _columns(db, p + "product_discount"):
            marks = ", ".join(["%s"] * len(state.discount_ids))
            cur.execute(f"UPDATE {table(p, 'product_discount')} SET `type` = 'F', special = 0 "
                        f"WHERE product_discount_id IN ({marks})", state.discount_ids)
            done.append(f"{len(state.discount_ids)} quantity discount(s) kept as fixed prices (type F)")
        if state.specials and "special" in _columns(db, p + "product_discount"):
            cur.executemany(
                f"INSERT INTO {table(p, 'product_discount')} (product_id, customer_group_id, quantity, priority, "
                "price, `type`, special, date_start, date_end) VALUES (%s, %s, 1, %s, %s, 'F', 1, %s, %s)",
                state.specials)
            done.append(f"{len(state.specials)} special(s) carried into product_discount (special=1, fixed)")
    return done
