"""`fab check` keeps each store's verdict with its time for `fab report`; a what-if run is not kept."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from maint import verdicts
from maint.sandbox.orchestrator import maint_config


def test_a_check_run_records_the_verdict_privately_and_a_what_if_run_does_not(sandbox, sandbox_env, run_check):
    state = Path(maint_config(sandbox_env)["state_dir"]).expanduser()
    before = len(verdicts.read(state, "s3"))
    code, out = run_check("s3")
    report = out["stores"][0]
    kept = verdicts.read(state, "s3")
    assert len(kept) == before + 1
    last = kept[-1]
    assert last.status == report["status"] == "critical"
    assert last.versions["opencart"] == "3.0.3.8" and last.versions["php"].startswith("8.2")
    assert last.versions["database"].startswith("MariaDB")
    assert "CVE-2024-21514" in [a["id"] for a in last.advisories]
    assert last.recommended == report["recommended_upgrade"]
    path = verdicts.path_of(state, "s3")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert sandbox.store("s3").db_password not in path.read_text()
    json.loads(path.read_text().splitlines()[-1])  # one whole line per run

    run_check("s3", php="8.3")
    assert len(verdicts.read(state, "s3")) == before + 1
