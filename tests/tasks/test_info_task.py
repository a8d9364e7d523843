from pathlib import Path

import pytest
from invoke import Config, Context
from invoke.exceptions import Exit

from maint.tasks.info import info

PROJECT = Path(__file__).resolve().parents[2]


def context(**maint):
    return Context(config=Config(overrides={"maint": {"inventory": str(PROJECT / "playbooks" / "clients"), **maint}}))


def test_store_and_all_together_fail_before_any_connection(monkeypatch):
    monkeypatch.setattr("maint.tasks.info.connect", lambda cfg: pytest.fail("must not connect"))
    with pytest.raises(Exit) as err:
        info(context(), "demo", all_=True)
    assert err.value.code == 10


def test_no_store_at_all_asks_for_one(capsys):
    with pytest.raises(Exit) as err:
        info(context(), "")
    assert err.value.code == 10
    assert "STORE" in capsys.readouterr().err


def test_an_unknown_store_names_the_known_ones(capsys):
    with pytest.raises(Exit) as err:
        info(context(), "nope")
    assert err.value.code == 11
    assert "demo" in capsys.readouterr().err

