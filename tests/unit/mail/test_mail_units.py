"""Recipients, SMTP settings, messages and the journal, without a network."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest

from maint.errors import ConfigError, InputError
from maint.flyer.layout import load_layout
from maint.mail.journal import Campaign, Journal, Recipient
from maint.mail.message import Content, MessageFactory, html_to_text
from maint.mail.recipients import (
    Source,
    add_suppressed,
    build_audience,
    parse_sources,
    read_list,
    read_suppressed,
)
from maint.mail.smtp import SmtpSettings, settings_from_config, settings_from_store
from maint.pricing.issues import SheetInvalidError


def test_sources_parse_and_bad_ones_fail_before_connecting(tmp_path) -> None:
    sheet = tmp_path / "a.csv"
    sheet.write_text("email\n")
    assert parse_sources("") == [Source("newsletter")]
    assert parse_sources(f"newsletter, group:Wholesale, list:{sheet}") == [
        Source("newsletter"), Source("group", "Wholesale"), Source("list", str(sheet))]
    for bad in ("everyone", "group:", "list:/nope.csv", "newsletter,newsletter"):
        with pytest.raises(InputError):
            parse_sources(bad)


def test_the_store_smtp_settings_decode_tls_prefix_and_escaped_password() -> None:
    got = settings_from_store({"config_mail_engine": "smtp", "config_mail_smtp_hostname": "tls://mail.example",
                               "config_mail_smtp_port": "587", "config_mail_smtp_username": "u",
                               "config_mail_smtp_password": "a&amp;b", "config_email": "shop@example.test"})
    assert got is not None and (got.host, got.port, got.starttls, got.password, got.sender) == (
        "mail.example", 587, True, "a&b", "shop@example.test")
    assert "a&b" not in repr(got) and "a&b" not in str(got)
    assert settings_from_store({"config_mail_engine": "mail"}) is None
    with pytest.raises(ConfigError):
        settings_from_store({"config_mail_engine": "smtp"})
    with pytest.raises(ConfigError):
        settings_from_config({})


def test_list_rows_are_validated_all_at_once_and_repeats_dropped(tmp_path) -> None:
    sheet = tmp_path / "list.csv"
    sheet.write_text("Name;E-Mail\nAnn;ann@example.org\nAnn;ANN@example.org\nBob;bob(at)example\n;\n Cy ;\n",
                     encoding="utf-8")
    with pytest.raises(SheetInvalidError) as bad:
        read_list(sheet)
    assert [(i.row, i.reason) for i in bad.value.issues] == [(4, "not an e-mail address"), (6, "no e-mail address")]
    found, issues = read_list(sheet, skip_invalid=True)
    assert [r.address for r in found] == ["ann@example.org"] and len(issues) == 2


def test_audience_dedupes_across_sources_and_applies_suppression_and_store_opt_outs() -> None:
    news = [Recipient("A@x.org", "A", "newsletter"), Recipient("b@x.org", "B", "newsletter")]
    listed = [Recipient("a@X.org", "", "list:l"), Recipient("c@x.org", "", "list:l"), Recipient("d@x.org", "", "list:l")]
    audience = build_audience([(Source("newsletter"), news), (Source("list", "l"), listed)],
                              {"b@x.org": "unsubscribed"}, {"d@x.org"})
    assert [r.address for r in audience] == ["A@x.org", "c@x.org"]
    assert audience.per_source["list:l"] == {"found": 3, "duplicate": 1, "suppressed": 1, "invalid": 0, "to_send": 1}
    assert {r.address: why for r, why in audience.suppressed} == {"b@x.org": "unsubscribed",
                                                                 "d@x.org": "opted out of the newsletter in the store"}


def test_suppression_list_appends_only_new_addresses_in_a_private_file(tmp_path) -> None:
    path = tmp_path / "c" / "suppressed.csv"
    assert add_suppressed(path, ["X@y.org", "x@y.org"], "unsubscribed") == ["x@y.org"]
    assert add_suppressed(path, ["x@y.org"], "again") == []
    assert read_suppressed(path) == {"x@y.org": "unsubscribed"} and oct(path.stat().st_mode)[-3:] == "600"


def _factory(tmp_path: Path) -> MessageFactory:
    (tmp_path / "f.png").write_bytes(b"\x89PNG fake")
    page = tmp_path / "body.html"
    page.write_text('<html><body><p>{{greeting}}</p><a href="https://s/x"><img src="f.png" alt="Deals"></a>'
                    '<p>Zürich: 5 €</p></body></html>', encoding="utf-8")
    content = Content.from_html_file(page, "Wöchentliche Angebote", "Shop")
    return MessageFactory(content, "shop@example.test", "Shöp", "https://s/index.php?route=account/newsletter",
                          "mailto:shop@example.test?subject=unsubscribe", "c1")


def test_a_message_has_html_text_inline_image_list_unsubscribe_and_is_personalised(tmp_path) -> None:
    raw = _factory(tmp_path).build(Recipient("ann@example.org", "Ann Müller", "newsletter"))
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"] == "Wöchentliche Angebote" and "Ann Müller" in str(msg["To"])
    assert "<mailto:shop@example.test?subject=unsubscribe>" in msg["List-Unsubscribe"]
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = msg.get_body(("html",)).get_content()
    text = msg.get_body(("plain",)).get_content()
    assert "Dear Ann Müller," in html and "Zürich: 5 €" in html and "cid:img1." in html and "Unsubscribe" in html
    assert "Dear Ann Müller," in text and "[Deals]" in text and "account/newsletter" in text
    images = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert images and images[0].get_content() == b"\x89PNG fake"


def test_a_recipient_without_a_name_is_greeted_plainly_and_names_are_escaped(tmp_path) -> None:
    factory = _factory(tmp_path)
    assert "Hello," in factory.personalise("{{greeting}}", Recipient("a@b.org", "", "x"), escape=True)
    assert "&lt;b&gt;" in factory.personalise("{{name}}", Recipient("a@b.org", "<b>", "x"), escape=True)
    assert html_to_text("<p>a<br>b</p>") == "a\nb\n"


def test_the_journal_keeps_states_across_runs_and_adds_new_recipients_as_pending(tmp_path) -> None:
    campaign = Campaign("c1", "cl", "s", "subj", "sha", "newsletter", "2026-12-06T00:00:00+00:00", None)
    a, b, c = (Recipient(f"{n}@x.org", "", "newsletter") for n in "abc")
    with Journal(tmp_path / "mail.sqlite") as journal:
        assert journal.create(campaign, [a, b], []) == 2
        journal.mark("c1", a, "sending")
        journal.mark("c1", a, "sent")
        journal.mark("c1", b, "sending")  # killed here: b may have gone out
    with Journal(tmp_path / "mail.sqlite") as journal:
        assert journal.create(campaign, [a, b, c], []) == 1
        assert [r.address for r in journal.to_send("c1")] == ["c@x.org"]
        assert journal.counts("c1") | {} == {"pending": 1, "sending": 1, "sent": 1, "refused": 0, "deferred": 0,
                                             "suppressed": 0}


def test_the_default_layout_loads_and_the_agency_adds_layouts_and_bad_ones_are_named(tmp_path) -> None:
    from maint.errors import PlaybookError

    layout = load_layout()
    assert layout.width == 600 and layout.regular_font.is_file()
    (tmp_path / "flyers").mkdir()
    (tmp_path / "flyers" / "wide.yaml").write_text("columns: 3\ncolors: {header: '#aa0000'}\n")
    (tmp_path / "flyers" / "loud.yaml").write_text("colors: {headline: red}\n")
    wide = load_layout("wide", tmp_path)
    assert wide.columns == 3 and wide.colors["header"] == "#aa0000" and wide.colors["text"] == layout.colors["text"]
    with pytest.raises(PlaybookError, match="colors.headline"):
        load_layout("loud", tmp_path)
    with pytest.raises(PlaybookError, match="no flyer layout.*known: default, loud, wide"):
        load_layout("nope", tmp_path)


def test_smtp_settings_str_never_shows_the_password() -> None:
    s = SmtpSettings("h", 25, "u", "secret-pw")
    assert "secret-pw" not in f"{s} {s!r}"


def test_a_line_break_in_a_name_or_subject_cannot_add_a_header(tmp_path) -> None:
    factory = _factory(tmp_path)
    raw = factory.build(Recipient("ann@example.org", "Ann\r\nBcc: victim@example.org", "newsletter"))
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Bcc"] is None and "victim" in str(msg["To"])


def test_an_xlsx_list_is_read_like_a_csv(tmp_path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Kunde", "E-Mail-Adresse"])
    sheet.append(["Ann", "ann@example.org"])
    sheet.append(["Bob", "bob@"])
    book.save(tmp_path / "list.xlsx")
    found, issues = read_list(tmp_path / "list.xlsx", skip_invalid=True)
    assert [r.address for r in found] == ["ann@example.org"] and [(i.row, i.column) for i in issues] == [(3, "B")]
