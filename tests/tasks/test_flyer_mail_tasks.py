"""`fab flyer` and `fab mail` wiring: bad arguments and bad files fail before any connection opens."""

from __future__ import annotations

from pathlib import Path

import pytest
from invoke import Config, Context
from invoke.exceptions import Exit

from maint.tasks.flyer import flyer
from maint.tasks.mail import mail

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ctx(tmp_path, monkeypatch):
    for module in ("maint.tasks.flyer", "maint.tasks.mail"):
        monkeypatch.setattr(f"{module}.connect", lambda cfg: pytest.fail("must not connect"))
    return Context(config=Config(overrides={"maint": {"inventory": str(PROJECT / "maint" / "playbooks" / "clients"),
                                                     "state_dir": str(tmp_path / "state")}}))


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"send_date": "31.12.2026"}, 50),
        ({"layout": "nope"}, 12),
        ({"layout": "../x"}, 12),
        ({"sheet": "/nonexistent.xlsx"}, 50),
        ({"content": "/nonexistent.yaml"}, 50),
    ],
)
def test_flyer_arguments_are_checked_before_connecting(ctx, kwargs, code) -> None:
    with pytest.raises(Exit) as err:
        flyer(ctx, "demo", products="1", **kwargs)
    assert err.value.code == code


def test_a_content_file_with_unknown_keys_is_refused_naming_them(ctx, tmp_path, capsys) -> None:
    content = tmp_path / "c.yaml"
    content.write_text("headline: Hi\ncolour: red\n")
    with pytest.raises(Exit) as err:
        flyer(ctx, "demo", content=str(content))
    assert err.value.code == 50 and "colour" in capsys.readouterr().err


def test_a_second_flyer_in_a_week_needs_over_budget_before_connecting(ctx, tmp_path) -> None:
    import json
    from datetime import UTC, datetime

    folder = tmp_path / "state" / "clients" / "demo" / "flyers" / "demo-1"
    folder.mkdir(parents=True)
    (folder / "flyer.json").write_text(json.dumps({"id": "demo-1", "store": "demo",
                                                   "created": datetime.now(UTC).isoformat()}))
    with pytest.raises(Exit) as err:
        flyer(ctx, "demo", products="1")
    assert err.value.code == 62


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({}, 50),  # neither --flyer nor --html
        ({"flyer": "x", "html": "y.html"}, 50),
        ({"flyer": "demo-20260101-1"}, 50),  # no such flyer
        ({"html": "b.html", "subject": "s", "to": "everyone"}, 50),
        ({"html": "b.html", "subject": "s", "test_to": "not-an-address"}, 50),
        ({"html": "b.html", "subject": "s", "server": "mine"}, 50),
        ({"html": "b.html"}, 50),  # no subject
    ],
)
def test_mail_arguments_are_checked_before_connecting(ctx, kwargs, code) -> None:
    with pytest.raises(Exit) as err:
        mail(ctx, "demo", **kwargs)
    assert err.value.code == code


def test_a_bad_list_file_is_refused_with_every_bad_row_before_connecting(ctx, tmp_path, capsys) -> None:
    sheet = tmp_path / "list.csv"
    sheet.write_text("email\nok@example.org\nbad\n\nalso bad@\n")
    (tmp_path / "b.html").write_text("<p>hi</p>")
    with pytest.raises(Exit) as err:
        mail(ctx, "demo", html=str(tmp_path / "b.html"), subject="s", to=f"list:{sheet}")
    assert err.value.code == 50
    table = capsys.readouterr().err
    assert "list.csv" in table and "bad" in table and "also bad@" in table


def test_suppress_adds_addresses_without_connecting(ctx, tmp_path) -> None:
    result = mail(ctx, "demo", suppress="A@example.org,b@example.org", json=True)
    assert result["suppressed_added"] == ["a@example.org", "b@example.org"]
    assert "a@example.org" in (tmp_path / "state" / "clients" / "demo" / "suppressed.csv").read_text()


def test_a_flyer_whose_special_has_ended_is_not_sent(ctx, tmp_path, capsys) -> None:
    import json

    folder = tmp_path / "state" / "clients" / "demo" / "flyers" / "demo-20200101-1"
    folder.mkdir(parents=True)
    (folder / "body.html").write_text("<p>x</p>")
    (folder / "flyer.json").write_text(json.dumps({
        "id": "demo-20200101-1", "store": "demo", "created": "2020-01-01T00:00:00+00:00", "headline": "Old",
        "products": [{"name": "Kettle", "special_ends": "2020-01-05"}]}))
    with pytest.raises(Exit) as err:
        mail(ctx, "demo", flyer="demo-20200101-1")
    assert err.value.code == 60 and "Kettle (last day 2020-01-05)" in capsys.readouterr().err


def test_a_plan_that_includes_no_flyers_says_so_before_connecting(ctx, tmp_path, capsys) -> None:
    import yaml

    data = yaml.safe_load((PROJECT / "maint" / "playbooks" / "clients" / "demo.yaml").read_text())
    data["plan"] = "credits"  # CS-Cart credits: no flyers or bulk e-mail in it
    (tmp_path / "inv").mkdir()
    (tmp_path / "inv" / "demo.yaml").write_text(yaml.safe_dump(data))
    ctx.config.maint.inventory = str(tmp_path / "inv")
    with pytest.raises(Exit) as err:
        flyer(ctx, "demo", products="1")
    assert err.value.code == 62
    assert "plan 'credits' includes no flyer (plans.yaml: marketing.flyers_per_week)" in capsys.readouterr().err


def test_the_plans_own_weekly_flyers_let_a_second_one_through(ctx, tmp_path, monkeypatch) -> None:
    import json
    from datetime import UTC, datetime

    class Connected(Exception):
        pass

    def connect(cfg):
        raise Connected

    monkeypatch.setattr("maint.tasks.flyer.connect", connect)
    folder = tmp_path / "state" / "clients" / "demo" / "flyers" / "demo-1"
    folder.mkdir(parents=True)
    (folder / "flyer.json").write_text(json.dumps({"id": "demo-1", "store": "demo",
                                                   "created": datetime.now(UTC).isoformat()}))
    (tmp_path / "pb").mkdir()
    (tmp_path / "pb" / "plans.yaml").write_text("extends: builtin\nplans:\n  starter:\n"
                                                "    marketing: {flyers_per_week: 2}\n")
    ctx.config.maint.playbooks = str(tmp_path / "pb")
    with pytest.raises(Connected):  # past the plan's allowance: on to the store
        flyer(ctx, "demo", products="1")
