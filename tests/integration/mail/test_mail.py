"""`fab mail` against a real SMTP server on 127.0.0.1 (tests/smtp_capture.py) and the stand-in stores."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from invoke.exceptions import Exit

from maint.tasks.flyer import flyer
from maint.tasks.mail import mail

SMTP_KEYS = ("config_mail_engine", "config_mail_smtp_hostname", "config_mail_smtp_port",
             "config_mail_smtp_username", "config_mail_smtp_password", "config_mail_smtp_timeout")


@pytest.fixture
def store_smtp(store_sql):
    """(store, server, user="", password="") → the store's own mail settings point at `server`; undone after."""
    touched = []

    def set_smtp(store, server, user="", password=""):
        values = {"config_mail_engine": "smtp", "config_mail_smtp_hostname": server.host,
                  "config_mail_smtp_port": str(server.port), "config_mail_smtp_username": user,
                  "config_mail_smtp_password": password, "config_mail_smtp_timeout": "5"}
        for key, value in values.items():
            store_sql(store, "DELETE FROM {p}setting WHERE store_id = 0 AND `key` = %s", (key,))
            store_sql(store, "INSERT INTO {p}setting (store_id, code, `key`, value, serialized) "
                             "VALUES (0, 'config', %s, %s, 0)", (key, value))
        touched.append(store)

    yield set_smtp
    for store in touched:
        for key in SMTP_KEYS:
            store_sql(store, "DELETE FROM {p}setting WHERE store_id = 0 AND `key` = %s", (key,))


def subscribers(store_sql, store):
    return sorted(r[0] for r in store_sql(store, "SELECT email FROM {p}customer WHERE newsletter = 1 AND status = 1"))


def make_flyer(ctx, store="s30"):
    return flyer(ctx, store, products="1,2,3", headline="This week's offers", json=True, over_budget=True)["id"]


def journal_rows(state: Path) -> int:
    path = state / "mail.sqlite"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM recipients").fetchone()[0])


def test_mail_sends_each_subscriber_once_a_second_run_sends_nothing_and_dry_run_sends_nothing(
    task_context, store_sql, store_smtp, smtp_server, tmp_path
) -> None:
    server = smtp_server()
    store_smtp("s30", server)
    ctx = task_context()
    flyer_id = make_flyer(ctx)
    state = tmp_path / "state"

    dry = mail(ctx, "s30", flyer=flyer_id, dry_run=True, json=True)
    assert server.messages() == [] and journal_rows(state) == 0
    assert dry["to_send"] == len(subscribers(store_sql, "s30")) and dry["server_source"] == "store"
    preview = Path(dry["preview"][0]).parent
    assert (preview / "preview.html").read_text().count("flyer.png") >= 1 and (preview / "preview.eml").exists()

    first = mail(ctx, "s30", flyer=flyer_id, yes=True, json=True)
    assert sorted(server.recipients()) == subscribers(store_sql, "s30")
    assert first["counts"]["sent"] == len(subscribers(store_sql, "s30"))
    message = server.messages()[0]
    assert message["Subject"] == "This week's offers"
    assert "account/newsletter" in message["List-Unsubscribe"] and "mailto:" in message["List-Unsubscribe"]
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "Dear " in html and "Unsubscribe" in html and "cid:" in html
    assert "Dear " in text and "account/newsletter" in text
    assert any(part.get_content_type() == "image/png" for part in message.walk())

    second = mail(ctx, "s30", flyer=flyer_id, yes=True, json=True)
    assert second["sent_now"] == 0 and len(server.recipients()) == len(subscribers(store_sql, "s30"))


def test_a_store_using_php_mail_sends_through_the_agency_smtp_with_the_store_as_sender(
    task_context, store_sql, smtp_server
) -> None:
    server = smtp_server()
    ctx = task_context(smtp=server.config())
    flyer_id = make_flyer(ctx, "s4")
    result = mail(ctx, "s4", flyer=flyer_id, yes=True, json=True)
    assert result["server_source"] == "maint.smtp" and result["sender"] == "shop@example.test"
    assert sorted(server.recipients()) == subscribers(store_sql, "s4")
    without = task_context()
    with pytest.raises(Exit) as refused:
        mail(without, "s4", flyer=flyer_id, yes=True, json=True, over_budget=True)
    assert refused.value.code == 10


def test_a_dropped_connection_is_reopened_and_everyone_gets_the_message_once(
    task_context, store_sql, store_smtp, smtp_server
) -> None:
    server = smtp_server(drop_at=3)
    store_smtp("s30", server)
    ctx = task_context()
    result = mail(ctx, "s30", flyer=make_flyer(ctx), yes=True, json=True)
    assert result["reconnects"] == 1
    assert sorted(server.recipients()) == subscribers(store_sql, "s30")


def test_a_run_killed_midway_and_started_again_sends_to_everyone_exactly_once(
    mail_sandbox, task_context, store_sql, store_smtp, smtp_server, tmp_path
) -> None:
    server = smtp_server()
    store_smtp("s30", server)
    ctx = task_context()
    flyer_id = make_flyer(ctx)
    env = os.environ | mail_sandbox.env() | {"FABRIC_MAINT_STATE_DIR": str(tmp_path / "state")}
    argv = [sys.executable, "-c", "from maint.tasks.program import main; main()", "mail", "s30",
            "--flyer", flyer_id, "--yes", "--rate", "60"]  # one message a second: killed well before the end
    run = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(server.recipients()) < 3 and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.05)
    run.send_signal(signal.SIGKILL)
    run.wait()
    sent_before = len(server.recipients())
    assert 3 <= sent_before < len(subscribers(store_sql, "s30"))
    resumed = mail(ctx, "s30", flyer=flyer_id, yes=True, json=True)
    assert resumed["already"]["sent"] + resumed["already"]["sending"] >= sent_before - 1
    got = server.recipients()
    assert len(got) == len(set(got))  # nobody twice
    unsure = resumed["counts"]["sending"]
    everyone = len(subscribers(store_sql, "s30"))
    assert everyone - unsure <= len(got) <= everyone  # an unsure message may have arrived before the kill


def test_refused_recipients_are_reported_and_suppressed_and_not_tried_again(
    task_context, store_sql, store_smtp, smtp_server, tmp_path
) -> None:
    subs = subscribers(store_sql, "s30")
    server = smtp_server(refuse=[subs[0].split("@")[0]])
    store_smtp("s30", server)
    ctx = task_context()
    flyer_id = make_flyer(ctx)
    report = tmp_path / "report.csv"
    result = mail(ctx, "s30", flyer=flyer_id, yes=True, json=True, report=str(report))
    assert result["counts"]["refused"] == 1 and result["counts"]["sent"] == len(subs) - 1
    assert f"{subs[0]},".encode() in report.read_bytes() and b"refused" in report.read_bytes()
    suppressed = (tmp_path / "state" / "clients" / "sandbox" / "suppressed.csv").read_text()
    assert subs[0] in suppressed and "hard bounce" in suppressed
    again = mail(ctx, "s30", flyer=flyer_id, yes=True, json=True)
    assert again["sent_now"] == 0 and len(server.recipients()) == len(subs) - 1


def test_a_bad_password_stops_at_once_sends_nothing_and_never_shows_the_password(
    task_context, store_sql, store_smtp, smtp_server, tmp_path, capsys
) -> None:
    server = smtp_server(auth="shop:right-Pa55")
    store_smtp("s30", server, user="shop", password="wrong-S3cret")
    ctx = task_context()
    flyer_id = make_flyer(ctx)
    with pytest.raises(Exit) as stopped:
        mail(ctx, "s30", flyer=flyer_id, yes=True)
    assert stopped.value.code == 40
    out = capsys.readouterr()
    assert "wrong-S3cret" not in out.out + out.err and "refused the login" in out.err
    assert server.recipients() == []
    store_smtp("s30", server, user="shop", password="right-Pa55")
    fixed = mail(ctx, "s30", flyer=flyer_id, yes=True, json=True)
    assert sorted(server.recipients()) == subscribers(store_sql, "s30") and fixed["counts"]["sent"] == len(
        subscribers(store_sql, "s30"))


def test_an_external_list_is_deduplicated_and_store_opt_outs_and_the_suppression_list_apply(
    task_context, store_sql, store_smtp, smtp_server, tmp_path
) -> None:
    server = smtp_server()
    store_smtp("s30", server)
    ctx = task_context()
    opted_out = store_sql("s30", "SELECT email FROM {p}customer WHERE newsletter = 0 LIMIT 1")[0][0]
    sub = subscribers(store_sql, "s30")[0]
    sheet = tmp_path / "extra.csv"
    sheet.write_text(f"E-Mail;Vorname\nfriend@example.org;Fritz\nFRIEND@example.org;Fritz\n{sub.upper()};X\n"
                     f"{opted_out};Y\nblocked@example.org;Z\n", encoding="utf-8")
    mail(ctx, "s30", suppress="blocked@example.org")
    result = mail(ctx, "s30", html=str(_html(tmp_path)), subject="News", to=f"newsletter,list:{sheet}", yes=True,
                  json=True)
    listed = result["per_source"][f"list:{sheet}"]
    assert listed == {"found": 4, "duplicate": 1, "suppressed": 2, "invalid": 0, "to_send": 1}
    assert sorted(server.recipients()) == sorted(subscribers(store_sql, "s30") + ["friend@example.org"])
    friend = [m for m in server.messages() if "friend@example.org" in m["To"]][0]
    assert "Dear Fritz," in friend.get_body(("html",)).get_content()


def _html(folder: Path) -> Path:
    (folder / "pic.png").write_bytes((Path(__file__).parent / "conftest.py").read_bytes()[:0] or _png())
    page = folder / "news.html"
    page.write_text('<html><body><p>{{greeting}}</p><img src="pic.png" alt="Our news"><p>Hello.</p></body></html>')
    return page


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (10, 10), "red").save(out, format="PNG")
    return out.getvalue()


def test_a_bad_recipient_sheet_is_refused_naming_every_bad_row_before_connecting(
    task_context, smtp_server, tmp_path, capsys
) -> None:
    server = smtp_server()
    sheet = tmp_path / "bad.csv"
    sheet.write_text("email,name\nok@example.org,A\nnot-an-address,B\n,C\nx@y,D\n", encoding="utf-8")
    ctx = task_context(smtp=server.config())
    with pytest.raises(Exit) as refused:
        mail(ctx, "s4", html=str(_html(tmp_path)), subject="x", to=f"list:{sheet}", yes=True)
    assert refused.value.code == 50
    err = capsys.readouterr().err
    assert "bad.csv" in err and all(f"{n} " in err or f" {n} " in err for n in ("3", "4", "5"))
    assert "not an e-mail address" in err and "no e-mail address" in err
    assert server.recipients() == [] and not (tmp_path / "state" / "mail.sqlite").exists()


def test_test_to_sends_one_message_only_and_journals_nothing(task_context, smtp_server, tmp_path) -> None:
    server = smtp_server()
    ctx = task_context(smtp=server.config())
    result = mail(ctx, "s4", html=str(_html(tmp_path)), subject="Hi", test_to="me@agency.example", json=True)
    assert server.recipients() == ["me@agency.example"] and result["test_to"] == "me@agency.example"
    assert server.messages()[0]["Subject"] == "[TEST] Hi"
    assert not (tmp_path / "state" / "mail.sqlite").exists()


def test_a_second_campaign_in_a_week_needs_over_budget(task_context, smtp_server, tmp_path) -> None:
    server = smtp_server()
    ctx = task_context(smtp=server.config())
    mail(ctx, "s4", html=str(_html(tmp_path)), subject="One", yes=True, json=True)
    with pytest.raises(Exit) as refused:
        mail(ctx, "s4", html=str(_html(tmp_path)), subject="Two", yes=True, json=True)
    assert refused.value.code == 62
    mail(ctx, "s4", html=str(_html(tmp_path)), subject="Two", yes=True, json=True, over_budget=True)


def test_a_customer_group_campaign_reaches_that_group_and_the_ledger_names_the_campaign(
    task_context, store_sql, smtp_server, tmp_path
) -> None:
    server = smtp_server()
    ctx = task_context(smtp=server.config())
    result = mail(ctx, "s4", html=str(_html(tmp_path)), subject="Trade", to="group:wholesale", yes=True, json=True)
    group = sorted(r[0] for r in store_sql("s4", "SELECT c.email FROM {p}customer c JOIN {p}customer_group_description d "
                                                 "ON d.customer_group_id = c.customer_group_id "
                                                 "WHERE d.name = 'Wholesale' AND c.status = 1"))
    assert group and sorted(server.recipients()) == group
    assert any("did not subscribe" in w for w in result["warnings"])
    with sqlite3.connect(tmp_path / "state" / "ledger.sqlite") as db:
        notes = [r[0] for r in db.execute("SELECT note FROM entries WHERE task = 'mail'")]
    assert any(result["campaign"] in n for n in notes)
