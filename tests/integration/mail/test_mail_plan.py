"""`fab flyer` / `fab mail` against the client's plan (what it includes a week, its sending rate) and the
store the inventory names on a multi-store install (store_id), on the stand-in stores."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from invoke.exceptions import Exit

from maint.sandbox.multistore import add_store, remove_store
from maint.tasks.flyer import flyer
from maint.tasks.mail import mail

SECOND_URL = "http://second.example.test/"
SECOND = ("second-1@example.org", "second-2@example.org")


def agency_plans(folder: Path, **marketing: object) -> Path:
    """An agency playbooks folder whose plans.yaml extends the built-in one: the sandbox's client is on
    `retainer`, here with `marketing` as given."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plans.yaml").write_text(yaml.safe_dump(
        {"extends": "builtin", "plans": {"retainer": {"marketing": marketing}}}))
    return folder


def inventory(mail_sandbox, folder: Path, *, client_options=None, store_options=None, second=False) -> Path:
    """The sandbox's client file, with options, and (second=True) `s30b`: store_id 1 of s30's install."""
    data = mail_sandbox.inventory()
    if client_options:
        data["options"] = client_options
    s30 = next(s for s in data["stores"] if s["name"] == "s30")
    if store_options:
        s30["options"] = store_options
    if second:
        data["stores"].append(dict(s30, name="s30b", store_id=1, options={}))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{data['name']}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder


def html_file(folder: Path) -> Path:
    page = folder / "news.html"
    page.write_text("<html><body><p>{{greeting}}</p><p>Hello from the shop.</p></body></html>")
    return page


def checksums(store_sql, store: str) -> dict[str, object]:
    tables = [r[0] for r in store_sql(store, "SHOW TABLES")]
    return {t: store_sql(store, f"CHECKSUM TABLE `{t}`")[0][1] for t in tables}


def test_the_plans_weekly_flyers_come_from_plans_yaml_and_a_plan_without_flyers_says_so(
    task_context, tmp_path
) -> None:
    two = task_context(playbooks=str(agency_plans(tmp_path / "two", flyers_per_week=2)))
    assert flyer(two, "s30", products="1", headline="One", json=True)["allowance"]["included"] == 2
    flyer(two, "s30", products="2", headline="Two", json=True)  # the plan's second flyer of the week
    with pytest.raises(Exit) as third:
        flyer(two, "s30", products="3", headline="Three", json=True)
    assert third.value.code == 62
    none = task_context(playbooks=str(agency_plans(tmp_path / "none", flyers_per_week=0)))
    with pytest.raises(Exit) as refused:
        flyer(none, "s30", products="1", headline="x")
    assert refused.value.code == 62
    dry = flyer(none, "s30", products="1", headline="x", dry_run=True, json=True)
    assert dry["allowance"] | {"used": []} == {"kind": "flyer", "plan": "retainer", "included": 0, "used": [],
                                               "over": True}
    assert len(dry["allowance"]["used"]) == 2
    made = flyer(none, "s30", products="1", headline="x", over_budget=True, json=True)
    assert any("beyond the plan" in w and "includes no flyer" in w for w in made["warnings"])


def test_mail_to_customers_and_to_a_list_each_have_the_plans_weekly_allowance(
    task_context, smtp_server, tmp_path, capsys
) -> None:
    server = smtp_server()
    sheet = tmp_path / "list.csv"
    sheet.write_text("email\nfriend@example.org\n")
    page = html_file(tmp_path)
    ctx = task_context(smtp=server.config(), playbooks=str(agency_plans(tmp_path / "p", mails_per_week=1,
                                                                        list_mails_per_week=0)))
    mail(ctx, "s4", html=str(page), subject="Customers", yes=True, json=True)
    with pytest.raises(Exit) as second:
        mail(ctx, "s4", html=str(page), subject="Customers again", yes=True)
    assert second.value.code == 62
    assert "includes 1 bulk e-mail to the shop's customers a week, 1 made this week" in capsys.readouterr().err
    with pytest.raises(Exit) as listed:
        mail(ctx, "s4", html=str(page), subject="List", to=f"list:{sheet}", yes=True)
    assert listed.value.code == 62
    assert "plan 'retainer' includes no e-mail to the client's own list" in capsys.readouterr().err
    assert "friend@example.org" not in server.recipients()
    sent = mail(ctx, "s4", html=str(page), subject="List", to=f"list:{sheet}", yes=True, json=True, over_budget=True)
    assert sent["counts"]["sent"] == 1 and "friend@example.org" in server.recipients()


def test_the_rate_comes_from_the_plan_then_client_then_store_options_then_the_flag_and_shows_in_the_plan(
    mail_sandbox, task_context, smtp_server, tmp_path, capsys
) -> None:
    server = smtp_server()
    page = html_file(tmp_path)
    plans = str(agency_plans(tmp_path / "p", mails_per_week=1, rate_per_minute=600))

    def dry(inv: Path | None = None, **kwargs):
        extra = {"inventory": str(inv)} if inv else {}
        ctx = task_context(smtp=server.config(), playbooks=plans, **extra)
        return mail(ctx, "s30", html=str(page), subject="Rate", dry_run=True, json=True, **kwargs)

    assert (dry()["rate_per_minute"], dry()["rate_source"]) == (600, "plan 'retainer'")
    client = inventory(mail_sandbox, tmp_path / "inv-client", client_options={"mail": {"rate_per_minute": 300}})
    got = dry(client)
    assert got["rate_per_minute"] == 300 and got["rate_source"].endswith("client sandbox")
    both = inventory(mail_sandbox, tmp_path / "inv-store", client_options={"mail": {"rate_per_minute": 300}},
                     store_options={"mail": {"rate_per_minute": 120}})
    got = dry(both)
    assert got["rate_per_minute"] == 120 and got["rate_source"].endswith("store s30")
    assert dry(both, rate=0.0)["rate_source"] == "--rate"
    ctx = task_context(smtp=server.config(), playbooks=plans, inventory=str(both))
    capsys.readouterr()
    mail(ctx, "s30", html=str(page), subject="Rate", dry_run=True)
    out = capsys.readouterr().out
    assert "rate: 120 messages a minute (" in out, out


@pytest.fixture
def second_store(mail_sandbox):
    """s30's install gets a second store (oc_store row, store_id 1) with two subscribers of its own."""
    store = mail_sandbox.store("s30")
    with mail_sandbox.db_admin(store.db_name) as db:
        add_store(db, store.prefix, 1, "Second shop", SECOND_URL, SECOND)
    yield
    with mail_sandbox.db_admin(store.db_name) as db:
        remove_store(db, store.prefix, 1)


def test_on_a_multi_store_install_each_inventory_store_mails_only_its_own_customers(
    mail_sandbox, second_store, task_context, store_sql, smtp_server, tmp_path
) -> None:
    server = smtp_server()
    page = html_file(tmp_path)
    ctx = task_context(smtp=server.config(), inventory=str(inventory(mail_sandbox, tmp_path / "inv", second=True)))
    default = sorted(r[0] for r in store_sql(
        "s30", "SELECT email FROM {p}customer WHERE newsletter = 1 AND status = 1 AND store_id = 0"))
    before = checksums(store_sql, "s30")
    first = mail(ctx, "s30", html=str(page), subject="Default shop", yes=True, json=True)
    assert sorted(server.recipients()) == default and not set(SECOND) & set(server.recipients())
    assert first["per_source"]["newsletter"]["found"] == len(default)
    second = mail(ctx, "s30b", html=str(page), subject="Second shop", yes=True, json=True, over_budget=True)
    assert second["counts"]["sent"] == 2
    got = [m for m in server.messages() if m["To"] and any(a in m["To"] for a in SECOND)]
    assert sorted(a for m in got for a in SECOND if a in m["To"]) == sorted(SECOND)
    assert all(SECOND_URL + "index.php?route=account/newsletter" in m["List-Unsubscribe"] for m in got)
    assert all("Second shop" in m["From"] for m in got)
    assert checksums(store_sql, "s30") == before  # sending never changes the shop's own data


def test_a_flyer_for_the_second_store_takes_its_products_and_address(
    mail_sandbox, second_store, task_context, store_sql, tmp_path
) -> None:
    ctx = task_context(inventory=str(inventory(mail_sandbox, tmp_path / "inv", second=True)))
    with pytest.raises(Exit) as refused:
        flyer(ctx, "s30b", products="1", headline="x", json=True)
    assert refused.value.code == 50  # product 1 is not in store 1
    store_sql("s30", "INSERT INTO {p}product_to_store (product_id, store_id) VALUES (1, 1)")
    made = flyer(ctx, "s30b", products="1", headline="Second", json=True)
    body = (Path(made["folder"]) / "body.html").read_text()
    assert SECOND_URL in body and "Second shop" in body


def test_a_campaign_applied_then_again_plans_nothing_and_a_dry_run_changes_no_file_or_row(
    task_context, store_sql, smtp_server, tmp_path, capsys
) -> None:
    server = smtp_server()
    page = html_file(tmp_path)
    ctx = task_context(smtp=server.config())
    state = tmp_path / "state"
    rows = checksums(store_sql, "s4")
    dry = mail(ctx, "s4", html=str(page), subject="Three ways", dry_run=True, json=True)
    assert dry["plan"]["changes"] and server.recipients() == [] and checksums(store_sql, "s4") == rows
    assert not (state / "mail.sqlite").exists()
    first = mail(ctx, "s4", html=str(page), subject="Three ways", yes=True, json=True)
    assert first["counts"]["sent"] == len(server.recipients()) > 0
    capsys.readouterr()
    again = mail(ctx, "s4", html=str(page), subject="Three ways", yes=True)
    assert again["plan"]["changes"] == [] and again["sent_now"] == 0
    assert "No changes. campaign" in capsys.readouterr().err
    assert len(server.recipients()) == first["counts"]["sent"]
