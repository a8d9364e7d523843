"""`fab mirror` + `fab restore` on real 3.0.5.1 (MyISAM) and 4.1.0.4 (InnoDB): a newer order is named and
refused, `--dry-run` changes nothing, applied the store is the snapshot again (a safety snapshot first),
and a second run has nothing to restore. An encrypted snapshot of a real store reveals nothing in clear
and serves with the key."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from realtier import REAL, db_state, fab, files_state, query

STORES = [REAL["3.0.5.1"], REAL["4.1.0.4"]]
VOLATILE = ("session", "customer_online", "product_viewed")
LATE = "late.real@example.test"


@pytest.mark.parametrize("name", STORES)
def test_restore_on_a_real_store_refuses_a_newer_order_dry_run_changes_nothing_applies_then_nothing_to_restore(
    name, real, real_env
) -> None:
    store = real.store(name)
    made = fab("mirror", name, "--yes", "--json")
    assert made.returncode == 0, made.stderr
    snapshot = json.loads(made.stdout)["stores"][0]["snapshot"]
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


def test_an_encrypted_snapshot_of_real_4104_reveals_nothing_in_clear_and_serves_with_the_key(
    real, real_env, tmp_path
) -> None:
    from maint.config import load_settings, store_config
    from maint.facts.opencart import get_store_facts
    from maint.inventory import load_inventory
    from maint.mirror.run import MirrorOptions, apply_mirror, prepare
    from maint.mirror.sshmux import SshMux
    from maint.remote.ssh import connect
    from maint.workcopy import WorkCopy, serve

    name = REAL["4.1.0.4"]
    key = tmp_path / "agency.key"
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    public = subprocess.run(["age-keygen", "-y", str(key)], check=True, capture_output=True, text=True).stdout.strip()
    settings = load_settings(real.maint_config())
    mirror_root = tmp_path / "mirror"
    cfg = store_config(settings, load_inventory(settings.inventory), name,
                       {"mirror_root": str(mirror_root), "options": {"mirror": {"encrypt": public}}})
    query(real, name, "INSERT INTO {p}customer SET customer_group_id = 1, language_id = 1, firstname = 'Ann', "
          "lastname = 'Secret', email = %s, status = 1, date_added = NOW()", (LATE,), relaxed=True)
    try:
        conn = connect(cfg)
        try:
            facts = get_store_facts(conn, cfg)
            with SshMux(cfg) as mux:
                result = apply_mirror(conn, prepare(conn, cfg, facts, MirrorOptions(), mux), mux)
        finally:
            conn.close()
        # Real code mentions INSERT INTO and DB_PASSWORD: look for the dump's and the config's own bytes.
        needles = [LATE.encode(), real.store(name).db_password.encode(), b"-- Dump completed",
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
    finally:
        query(real, name, "DELETE FROM {p}customer WHERE email = %s", (LATE,))
