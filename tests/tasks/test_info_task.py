from pathlib import Path

import pytest
from invoke import Config, Context
from invoke.exceptions import Exit

from maint.tasks.info import info

PROJECT = Path(__file__).resolve().parents[2]


def context(**maint):
    return Context(config=Config(overrides={"maint": {"inventory": str(PROJECT / "maint" / "playbooks" / "clients"), **maint}}))


def test_store_and_all_together_fail_before_any_connection(monkeypatch):
    monkeypatch.setattr("maint.tasks.info.connect", lambda cfg: pytest.fail("must not connect"))
    with pytest.raises(Exit) as err:
        info(context(), "demo", all_=True)
    assert err.value.code == 2


def test_no_store_at_all_asks_for_one(capsys):
    with pytest.raises(Exit) as err:
        info(context(), "")
    assert err.value.code == 2
    assert "STORE" in capsys.readouterr().err


def test_an_unknown_store_names_the_known_ones(capsys):
    with pytest.raises(Exit) as err:
        info(context(), "nope")
    assert err.value.code == 11
    assert "demo" in capsys.readouterr().err



def spend_the_plan(tmp_path):
    """A playbooks folder whose `starter` plan includes 36 seconds, and a ledger with a minute of work."""
    from datetime import UTC, datetime, timedelta

    from maint.billing.ledger import Ledger

    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "plans.yaml").write_text(
        "plans:\n  starter: {kind: hours, hours_per_month: 0.01, weekly_cap: 0.01, price_per_month: 100,"
        " overage_rate: 50, one_year_discount_pct: 0}\n"
    )
    ended = datetime.now(UTC) - timedelta(minutes=1)
    with Ledger.in_state_dir(tmp_path / "state") as ledger:
        ledger.add(client="demo", store="demo", task="log", started=ended - timedelta(minutes=1), ended=ended)
    return {"state_dir": str(tmp_path / "state"), "playbooks": str(playbooks)}


def test_a_spent_plan_blocks_work_unless_over_budget(monkeypatch, tmp_path, capsys):
    from maint.errors import ConnectError

    def unreachable(cfg):
        raise ConnectError("host down (test)", store=cfg.store)

    monkeypatch.setattr("maint.tasks.info.connect", unreachable)
    ctx = context(block_over_budget=True, **spend_the_plan(tmp_path))
    with pytest.raises(Exit) as err:
        info(ctx, "demo")
    assert err.value.code == 62
    assert "--over-budget" in capsys.readouterr().err
    with pytest.raises(Exit) as err:
        info(ctx, "demo", over_budget=True)
    assert err.value.code == 20  # got past the guard, to the (unreachable) host
    monkeypatch.setenv("MAINT_OVER_BUDGET", "1")
    with pytest.raises(Exit) as err:
        info(ctx, "demo")
    assert err.value.code == 20
