"""Issue #14's walk on the real sandbox: every store task's --json is the one envelope of
docs/output.schema.json, and Fabric's --dry/-R on a task that changes things is its dry run (the
store and the mirror folder unchanged) or refused."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

PROJECT = Path(__file__).resolve().parents[3]
FAB = PROJECT / ".venv" / "bin" / "fab"


def fab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(FAB), "-r", str(PROJECT), *args], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ), check=False)


def store_state(sandbox: Any, name: str) -> tuple[Any, ...]:
    store = sandbox.store(name)
    with sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
        cur.execute(f"CHECKSUM TABLE `{store.prefix}product`, `{store.prefix}setting` EXTENDED")
        sums = tuple(cur.fetchall())
    files = tuple(sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in Path(store.root).rglob("*")
                         if p.is_file()))
    return sums, files


def tree(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*")) if folder.exists() else []


@pytest.mark.parametrize(("argv", "codes"), [
    (["info", "s3"], {0}),
    (["info", "--all"], {0}),
    (["check", "s3"], {0, 1, 2, 3}),
    (["health", "s3"], {0, 1, 2, 3}),
    (["mirror", "s3", "--dry-run"], {0}),
    (["serve", "s3", "--dry-run"], {0, 60}),
    (["restore", "s3", "--snapshot", "20200101T000000Z", "--dry-run"], {60}),
    (["info", "nosuchstore"], {11}),
])
def test_every_store_task_prints_one_envelope(argv, codes, sandbox, sandbox_env, assert_envelope) -> None:
    result = fab(*argv, "--json")
    data = assert_envelope(result.stdout, argv[0])
    assert result.returncode in codes, result.stderr
    assert data["exit_code"] == result.returncode
    if result.returncode == 0:
        assert data["stores"] and all(s["ok"] for s in data["stores"])
    elif data["stores"]:
        assert not data["ok"]
    else:
        assert data["error"]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("dry", ["--dry", "-R"])
def test_fabric_dry_flags_mirror_nothing(dry, sandbox, sandbox_env, assert_envelope) -> None:
    mirror_dir = Path(sandbox.mirror_dir)
    before, files = tree(mirror_dir), store_state(sandbox, "s3")
    result = fab("mirror", "s3", dry, "--yes", "--prune", "--json")
    item = assert_envelope(result.stdout, "mirror")["stores"][0]
    assert result.returncode == 0, result.stderr
    assert item["dry_run"] is True
    assert tree(mirror_dir) == before and store_state(sandbox, "s3") == files


@pytest.mark.parametrize("argv", [["info", "s3"], ["check", "s3"], ["log", "s3", "1h", "x"], ["hours", "sandbox"]])
def test_fabric_dry_on_a_task_without_a_dry_run_is_refused_before_it_runs(argv, sandbox, sandbox_env) -> None:
    ledger = Path(sandbox_env["FABRIC_MAINT_STATE_DIR"]) / "ledger.sqlite"
    before = ledger.read_bytes() if ledger.exists() else b""
    result = fab(*argv, "-R")
    assert result.returncode == 2 and "has no dry run" in result.stderr
    assert (ledger.read_bytes() if ledger.exists() else b"") == before  # not even logged
    assert json.loads(fab(*argv, "--dry", "--json").stdout)["exit_code"] == 2
