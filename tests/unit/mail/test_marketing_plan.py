"""What a plan includes of flyers and bulk e-mail, the sending rate's precedence, and the campaign's plan."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from maint.billing.marketing import allowance, campaign_kinds, refuse_beyond, week_start
from maint.billing.plans import Marketing, parse_plans
from maint.config import Settings, load_settings, store_config
from maint.errors import BudgetError, ConfigError, PlaybookError
from maint.inventory import InventoryError, parse_client
from maint.mail.campaign import plan_campaign, sending_rate
from maint.mail.journal import Recipient
from maint.mail.recipients import Audience

FILE = Path("plans.yaml")
RETAINER = {"kind": "retainer", "fee_per_month": 4000}


def plans(marketing: object = None, **extra: object) -> dict[str, object]:
    entry = dict(RETAINER, **extra)
    if marketing is not None:
        entry["marketing"] = marketing
    return {"plans": {"r": entry}}


def test_a_plan_says_how_many_flyers_and_mails_it_includes_a_week_and_none_without_marketing() -> None:
    got = parse_plans(plans({"flyers_per_week": 2, "mails_per_week": 1, "list_mails_per_week": 0,
                             "rate_per_minute": 90}), FILE).get("r")
    assert got.marketing == Marketing(2, 1, 0, 90.0)
    assert parse_plans(plans(), FILE).get("r").marketing == Marketing()


@pytest.mark.parametrize(
    ("marketing", "named"),
    [
        ({"flyers_per_week": -1}, "marketing.flyers_per_week: -1 must be at least zero"),
        ({"mails_per_week": 1.5}, "marketing.mails_per_week: 1.5 must be a whole number"),
        ({"mails_per_week": "one"}, "marketing.mails_per_week: 'one' is not a number"),
        ({"flyers": 1}, "marketing.flyers: unknown key"),
        ({"rate_per_minute": -5}, "marketing.rate_per_minute: -5 must be at least zero"),
        ([1], "marketing: must be a mapping"),
    ],
)
def test_a_bad_marketing_entry_is_refused_naming_file_plan_and_key(marketing: object, named: str) -> None:
    with pytest.raises(PlaybookError) as err:
        parse_plans(plans(marketing), FILE)
    assert "plans.yaml: plan 'r':" in str(err.value) and named in str(err.value)


def test_the_seed_plans_include_one_of_each_a_week_on_the_maintenance_plans_only() -> None:
    from maint.billing.plans import load_plans

    seed = load_plans(Settings().plans_file)
    for name in ("retainer", "starter", "standard", "advanced", "flexible"):
        assert seed.get(name).marketing == Marketing(1, 1, 1, 0.0), name
    for name in ("credits", "support-1m", "one-incident"):
        assert seed.get(name).marketing == Marketing(), name


def test_one_more_is_beyond_the_plan_once_the_weeks_allowance_is_used() -> None:
    plan = parse_plans(plans({"flyers_per_week": 2, "mails_per_week": 1}), FILE).get("r")
    assert not allowance("r", plan, "flyer", ["a"]).over
    assert allowance("r", plan, "flyer", ["a", "b"]).over
    assert allowance("r", plan, "mail", ["m"]).over
    nothing = allowance("r", plan, "list", [])
    assert nothing.over and "plan 'r' includes no e-mail to the client's own list" in nothing.describe()
    with pytest.raises(BudgetError) as err:
        refuse_beyond([nothing], "acme", over_budget=False)
    assert err.value.exit_code == 62 and "--over-budget" in str(err.value)
    refuse_beyond([nothing], "acme", over_budget=True)
    assert allowance("", None, "flyer", []).describe().startswith("plan '(none)' includes no flyer")


def test_a_campaign_to_customers_and_a_list_uses_both_allowances() -> None:
    assert campaign_kinds(["newsletter"]) == {"mail"}
    assert campaign_kinds(["group:Wholesale", "list:/x/a.csv"]) == {"mail", "list"}
    assert campaign_kinds(["list:/x/a.csv"]) == {"list"}


def test_weeks_start_on_monday_in_the_agencys_time_zone() -> None:
    zone = ZoneInfo("Africa/Johannesburg")
    start = week_start(date(2026, 12, 6), zone)  # a Sunday
    assert start.isoformat() == "2026-11-30T00:00:00+02:00"


def test_the_rate_comes_from_the_flag_then_store_client_agency_options_then_the_plan() -> None:
    store = ("acme.yaml: store shop", {"mail": {"rate_per_minute": 30}})
    client = ("acme.yaml: client acme", {"mail": {"rate_per_minute": 45}})
    agency = ("fabric.yaml maint.options", {"mail": {"rate_per_minute": 60}})
    assert sending_rate(10, [store, client, agency], "r", 90) == (10.0, "--rate")
    assert sending_rate(0, [store], "r", 90) == (0.0, "--rate")  # --rate 0: no limit, on purpose
    assert sending_rate(-1, [store, client, agency], "r", 90) == (30.0, "acme.yaml: store shop")
    assert sending_rate(-1, [("s", {}), client, agency], "r", 90) == (45.0, "acme.yaml: client acme")
    assert sending_rate(-1, [("s", {}), ("c", {}), agency], "r", 90) == (60.0, "fabric.yaml maint.options")
    assert sending_rate(-1, [("s", {})], "r", 90) == (90.0, "plan 'r'")
    assert sending_rate(-1, [("s", {})], "r", 0) == (0.0, "none set")
    with pytest.raises(ConfigError) as err:
        sending_rate(-1, [("acme.yaml: store shop", {"mail": {"rate_per_minute": "fast"}})], "r", 0)
    assert "acme.yaml: store shop: options.mail.rate_per_minute: 'fast'" in str(err.value)


def _client(client_options: dict[str, object] | None = None, **store: object) -> dict[str, object]:
    entry = {"name": "shop", "host": "h", "root": "/r"} | store
    return {"name": "acme", "plan": "retainer", "stores": [entry]} | (
        {"options": client_options} if client_options else {})


def test_the_inventory_names_a_stores_store_id_and_client_options_sit_between_agency_and_store() -> None:
    from maint.inventory import Inventory

    client = parse_client(_client({"mail": {"rate_per_minute": 45, "x": 1}}, store_id=2,
                                  options={"mail": {"rate_per_minute": 30}}), Path("acme.yaml"))
    settings = load_settings({"options": {"mail": {"rate_per_minute": 60, "y": 2}}})
    cfg = store_config(settings, Inventory(Path("."), (client,)), "shop")
    assert cfg.store_id == 2
    assert cfg.option("mail", "rate_per_minute") == 30 and cfg.option("mail", "x") == 1 and cfg.option("mail", "y") == 2
    for bad in (-1, "1", True):
        with pytest.raises(InventoryError) as err:
            parse_client(_client(store_id=bad), Path("acme.yaml"))
        assert "stores[0].store_id" in str(err.value)


def test_a_campaign_everyone_has_had_plans_nothing_and_says_why() -> None:
    audience = Audience(recipients=[Recipient("a@x.org", "", "newsletter")])
    first = plan_campaign("shop", "c1", audience, audience.recipients, {})
    assert [c.summary for c in first] == ["1 new recipient(s)"]
    done = plan_campaign("shop", "c1", audience, [], {"sent": 1, "pending": 0, "deferred": 0})
    assert not done and "everyone has had it (1 sent" in done.noop_reason
    resumed = plan_campaign("shop", "c1", audience, [], {"sent": 1, "pending": 2, "deferred": 1})
    assert [c.kind for c in resumed] == ["resume"]
    assert not plan_campaign("shop", "c1", Audience(), [], {}).changes
