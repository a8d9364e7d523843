"""What a client's plan includes of flyers and bulk e-mail per week, and whether one more fits.

The offer counts three things a week (Monday to Sunday in the agency's time zone): flyers, the bulk
e-mail to the shop's own customers, and the separate e-mail to the client's own list. A campaign to
both the shop's customers and a list uses one of each. Pure: the tasks count what was made this week
(flyer folders, the mail journal) and hand the ids in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from maint.billing.plans import Marketing, PlanDef
from maint.errors import BudgetError

# kind → (the plan's key, what one is, what several are)
KINDS = {
    "flyer": ("flyers_per_week", "flyer", "flyers"),
    "mail": ("mails_per_week", "bulk e-mail to the shop's customers", "bulk e-mails to the shop's customers"),
    "list": ("list_mails_per_week", "e-mail to the client's own list", "e-mails to the client's own list"),
}


def week_start(day: date, zone: tzinfo) -> datetime:
    """Monday 00:00 of `day`'s week, in the agency's time zone."""
    return datetime.combine(day - timedelta(days=day.weekday()), datetime.min.time(), zone)


def marketing_of(plan: PlanDef | None) -> Marketing:
    return plan.marketing if plan is not None else Marketing()


@dataclass(frozen=True)
class Allowance:
    """One kind of the week's allowance: how many the plan includes and which were made already."""

    kind: str  # flyer | mail | list
    plan: str
    included: int
    used: tuple[str, ...]  # ids of this week's flyers / campaigns of this kind

    @property
    def what(self) -> str:
        return KINDS[self.kind][1]

    @property
    def over(self) -> bool:
        """One more would go beyond what the plan includes."""
        return len(self.used) >= self.included

    def describe(self) -> str:
        key = KINDS[self.kind][0]
        if self.included == 0:
            return f"plan {self.plan!r} includes no {self.what} (plans.yaml: marketing.{key})"
        used = f": {', '.join(self.used)}" if self.used else ""
        what = self.what if self.included == 1 else KINDS[self.kind][2]
        return f"plan {self.plan!r} includes {self.included} {what} a week, {len(self.used)} made this week{used}"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "plan": self.plan, "included": self.included, "used": list(self.used),
                "over": self.over}


def allowance(plan_name: str, plan: PlanDef | None, kind: str, used: Sequence[str]) -> Allowance:
    included = getattr(marketing_of(plan), KINDS[kind][0])
    return Allowance(kind, plan_name or "(none)", int(included), tuple(used))


def campaign_kinds(sources: Sequence[str]) -> set[str]:
    """Which allowances a campaign uses: `mail` for the shop's customers (newsletter, customers, group:…),
    `list` for the client's own list (list:…)."""
    kinds = {"list" if str(s).startswith("list:") else "mail" for s in sources}
    return kinds or {"mail"}


def refuse_beyond(allowances: Sequence[Allowance], client: str, *, over_budget: bool) -> None:
    """BudgetError (exit 62) when one more goes beyond the plan, unless `over_budget` says it is wanted."""
    beyond = [a for a in allowances if a.over]
    if beyond and not over_budget:
        raise BudgetError(f"{client}: " + "; ".join(a.describe() for a in beyond) + "; use --over-budget for another")
