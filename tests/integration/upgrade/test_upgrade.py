"""`fab upgrade` and `fab rollback` on the stand-in store: both pairs of facts B5, the three ways every
mutating task is proven, a rollback on request, and faults that end back at the starting files and rows."""

from __future__ import annotations

import json
import shutil
import subprocess
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
    for version in ("3.0.3.8", "3.0.5.1", "4.1.0.4"):
        export_release(version, base / version)
        out[version] = base / version
    return out


# Removed files: 3.0.3.8's system/fixture/legacy.php (found from --from-release; its Divido module is
# installed on the stand-in, so kept and named), 4.0.2.3's system/library/encryption.php (found without
# it: a core folder compared with 4.1.0.4's list).
PAIRS = [("f3", "3.0.5.1", "3.0.3.8", ("system/fixture/legacy.php",)),
         ("f4", "4.1.0.4", "", ("system/library/encryption.php",))]


@pytest.mark.parametrize(("name", "target", "current", "gone"), PAIRS)
def test_upgrade_dry_run_changes_nothing_then_applies_and_verifies_then_plans_nothing(
        upgrade_sandbox, releases, name, target, current, gone) -> None:
    before = state(upgrade_sandbox, name)
    root = upgrade_sandbox.store(name).root
    args = ["upgrade", name, "--to", target, "--release", str(releases[target])]
    args += ["--from-release", str(releases[current])] if current else []
    dry = fab(upgrade_sandbox, *args, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)["stores"][0]["plan"]
    removed = next(ch for ch in plan["changes"] if ch["kind"] == "remove")
    assert removed["target"] == f"{len(gone)} old core file(s)" and removed["destructive"]
    assert all("/".join(path.split("/")[:2]) in removed["summary"] for path in gone)
    assert ("OpenCart 3.0.3.8's files" if current else "without --from-release") in removed["summary"]
    kept = [w for w in plan["warnings"] if "installed extensions that OpenCart" in w]
    assert kept == (["1 file(s) of installed extensions that OpenCart 3.0.5.1 no longer ships are kept (check they "
                     "still work, or uninstall them): catalog/controller/extension/payment/divido.php"]
                    if current else [])
    assert state(upgrade_sandbox, name) == before and all((root / path).is_file() for path in gone)

    done = fab(upgrade_sandbox, *args, "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"→ {target}, verified" in done.stdout
    assert f"define('VERSION', '{target}');" in (root / "index.php").read_text()
    assert not (root / "install").exists()
    assert not any((root / path).exists() for path in gone) and (root / "config.php").is_file()
    assert upgrade_sandbox.store(name).db_password not in done.stdout + done.stderr

    again = fab(upgrade_sandbox, *args[:6], "--yes")
    assert again.returncode == 0 and "No changes" in again.stderr


def test_the_3_0_upgrade_switches_ocmod_modifications_back_on_and_rebuilds_their_cache(upgrade_sandbox) -> None:
    store = upgrade_sandbox.store("f3")
    with upgrade_sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
        cur.execute(f"SELECT code, status FROM `{store.prefix}modification` ORDER BY modification_id")
        statuses = dict(cur.fetchall())
    assert statuses and set(statuses.values()) == {1}
    rebuilt = (store.storage / "modification" / "fixture-refresh.txt").read_text().split()
    assert sorted(rebuilt) == sorted(statuses)


def late_order(sandbox, name: str, email: str) -> int:
    """An order placed on the live store now (the stand-in's order table, NOT NULL columns left out)."""
    store = sandbox.store(name)
    with sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
        cur.execute("SET SESSION sql_mode = ''")
        cur.execute(f"INSERT INTO `{store.prefix}order` SET firstname = 'Late', lastname = 'Buyer', email = %s, "
                    "total = 42.5, date_added = NOW(), date_modified = NOW()", (email,))
        db.commit()
        return int(cur.lastrowid)


def orders_of(sandbox, name: str, email: str) -> int:
    store = sandbox.store(name)
    with sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
        cur.execute(f"SELECT COUNT(*) FROM `{store.prefix}order` WHERE email = %s", (email,))
        return int(cur.fetchone()[0])


def broken_release(releases, tmp_path: Path) -> Path:
    broken = tmp_path / "broken"
    shutil.copytree(releases["3.0.5.1"], broken)
    # A core file every storefront page runs (the stand-in's catalog front controller).
    (broken / "system" / "fixture" / "catalog.php").write_text("<?php error here\n")
    return broken


def test_rollback_refuses_to_lose_orders_placed_since_the_upgrade_then_puts_back_files_and_rows(
        upgrade_sandbox, releases) -> None:
    name = "f3b"
    before = state(upgrade_sandbox, name)
    done = fab(upgrade_sandbox, "upgrade", name, "--to", "3.0.5.1", "--release", str(releases["3.0.5.1"]), "--yes",
               "--no-rehearse")
    assert done.returncode == 0, done.stdout + done.stderr
    assert state(upgrade_sandbox, name) != before
    order = late_order(upgrade_sandbox, name, "after-upgrade@example.com")  # a customer on the new release
    upgraded = state(upgrade_sandbox, name)

    refused = fab(upgrade_sandbox, "rollback", name, "--yes")
    assert refused.returncode == 60, refused.stdout + refused.stderr
    assert "would lose 1 order(s)" in refused.stderr and f"#{order} " in refused.stderr
    assert "--discard-newer" in refused.stderr and "nothing was changed" in refused.stderr
    assert state(upgrade_sandbox, name) == upgraded

    dry = fab(upgrade_sandbox, "rollback", name, "--dry-run")
    assert dry.returncode == 0 and "restore snapshot" in dry.stdout
    assert "newer than the snapshot would be lost" in dry.stdout and "after-upgrade@example.com" in dry.stdout
    assert state(upgrade_sandbox, name) == upgraded

    back = fab(upgrade_sandbox, "rollback", name, "--yes", "--discard-newer")
    assert back.returncode == 0, back.stdout + back.stderr
    assert "discarded: 1 order(s)" in back.stdout
    assert state(upgrade_sandbox, name) == before
    nothing = fab(upgrade_sandbox, "rollback", name, "--yes")
    assert nothing.returncode == 0 and "No changes" in nothing.stderr


def test_a_broken_release_fails_the_rehearsal_and_a_failed_live_step_rolls_back(
        upgrade_sandbox, releases, tmp_path) -> None:
    name = "f3b"  # back at 3.0.3.8 after the rollback test
    broken = broken_release(releases, tmp_path)
    before = state(upgrade_sandbox, name)
    rehearsed = fab(upgrade_sandbox, "upgrade", name, "--to", "3.0.5.1", "--release", str(broken), "--yes")
    assert rehearsed.returncode == 70, rehearsed.stdout + rehearsed.stderr
    assert "the live store was not touched" in rehearsed.stderr
    assert state(upgrade_sandbox, name) == before

    live = fab(upgrade_sandbox, "upgrade", name, "--to", "3.0.5.1", "--release", str(broken), "--yes", "--no-rehearse")
    assert live.returncode == 70, live.stdout + live.stderr
    assert "rolled back to the snapshot and verified" in live.stderr
    assert state(upgrade_sandbox, name) == before


def test_orders_placed_after_the_snapshot_survive_the_automatic_rollback(upgrade_sandbox, releases, tmp_path) -> None:
    """The snapshot is older than the window (a rehearsal ran, or --snapshot-max-age reused one): orders placed
    in between are taken into a new snapshot once the store is in maintenance, so a rollback keeps them."""
    name = "f3b"  # at 3.0.3.8; the last test's live run left a verified snapshot of it
    email = "during-rehearsal@example.com"
    late_order(upgrade_sandbox, name, email)
    before = state(upgrade_sandbox, name)
    run = fab(upgrade_sandbox, "upgrade", name, "--to", "3.0.5.1", "--release", str(broken_release(releases, tmp_path)),
              "--yes", "--no-rehearse", "--snapshot-max-age", "3600", "--json")
    assert run.returncode == 70, run.stdout + run.stderr
    data = json.loads(run.stdout)["stores"][0]
    way_back = next(s for s in data["live"]["steps"] if s["step"] == "way back")
    assert "1 order(s)" in way_back["detail"] and "taken in the window" in way_back["detail"]
    assert data["rolled_back"] and data["snapshot"] == data["live"]["snapshot"]
    assert orders_of(upgrade_sandbox, name, email) == 1
    assert state(upgrade_sandbox, name) == before


def test_an_upgrade_into_a_restic_repository_rehearses_from_its_snapshot_and_rolls_back_from_it(
        upgrade_sandbox, releases, tmp_path, monkeypatch) -> None:
    """With `mirror.repository` the upgrade's snapshot is a restic snapshot: the rehearsal serves it and
    `fab rollback` restores it, each from an extraction removed afterwards."""
    if shutil.which("restic") is None:
        pytest.skip("restic not installed (Debian restic)")
    monkeypatch.setenv("RESTIC_PASSWORD", "upgrade restic password")
    monkeypatch.setenv("RESTIC_CACHE_DIR", str(tmp_path / "restic-cache"))
    repo = tmp_path / "repo"
    subprocess.run(["restic", "init", "--repo", str(repo)], check=True, capture_output=True)
    config = tmp_path / "restic.yaml"
    config.write_text(f"maint:\n  options:\n    mirror:\n      repository: restic:{repo}\n")
    name = "f3b"  # at 3.0.3.8 (the last test rolled back)
    before = state(upgrade_sandbox, name)
    done = fab(upgrade_sandbox, "-f", str(config), "upgrade", name, "--to", "3.0.5.1", "--release",
               str(releases["3.0.5.1"]), "--yes", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    snapshot = json.loads(done.stdout)["stores"][0]["snapshot"]
    listed = subprocess.run(["restic", "--repo", str(repo), "snapshots", "--json"], check=True, capture_output=True,
                            text=True).stdout
    assert f"up-{name}-{snapshot}" in listed and state(upgrade_sandbox, name) != before

    back = fab(upgrade_sandbox, "-f", str(config), "rollback", name, "--yes", "--discard-newer")
    assert back.returncode == 0, back.stdout + back.stderr
    assert state(upgrade_sandbox, name) == before
    extracted = Path(upgrade_sandbox.state_dir) / "restic-extract"
    assert not [p for p in extracted.rglob("*") if p.is_file()]  # client data in clear: gone after use
