"""`fab upgrade` and `fab rollback` on the stand-in store: both pairs of facts B5, the three ways every
mutating task is proven, a rollback on request, and faults that end back at the starting files and rows."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from standin import fab, state

from maint.sandbox import Sandbox, StoreSpec
from maint.sandbox.fixture import export_release


@pytest.fixture(scope="module")
def upgrade_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(tmp_path_factory.mktemp("upgrade-sandbox"), (StoreSpec("f3", "3.0.3.8"), StoreSpec("f4", "4.0.2.3"),
                                                              StoreSpec("f3b", "3.0.3.8")), client="up") as sb:
        yield sb


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("releases")
    out = {}
    for version in ("3.0.5.1", "4.1.0.4"):
        export_release(version, base / version)
        out[version] = base / version
    return out


@pytest.mark.parametrize(("name", "target"), [("f3", "3.0.5.1"), ("f4", "4.1.0.4")])
def test_upgrade_dry_run_changes_nothing_then_applies_and_verifies_then_plans_nothing(
        upgrade_sandbox, releases, name, target) -> None:
    before = state(upgrade_sandbox, name)
    dry = fab(upgrade_sandbox, "upgrade", name, "--to", target, "--release", str(releases[target]), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "dry run, nothing changed" in dry.stderr
    assert state(upgrade_sandbox, name) == before

    done = fab(upgrade_sandbox, "upgrade", name, "--to", target, "--release", str(releases[target]), "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"→ {target}, verified" in done.stdout
    root = upgrade_sandbox.store(name).root
    assert f"define('VERSION', '{target}');" in (root / "index.php").read_text()
    assert not (root / "install").exists()
    assert upgrade_sandbox.store(name).db_password not in done.stdout + done.stderr

    again = fab(upgrade_sandbox, "upgrade", name, "--to", target, "--release", str(releases[target]), "--yes")
    assert again.returncode == 0 and "No changes" in again.stderr


def test_the_3_0_upgrade_switches_ocmod_modifications_back_on_and_rebuilds_their_cache(upgrade_sandbox) -> None:
    store = upgrade_sandbox.store("f3")
    with upgrade_sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
        cur.execute(f"SELECT code, status FROM `{store.prefix}modification` ORDER BY modification_id")
        statuses = dict(cur.fetchall())
    assert statuses and set(statuses.values()) == {1}
    rebuilt = (store.storage / "modification" / "fixture-refresh.txt").read_text().split()
    assert sorted(rebuilt) == sorted(statuses)


def test_rollback_puts_back_the_files_and_rows_from_before_the_upgrade(upgrade_sandbox, releases) -> None:
    name = "f3b"
    before = state(upgrade_sandbox, name)
    done = fab(upgrade_sandbox, "upgrade", name, "--to", "3.0.5.1", "--release", str(releases["3.0.5.1"]), "--yes",
               "--no-rehearse")
    assert done.returncode == 0, done.stdout + done.stderr
    assert state(upgrade_sandbox, name) != before
    dry = fab(upgrade_sandbox, "rollback", name, "--dry-run")
    assert dry.returncode == 0 and "restore snapshot" in dry.stdout
    back = fab(upgrade_sandbox, "rollback", name, "--yes")
    assert back.returncode == 0, back.stdout + back.stderr
    assert state(upgrade_sandbox, name) == before
    nothing = fab(upgrade_sandbox, "rollback", name, "--yes")
    assert nothing.returncode == 0 and "No changes" in nothing.stderr


def test_a_broken_release_fails_the_rehearsal_and_a_failed_live_step_rolls_back(
        upgrade_sandbox, releases, tmp_path) -> None:
    name = "f3b"  # back at 3.0.3.8 after the rollback test
    broken = tmp_path / "broken"
    shutil.copytree(releases["3.0.5.1"], broken)
    # A core file every storefront page runs (the stand-in's catalog front controller).
    (broken / "system" / "fixture" / "catalog.php").write_text("<?php error here\n")
    before = state(upgrade_sandbox, name)
    rehearsed = fab(upgrade_sandbox, "upgrade", name, "--to", "3.0.5.1", "--release", str(broken), "--yes")
    assert rehearsed.returncode == 70, rehearsed.stdout + rehearsed.stderr
    assert "the live store was not touched" in rehearsed.stderr
    assert state(upgrade_sandbox, name) == before

    live = fab(upgrade_sandbox, "upgrade", name, "--to", "3.0.5.1", "--release", str(broken), "--yes", "--no-rehearse")
    assert live.returncode == 70, live.stdout + live.stderr
    assert "rolled back to the snapshot and verified" in live.stderr
    assert state(upgrade_sandbox, name) == before
