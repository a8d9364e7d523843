"""The tasks through Fabric's real command line (as `maint prices …` runs them), flags as users type them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fabric import Config, Executor
from fabric.main import Fab
from invoke import Collection

import maint.tasks.cli_compat  # noqa: F401  (the project's parser adjustments)
from maint.tasks import prices as tasks


def program(price_sandbox, monkeypatch) -> Fab:
    for key, value in price_sandbox.env().items():
        monkeypatch.setenv(key, value)
    ns = Collection()
    for task in (tasks.prices, tasks.discounts, tasks.groups, tasks.undo):
        ns.add_task(task)
    ns.configure({"maint": {"inventory": "", "state_dir": "", "ssh_config": "", "known_hosts": ""}})
    return Fab(name="maint", version="test", namespace=ns, executor_class=Executor, config_class=Config)


def test_prices_from_the_command_line_with_dashed_flags(price_sandbox, monkeypatch, tmp_path, capsys) -> None:
    sheet = tmp_path / "liste.csv"
    sheet.write_text("Artikel;VK\nM00011;11,11\n", encoding="utf-8")
    fab = program(price_sandbox, monkeypatch)
    fab.run(
        [
            "maint",
            "prices",
            "s3",
            str(sheet),
            "--match",
            "model",
            "--columns",
            "price=VK,model=Artikel",
            "--allow-large-changes",
            "--diff-csv",
            str(tmp_path / "diff.csv"),
            "--dry-run",
            "--json",
        ],
        exit=False,
    )
    captured = capsys.readouterr()
    assert captured.err == ""
    out = json.loads(captured.out)["stores"][0]
    assert (out["changes"], out["dry_run"]) == (1, True)
    assert out["largest"][0]["product_id"] == 11 and out["largest"][0]["new"] == "11.1100"
    assert Path(tmp_path / "diff.csv").read_text().splitlines()[1].startswith("2,M00011,11,")


def test_a_bad_file_exits_50_from_the_command_line(price_sandbox, monkeypatch, tmp_path) -> None:
    sheet = tmp_path / "liste.csv"
    sheet.write_text("sku,price\nSKU-00001,abc\n", encoding="utf-8")
    fab = program(price_sandbox, monkeypatch)
    with pytest.raises(SystemExit) as caught:
        fab.run(["maint", "prices", "s3", str(sheet), "--yes"])
    assert caught.value.code == 50
