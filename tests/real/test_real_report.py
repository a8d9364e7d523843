"""`fab report` after real tasks ran on a real store: the work, backup and versions they recorded,
in plain words, and nothing secret."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

from realtier import REAL, fab

from maint.tasks.prices import prices, undo


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
