"""Messages about a repository's snapshots use its own word (#20): borg keeps archives, restic snapshots."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from maint.config import StoreConfig
from maint.errors import PreconditionError
from maint.mirror.run import open_snapshot


def _cfg(tmp_path: Path, repository: str) -> StoreConfig:
    return StoreConfig(client="acme", store="shop", host="shop-host", root="/var/www", state_dir=tmp_path / "state",
                       options={"mirror": {"repository": repository}})


@pytest.mark.skipif(shutil.which("restic") is None, reason="restic not installed")
def test_an_empty_or_unknown_restic_snapshot_is_called_a_snapshot(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RESTIC_PASSWORD", "words-pw")
    monkeypatch.setenv("RESTIC_CACHE_DIR", str(tmp_path / "cache"))
    subprocess.run(["restic", "init", "--repo", str(tmp_path / "r")], check=True, capture_output=True)
    cfg = _cfg(tmp_path, f"restic:{tmp_path / 'r'}")
    with pytest.raises(PreconditionError) as none_yet:
        open_snapshot(cfg)
    assert str(none_yet.value.message) == f"no snapshot of shop in restic:{tmp_path / 'r'} yet: run `fab mirror` first"
    with pytest.raises(PreconditionError) as unknown:
        open_snapshot(cfg, "2026-01-01T0000")
    assert unknown.value.message.startswith("no snapshot acme-shop-2026-01-01T0000 in restic:")
    assert "archive" not in none_yet.value.message + unknown.value.message


@pytest.mark.skipif(shutil.which("borg") is None, reason="borg not installed")
def test_an_empty_or_unknown_borg_archive_is_called_an_archive(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("BORG_PASSPHRASE", "words-pw")
    monkeypatch.setenv("BORG_BASE_DIR", str(tmp_path / "borg-home"))
    subprocess.run(["borg", "init", "-e", "repokey", str(tmp_path / "b")], check=True, capture_output=True)
    cfg = _cfg(tmp_path, f"borg:{tmp_path / 'b'}")
    with pytest.raises(PreconditionError) as none_yet:
        open_snapshot(cfg)
    assert none_yet.value.message == f"no archive of shop in borg:{tmp_path / 'b'} yet: run `fab mirror` first"
    with pytest.raises(PreconditionError) as unknown:
        open_snapshot(cfg, "2026-01-01T0000")
    assert unknown.value.message.startswith("no archive acme-shop-2026-01-01T0000 in borg:")
