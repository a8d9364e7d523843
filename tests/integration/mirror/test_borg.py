"""A borg repository as the mirror target (#20): snapshots go in as archives, are pruned by the same
rules, and serve and restore from there."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from maint.mirror.layout import StoreMirror
from maint.sandbox import Sandbox

pytestmark = pytest.mark.skipif(shutil.which("borg") is None, reason="borg not installed (Debian borgbackup)")

EMAIL = "borg-probe@example.invalid"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BORG_PASSPHRASE", "agency passphrase")
    monkeypatch.setenv("BORG_BASE_DIR", str(tmp_path / "borg-home"))
    path = tmp_path / "repo"
    subprocess.run(["borg", "init", "-e", "repokey", str(path)], check=True, capture_output=True)
    return path


@pytest.fixture
def borg_context(monkeypatch: pytest.MonkeyPatch, task_context: Callable[..., Any], mirror_root: Path,
                 tmp_path: Path, repo: Path) -> Any:
    for module in ("maint.mirror.run", "maint.tasks.mirror", "maint.tasks.restore"):
        monkeypatch.setattr(f"{module}.mirror_of", lambda cfg: StoreMirror.of(mirror_root, cfg.client, cfg.store))
    return task_context(mirror_root, state_dir=str(tmp_path / "state"),
                        options={"mirror": {"repository": f"borg:{repo}",
                                            "keep": {"daily": 1, "weekly": 0, "monthly": 0}}})


def _archives(repo: Path) -> list[str]:
    out = subprocess.run(["borg", "list", "--short", str(repo)], check=True, capture_output=True, text=True)
    return out.stdout.split()


def test_borg_target_mirrors_into_archives_prunes_serves_and_restores(
    mirror_sandbox: Sandbox, borg_context: Any, repo: Path, mirror_root: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from maint.tasks.mirror import mirror
    from maint.tasks.restore import restore
    from maint.tasks.serve import serve

    store = mirror_sandbox.store("s4")
    with mirror_sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
        cur.execute("SET SESSION sql_mode = ''")
        cur.execute("INSERT INTO oc_customer SET firstname = 'B', lastname = 'Org', email = %s, date_added = NOW()",
                    (EMAIL,))
    try:
        mirror(borg_context, "s4", json=True)
        first = json.loads(capsys.readouterr().out)["stores"][0]
        assert first["verified"] and first["path"].startswith(f"borg:{repo}::mclient-s4-")
        assert any("tar stream arrived whole" in c for c in first["checks"])  # a first mirror streams
        mirror(borg_context, "s4", json=True, prune=True, yes=True)
        second = json.loads(capsys.readouterr().out)["stores"][0]
        assert second["prune"]["deleted"] == [first["snapshot"]]  # daily 1: same day, the older one goes
        # Nothing changed in between: the second snapshot names the first run's tree archive, which stays.
        assert second["files_archive"] == first["files_archive"] == f"{first['snapshot']}.files.tar"
        assert not any("tar stream" in c for c in second["checks"])  # later runs: rsync into `.current`
        assert sorted(_archives(repo)) == [f"mclient-s4-{first['snapshot']}.files.tar",
                                           f"mclient-s4-{second['snapshot']}"]
        local = StoreMirror.of(mirror_root, "mclient", "s4")
        assert local.snapshots() == [] and not local.has_partial()  # no snapshot folders besides the repo
        for path in repo.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert EMAIL.encode() not in data and store.db_password.encode() not in data, path

        restore(borg_context, "s4", json=True)
        listed = json.loads(capsys.readouterr().out)["stores"][0]["snapshots"]
        assert [r["snapshot"] for r in listed] == [second["snapshot"]] and listed[0]["verified"]

        serve(borg_context, "s4", json=True)
        served = json.loads(capsys.readouterr().out)["stores"][0]
        assert all(c["ok"] for c in served["checks"])
        assert not (tmp_path / "state" / "borg-extract" / "mclient-s4" / second["snapshot"]).exists()
    finally:
        serve(borg_context, "s4", stop=True)
        with mirror_sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
            cur.execute("DELETE FROM oc_customer WHERE email = %s", (EMAIL,))

    with mirror_sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
        cur.execute("UPDATE oc_product SET price = price + 1")
    capsys.readouterr()
    restore(borg_context, "s4", snapshot=second["snapshot"], discard_newer=True, yes=True, json=True)
    done = json.loads(capsys.readouterr().out)["stores"][0]
    assert f"mclient-s4-{done['undo_snapshot']}" in _archives(repo)  # the safety snapshot went in as well
    with mirror_sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM oc_customer WHERE email = %s", (EMAIL,))
        assert cur.fetchone()[0] == 1  # the snapshot's rows are back (the probe was in it)
        cur.execute("DELETE FROM oc_customer WHERE email = %s", (EMAIL,))


def test_a_borg_mirror_archives_the_files_again_only_when_they_changed_and_prune_drops_unused_trees(
    mirror_sandbox: Sandbox, borg_context: Any, repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    from maint.tasks.mirror import mirror
    from maint.tasks.serve import serve

    def run(**flags: Any) -> dict[str, Any]:
        mirror(borg_context, "s4", json=True, **flags)
        return dict(json.loads(capsys.readouterr().out)["stores"][0])

    page = mirror_sandbox.store("s4").root / "borg-probe.txt"
    first = run()
    again = run()
    assert again["files_archive"] == first["files_archive"]  # unchanged tree: no new tree archive
    page.write_text("changed on the host\n")
    try:
        changed = run(prune=True, yes=True)
    finally:
        page.unlink()
    assert changed["files_archive"] == f"{changed['snapshot']}.files.tar"
    # daily 1 keeps only the newest snapshot: the first tree archive is named by none any more.
    assert sorted(_archives(repo)) == [f"mclient-s4-{changed['snapshot']}", f"mclient-s4-{changed['files_archive']}"]
    listing = subprocess.run(["borg", "list", "--format", "{comment}{NL}", str(repo)], check=True,
                             capture_output=True, text=True).stdout
    assert '"verified": true' in listing and "borg-probe" not in listing  # a summary, no client data
    try:
        serve(borg_context, "s4", json=True)
        served = json.loads(capsys.readouterr().out)["stores"][0]
        assert all(c["ok"] for c in served["checks"])
        from maint.workcopy import WorkCopy

        wc = WorkCopy(tmp_path / "state", "mclient", "s4")
        assert (wc.files / "www" / "borg-probe.txt").read_text() == "changed on the host\n"
    finally:
        serve(borg_context, "s4", stop=True)


def test_health_and_report_read_a_borg_repository_as_they_read_a_mirror_folder(
    mh: Any, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from datetime import date
    from zoneinfo import ZoneInfo

    from maint.health.local import probe_mirror_age
    from maint.health.model import State
    from maint.mirror.borg import BorgRepo
    from maint.mirror.listing import SnapshotPlace
    from maint.report.model import Month, backups

    borg = BorgRepo(str(repo), "acme", "shop")
    seen, places = mh.health_and_report_seen(
        tmp_path, f"borg:{repo}", lambda work, ts, summary: borg.create(work, ts, summary, tree=True))
    seen["borg"], places["borg"] = seen.pop("repository"), places.pop("repository")
    now, month = mh.age_now, Month(date(2026, 11, 1), ZoneInfo("UTC"))
    assert seen["borg"] == seen["folder"]
    assert seen["borg"][:2] == (12.0, State.WARNING)  # the newest failed verification
    assert seen["borg"][4] == "20261103T020000Z"  # the report's newest verified backup

    # Without the passphrase (and no terminal to ask on) both say why, in one line, and nothing breaks.
    monkeypatch.delenv("BORG_PASSPHRASE")
    obs = probe_mirror_age(places["borg"], now=now)
    assert obs.state is State.UNKNOWN and f"borg:{repo} unreadable" in obs.evidence and "\n" not in obs.evidence
    b = backups("", "acme", "shop", month, {"repository": f"borg:{repo}"})
    assert b.unreadable and b.newest is None and b.mirror_root == f"borg:{repo}"
    restic = probe_mirror_age(SnapshotPlace("", "restic:/srv/restic", "acme", "shop"), now=now)
    assert restic.state is State.UNKNOWN and "restic" in restic.evidence


def _price(sandbox: Sandbox, product_id: int) -> str:
    with sandbox.db_admin(sandbox.store("s4").db_name) as db, db.cursor() as cur:
        cur.execute("SELECT price FROM oc_product WHERE product_id = %s", (product_id,))
        return str(cur.fetchone()[0])


def test_a_borg_mirror_reuses_the_last_dump_while_the_database_is_unchanged_and_every_snapshot_restores_its_state(
    mirror_sandbox: Sandbox, borg_context: Any, repo: Path, mirror_root: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    import time

    from maint.mirror.borg import BorgRepo
    from maint.mirror.dbstate import DB_STATE
    from maint.tasks.mirror import mirror
    from maint.tasks.restore import restore

    def run() -> dict[str, Any]:
        mirror(borg_context, "s4", json=True)
        return dict(json.loads(capsys.readouterr().out)["stores"][0])

    store = mirror_sandbox.store("s4")
    with mirror_sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
        cur.execute("SELECT MIN(product_id) FROM oc_product")
        product = int(cur.fetchone()[0])
    old_price = _price(mirror_sandbox, product)
    time.sleep(1.1)  # no write in the second the first fingerprint is read: its dump can be kept
    first = run()
    assert first["dump"]["reused_from"] == ""
    kept = StoreMirror.of(mirror_root, "mclient", "s4").path / DB_STATE
    assert oct(kept.stat().st_mode & 0o777) == "0o700"
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in kept.iterdir())
    again = run()
    assert again["dump"]["reused_from"] == first["snapshot"]  # nothing written: no dump, the first one's reused
    assert again["dump"]["sha256"] == first["dump"]["sha256"] and again["dump"]["tables"] == first["dump"]["tables"]
    assert any("database unchanged since snapshot" in c for c in again["checks"])
    borg = BorgRepo(str(repo), "mclient", "s4")
    assert borg.manifest(again["snapshot"]).dump.reused_from == first["snapshot"]

    with mirror_sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
        cur.execute("UPDATE oc_product SET price = price + 1.5 WHERE product_id = %s", (product,))
    new_price = _price(mirror_sandbox, product)
    changed = run()  # one row changed, in the same second maybe: a new dump either way
    assert changed["dump"]["reused_from"] == "" and changed["dump"]["sha256"] != first["dump"]["sha256"]

    try:
        # Each snapshot restores the database as it was when it was taken.
        restore(borg_context, "s4", snapshot=again["snapshot"], discard_newer=True, yes=True, json=True)
        capsys.readouterr()
        assert _price(mirror_sandbox, product) == old_price
        restore(borg_context, "s4", snapshot=changed["snapshot"], discard_newer=True, yes=True, json=True)
        capsys.readouterr()
        assert _price(mirror_sandbox, product) == new_price
    finally:
        with mirror_sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
            cur.execute("UPDATE oc_product SET price = %s WHERE product_id = %s", (old_price, product))


def test_a_borg_mirror_dumps_again_after_a_schema_change_that_writes_no_row(
    mirror_sandbox: Sandbox, borg_context: Any, capsys: pytest.CaptureFixture[str],
) -> None:
    import time

    from maint.tasks.mirror import mirror

    def run() -> dict[str, Any]:
        mirror(borg_context, "s4", json=True)
        return dict(json.loads(capsys.readouterr().out)["stores"][0])

    store = mirror_sandbox.store("s4")
    time.sleep(1.1)
    first = run()
    with mirror_sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
        cur.execute("CREATE INDEX maint_probe ON oc_product (price)")
    try:
        changed = run()
        assert changed["dump"]["reused_from"] == "" and changed["dump"]["sha256"] != first["dump"]["sha256"]
    finally:
        with mirror_sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
            cur.execute("DROP INDEX maint_probe ON oc_product")


def test_a_borg_mirror_over_sftp_archives_the_files_again_only_when_they_changed(
    mirror_sandbox: Sandbox, store_cfg: Callable[..., Any], repo: Path, tmp_path: Path, mh: Any,
) -> None:
    import dataclasses

    from maint.mirror.borg import BorgRepo
    from maint.mirror.run import MirrorOptions

    cfg = store_cfg("s4")
    cfg = dataclasses.replace(cfg, options={**cfg.options, "mirror": {"repository": f"borg:{repo}"}})
    sftp = MirrorOptions(method="sftp")
    page = mirror_sandbox.store("s4").root / "borg-sftp-probe.txt"
    page.write_text("first\n")
    try:
        first = mh.run_mirror(cfg, sftp)
        again = mh.run_mirror(cfg, sftp)
        assert first.manifest.method == "sftp" and first.manifest.files_archive == f"{first.snapshot}.files.tar"
        assert again.manifest.files_archive == first.manifest.files_archive  # unchanged tree: no tree archive
        assert [r.new for r in again.manifest.roots] == [0] * len(again.manifest.roots)
        page.write_text("changed on the host\n")
        changed = mh.run_mirror(cfg, sftp)
    finally:
        page.unlink()
    assert changed.manifest.files_archive == f"{changed.snapshot}.files.tar"
    assert sum(r.changed for r in changed.manifest.roots) == 1
    borg = BorgRepo(str(repo), cfg.client, cfg.store)
    for result, text in ((again, "first\n"), (changed, "changed on the host\n")):
        folder = borg.extract(result.snapshot, tmp_path / "x" / result.snapshot)
        assert (folder / "files" / "www" / "borg-sftp-probe.txt").read_text() == text


def test_a_borg_mirror_dumps_again_when_the_kept_dump_was_altered_on_the_mirror_disk(
    mirror_sandbox: Sandbox, borg_context: Any, mirror_root: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    import time

    from maint.mirror.dbstate import DumpState
    from maint.tasks.mirror import mirror

    def run() -> dict[str, Any]:
        mirror(borg_context, "s4", json=True)
        return dict(json.loads(capsys.readouterr().out)["stores"][0])

    time.sleep(1.1)
    first = run()
    store_dir = StoreMirror.of(mirror_root, "mclient", "s4").path
    kept = DumpState.read(store_dir)
    assert kept is not None and kept.snapshot == first["snapshot"]
    with open(kept.path(store_dir), "ab") as handle:
        handle.write(b"\0")  # the database is unchanged, but the kept file is not what was verified
    again = run()
    assert again["dump"]["reused_from"] == "" and again["dump"]["sha256"] != first["dump"]["sha256"]


def test_a_first_borg_mirror_whose_excludes_tar_would_read_otherwise_fetches_by_rsync_then_archives(
    mirror_sandbox: Sandbox, store_cfg: Callable[..., Any], repo: Path, tmp_path: Path, mh: Any,
) -> None:
    import dataclasses

    from maint.mirror.borg import BorgRepo

    cfg = store_cfg("s4")
    # "*.log" is unanchored: rsync matches it in every folder, which tar's anchored patterns don't say.
    cfg = dataclasses.replace(cfg, options={**cfg.options, "mirror": {
        "repository": f"borg:{repo}", "exclude": ["/image/cache/*", "*.log"]}})
    log = mirror_sandbox.store("s4").root / "admin" / "borg-probe.log"
    log.write_text("left out\n")
    try:
        first = mh.run_mirror(cfg)
        again = mh.run_mirror(cfg)
    finally:
        log.unlink()
    assert not any("tar stream" in c for c in first.manifest.checks)
    assert first.manifest.files_archive == f"{first.snapshot}.files.tar"  # made from `.current` after rsync
    assert again.manifest.files_archive == first.manifest.files_archive
    folder = BorgRepo(str(repo), cfg.client, cfg.store).extract(first.snapshot, tmp_path / "x")
    assert (folder / "files" / "www" / "index.php").is_file()
    assert not (folder / "files" / "www" / "admin" / "borg-probe.log").exists()


def test_a_first_borg_mirror_of_a_store_whose_root_is_a_symlink_streams_what_it_points_to(
    mirror_sandbox: Sandbox, store_cfg: Callable[..., Any], repo: Path, tmp_path: Path, mh: Any,
) -> None:
    import dataclasses

    from maint.mirror.borg import BorgRepo

    cfg = store_cfg("s4")
    link = tmp_path / "public_html"  # as hosting panels link a user's folder to the real web root
    link.symlink_to(cfg.root)
    cfg = dataclasses.replace(cfg, root=str(link), options={**cfg.options, "mirror": {"repository": f"borg:{repo}"}})
    first = mh.run_mirror(cfg)
    line = next(c for c in first.manifest.checks if "tar stream arrived whole" in c)
    # The line says the stream's bytes and the disk's apart: tar adds a 512-byte header per file.
    streamed, files, on_disk = map(int, re.findall(r"\((\d+) bytes, as many.*; (\d+) files, (\d+) bytes on disk", line)[0])
    roots = first.manifest.roots
    assert (files, on_disk) == (sum(r.files for r in roots), sum(r.bytes for r in roots))
    assert streamed >= on_disk + 512 * files
    folder = BorgRepo(str(repo), cfg.client, cfg.store).extract(first.snapshot, tmp_path / "x")
    www = folder / "files" / "www"
    assert www.is_dir() and not www.is_symlink() and (www / "index.php").is_file()
    assert first.manifest.roots[0].files == sum(1 for p in www.rglob("*") if p.is_file() and not p.is_symlink())


def test_a_no_change_borg_mirror_runs_its_borg_commands_in_one_borg_process_and_still_finds_a_deleted_tree_archive(
    mirror_sandbox: Sandbox, store_cfg: Callable[..., Any], repo: Path, tmp_path: Path, mh: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """#20 speed: the tree listing and the snapshot's archive share one borg process, which imports borg and
    runs its self-test while the files come. The listing reads archive names alone, and still proves the
    tree archive there: one deleted behind maint's back is made again."""
    import dataclasses

    from maint.errors import MaintError
    from maint.mirror.borg import _WARM, BorgRepo

    cfg = store_cfg("s4")
    cfg = dataclasses.replace(cfg, options={**cfg.options, "mirror": {"repository": f"borg:{repo}"}})
    started: list[str] = []
    real_popen = subprocess.Popen

    class Recording(real_popen):  # type: ignore[misc,valid-type]
        def __init__(self, args: Any, *rest: Any, **kwargs: Any) -> None:
            if isinstance(args, list) and (args[:1] == ["borg"] or _WARM in args):
                started.append("warm" if _WARM in args else f"borg {args[1]}")
            super().__init__(args, *rest, **kwargs)

    first = mh.run_mirror(cfg)
    with monkeypatch.context() as patched:
        patched.setattr(subprocess, "Popen", Recording)
        again = mh.run_mirror(cfg)
    assert again.manifest.files_archive == first.manifest.files_archive  # the tree archive named again
    assert started == ["warm"]  # one borg process: no `borg list`, no `borg create` of their own

    borg = BorgRepo(str(repo), cfg.client, cfg.store)
    deleted = subprocess.run(["borg", "delete", borg.archive(first.manifest.files_archive)], capture_output=True, text=True)
    assert deleted.returncode == 0, deleted.stderr
    third = mh.run_mirror(cfg)
    assert third.manifest.files_archive == f"{third.snapshot}.files.tar"  # missing, so archived again
    folder = borg.extract(third.snapshot, tmp_path / "x" / third.snapshot)
    assert (folder / "files" / "www" / "index.php").is_file()
    with pytest.raises(MaintError, match="missing"):
        borg.extract(again.snapshot, tmp_path / "x" / again.snapshot)  # its files went with that archive


def test_borg_commands_run_as_their_own_borg_when_the_shared_borg_process_cannot_serve_them(
    repo: Path, tmp_path: Path,
) -> None:
    from maint.mirror.borg import BorgRepo, Warm, borg_interpreter

    interpreter = borg_interpreter()
    if interpreter is None:
        pytest.skip("borg is not a Python script here")
    work = tmp_path / "store"
    (work / ".partial").mkdir(parents=True)
    (work / ".partial" / "manifest.json").write_text("{}")
    borg = BorgRepo(str(repo), "acme", "shop")
    broken = Warm([*interpreter, "-S"])  # -S: no site packages, so no borg to import
    try:
        assert broken.run(("list", str(repo)), None) is None
        borg.create(work, "20261207T010203Z", {"verified": True}, tree=False, warm=broken)  # borg's own process
    finally:
        broken.close()
    assert borg.snapshots() == ["20261207T010203Z"]
    warm = Warm(interpreter)
    try:
        assert borg.trees(warm=warm) == [] and warm.run(("list", "--short", str(repo)), None) is not None
    finally:
        warm.close()
    assert not warm._dir.exists()  # the commands' output went with it
