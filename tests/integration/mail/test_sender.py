"""The send loop against a real SMTP server: temporary failures retried then deferred, resumed later."""

from __future__ import annotations

from pathlib import Path

import pytest

from maint.mail.journal import Campaign, Journal, Recipient
from maint.mail.message import Content, MessageFactory
from maint.mail.send import SendPolicy, send_campaign
from maint.mail.smtp import SmtpAuthError, SmtpSettings


def setup(tmp_path: Path, people: list[Recipient]) -> tuple[Journal, MessageFactory]:
    (tmp_path / "b.html").write_text("<p>{{greeting}} news</p>")
    content = Content.from_html_file(tmp_path / "b.html", "News", "Shop")
    factory = MessageFactory(content, "shop@example.test", "Shop", "", "mailto:shop@example.test", "c1")
    journal = Journal(tmp_path / "mail.sqlite")
    journal.create(Campaign("c1", "cl", "s", "News", content.sha, "x", "2026-12-06", None), people, [])
    return journal, factory


def test_a_temporary_refusal_is_retried_with_backoff_then_deferred_and_sent_by_the_next_run(
    tmp_path, smtp_server
) -> None:
    people = [Recipient(f"{n}@example.org", n, "x") for n in ("ann", "busy", "cy")]
    journal, factory = setup(tmp_path, people)
    busy = smtp_server(defer=["busy@"])
    waits: list[float] = []
    report = send_campaign(journal, "c1", factory, SmtpSettings(busy.host, busy.port),
                           policy=SendPolicy(retries=2, backoff=0.01), sleep=waits.append)
    assert (report.sent, report.deferred) == (2, 1) and waits == [0.01, 0.02]
    assert journal.counts("c1")["deferred"] == 1 and sorted(busy.recipients()) == ["ann@example.org", "cy@example.org"]
    open_again = smtp_server()
    later = send_campaign(journal, "c1", factory, SmtpSettings(open_again.host, open_again.port))
    assert later.sent == 1 and open_again.recipients() == ["busy@example.org"]
    journal.close()


def test_a_refused_login_stops_at_once_and_leaves_everyone_pending(tmp_path, smtp_server) -> None:
    people = [Recipient(f"p{i}@example.org", "", "x") for i in range(3)]
    journal, factory = setup(tmp_path, people)
    server = smtp_server(auth="u:right")
    with pytest.raises(SmtpAuthError) as stopped:
        send_campaign(journal, "c1", factory, SmtpSettings(server.host, server.port, "u", "wrong"))
    assert "wrong" not in str(stopped.value)
    assert journal.counts("c1")["pending"] == 3 and server.recipients() == []
    journal.close()
