"""`fab mirror` + `fab restore` on real 3.0.5.1 (MyISAM) and 4.1.0.4 (InnoDB): a newer order is named and
refused, `--dry-run` changes nothing, applied the store is the snapshot again (a safety snapshot first),
and a second run has nothing to restore; with --carry-newer a newer customer and order come back over the
restore, ids and stock kept, proven the same three ways. An encrypted snapshot of a real store reveals nothing in clear,
serves and restores with the key, and a wrong key changes nothing; a borg or a restic repository holds a real store,
serves and restores it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from realtier import REAL, db_state, fab, files_state, query

STORES = [REAL["3.0.5.1"], REAL["4.1.0.4"]]
VOLATILE = ("session", "customer_online", "product_viewed")
LATE = "late.real@example.test"


def _mirrored(name: str) -> str:
    """A snapshot of the store by `fab mirror`; its name."""
    made = fab("mirror", name, "--yes", "--json")
    assert made.returncode == 0, made.stderr
    return str(json.loads(made.stdout)["stores"][0]["snapshot"])


@pytest.mark.parametrize("name", STORES)
def test_restore_on_a_real_store_refuses_a_newer_order_dry_run_changes_nothing_applies_then_nothing_to_restore(
    name, real, real_env
) -> None:
    store = real.store(name)
    snapshot = _mirrored(name)
    snap_db, snap_files = db_state(real, name, skip=VOLATILE), files_state(store.root)
    query(real, name, "INSERT INTO {p}order SET store_id = 0, firstname = 'Late', lastname = 'Buyer', email = %s, "
          "total = 42.5, order_status_id = 1, date_added = NOW(), date_modified = NOW()", (LATE,), relaxed=True)
    junk = store.root / "junk-after-snapshot.php"
    junk.write_text("<?php // created after the snapshot\n")
    try:
        live_db, live_files = db_state(real, name, skip=VOLATILE), files_state(store.root)
        dry = fab("restore", name, "--snapshot", snapshot, "--discard-newer", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert "newer than the snapshot would be lost" in dry.stdout and LATE in dry.stdout
        assert db_state(real, name, skip=VOLATILE) == live_db and files_state(store.root) == live_files

        refused = fab("restore", name, "--snapshot", snapshot, "--yes")
        assert refused.returncode == 60 and "would lose 1 order(s)" in refused.stderr
        assert db_state(real, name, skip=VOLATILE) == live_db and files_state(store.root) == live_files

        done = fab("restore", name, "--snapshot", snapshot, "--discard-newer", "--yes", "--json")
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)["stores"][0]
        assert db_state(real, name, skip=VOLATILE) == snap_db and files_state(store.root) == snap_files
        assert not junk.exists() and result["undo"].startswith(f"fab restore {name} --snapshot ")

        again = fab("restore", name, "--snapshot", snapshot, "--yes", "--json")
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["stores"][0]["plan"]["noop_reason"].startswith("nothing to restore")
        listed = json.loads(fab("restore", name, "--json").stdout)["stores"][0]["snapshots"]
        assert {snapshot, result["undo_snapshot"]} <= {r["snapshot"] for r in listed}
    finally:
        query(real, name, "DELETE FROM {p}order WHERE email = %s", (LATE,))
        junk.unlink(missing_ok=True)


CARRIED = ("customer", "order", "order_product", "order_total")


def _late_customer_and_order(real, name: str) -> tuple[int, int]:
    """A customer who registers and orders after the snapshot; the order takes one iPhone from stock."""
    query(real, name, "INSERT INTO {p}customer SET customer_group_id = 1, store_id = 0, firstname = 'Late', "
          "lastname = 'Buyer', email = %s, status = 1, date_added = NOW()", (LATE,), relaxed=True)
    customer = query(real, name, "SELECT customer_id FROM {p}customer WHERE email = %s", (LATE,))[0][0]
    query(real, name, "INSERT INTO {p}order SET store_id = 0, customer_id = %s, firstname = 'Late', lastname = "
          "'Buyer', email = %s, total = 101, order_status_id = 1, date_added = NOW(), date_modified = NOW()",
          (customer, LATE), relaxed=True)
    order = query(real, name, "SELECT order_id FROM {p}order WHERE email = %s", (LATE,))[0][0]
    query(real, name, "INSERT INTO {p}order_product SET order_id = %s, product_id = 40, name = 'iPhone', model = "
          "'product 11', quantity = 1, price = 101, total = 101", (order,), relaxed=True)
    query(real, name, "INSERT INTO {p}order_total SET order_id = %s, code = 'total', title = 'Total', value = 101, "
          "sort_order = 9", (order,), relaxed=True)
    query(real, name, "UPDATE {p}product SET quantity = quantity - 1 WHERE product_id = 40")
    return int(customer), int(order)


@pytest.mark.parametrize("name", STORES)
def test_restore_carrying_newer_orders_on_a_real_store_dry_run_changes_nothing_applies_then_nothing_to_restore(
    name, real, real_env
) -> None:
    store = real.store(name)
    snapshot = _mirrored(name)
    skip = (*VOLATILE, *CARRIED, "product")
    snap_db, snap_files = db_state(real, name, skip=skip), files_state(store.root)
    snap_products = query(real, name, "SELECT * FROM {p}product WHERE product_id <> 40 ORDER BY product_id")
    customer, order = _late_customer_and_order(real, name)
    late = {t: query(real, name, f"SELECT * FROM {{p}}{t} ORDER BY 1") for t in CARRIED}
    stock = query(real, name, "SELECT quantity FROM {p}product WHERE product_id = 40")[0][0]
    junk = store.root / "junk-after-snapshot.php"
    junk.write_text("<?php // created after the snapshot\n")
    query(real, name, "UPDATE {p}product SET price = price + 1 WHERE product_id <> 40")
    try:
        live_db, live_files = db_state(real, name, skip=VOLATILE), files_state(store.root)
        dry = fab("restore", name, "--snapshot", snapshot, "--carry-newer", "--dry-run", "--json")
        assert dry.returncode == 0, dry.stderr
        carry = [c["summary"] for c in json.loads(dry.stdout)["stores"][0]["plan"]["changes"] if c["kind"] == "carry"]
        assert any(line.startswith(f"1 order(s) #{order} with order_product 1, order_total 1 row(s)") for line in carry)
        assert any(line.startswith(f"1 customer(s) #{customer}") for line in carry), carry
        assert db_state(real, name, skip=VOLATILE) == live_db and files_state(store.root) == live_files

        done = fab("restore", name, "--snapshot", snapshot, "--carry-newer", "--yes", "--json")
        assert done.returncode == 0, done.stderr
        steps = json.loads(done.stdout)["stores"][0]["steps"]
        assert any(s.startswith("carried over: ") and f"#{order}" in s for s in steps), steps
        assert db_state(real, name, skip=skip) == snap_db and files_state(store.root) == snap_files
        assert {t: query(real, name, f"SELECT * FROM {{p}}{t} ORDER BY 1") for t in CARRIED} == late
        assert query(real, name, "SELECT * FROM {p}product WHERE product_id <> 40 ORDER BY product_id") == snap_products
        assert query(real, name, "SELECT quantity FROM {p}product WHERE product_id = 40")[0][0] == stock
        assert not junk.exists()

        after = db_state(real, name, skip=VOLATILE)
        again = fab("restore", name, "--snapshot", snapshot, "--carry-newer", "--yes", "--json")
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["stores"][0]["plan"]["noop_reason"].startswith("nothing to restore")
        assert db_state(real, name, skip=VOLATILE) == after
    finally:
        junk.unlink(missing_ok=True)
        back = fab("restore", name, "--snapshot", snapshot, "--discard-newer", "--yes")  # the store as it was
        assert back.returncode == 0, back.stderr


def _real_cfg(real, name: str, tmp_path: Path, mirror: dict[str, object]):
    from maint.config import load_settings, store_config
    from maint.inventory import load_inventory

    settings = load_settings(real.maint_config())
    return store_config(settings, load_inventory(settings.inventory), name,
                        {"mirror_root": str(tmp_path / "mirror"), "state_dir": tmp_path / "state",
                         "options": {"mirror": mirror}})


def _mirror(cfg):
    from maint.facts.opencart import get_store_facts
    from maint.mirror.run import MirrorOptions, apply_mirror, prepare
    from maint.mirror.sshmux import SshMux
    from maint.remote.ssh import connect

    conn = connect(cfg)
    try:
        facts = get_store_facts(conn, cfg)
        with SshMux(cfg) as mux:
            return apply_mirror(conn, prepare(conn, cfg, facts, MirrorOptions(), mux), mux)
    finally:
        conn.close()


def _restore(cfg, path: Path, man, identity: str = "") -> None:
    from maint.facts.opencart import get_store_facts
    from maint.mirror.restore import apply_restore, prepare_restore
    from maint.remote.ssh import connect

    conn = connect(cfg)
    try:
        facts = get_store_facts(conn, cfg)
        plan = prepare_restore(conn, cfg, facts, path, man, identity=identity, discard_newer=True)
        apply_restore(conn, cfg, facts, path, man, plan, identity=identity)
    finally:
        conn.close()


def _bad_day(real, name: str) -> None:
    """What restores are for: a price changed, a file dropped in, the config edited."""
    store = real.store(name)
    query(real, name, "UPDATE {p}product SET price = 1.0 WHERE product_id = 40")
    (store.root / "image" / "catalog" / "intruder.txt").write_text("not in the snapshot")
    with (store.root / "config.php").open("a") as config:
        config.write("// edited after the snapshot\n")


def test_an_encrypted_snapshot_of_real_4104_reveals_nothing_in_clear_serves_and_restores_only_with_the_key(
    real, real_env, tmp_path
) -> None:
    from maint.errors import PreconditionError
    from maint.workcopy import WorkCopy, serve

    name = REAL["4.1.0.4"]
    store = real.store(name)
    key, stranger = tmp_path / "agency.key", tmp_path / "stranger.key"
    for path in (key, stranger):
        subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    public = subprocess.run(["age-keygen", "-y", str(key)], check=True, capture_output=True, text=True).stdout.strip()
    cfg = _real_cfg(real, name, tmp_path, {"encrypt": public})
    mirror_root = tmp_path / "mirror"
    query(real, name, "INSERT INTO {p}customer SET customer_group_id = 1, language_id = 1, firstname = 'Ann', "
          "lastname = 'Secret', email = %s, status = 1, date_added = NOW()", (LATE,), relaxed=True)
    config = (store.root / "config.php").read_bytes()
    try:
        result = _mirror(cfg)
        snap_db, snap_files = db_state(real, name, skip=VOLATILE), files_state(store.root)
        # Real code mentions INSERT INTO and DB_PASSWORD: look for the dump's and the config's own bytes.
        needles = [LATE.encode(), store.db_password.encode(), b"-- Dump completed",
                   b"CREATE TABLE `oc_customer`", b"define('DB_PASSWORD'"]
        for dirpath, _, files in os.walk(mirror_root):
            for file in files:
                data = Path(dirpath, file).read_bytes()
                assert not [n for n in needles if n in data], Path(dirpath, file)
        state = tmp_path / "state"
        served = serve(state, result.manifest, result.path, identity=str(key))
        try:
            assert all(c.ok for c in served.checks), served.checks
        finally:
            WorkCopy(state, cfg.client, cfg.store).stop()

        _bad_day(real, name)
        live_db, live_files = db_state(real, name, skip=VOLATILE), files_state(store.root)
        with pytest.raises(PreconditionError, match="cannot decrypt") as wrong:
            _restore(cfg, result.path, result.manifest, identity=str(stranger))
        assert "\n" not in str(wrong.value)
        assert db_state(real, name, skip=VOLATILE) == live_db and files_state(store.root) == live_files
        _restore(cfg, result.path, result.manifest, identity=str(key))
        assert db_state(real, name, skip=VOLATILE) == snap_db and files_state(store.root) == snap_files
        assert (store.root / "config.php").read_bytes() == config
    finally:
        (store.root / "image" / "catalog" / "intruder.txt").unlink(missing_ok=True)
        (store.root / "config.php").write_bytes(config)
        query(real, name, "DELETE FROM {p}customer WHERE email = %s", (LATE,))


def _serve_then_restore(real: Any, name: str, cfg: Any, path: Path, man: Any, state: Path) -> None:
    """A snapshot extracted from a repository: served (every page check passes), then, after a bad day,
    restored over the store; the extraction is removed on every path."""
    from maint.mirror.run import drop_extraction
    from maint.workcopy import WorkCopy, serve

    try:
        served = serve(state, man, path)
        try:
            assert all(c.ok for c in served.checks), served.checks
        finally:
            WorkCopy(state, cfg.client, cfg.store).stop()
        _bad_day(real, name)
        _restore(cfg, path, man)
    finally:
        drop_extraction(cfg, path)


def test_a_borg_repository_holds_real_4104_and_serves_and_restores_it(real, real_env, tmp_path, monkeypatch) -> None:
    from maint.mirror.run import open_snapshot

    if shutil.which("borg") is None:
        pytest.skip("borg not installed (Debian borgbackup)")
    monkeypatch.setenv("BORG_PASSPHRASE", "agency passphrase")
    monkeypatch.setenv("BORG_BASE_DIR", str(tmp_path / "borg-home"))
    repo = tmp_path / "repo"
    subprocess.run(["borg", "init", "-e", "repokey", str(repo)], check=True, capture_output=True)
    name = REAL["4.1.0.4"]
    store = real.store(name)
    cfg = _real_cfg(real, name, tmp_path, {"repository": f"borg:{repo}"})
    config = (store.root / "config.php").read_bytes()
    try:
        time.sleep(1.1)  # no write in the second the first fingerprint is read: its dump can be kept
        first = _mirror(cfg)
        snap_db, snap_files = db_state(real, name, skip=VOLATILE), files_state(store.root)
        again = _mirror(cfg)  # nothing changed: the files stay in the first run's tree archive
        assert again.manifest.files_archive == first.manifest.files_archive == f"{first.snapshot}.files.tar"
        # ... and the database is not dumped again: the restore below is of the reused dump.
        assert again.manifest.dump.reused_from == first.snapshot and not first.manifest.dump.reused_from
        for path in repo.rglob("*"):
            if path.is_file():
                assert store.db_password.encode() not in path.read_bytes(), path

        path, man = open_snapshot(cfg)
        _serve_then_restore(real, name, cfg, path, man, tmp_path / "state")
        assert db_state(real, name, skip=VOLATILE) == snap_db and files_state(store.root) == snap_files
        assert not path.exists()
    finally:
        (store.root / "image" / "catalog" / "intruder.txt").unlink(missing_ok=True)
        (store.root / "config.php").write_bytes(config)


def test_a_restic_repository_holds_real_4104_and_serves_and_restores_it(real, real_env, tmp_path, monkeypatch) -> None:
    from maint.mirror.restic import ResticRepo
    from maint.mirror.run import open_snapshot

    if shutil.which("restic") is None:
        pytest.skip("restic not installed (Debian restic)")
    password = "restic real-tier password"
    monkeypatch.setenv("RESTIC_PASSWORD", password)
    monkeypatch.setenv("RESTIC_CACHE_DIR", str(tmp_path / "restic-cache"))
    repo = tmp_path / "repo"
    subprocess.run(["restic", "init", "--repo", str(repo)], check=True, capture_output=True)
    name = REAL["4.1.0.4"]
    store = real.store(name)
    cfg = _real_cfg(real, name, tmp_path, {"repository": f"restic:{repo}"})
    config = (store.root / "config.php").read_bytes()
    try:
        first = _mirror(cfg)
        snap_db, snap_files = db_state(real, name, skip=VOLATILE), files_state(store.root)
        again = _mirror(cfg)
        assert ResticRepo(str(repo), cfg.client, cfg.store).snapshots() == [first.snapshot, again.snapshot]
        listed = json.loads(subprocess.run(["restic", "--repo", str(repo), "snapshots", "--json"], check=True,
                                           capture_output=True, text=True).stdout)
        assert sorted(listed, key=lambda s: s["time"])[1]["parent"] == sorted(listed, key=lambda s: s["time"])[0]["id"]
        for path in repo.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert store.db_password.encode() not in data and password.encode() not in data, path

        path, man = open_snapshot(cfg)
        assert man.timestamp == again.snapshot
        _serve_then_restore(real, name, cfg, path, man, tmp_path / "state")
        assert db_state(real, name, skip=VOLATILE) == snap_db and files_state(store.root) == snap_files
        assert not path.exists()
    finally:
        (store.root / "image" / "catalog" / "intruder.txt").unlink(missing_ok=True)
        (store.root / "config.php").write_bytes(config)
