"""What `fab flyer` and `fab mail` both start with: the store, the client's plan, and the plan's week."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from maint import render
from maint.billing.marketing import Allowance, allowance, marketing_of, week_start
from maint.billing.plans import PlanDef, load_plans
from maint.config import StoreConfig
from maint.flyer.service import now_utc
from maint.mail.campaign import sending_rate
from maint.tasks.common import TaskContext, emit_json


@dataclass(frozen=True)
class MarketingWeek:
    """One store of a client, its plan (None when the client has none) and today in the plan's time zone."""

    tc: TaskContext
    cfg: StoreConfig
    plan: PlanDef | None
    today: date
    zone: tzinfo

    @property
    def since(self) -> datetime:
        """Monday 00:00 of this week, as the plan counts weeks."""
        return week_start(self.today, self.zone)

    def allowance(self, kind: str, used: Sequence[str]) -> Allowance:
        return allowance(self.cfg.plan, self.plan, kind, used)

    def rate(self, flag: float) -> tuple[float, str]:
        """Messages per minute and its source: --rate, the store's, client's or agency's
        options.mail.rate_per_minute, the plan's marketing.rate_per_minute."""
        client, entry = self.tc.inventory.find_store(self.cfg.store)
        agency = self.tc.settings.raw.get("options")
        layers: list[tuple[str, Mapping[str, Any]]] = [
            (f"{client.file}: store {entry.name}", entry.options),
            (f"{client.file}: client {client.name}", client.options),
            ("fabric.yaml maint.options", agency if isinstance(agency, Mapping) else {}),
        ]
        return sending_rate(flag, layers, self.cfg.plan, marketing_of(self.plan).rate_per_minute)


def marketing_week(c: Any, store: str) -> MarketingWeek:
    """The store from the inventory and its client's plan from plans.yaml; before any connection opens."""
    tc = TaskContext.from_c(c)
    cfg = tc.store(store)
    plans = load_plans(tc.settings.plans_file)
    plan = plans.get(cfg.plan) if cfg.plan else None
    return MarketingWeek(tc, cfg, plan, now_utc().astimezone(plans.timezone).date(), plans.timezone)


def done(summary: dict[str, Any], as_json: bool, message: str, warnings: Sequence[str]) -> None:
    """The run's last words: the JSON envelope, or the message and one line per warning."""
    summary["warnings"] = list(warnings or [])
    if as_json:
        emit_json([summary])
        return
    con = render.console()
    if message:
        con.print(message, highlight=False, markup=False, soft_wrap=True)
    for w in warnings or []:
        con.print(f"warning: {w}", highlight=False, markup=False, soft_wrap=True)
