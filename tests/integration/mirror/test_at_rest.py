"""Client data at rest (#20): private modes on everything a mirror and a working copy write, and
encrypted snapshots that reveal nothing without the key, yet serve and restore with it."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from maint.errors import ConfigError, PreconditionError
from maint.mirror.layout import StoreMirror
from maint.mirror.run import MirrorOptions
from maint.sandbox import Sandbox
from maint.workcopy import WorkCopy, serve

SECRET_EMAIL = "at-rest-probe@example.invalid"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _age_key(folder: Path, name: str = "agency") -> tuple[str, Path]:
    identity = folder / f"{name}.key"
    subprocess.run(["age-keygen", "-o", str(identity)], check=True, capture_output=True)
    public = subprocess.run(["age-keygen", "-y", str(identity)], check=True, capture_output=True, text=True)
    return public.stdout.strip(), identity


def _every_byte_under(root: Path) -> Iterator[tuple[Path, bytes]]:
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath, name)
            if not path.is_symlink():
                yield path, path.read_bytes()


@pytest.fixture
def probe_customer(mirror_sandbox: Sandbox) -> Iterator[None]:
    """A customer whose e-mail must never appear in clear in an encrypted mirror."""
    store = mirror_sandbox.store("s4")
    with mirror_sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
        cur.execute("SET SESSION sql_mode = ''")
        cur.execute("INSERT INTO oc_customer SET firstname = 'Probe', lastname = 'Person', email = %s, "
                    "date_added = NOW()", (SECRET_EMAIL,))
    yield
    with mirror_sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
        cur.execute("DELETE FROM oc_customer WHERE email = %s", (SECRET_EMAIL,))


def test_every_folder_and_file_a_mirror_writes_is_private_and_the_store_modes_are_recorded(
    mh: Any, mirror_sandbox: Sandbox, store_cfg: Callable[..., Any], mirror_root: Path,
) -> None:
    old_umask = os.umask(0o022)
    try:
        result = mh.run_mirror(store_cfg("s3"))
    finally:
        os.umask(old_umask)
    mirror = StoreMirror.of(mirror_root, "mclient", "s3")
    for folder in (mirror_root, mirror_root / "mclient", mirror.path, mirror.current, result.path):
        assert _mode(folder) == 0o700, folder
    files = result.path / "files" / "www"
    for private in (result.path / "manifest.json", result.path / result.manifest.dump.file, files / "config.php",
                    files / "admin" / "config.php", mirror.current / "www" / "config.php"):
        assert _mode(private) == 0o600, private
    store_mode = _mode(mirror_sandbox.store("s3").root / "config.php")
    assert result.manifest.modes["www/config.php"] == f"{store_mode:04o}"
    assert _mode(mirror_sandbox.store("s3").root / "config.php") == store_mode  # the store is untouched


def test_an_older_looser_mirror_is_tightened_by_the_next_run_and_dry_run_says_so(
    mh: Any, store_cfg: Callable[..., Any], mirror_root: Path,
) -> None:
    cfg = store_cfg("s4")
    first = mh.run_mirror(cfg)
    loose = [mirror_root, first.path, first.path / "manifest.json", first.path / first.manifest.dump.file,
             first.path / "files" / "www" / "config.php"]
    for path in loose:
        path.chmod(0o755 if path.is_dir() else 0o644)
    before = mh.tree_state(mirror_root)
    modes_before = {p: _mode(p) for p in loose}
    plan = mh.plan_only(cfg, MirrorOptions(dry_run=True))
    change = next(c for c in plan if c.kind == "permissions")
    assert "2 folder(s) to 0700 and 3 file(s)" in change.summary
    assert mh.tree_state(mirror_root) == before and {p: _mode(p) for p in loose} == modes_before
    mh.run_mirror(cfg)
    assert all(_mode(p) == (0o700 if p.is_dir() else 0o600) for p in loose)
    assert not any(c.kind == "permissions" for c in mh.plan_only(cfg, MirrorOptions(dry_run=True)))


def test_a_working_copy_is_private_too(mh: Any, store_cfg: Callable[..., Any], tmp_path: Path) -> None:
    result = mh.run_mirror(store_cfg("s4"))
    state = tmp_path / "state"
    serve(state, result.manifest, result.path)
    wc = WorkCopy(state, "mclient", "s4")
    try:
        assert _mode(wc.base) == 0o700 and _mode(wc.base.parent) == 0o700
        assert _mode(wc.state_file) == 0o600
        assert _mode(wc.files / "www" / "config.php") == 0o600
        assert _mode(wc.files / "www" / "admin" / "config.php") == 0o600
    finally:
        wc.stop()


def test_an_encrypted_snapshot_holds_no_customer_email_db_password_or_sql_in_clear(
    mh: Any, mirror_sandbox: Sandbox, store_cfg: Callable[..., Any], mirror_root: Path, tmp_path: Path,
    probe_customer: None,
) -> None:
    public, _ = _age_key(tmp_path)
    cfg = store_cfg("s4", options={"mirror": {"encrypt": public}})
    mh.run_mirror(cfg)
    result = mh.run_mirror(cfg)  # the second run works from the rsync base: it must be clean too
    man = result.manifest
    assert man.encryption == "age" and man.dump.file == "db.sql.zst.age" and man.verified
    assert {a.tree for a in man.secrets} == {"www", "storage"} and man.secret_files >= 2
    assert man.dump.tables["oc_customer"] > 0
    store = mirror_sandbox.store("s4")
    # SQL as a dump writes it (the store's code has SQL text of its own: `INSERT INTO " . DB_PREFIX`)
    sql = [f"{verb} `{store.prefix}".encode() for verb in ("INSERT INTO", "CREATE TABLE")]
    needles = [SECRET_EMAIL.encode(), store.db_password.encode(), *sql, b"-- Dump completed", b"define('DB_PASSWORD'"]
    for path, data in _every_byte_under(mirror_root):
        for needle in needles:
            assert needle not in data, f"{needle[:12]!r} in clear in {path}"
    www = result.path / "files" / "www"
    assert not (www / "config.php").exists() and not (StoreMirror.of(mirror_root, "mclient", "s4").current
                                                       / "www" / "config.php").exists()
    assert (www / "index.php").stat().st_ino == (mh.run_mirror(cfg).path / "files" / "www" / "index.php").stat().st_ino


def test_serve_round_trips_an_encrypted_snapshot_with_the_identity_and_refuses_without(
    mh: Any, mirror_sandbox: Sandbox, store_cfg: Callable[..., Any], tmp_path: Path, probe_customer: None,
) -> None:
    public, identity = _age_key(tmp_path)
    _, stranger = _age_key(tmp_path, "stranger")
    result = mh.run_mirror(store_cfg("s4", options={"mirror": {"encrypt": public}}))
    state = tmp_path / "state"
    with pytest.raises(ConfigError, match="--identity"):
        serve(state, result.manifest, result.path)
    with pytest.raises(PreconditionError, match="cannot decrypt db.sql.zst.age") as wrong:
        serve(state, result.manifest, result.path, identity=str(stranger))
    assert "\n" not in str(wrong.value) and not (state / "workcopy").exists()
    served = serve(state, result.manifest, result.path, identity=str(identity))
    wc = WorkCopy(state, "mclient", "s4")
    try:
        assert [(c.name, c.ok) for c in served.checks] == [("home", True), ("product", True), ("search", True)]
        assert served.url in (wc.files / "www" / "config.php").read_text()
        with mirror_sandbox.db_admin(mirror_sandbox.store("s4").db_name) as db, db.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM oc_customer")
            live_customers = cur.fetchone()[0]
        import pymysql

        info = wc._state()
        conn = pymysql.connect(unix_socket=info["socket"], user="root", database=served.database)
        with conn, conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM oc_customer WHERE email = %s", (SECRET_EMAIL,))
            assert cur.fetchone()[0] == 1
            cur.execute("SELECT COUNT(*) FROM oc_customer")
            assert cur.fetchone()[0] == live_customers
    finally:
        wc.stop()


def test_restore_round_trips_an_encrypted_snapshot_and_a_wrong_key_changes_nothing(
    mh: Any, mirror_sandbox: Sandbox, store_cfg: Callable[..., Any], tmp_path: Path,
) -> None:
    from maint.facts.opencart import get_store_facts
    from maint.mirror.restore import apply_restore, prepare_restore
    from maint.remote.ssh import connect

    public, identity = _age_key(tmp_path)
    _, stranger = _age_key(tmp_path, "stranger")
    cfg = store_cfg("s4", options={"mirror": {"encrypt": public}})
    result = mh.run_mirror(cfg)
    store = mirror_sandbox.store("s4")
    config = store.root / "config.php"
    original = config.read_bytes()
    config.write_bytes(original + b"// changed after the snapshot\n")
    with mirror_sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
        cur.execute("DELETE FROM oc_product_discount")
    before = mh.tree_state(store.root)
    conn = connect(cfg)
    try:
        facts = get_store_facts(conn, cfg)
        with pytest.raises(PreconditionError, match="cannot decrypt"):
            prepare_restore(conn, cfg, facts, result.path, result.manifest, identity=str(stranger))
        assert mh.tree_state(store.root) == before
        plan = prepare_restore(conn, cfg, facts, result.path, result.manifest, identity=str(identity),
                               safety_snapshot=False)
        apply_restore(conn, cfg, facts, result.path, result.manifest, plan, identity=str(identity))
    finally:
        conn.close()
    assert config.read_bytes() == original
    assert f"{_mode(config):04o}" == result.manifest.modes["www/config.php"]
    with mirror_sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM oc_product_discount")
        assert cur.fetchone()[0] == result.manifest.dump.tables["oc_product_discount"]


def test_encrypt_names_a_missing_key_file_clearly(store_cfg: Callable[..., Any]) -> None:
    from maint.mirror.run import recipient_of

    with pytest.raises(ConfigError, match="no key file /nonexistent/agency.pub"):
        recipient_of(store_cfg("s4", options={"mirror": {"encrypt": "/nonexistent/agency.pub"}}))


@pytest.fixture
def gpg_home(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A GnuPG home with the agency's key pair (no passphrase), and its armoured public key."""
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    gpg = ["gpg", "--batch", "--homedir", str(home)]
    subprocess.run([*gpg, "--passphrase", "", "--quick-gen-key", "Agency <agency@example.invalid>",
                    "future-default", "default", "never"], check=True, capture_output=True)
    public = tmp_path / "agency.asc"
    public.write_bytes(subprocess.run([*gpg, "--armor", "--export", "agency@example.invalid"], check=True,
                                      capture_output=True).stdout)
    yield home, public
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True, check=False)


def test_an_openpgp_encrypted_snapshot_serves_with_the_gnupg_home_and_refuses_another(
    mh: Any, store_cfg: Callable[..., Any], mirror_root: Path, tmp_path: Path, gpg_home: tuple[Path, Path],
    probe_customer: None,
) -> None:
    home, public = gpg_home
    result = mh.run_mirror(store_cfg("s4", options={"mirror": {"encrypt": str(public)}}))
    assert result.manifest.encryption == "gpg" and result.manifest.dump.file == "db.sql.zst.gpg"
    for path, data in _every_byte_under(mirror_root):
        assert SECRET_EMAIL.encode() not in data and b"INSERT INTO `oc_" not in data, path
    empty = tmp_path / "no-keys"
    empty.mkdir(mode=0o700)
    state = tmp_path / "state"
    try:
        with pytest.raises(PreconditionError, match="cannot decrypt db.sql.zst.gpg"):
            serve(state, result.manifest, result.path, identity=str(empty))
    finally:
        subprocess.run(["gpgconf", "--homedir", str(empty), "--kill", "gpg-agent"], capture_output=True, check=False)
    served = serve(state, result.manifest, result.path, identity=str(home))
    try:
        assert all(c.ok for c in served.checks)
    finally:
        WorkCopy(state, "mclient", "s4").stop()


def _open_to_others(root: Path, trees: tuple[str, ...] = ("files", ".current")) -> list[str]:
    """Every path under root that another local user could reach or read: a folder not 0700 or a file
    not 0600 outside the copied store trees; inside them (the store's own modes, kept for restore) any
    config file not 0600, and any tree whose top folder is not 0700 (nothing below it is reachable)."""
    found = []
    for dirpath, _, filenames in os.walk(root):
        here = Path(dirpath)
        rel = here.relative_to(root).parts
        inside = any(part in trees for part in rel)
        if not inside and _mode(here) != 0o700:
            found.append(f"{here} {_mode(here):04o}")
        if inside and rel[-1] in trees and _mode(here) != 0o700:
            found.append(f"{here} {_mode(here):04o} (top of a store tree)")
        for name in filenames:
            path = here / name
            if path.is_symlink():
                continue
            if (not inside or name == "config.php") and _mode(path) != 0o600:
                found.append(f"{path} {_mode(path):04o}")
    return found


@pytest.mark.parametrize("encrypted", [False, True], ids=["clear", "encrypted"])
def test_no_file_or_folder_of_a_mirror_or_its_working_copy_is_open_to_other_users(
    mh: Any, store_cfg: Callable[..., Any], mirror_root: Path, tmp_path: Path, encrypted: bool,
) -> None:
    public, identity = _age_key(tmp_path)
    cfg = store_cfg("s4", options={"mirror": {"encrypt": public}} if encrypted else {})
    old_umask = os.umask(0o022)  # a usual login's umask: everything maint writes must not depend on it
    try:
        mh.run_mirror(cfg)
        result = mh.run_mirror(cfg)  # the second run works from the rsync base
        state = tmp_path / "state"
        serve(state, result.manifest, result.path, identity=str(identity) if encrypted else "")
    finally:
        os.umask(old_umask)
    wc = WorkCopy(state, "mclient", "s4")
    try:
        assert _open_to_others(mirror_root) == []
        # The working copy's MariaDB writes its own data files inside its 0700 data folder.
        assert _open_to_others(state / "workcopy", trees=("files", "data")) == []
    finally:
        wc.stop()
