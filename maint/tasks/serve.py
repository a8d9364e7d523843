"""`fab serve STORE [--snapshot TS]`: a snapshot as a working copy on 127.0.0.1, for testing changes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from maint import render
from maint.errors import VerificationError
from maint.mirror import manifest as manifest_io
from maint.mirror.run import drop_extraction, open_snapshot
from maint.model import Plan
from maint.ops.mirror import ServeFacts, plan_serve
from maint.tasks.common import TaskContext, emit_json, maint_task, task
from maint.workcopy import WorkCopy, db_name_for
from maint.workcopy import serve as serve_copy


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def local_php_version() -> str:
    done = subprocess.run(["php", "-r", "echo PHP_VERSION;"], capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else "0"


def php_range(matrix_file: Path, version: str) -> tuple[str | None, str | None]:
    """The release's supported PHP range from the matrix playbook (min from its installer, max from its profile)."""
    from maint.matrix import load_matrix

    release = load_matrix(matrix_file).find(version)
    if release is None:
        return None, None
    return release.php_min.dotted, release.php.max.dotted


def resolve_snapshot(cfg: Any, snapshot: str) -> tuple[Path, manifest_io.Manifest]:
    return open_snapshot(cfg, snapshot)


@task(
    name="serve",
    examples=[
        "fab serve demo",
        "fab serve demo --snapshot 2026-11-30T0200",
        "fab serve demo --stop",
    ],
    help={
        "store": "store name from the inventory",
        "snapshot": "timestamp of the snapshot (default: latest)",
        "port": "local port for PHP (default: a free one)",
        "docker": "serve in the official PHP image of the store's own PHP version (needs a Docker engine)",
        "stop": "stop the store's working copy (PHP and its MariaDB)",
        "identity": "private key for an encrypted snapshot: an age identity file, or a GnuPG home "
                    "(default: mirror.identity; GnuPG's own keyring and agent)",
        "dry_run": "show the plan only",
        "json": "print JSON for machines",
    },
)
@maint_task
def serve(c, store, snapshot="", port=0, docker=False, stop=False, identity="", dry_run=False, json=False):
    """Serve a snapshot as a local working copy on 127.0.0.1 and check its pages render."""
    tc = TaskContext.from_c(c)
    cfg = tc.store(store)
    if stop:
        stopped = WorkCopy(cfg.state_dir, cfg.client, cfg.store).stop()
        if json:
            emit_json([{"store": store, "stopped": list(stopped)}])
            return
        print(f"{store}: stopped {', '.join(stopped) or 'nothing (not running)'}")
        return
    path, man = resolve_snapshot(cfg, snapshot)
    low, high = php_range(tc.settings.playbook("matrix.yaml"), man.opencart_version)
    plan: Plan = plan_serve(ServeFacts(
        store=store, snapshot=path.name, verified=man.verified, version=man.opencart_version,
        local_php=local_php_version(), php_min=low, php_max=high, url=f"http://127.0.0.1:{port or 'PORT'}/",
        database=db_name_for(store), docker=docker, docker_available=docker_available() if docker else False))
    if json and dry_run:
        emit_json([{"store": store, "ok": True, "dry_run": True, "plan": plan.as_dict()}])
    elif not json:
        render.plan(plan)
    if dry_run:
        drop_extraction(cfg, path)
        return
    identity = identity or str(cfg.option("mirror", "identity", "") or "")
    try:
        result = serve_copy(cfg.state_dir, man, path, port=port or None, docker=docker, identity=identity)
    finally:
        drop_extraction(cfg, path)
    result.warnings = list(plan.warnings)
    bad = [ch for ch in result.checks if not ch.ok]
    if json:
        emit_json([{"store": store, "ok": not bad, "error": f"{', '.join(b.name for b in bad)} did not render"
                    if bad else None, "exit_code": 70 if bad else 0, **result.as_dict()}])
    else:
        pairs = [("URL", result.url), ("files", result.root), ("database", f"{result.database} (imported in "
                 f"{result.import_seconds:.1f}s)")]
        pairs += [(f"page {ch.name}", f"{ch.status} {'ok' if ch.ok else 'FAILED ' + ch.detail}"
                   + (f", {ch.deprecations} deprecation notices" if ch.deprecations else "")) for ch in result.checks]
        pairs.append(("stop with", f"fab serve {store} --stop"))
        render.key_values(f"{store}: working copy of {result.snapshot}", pairs)
    if bad:
        raise VerificationError(f"the working copy is up at {result.url} but {', '.join(b.name for b in bad)} "
                                "did not render", store=store)
