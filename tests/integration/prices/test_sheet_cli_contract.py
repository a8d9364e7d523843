"""Issue #14 on the sheet tasks against the real sandbox: Fabric's --dry/-R is a dry run (the store is
byte-for-byte unchanged), --json is the one envelope, `fab undo STORE` lists the undo files and
`fab undo --dry-run` shows old → new per value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fabric import Config, Executor
from fabric.main import Fab
from invoke import Collection

from maint.tasks import prices as tasks

DISCOUNTS = "sku;Kundengruppe;Menge;Preis\nSKU-00001;Default;10;-10%\n"
GROUPS = "E-Mail;Kundengruppe\ncustomer00001@example.test;Wholesale\n"


def program(price_sandbox, monkeypatch) -> Fab:
    for key, value in price_sandbox.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MAINT_YES", raising=False)
    ns = Collection()
    for task in (tasks.prices, tasks.discounts, tasks.groups, tasks.undo):
        ns.add_task(task)
    ns.configure({"maint": {"inventory": "", "state_dir": "", "ssh_config": "", "known_hosts": ""}})
    return Fab(name="maint", version="test", namespace=ns, executor_class=Executor, config_class=Config)


def run(fab: Fab, capsys, *argv: str) -> tuple[int, str, str]:
    code = 0
    try:
        fab.run(["maint", *argv])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def sheets(tmp_path: Path) -> dict[str, Path]:
    found = {"prices": tmp_path / "prices.csv", "discounts": tmp_path / "tiers.csv", "groups": tmp_path / "groups.csv"}
    found["prices"].write_text("sku,price\nSKU-00021,77.70\nSKU-00022,88.80\n", encoding="utf-8")
    found["discounts"].write_text(DISCOUNTS, encoding="utf-8")
    found["groups"].write_text(GROUPS, encoding="utf-8")
    return found


@pytest.mark.parametrize("dry", ["--dry", "-R", "-n", "--dry-run"])
@pytest.mark.parametrize("task", ["prices", "discounts", "groups"])
def test_every_dry_flag_leaves_the_store_unchanged_even_with_yes(
    task, dry, tmp_path, price_sandbox, store_state, monkeypatch, capsys, assert_envelope
) -> None:
    fab = program(price_sandbox, monkeypatch)
    before = store_state("s3")
    code, out, err = run(fab, capsys, task, "s3", str(sheets(tmp_path)[task]), dry, "--yes", "--json")
    assert code == 0, err
    (item,) = assert_envelope(out, task)["stores"]
    assert (item["store"], item["ok"], item["dry_run"], item["applied"]) == ("s3", True, True, False)
    assert store_state("s3") == before
    code, out, err = run(fab, capsys, task, "s3", str(sheets(tmp_path)[task]), dry, "--yes")
    assert code == 0 and "dry run, nothing changed" in out and "applied" not in out
    assert store_state("s3") == before
    if task == "prices":  # plans name things: "Product 21 (…)", not a bare id
        assert "Product 21 (" in out
    if task == "groups":
        assert "→ Wholesale" in out and "group 1" not in out


def test_undo_lists_the_files_newest_first_and_its_dry_run_shows_old_and_new(
    tmp_path, price_sandbox, prices_of, monkeypatch, capsys, assert_envelope
) -> None:
    fab = program(price_sandbox, monkeypatch)
    old = prices_of("s4", [21, 22])
    sheet = sheets(tmp_path)["prices"]
    code, out, err = run(fab, capsys, "prices", "s4", str(sheet), "--yes", "--allow-large-changes")
    assert code == 0, err
    lines = out.splitlines()
    hint = next(i for i, line in enumerate(lines) if line.endswith("undo with:"))
    undo_file = lines[hint + 1].split()[-1]
    assert lines[hint + 1].strip().startswith("fab undo s4 /")  # the command alone on its line, whole

    code, out, err = run(fab, capsys, "undo", "s4")
    assert code == 0 and "Undo files of s4, newest first" in out and Path(undo_file).name in out
    code, out, err = run(fab, capsys, "undo", "s4", "--json")
    listed = assert_envelope(out, "undo")["stores"][0]["undo_files"]
    assert listed[0]["file"] == undo_file and listed[0]["task"] == "prices" and listed[0]["rows"] == 2
    assert [f["created"] for f in listed] == sorted((f["created"] for f in listed), reverse=True)

    code, out, err = run(fab, capsys, "undo", "s4", undo_file, "--dry-run", "--json")
    values = {v["row"]: v for v in assert_envelope(out, "undo")["stores"][0]["values"]}
    assert values["product_id 21"] == {"table": "product", "row": "product_id 21", "column": "price",
                                       "now": "77.70", "back_to": old[21]}  # as the sheet wrote it
    code, out, err = run(fab, capsys, "undo", "s4", undo_file, "--dry-run")
    assert "back to" in out and "77.70" in out and old[22] in out
    assert prices_of("s4", [21, 22]) == {21: "77.7000", 22: "88.8000"}
    code, out, err = run(fab, capsys, "undo", "s4", undo_file, "--yes")
    assert code == 0 and prices_of("s4", [21, 22]) == old


def test_a_bad_sheet_gives_the_envelope_with_every_problem(
    tmp_path, price_sandbox, monkeypatch, capsys, assert_envelope
) -> None:
    fab = program(price_sandbox, monkeypatch)
    sheet = tmp_path / "bad.csv"
    sheet.write_text("sku,price\nSKU-00001,abc\n", encoding="utf-8")
    code, out, err = run(fab, capsys, "prices", "s3", str(sheet), "--json")
    data = assert_envelope(out, "prices")
    assert code == data["exit_code"] == 50 and data["ok"] is False
    (item,) = data["stores"]
    assert item["ok"] is False and item["issues"][0]["row"] == 2
    assert json.loads(out)  # one document, nothing after it
