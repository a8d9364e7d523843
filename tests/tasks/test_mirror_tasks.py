"""Wiring of `fab mirror`, `fab serve` and `fab restore`: argument checks before any connection, dry runs
that never apply, confirmation before a restore, refusal of unverified snapshots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from invoke import Config, Context
from invoke.exceptions import Exit

from maint.mirror import manifest
from maint.mirror.manifest import DumpInfo, FileRoot, Manifest
from maint.model import Change, Plan
from maint.tasks.mirror import mirror
from maint.tasks.restore import restore
from maint.tasks.serve import serve


@pytest.fixture
def mirror_dir(tmp_path: Path) -> Path:
    return tmp_path / "mirror"


@pytest.fixture
def ctx(tmp_path: Path, mirror_dir: Path) -> Context:
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    (inventory / "acme.yaml").write_text(yaml.safe_dump({
        "name": "acme", "title": "Acme", "plan": "retainer",
        "contacts": [{"name": "A", "email": "a@example.invalid", "role": "owner"}],
        "stores": [{"name": "shop", "host": "shop-host", "root": "/srv/shop", "mirror": str(mirror_dir)},
                   {"name": "shop2", "host": "shop-host", "root": "/srv/shop2", "mirror": str(mirror_dir)}],
    }))
    return Context(config=Config(overrides={"maint": {"inventory": str(inventory), "state_dir": str(tmp_path / "st")}}))


def _no_connect(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    for module in modules:
        monkeypatch.setattr(f"{module}.connect", lambda cfg: pytest.fail("must not connect"))


def _snapshot(mirror_dir: Path, ts: str, *, verified: bool) -> Path:
    folder = mirror_dir / "acme" / "shop" / ts
    (folder / "files" / "www").mkdir(parents=True)
    manifest.write(folder, Manifest(client="acme", store="shop", timestamp=ts, opencart_version="4.1.0.4",
                                    roots=[FileRoot("www", "/srv/shop")], dump=DumpInfo(file="db.sql.zst"),
                                    verified=verified))
    return folder


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"store": "shop", "all_": True}, 2),
    ({"store": "shop", "method": "ftp"}, 50),
    ({"store": "shop", "dump_tool": "mydumper"}, 50),
    ({"store": "shop", "strip": "customers,passwords"}, 50),
    ({"store": "nope"}, 11),
])
def test_bad_arguments_fail_before_any_connection(ctx: Context, monkeypatch: pytest.MonkeyPatch,
                                                  kwargs: dict[str, Any], code: int) -> None:
    _no_connect(monkeypatch, "maint.tasks.mirror")
    with pytest.raises(Exit) as err:
        mirror(ctx, **kwargs)
    assert err.value.code == code


def test_dry_run_shows_the_plan_and_never_applies(ctx: Context, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str], mirror_dir: Path) -> None:
    plan = Plan(store="shop", action="mirror", changes=[Change("files", "files/www <- /srv/shop", "rsync, full copy")])

    class Prep:
        def __init__(self) -> None:
            self.plan = plan

    class Conn:
        def close(self) -> None:
            pass

    monkeypatch.setattr("maint.tasks.mirror.connect", lambda cfg: Conn())
    monkeypatch.setattr("maint.tasks.mirror.get_store_facts", lambda conn, cfg: object())
    monkeypatch.setattr("maint.tasks.mirror.prepare", lambda conn, cfg, facts, options, mux: Prep())
    monkeypatch.setattr("maint.tasks.mirror.apply_mirror", lambda *a, **k: pytest.fail("dry run applied"))
    mirror(ctx, store="shop", dry_run=True)
    assert "rsync, full copy" in capsys.readouterr().out
    assert not mirror_dir.exists()


def test_prune_without_snapshots_says_why_nothing_is_deleted(ctx: Context, mirror_dir: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    from maint.tasks.common import TaskContext
    from maint.tasks.mirror import prune_store

    _snapshot(mirror_dir, "20260101T000000Z", verified=True)
    result = prune_store(TaskContext.from_c(ctx), "shop", dry_run=False, yes=False, json=False)
    assert result["deleted"] == [] and "kept" in capsys.readouterr().out


def test_a_done_mirror_is_reported_before_the_refused_prune(ctx: Context, mirror_dir: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    for day in range(1, 21):
        _snapshot(mirror_dir, f"202001{day:02d}T000000Z", verified=True)
    plan = Plan(store="shop", action="mirror", changes=[])
    monkeypatch.setattr("maint.tasks.mirror.mirror_one", lambda tc, name, options, **k: {
        "store": name, "snapshot": "20200120T000000Z", "_plan": plan})
    monkeypatch.setattr("maint.tasks.mirror.summary_rows", lambda data: [("snapshot", data["snapshot"])])
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(Exit) as err:
        mirror(ctx, store="shop", prune=True)
    out, errors = capsys.readouterr()
    assert err.value.code == 3
    assert "shop: snapshot 20200120T000000Z verified and published as latest" in out
    assert "the snapshot was made and verified; pruning old snapshots was not done" in errors
    assert len(list((mirror_dir / "acme" / "shop").glob("2020*"))) == 20


def test_serve_refuses_an_unverified_snapshot_before_importing(ctx: Context, mirror_dir: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    _snapshot(mirror_dir, "20260101T000000Z", verified=False)
    monkeypatch.setattr("maint.tasks.serve.serve_copy", lambda *a, **k: pytest.fail("imported"))
    with pytest.raises(Exit) as err:
        serve(ctx, "shop", snapshot="20260101T000000Z")
    assert err.value.code == 70


def test_serve_without_any_snapshot_says_to_mirror_first(ctx: Context, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(Exit) as err:
        serve(ctx, "shop")
    assert err.value.code == 60 and "fab mirror" in capsys.readouterr().err


def test_restore_without_a_snapshot_lists_them_and_connects_to_nothing(
    ctx: Context, mirror_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    _no_connect(monkeypatch, "maint.tasks.restore")
    _snapshot(mirror_dir, "20260101T000000Z", verified=True)
    _snapshot(mirror_dir, "20260102T000000Z", verified=False)
    restore(ctx, "shop", json=True)
    rows = json.loads(capsys.readouterr().out)["stores"][0]["snapshots"]
    assert [(r["snapshot"], r["verified"], r["opencart"]) for r in rows] == [
        ("20260102T000000Z", False, "4.1.0.4"), ("20260101T000000Z", True, "4.1.0.4")]
    restore(ctx, "shop")
    out = capsys.readouterr().out
    assert "20260101T000000Z" in out and "NO" in out and "--snapshot" in out


def test_restore_asks_before_changing_the_live_store(ctx: Context, mirror_dir: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _snapshot(mirror_dir, "20260101T000000Z", verified=True)

    class Conn:
        def close(self) -> None:
            pass

    plan = Plan(store="shop", action="restore", changes=[Change("database", "db", "replace", destructive=True)])
    monkeypatch.setattr("maint.tasks.restore.connect", lambda cfg: Conn())
    monkeypatch.setattr("maint.tasks.restore.get_store_facts", lambda conn, cfg: object())
    monkeypatch.setattr("maint.tasks.restore.prepare_restore", lambda *a, **k: plan)
    monkeypatch.setattr("maint.tasks.restore.restore_carrying", lambda *a, **k: pytest.fail("applied without asking"))
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(Exit) as err:
        restore(ctx, "shop", snapshot="20260101T000000Z")
    assert err.value.code == 3
