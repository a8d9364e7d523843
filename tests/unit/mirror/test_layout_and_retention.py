"""Snapshot folders, atomic publishing, manifests and the retention rules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from maint.errors import ConfigError, PreconditionError, VerificationError
from maint.mirror import manifest
from maint.mirror.layout import StoreMirror, count_tree, is_timestamp, timestamp
from maint.mirror.manifest import DumpInfo, FileRoot, Manifest
from maint.mirror.retention import Retention
from maint.ops.mirror import plan_prune

PRUNE_CASES = sorted((Path(__file__).resolve().parents[3] / "fixtures" / "ops" / "mirror-prune").glob("*.yaml"))


def _publish(mirror: StoreMirror, ts: str, content: str = "x") -> Path:
    mirror.prepare_partial()
    (mirror.partial / "files" / "a.txt").write_text(content)
    return mirror.publish(ts)


def test_publish_renames_the_partial_folder_and_points_latest_at_it(tmp_path: Path) -> None:
    mirror = StoreMirror.of(tmp_path, "acme", "shop")
    assert mirror.latest() is None
    _publish(mirror, "20260101T000000Z")
    _publish(mirror, "20260102T000000Z")
    assert mirror.snapshots() == ["20260101T000000Z", "20260102T000000Z"]
    assert mirror.latest() == "20260102T000000Z"
    assert os.readlink(mirror.latest_link) == "20260102T000000Z"  # relative: the disk can be moved
    assert not mirror.has_partial()


def test_prepare_partial_reports_an_interrupted_run_for_resuming(tmp_path: Path) -> None:
    mirror = StoreMirror.of(tmp_path, "acme", "shop")
    assert mirror.prepare_partial() is False
    assert mirror.prepare_partial() is True


def test_latest_snapshot_cannot_be_removed(tmp_path: Path) -> None:
    mirror = StoreMirror.of(tmp_path, "acme", "shop")
    _publish(mirror, "20260101T000000Z")
    with pytest.raises(PreconditionError, match="latest"):
        mirror.remove("20260101T000000Z")


@pytest.mark.parametrize("bad", ["", "../x", ".hidden", "a/b"])
def test_unsafe_client_or_store_names_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(PreconditionError):
        StoreMirror.of(tmp_path, "acme", bad)


def test_timestamps_sort_in_time_order_and_are_recognised() -> None:
    ts = timestamp()
    assert is_timestamp(ts) and not is_timestamp("latest") and not is_timestamp(".partial")


def test_count_tree_counts_regular_files_and_symlink_sizes_like_rsync(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"12345")
    os.symlink("d/f", tmp_path / "l")
    assert count_tree(tmp_path) == (1, 5 + len("d/f"))


def test_manifest_round_trips_and_unverified_snapshots_are_refused(tmp_path: Path) -> None:
    man = Manifest(client="acme", store="shop", timestamp="20260101T000000Z",
                   roots=[FileRoot("www", "/srv/www", files=3, bytes=10)],
                   dump=DumpInfo(file="db.sql.zst", tables={"oc_product": 3}))
    manifest.write(tmp_path, man)
    assert manifest.read(tmp_path) == man
    with pytest.raises(VerificationError, match="failed verification"):
        manifest.require_verified(tmp_path)
    man.verified = True
    manifest.write(tmp_path, man)
    assert manifest.require_verified(tmp_path).files == 3


def test_a_folder_without_manifest_is_not_a_usable_snapshot(tmp_path: Path) -> None:
    with pytest.raises(VerificationError, match="no manifest"):
        manifest.read(tmp_path)


@pytest.mark.parametrize("case", PRUNE_CASES, ids=lambda p: p.stem)
def test_prune_plans_follow_the_retention_rules(case: Path) -> None:
    data = yaml.safe_load(case.read_text())
    plan, _ = plan_prune("shop", data["snapshots"], Retention(**data["rules"]), data["latest"])
    assert sorted(c.target for c in plan) == sorted(data["delete"])
    assert all(c.destructive for c in plan)
    assert bool(plan.noop_reason) is (not data["delete"])


@pytest.mark.parametrize("keep", [{"daily": -1}, {"hourly": 3}, {"weekly": "4"}])
def test_bad_retention_options_name_the_key(keep: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="mirror.keep"):
        Retention.from_options(keep)
