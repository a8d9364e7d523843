"""Plan definitions from playbooks/plans.yaml, validated into one dataclass per kind.

Every malformed entry raises PlaybookError naming the file, the plan and the key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from maint.billing.account import money
from maint.errors import PlaybookError
from maint.playbook_files import read_playbook

SUPPORT_MONTHS = (1, 3, 6, 12)
CREDIT_PACKS = (25, 50, 100, 200)
MARKETING_KEYS = ("flyers_per_week", "mails_per_week", "list_mails_per_week", "rate_per_minute")


@dataclass(frozen=True)
class Marketing:
    """What a plan includes of `fab flyer` / `fab mail`, per week (Monday to Sunday in the agency's time zone):
    flyers, bulk e-mails to the shop's customers, separate e-mails to the client's own list; 0 = not included.
    `rate_per_minute`: the sending rate the plan's mail server allows (0 = no limit)."""

    flyers_per_week: int = 0
    mails_per_week: int = 0
    list_mails_per_week: int = 0
    rate_per_minute: float = 0.0


@dataclass(frozen=True)
class RetainerPlan:
    name: str
    fee_per_month: Decimal
    services: tuple[str, ...] = ()
    marketing: Marketing = field(default_factory=Marketing)
    kind: str = "retainer"


@dataclass(frozen=True)
class HoursPlan:
    name: str
    hours_per_month: float
    weekly_cap: float
    price_per_month: Decimal
    overage_rate: Decimal
    one_year_discount_pct: Decimal = Decimal(10)
    levels: Mapping[int, str] = field(default_factory=dict)  # support levels 1-4 of requests
    marketing: Marketing = field(default_factory=Marketing)
    kind: str = "hours"


@dataclass(frozen=True)
class CreditCategory:
    number: int
    name: str
    credits: int
    confirm: bool


@dataclass(frozen=True)
class CreditsPlan:
    name: str
    categories: Mapping[int, CreditCategory]
    packs: Mapping[int, Decimal]
    free_days: int
    free_credits: int
    task_categories: Mapping[str, int] = field(default_factory=dict)
    licence_credits: int = 0  # free credits each additional licence brings
    marketing: Marketing = field(default_factory=Marketing)
    kind: str = "credits"

    def category(self, key: int | str) -> CreditCategory:
        """A category by number (2) or name ("settings"); InputError-free lookup is the caller's job."""
        for cat in self.categories.values():
            if str(key) in (str(cat.number), cat.name) or cat.name.split()[0] == str(key):
                return cat
        raise KeyError(key)


@dataclass(frozen=True)
class SupportPlan:
    name: str
    months: int
    price: Decimal
    extra_licence_price: Decimal
    marketing: Marketing = field(default_factory=Marketing)
    kind: str = "support"


@dataclass(frozen=True)
class IncidentPlan:
    name: str
    price: Decimal
    priority_price: Decimal = Decimal(0)
    includes: tuple[str, ...] = ()
    marketing: Marketing = field(default_factory=Marketing)
    kind: str = "incident"


PlanDef = RetainerPlan | HoursPlan | CreditsPlan | SupportPlan | IncidentPlan


@dataclass(frozen=True)
class Plans:
    file: Path
    currency: str
    plans: Mapping[str, PlanDef]
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))  # days and weeks of statements

    def get(self, name: str) -> PlanDef:
        try:
            return self.plans[name]
        except KeyError:
            known = ", ".join(sorted(self.plans))
            raise PlaybookError(f"{self.file}: unknown plan {name!r} (plans: {known})") from None


class _Reader:
    """Reads one plan's mapping; every error names file, plan and key."""

    def __init__(self, file: Path, plan: str, data: Mapping[str, Any], allowed: set[str]) -> None:
        self.file, self.plan, self.data = file, plan, data
        extra = set(map(str, data)) - allowed - {"kind"}
        if extra:
            raise self.fail(", ".join(sorted(extra)), f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def fail(self, key: str, problem: str) -> PlaybookError:
        return PlaybookError(f"{self.file}: plan {self.plan!r}: {key}: {problem}")

    def number(self, key: str, *, default: float | None = None, positive: bool = True) -> float:
        value = self.data.get(key, default)
        if value is None:
            raise self.fail(key, "missing")
        return _number(value, lambda problem: self.fail(key, problem), positive=positive)

    def amount(self, key: str, *, default: float | None = None, positive: bool = True) -> Decimal:
        """Money: exact decimal cents (the YAML number's text, never a binary float's)."""
        self.number(key, default=default, positive=positive)
        return money(self.data.get(key, default))

    def whole(self, key: str) -> int:
        value = self.number(key)
        if value != int(value):
            raise self.fail(key, f"{value} must be a whole number")
        return int(value)

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of text")
        return tuple(value)

    def mapping(self, key: str) -> Mapping[Any, Any]:
        value = self.data.get(key)
        if not isinstance(value, Mapping) or not value:
            raise self.fail(key, "missing or not a mapping")
        return value


def _number(value: Any, fail: Any, *, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(f"{value!r} is not a number")
    if value < 0 or (positive and value == 0):
        raise fail(f"{value} must be {'above' if positive else 'at least'} zero")
    return float(value)


def _retainer(r: _Reader) -> RetainerPlan:
    return RetainerPlan(r.plan, r.amount("fee_per_month"), r.texts("services"))


def _hours(r: _Reader) -> HoursPlan:
    plan = HoursPlan(
        r.plan,
        hours_per_month=r.number("hours_per_month"),
        weekly_cap=r.number("weekly_cap"),
        price_per_month=r.amount("price_per_month"),
        overage_rate=r.amount("overage_rate"),
        one_year_discount_pct=r.amount("one_year_discount_pct", default=10, positive=False),
        levels=_levels(r),
    )
    if plan.weekly_cap > plan.hours_per_month:
        raise r.fail("weekly_cap", f"{plan.weekly_cap} is above hours_per_month {plan.hours_per_month}")
    if plan.one_year_discount_pct >= 100:
        raise r.fail("one_year_discount_pct", "must be under 100")
    return plan


def _levels(r: _Reader) -> dict[int, str]:
    raw = r.data.get("levels", {}) or {}
    if not isinstance(raw, Mapping) or any(
        not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 4 or not isinstance(v, str)
        for k, v in raw.items()
    ):
        raise r.fail("levels", "must map support levels 1 to 4 to their names")
    return {int(k): str(v) for k, v in raw.items()}


def _credits(r: _Reader) -> CreditsPlan:
    categories: dict[int, CreditCategory] = {}
    for number, raw in r.mapping("categories").items():
        key = f"categories.{number}"
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise r.fail(key, "category numbers must be whole numbers from 1")
        if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
            raise r.fail(key, "must be a mapping with name, credits and confirm")
        cost = _number(raw.get("credits"), lambda p, k=key: r.fail(f"{k}.credits", p))
        confirm = raw.get("confirm", False)
        if not isinstance(confirm, bool):
            raise r.fail(f"{key}.confirm", "must be true or false")
        categories[number] = CreditCategory(number, raw["name"], int(cost), confirm)
    packs: dict[int, Decimal] = {}
    for size, price in r.mapping("packs").items():
        if size not in CREDIT_PACKS:
            raise r.fail(f"packs.{size}", f"pack sizes are {', '.join(map(str, CREDIT_PACKS))}")
        _number(price, lambda p, s=size: r.fail(f"packs.{s}", p))
        packs[int(size)] = money(price)
    free = r.mapping("free_start")
    free_days = _number(free.get("days"), lambda p: r.fail("free_start.days", p), positive=False)
    free_credits = _number(free.get("credits"), lambda p: r.fail("free_start.credits", p), positive=False)
    tasks = r.data.get("task_categories", {}) or {}
    if not isinstance(tasks, Mapping) or any(v not in categories for v in tasks.values()):
        raise r.fail("task_categories", f"must map task names to categories {sorted(categories)}")
    licence_credits = r.number("licence_credits", default=0, positive=False)
    return CreditsPlan(
        r.plan, categories, packs, int(free_days), int(free_credits), dict(tasks), int(licence_credits)
    )


def _marketing(r: _Reader) -> Marketing:
    """`marketing: {flyers_per_week: 1, mails_per_week: 1, list_mails_per_week: 1, rate_per_minute: 120}`;
    absent: the plan includes no flyers or bulk e-mail."""
    raw = r.data.get("marketing")
    if raw is None:
        return Marketing()
    if not isinstance(raw, Mapping):
        raise r.fail("marketing", f"must be a mapping with {', '.join(MARKETING_KEYS)}")
    extra = set(map(str, raw)) - set(MARKETING_KEYS)
    if extra:
        raise r.fail(f"marketing.{sorted(extra)[0]}", f"unknown key (allowed: {', '.join(MARKETING_KEYS)})")
    counts = {}
    for key in MARKETING_KEYS[:3]:
        value = _number(raw.get(key, 0), lambda p, k=key: r.fail(f"marketing.{k}", p), positive=False)
        if value != int(value):
            raise r.fail(f"marketing.{key}", f"{value} must be a whole number")
        counts[key] = int(value)
    rate = _number(raw.get("rate_per_minute", 0), lambda p: r.fail("marketing.rate_per_minute", p), positive=False)
    return Marketing(**counts, rate_per_minute=rate)


def _support(r: _Reader) -> SupportPlan:
    months = r.whole("months")
    if months not in SUPPORT_MONTHS:
        raise r.fail("months", f"{months} is not one of {', '.join(map(str, SUPPORT_MONTHS))}")
    return SupportPlan(r.plan, months, r.amount("price"), r.amount("extra_licence_price", positive=False))


def _incident(r: _Reader) -> IncidentPlan:
    return IncidentPlan(
        r.plan, r.amount("price"), r.amount("priority_price", default=0, positive=False), r.texts("includes")
    )


_KINDS: dict[str, tuple[Any, set[str]]] = {
    "retainer": (_retainer, {"fee_per_month", "services"}),
    "hours": (
        _hours,
        {
            "hours_per_month",
            "weekly_cap",
            "price_per_month",
            "overage_rate",
            "one_year_discount_pct",
            "levels",
        },
    ),
    "credits": (_credits, {"categories", "packs", "free_start", "task_categories", "licence_credits"}),
    "support": (_support, {"months", "price", "extra_licence_price"}),
    "incident": (_incident, {"price", "priority_price", "includes"}),
}


def parse_plans(data: Any, file: Path) -> Plans:
    """Validate the parsed YAML of a plans file."""
    if not isinstance(data, Mapping) or not isinstance(data.get("plans"), Mapping) or not data["plans"]:
        raise PlaybookError(f"{file}: plans: missing or not a mapping of plan name to plan")
    plans: dict[str, PlanDef] = {}
    for name, raw in data["plans"].items():
        if not isinstance(raw, Mapping):
            raise PlaybookError(f"{file}: plan {name!r}: must be a mapping with a kind")
        kind = raw.get("kind")
        if kind not in _KINDS:
            raise PlaybookError(f"{file}: plan {name!r}: kind: {kind!r} is not one of {', '.join(_KINDS)}")
        build, allowed = _KINDS[kind]
        reader = _Reader(file, str(name), raw, allowed | {"marketing"})
        plans[str(name)] = dataclasses.replace(build(reader), marketing=_marketing(reader))
    currency = data.get("currency", "R")
    try:
        zone = ZoneInfo(str(data.get("timezone", "UTC")))
    except (ZoneInfoNotFoundError, ValueError):
        raise PlaybookError(f"{file}: timezone: {data.get('timezone')!r} is not a known time zone") from None
    return Plans(file=file, currency=str(currency), plans=plans, timezone=zone)


def load_plans(file: Path) -> Plans:
    return parse_plans(read_playbook(Path(file)), Path(file))
