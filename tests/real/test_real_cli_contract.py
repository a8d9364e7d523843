"""Issue #14 on real releases: Fabric's --dry/-R with --yes changes nothing, the plan names the
products as the store does ("Product 47 (…)"), and --json is the one envelope of the schema."""

from __future__ import annotations

import re

import pytest
from realtier import REAL, db_state, fab

STORES = [REAL["3.0.5.1"], REAL["4.1.0.4"]]
VOLATILE = ("session", "customer_online", "product", "product_report", "product_viewed")


@pytest.mark.parametrize("name", STORES)
@pytest.mark.parametrize("dry", ["--dry", "-R"])
def test_fabric_dry_with_yes_changes_nothing_and_names_the_products(
    name, dry, tmp_path, real, real_env, assert_envelope
) -> None:
    sheet = tmp_path / "prices.csv"
    sheet.write_text("model,price\nProduct 21,123.45\n")
    before = db_state(real, name, skip=VOLATILE)
    run = fab("prices", name, str(sheet), "--match", "model", dry, "--yes")
    assert run.returncode == 0, run.stderr
    assert re.search(r"Product 47 \(\S.*\)", run.stdout) and "dry run, nothing changed" in run.stdout
    run = fab("prices", name, str(sheet), "--match", "model", dry, "--yes", "--json")
    (item,) = assert_envelope(run.stdout, "prices")["stores"]
    assert (item["dry_run"], item["applied"], item["largest"][0]["product_id"]) == (True, False, 47)
    assert item["largest"][0]["product"]
    assert db_state(real, name, skip=VOLATILE) == before


@pytest.mark.parametrize("name", STORES)
def test_every_read_only_task_gives_the_envelope_on_a_real_store(name, real, real_env, assert_envelope) -> None:
    for argv in (["info", name], ["check", name], ["undo", name]):
        run = fab(*argv, "--json")
        data = assert_envelope(run.stdout, argv[0])
        assert data["exit_code"] == run.returncode and "Traceback" not in run.stderr
        assert data["stores"][0]["store"] == name
