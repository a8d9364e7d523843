"""A restic repository as the mirror target (#20): snapshots go in as restic snapshots tagged by their
timestamp, are pruned by the same rules (`restic forget` of exactly those, then `restic prune`), and
serve and restore from there; a missing or wrong password is one line and changes nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from invoke import Exit

from maint.mirror.layout import StoreMirror
from maint.sandbox import Sandbox

pytestmark = pytest.mark.skipif(shutil.which("restic") is None, reason="restic not installed (Debian restic)")

EMAIL = "restic-probe@example.invalid"
PASSWORD = "restic-pw-Zq7-never-shown"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RESTIC_PASSWORD", PASSWORD)
    monkeypatch.setenv("RESTIC_CACHE_DIR", str(tmp_path / "restic-cache"))
    path = tmp_path / "repo"
    subprocess.run(["restic", "init", "--repo", str(path)], check=True, capture_output=True)
    return path


@pytest.fixture
def restic_context(monkeypatch: pytest.MonkeyPatch, task_context: Callable[..., Any], mirror_root: Path,
                   tmp_path: Path, repo: Path) -> Any:
    for module in ("maint.mirror.run", "maint.tasks.mirror", "maint.tasks.restore"):
        monkeypatch.setattr(f"{module}.mirror_of", lambda cfg: StoreMirror.of(mirror_root, cfg.client, cfg.store))
    return task_context(mirror_root, state_dir=str(tmp_path / "state"),
                        options={"mirror": {"repository": f"restic:{repo}",
                                            "keep": {"daily": 1, "weekly": 0, "monthly": 0}}})


def _snapshots(repo: Path) -> list[dict[str, Any]]:
    out = subprocess.run(["restic", "--repo", str(repo), "snapshots", "--json"], check=True, capture_output=True,
                         text=True)
    return sorted(json.loads(out.stdout) or [], key=lambda s: s["time"])


def _names(repo: Path) -> list[str]:
    return sorted(t for s in _snapshots(repo) for t in s["tags"] if t.startswith("mclient-s4-"))


def _bytes_under(*roots: Path) -> list[tuple[Path, bytes]]:
    return [(p, p.read_bytes()) for root in roots if root.exists() for p in root.rglob("*") if p.is_file()]


def test_restic_target_mirrors_into_snapshots_prunes_serves_and_restores(
    mirror_sandbox: Sandbox, restic_context: Any, repo: Path, mirror_root: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from maint.tasks.mirror import mirror
    from maint.tasks.restore import restore
    from maint.tasks.serve import serve

    store = mirror_sandbox.store("s4")
    said = []
    with mirror_sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
        cur.execute("SET SESSION sql_mode = ''")
        cur.execute("INSERT INTO oc_customer SET firstname = 'R', lastname = 'Estic', email = %s, date_added = NOW()",
                    (EMAIL,))
    try:
        mirror(restic_context, "s4", json=True)
        out = capsys.readouterr()
        said.append(out.out + out.err)
        first = json.loads(out.out)["stores"][0]
        assert first["verified"] and first["path"] == f"restic:{repo}::mclient-s4-{first['snapshot']}"
        assert first["files_archive"] == ""  # restic deduplicates the files itself: one snapshot holds all
        size_after_first = sum(len(data) for _, data in _bytes_under(repo))

        # --dry-run: the plan names restic; the repository and the mirror folder stay as they were
        before = _bytes_under(repo, mirror_root)
        mirror(restic_context, "s4", dry_run=True, json=True)
        plan = json.loads(capsys.readouterr().out)["stores"][0]["plan"]
        assert any(c["kind"] == "snapshot" and "restic backup" in c["summary"] for c in plan["changes"])
        assert _bytes_under(repo, mirror_root) == before

        mirror(restic_context, "s4", json=True, prune=True, yes=True)
        out = capsys.readouterr()
        said.append(out.out + out.err)
        second = json.loads(out.out)["stores"][0]
        assert second["prune"]["deleted"] == [first["snapshot"]]  # daily 1: same day, the older one goes
        assert _names(repo) == [f"mclient-s4-{second['snapshot']}"]  # forgotten, and its data pruned
        snaps = _snapshots(repo)
        assert snaps[0]["hostname"] == "mclient-s4" and snaps[0]["time"].startswith(
            "{}-{}-{}T{}:{}:{}".format(*(second["snapshot"][i:j] for i, j in ((0, 4), (4, 6), (6, 8), (9, 11),
                                                                              (11, 13), (13, 15)))))
        # Deduplicated: the unchanged files cost nothing again (the new dump is a few kB).
        assert sum(len(data) for _, data in _bytes_under(repo)) < size_after_first + 200_000
        local = StoreMirror.of(mirror_root, "mclient", "s4")
        assert local.snapshots() == [] and not local.has_partial()  # no snapshot folders besides the repo
        for path, data in _bytes_under(repo):
            assert EMAIL.encode() not in data and store.db_password.encode() not in data, path

        restore(restic_context, "s4", json=True)
        out = capsys.readouterr()
        said.append(out.out + out.err)
        listed = json.loads(out.out)["stores"][0]["snapshots"]
        assert [(r["snapshot"], r["verified"], r["encrypted"]) for r in listed] == [
            (second["snapshot"], True, "restic")]

        serve(restic_context, "s4", json=True)
        out = capsys.readouterr()
        said.append(out.out + out.err)
        served = json.loads(out.out)["stores"][0]
        assert all(c["ok"] for c in served["checks"])
        assert not (tmp_path / "state" / "restic-extract" / "mclient-s4" / second["snapshot"]).exists()
    finally:
        serve(restic_context, "s4", stop=True)
        with mirror_sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
            cur.execute("DELETE FROM oc_customer WHERE email = %s", (EMAIL,))

    with mirror_sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
        cur.execute("UPDATE oc_product SET price = price + 1")
    capsys.readouterr()
    restore(restic_context, "s4", snapshot=second["snapshot"], discard_newer=True, yes=True, json=True)
    out = capsys.readouterr()
    said.append(out.out + out.err)
    done = json.loads(out.out)["stores"][0]
    assert f"mclient-s4-{done['undo_snapshot']}" in _names(repo)  # the safety snapshot went in as well
    with mirror_sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM oc_customer WHERE email = %s", (EMAIL,))
        assert cur.fetchone()[0] == 1  # the snapshot's rows are back (the probe was in it)
        cur.execute("DELETE FROM oc_customer WHERE email = %s", (EMAIL,))
    # The password is in no output and no file maint wrote (state: ledger, logs, working copy; mirror folder).
    assert all(PASSWORD not in text for text in said)
    for path, data in _bytes_under(tmp_path / "state", mirror_root, repo):
        assert PASSWORD.encode() not in data, path


@pytest.mark.parametrize("password", ["", "not the password"])
def test_a_missing_or_wrong_restic_password_is_one_line_and_changes_nothing(
    mirror_sandbox: Sandbox, restic_context: Any, repo: Path, mirror_root: Path, tmp_path: Path, password: str,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    from maint.tasks.mirror import mirror
    from maint.tasks.restore import restore

    mirror(restic_context, "s4", json=True)
    capsys.readouterr()
    before = _bytes_under(repo, mirror_root)
    if password:
        monkeypatch.setenv("RESTIC_PASSWORD", password)
    else:
        monkeypatch.delenv("RESTIC_PASSWORD")
    with pytest.raises(Exit):
        mirror(restic_context, "s4", yes=True)
    err = capsys.readouterr().err.strip()
    expected = "wrong password" if password else "empty password"
    assert expected in err and len(err.splitlines()) == 1, err
    assert PASSWORD not in err and (not password or password not in err)
    with pytest.raises(Exit):
        restore(restic_context, "s4", json=True)
    out = json.loads(capsys.readouterr().out)
    assert not out["ok"] and expected in out["stores"][0]["error"]
    assert _bytes_under(repo, mirror_root) == before  # no snapshot, no lock, no partial folder


def test_a_restic_password_file_from_the_config_opens_the_repository(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from maint.mirror.listing import SnapshotPlace

    secret = tmp_path / "restic-password"
    secret.write_text(PASSWORD + "\n")
    secret.chmod(0o600)
    monkeypatch.delenv("RESTIC_PASSWORD")
    place = SnapshotPlace.of("", {"repository": f"restic:{repo}", "password_file": str(secret)}, "acme", "shop")
    assert place.summaries() == []
    secret.write_text("wrong\n")
    with pytest.raises(Exception, match="wrong password") as refused:
        place.summaries()
    assert PASSWORD not in str(refused.value)


def test_health_and_report_read_a_restic_repository_as_they_read_a_mirror_folder(
    mh: Any, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from datetime import date
    from zoneinfo import ZoneInfo

    from maint.health.local import probe_mirror_age
    from maint.health.model import State
    from maint.mirror.restic import ResticRepo
    from maint.report.model import Month, backups

    restic = ResticRepo(str(repo), "acme", "shop")
    seen, places = mh.health_and_report_seen(
        tmp_path, f"restic:{repo}", lambda work, ts, summary: restic.create(work, ts, summary, files=True))
    seen["restic"], places["restic"] = seen.pop("repository"), places.pop("repository")
    now, month = mh.age_now, Month(date(2026, 11, 1), ZoneInfo("UTC"))
    assert seen["restic"] == seen["folder"]
    assert seen["restic"][:2] == (12.0, State.WARNING)  # the newest failed verification
    assert seen["restic"][4] == "20261103T020000Z"  # the report's newest verified backup
    # Listing takes no lock: reading a repository writes nothing to it.
    assert not any((repo / "locks").iterdir())
    # A snapshot without maint's summary tag (made by hand, or before tags) is read from its manifest.
    newest = _snapshots(repo)[-1]
    summary_tag = next(t for t in newest["tags"] if t.startswith("summary="))
    subprocess.run(["restic", "--repo", str(repo), "tag", "--remove", summary_tag, newest["id"]], check=True,
                   capture_output=True)
    assert [(ts, s["verified"]) for ts, s in restic.summaries()] == [("20261103T020000Z", True),
                                                                    ("20261110T020000Z", False)]

    # Without the password (and no terminal to ask on) both say why, in one line, and nothing breaks.
    monkeypatch.delenv("RESTIC_PASSWORD")
    obs = probe_mirror_age(places["restic"], now=now)
    assert obs.state is State.UNKNOWN and f"restic:{repo} unreadable" in obs.evidence and "\n" not in obs.evidence
    b = backups("", "acme", "shop", month, {"repository": f"restic:{repo}"})
    assert b.unreadable and b.newest is None and b.mirror_root == f"restic:{repo}"


def test_a_store_mirrored_over_sftp_goes_into_restic_with_its_files_and_comes_back_as_a_snapshot_folder(
    mh: Any, mirror_sandbox: Sandbox, store_cfg: Callable[..., Any], repo: Path, tmp_path: Path,
) -> None:
    from maint.mirror.run import MirrorOptions, drop_extraction, open_snapshot

    cfg = store_cfg("s4", state_dir=tmp_path / "state",
                    options={"mirror": {"repository": f"restic:{repo}"}})
    made = mh.run_mirror(cfg, MirrorOptions(method="sftp", dump_tool="pymysql", compression="gzip"))
    assert made.manifest.method == "sftp" and made.path == Path(f"restic:{repo}::mclient-s4-{made.snapshot}")
    path, man = open_snapshot(cfg)
    try:
        assert man.timestamp == made.snapshot and (path / "files" / "www" / "index.php").is_file()
        assert (path / "db.sql.gz").is_file() and not (path / ".partial").exists() and not (path / ".current").exists()
        assert oct(path.stat().st_mode & 0o777) == "0o700"
    finally:
        drop_extraction(cfg, path)
    assert not path.exists()
