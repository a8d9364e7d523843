from pathlib import Path
from typing import Any

import pytest
import yaml
from billing_factory import PLANS_FILE

from maint.billing.plans import CreditsPlan, HoursPlan, Plans, SupportPlan, load_plans, parse_plans
from maint.errors import PlaybookError

EXPECTED = {
    "retainer", "starter", "standard", "advanced", "flexible", "credits",
    "support-1m", "support-3m", "support-6m", "support-12m", "one-incident",
}  # fmt: skip


def test_shipped_plans_file_holds_every_plan_the_agency_sells(plans: Plans) -> None:
    assert set(plans.plans) == EXPECTED


def test_starter_package_is_40_hours_with_a_20_hour_weekly_cap(plans: Plans) -> None:
    starter = plans.get("starter")
    assert isinstance(starter, HoursPlan)
    assert (starter.hours_per_month, starter.weekly_cap, starter.one_year_discount_pct) == (40, 20, 10)


def test_credit_categories_packs_and_free_start_match_the_offer(plans: Plans) -> None:
    credits = plans.get("credits")
    assert isinstance(credits, CreditsPlan)
    assert [(c.credits, c.confirm) for c in credits.categories.values()] == [
        (5, False),
        (10, True),
        (20, True),
    ]
    assert sorted(credits.packs) == [25, 50, 100, 200]
    assert (credits.free_days, credits.free_credits) == (30, 40)


def test_support_plans_come_in_1_3_6_and_12_months(plans: Plans) -> None:
    months = sorted(p.months for p in plans.plans.values() if isinstance(p, SupportPlan))
    assert months == [1, 3, 6, 12]


def test_unknown_plan_name_is_an_error_naming_the_file(plans: Plans) -> None:
    with pytest.raises(PlaybookError, match=r"plans\.yaml: unknown plan 'gold'"):
        plans.get("gold")


def _with(name: str, **changes: Any) -> dict[str, Any]:
    data = yaml.safe_load(PLANS_FILE.read_text())
    data["plans"][name] = {**data["plans"][name], **changes}
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "plans: missing"),
        ({"plans": []}, "plans: missing"),
        (_with("starter", kind="gold"), "plan 'starter': kind: 'gold'"),
        (
            _with("starter", hours_per_month="forty"),
            "plan 'starter': hours_per_month: 'forty' is not a number",
        ),
        (_with("starter", weekly_cap=-5), "plan 'starter': weekly_cap: -5 must be above zero"),
        (_with("starter", weekly_cap=50), "plan 'starter': weekly_cap: 50.0 is above hours_per_month"),
        (_with("starter", overage_rate=None), "plan 'starter': overage_rate: missing"),
        (_with("starter", rollover=True), "plan 'starter': rollover: unknown key"),
        (_with("credits", packs={30: 100}), r"plan 'credits': packs.30: pack sizes are 25, 50, 100, 200"),
        (
            _with("credits", categories={1: {"name": "x", "credits": 0}}),
            r"categories.1.credits: 0 must be above",
        ),
        (_with("credits", task_categories={"upgrade": 9}), "plan 'credits': task_categories"),
        (_with("support-3m", months=4), "plan 'support-3m': months: 4 is not one of 1, 3, 6, 12"),
        (_with("retainer", fee_per_month=True), "plan 'retainer': fee_per_month: True is not a number"),
        (_with("one-incident", includes="all"), "plan 'one-incident': includes: must be a list"),
    ],
)
def test_malformed_plans_are_refused_naming_file_and_plan(data: Any, message: str) -> None:
    with pytest.raises(PlaybookError, match=message) as err:
        parse_plans(data, Path("plans.yaml"))
    assert str(err.value).startswith("plans.yaml: ")


def test_unreadable_or_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(PlaybookError, match="cannot read"):
        load_plans(tmp_path / "missing.yaml")
    bad = tmp_path / "plans.yaml"
    bad.write_text("plans: [unclosed\n")
    with pytest.raises(PlaybookError, match=r"plans\.yaml: not valid YAML"):
        load_plans(bad)
