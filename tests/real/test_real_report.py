"""`fab report` after real tasks ran on a real store: the work, backup and versions they recorded,
in plain words, and nothing secret."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from invoke.exceptions import Exit
from realtier import REAL, fab

from maint import verdicts
from maint.tasks.check import check
from maint.tasks.mail import mail
from maint.tasks.prices import prices, undo
from maint.tasks.products import products
from maint.tasks.report import report


def test_the_report_tells_what_real_tasks_recorded_on_a_real_store(tmp_path, real, real_env, real_context) -> None:
    name = REAL["4.1.0.4"]
    store = real.store(name)
    assert fab("info", name).returncode == 0
    mirrored = fab("mirror", name, "--yes")
    assert mirrored.returncode == 0, mirrored.stderr
    sheet = tmp_path / "prices-nov.csv"
    sheet.write_text("model,price\nProduct 21,111.11\nProduct 15,+5%\n")
    done = prices(real_context, name, str(sheet), match="model", yes=True)
    undo(real_context, name, done["undo_file"], yes=True)  # the session's store keeps its sample prices

    month = datetime.now(UTC).strftime("%Y-%m")  # the ledger's month: tasks ran just now
    out = tmp_path / "reports"
    made = fab("report", real.client, "--month", month, "--out", str(out), "--json")
    assert made.returncode == 0, made.stderr
    page = Path(json.loads(made.stdout)["stores"][0]["html"])
    assert stat.S_IMODE(page.stat().st_mode) == 0o600
    html = page.read_text()
    assert "Updated 2 prices from prices-nov.csv" in html
    assert "Undid the earlier price change (2 values restored)" in html
    assert "Took a backup of the shop&#x27;s files and database" in html
    assert "Checked the shop&#x27;s platform and versions" in html
    assert "1 backup(s) taken this month, 1 verified" in html or "backup(s) taken this month" in html
    assert "<td>OpenCart</td><td>4.1.0.4</td>" in html
    assert "Not monitored this month" in html  # no health run in this session
    assert store.db_password not in html and "owner@example.invalid" not in html


def test_the_report_tells_a_real_check_product_list_and_campaign_from_their_own_records(
    tmp_path, real, real_context, smtp_server, capsys
) -> None:
    """`fab check`'s recorded verdict (with the web server it found), `fab products`' undo file and
    `fab mail`'s journal on a real 4.1.0.4, each in the report in plain words."""
    name = REAL["4.1.0.4"]
    server = smtp_server()
    ctx = type(real_context)(real_context.config.clone())
    ctx.config.maint.smtp = server.config()
    ctx.config.maint.state_dir = str(tmp_path / "state")
    try:
        check(ctx, name, json=True)
    except Exit:
        pass  # the verdict's exit code (a warning is 1): the record is what matters here
    capsys.readouterr()
    kept = verdicts.read(tmp_path / "state", name)
    assert len(kept) == 1 and kept[0].versions["opencart"] == "4.1.0.4" and kept[0].versions.get("web server")

    sheet = tmp_path / "featured-nov.csv"
    sheet.write_text("model,action\nProduct 21,add\n")
    done = products(ctx, name, str(sheet), list="featured", match="model", yes=True, json=True)
    products(ctx, name, done["undo_file"], undo=True, yes=True, json=True)  # the session's store as it was
    page = tmp_path / "news.html"
    page.write_text("<html><body><h1>News</h1><p>Hello</p></body></html>")
    friends = tmp_path / "friends.csv"
    friends.write_text("email,name\n" + "".join(f"friend{i}@example.org,Friend {i}\n" for i in range(3)))
    mail(ctx, name, html=str(page), subject="Real news", to=f"list:{friends}", yes=True, json=True)
    assert len(server.recipients()) == 3
    capsys.readouterr()

    month = datetime.now(UTC).strftime("%Y-%m")
    report(ctx, real.client, month=month, out=str(tmp_path / "reports"), json=True)
    html = Path(json.loads(capsys.readouterr().out)["stores"][0]["html"]).read_text()
    assert "Compatibility and security check (" in html
    web = kept[0].versions["web server"]
    assert f"<td>Web server</td><td>{escape(web)}</td>" in html
    assert "Updated the Featured products list from featured-nov.csv: 1 product added" in html
    assert "Put a product list back as it was before an earlier change" in html
    assert "Sent the e-mail “Real news” to 3 recipients" in html
    assert "friend0@example.org" not in html and real.store(name).db_password not in html
