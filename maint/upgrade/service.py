"""`fab upgrade` / `fab rollback` below the task layer: gather the plan's facts, snapshot, rehearse on the
working copy, apply on the live store, roll back by itself, and keep a journal for `fab rollback`."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from fabric import Connection

from maint.config import StoreConfig
from maint.errors import MaintError, PreconditionError, VerificationError
from maint.facts.opencart import StoreFacts
from maint.facts.phpconfig import parse_config_php
from maint.mirror import manifest as manifest_io
from maint.mirror.restore import live_tables
from maint.mirror.run import MirrorOptions, apply_mirror, newest_rows, prepare
from maint.mirror.sshmux import SshMux
from maint.model import Plan
from maint.ops.mirror import NOUNS, NewerRows
from maint.ops.upgrade import Touching, UpgradeFacts, ocmod_files, plan_upgrade, touching_changed
from maint.remote.sql import open_db, table
from maint.remote.ssh import quote, run
from maint.runner import Guarded
from maint.upgrade import traps
from maint.upgrade.procedure import (
    ProcedureResult,
    Step,
    StorefrontBefore,
    UpgradeStepError,
    file_changes,
    protected_excludes,
    read_storefront,
    run_procedure,
    set_maintenance,
)
from maint.upgrade.release import Release
from maint.upgrade.removed import removed_files
from maint.upgrade.storefront import StorefrontReader, check_pages, new_problems
from maint.upgrade.target import Target, live_target, local_target

JOURNAL = "upgrade"
T = TypeVar("T")


@dataclass
class Prepared:
    cfg: StoreConfig
    facts: StoreFacts
    release: Release
    plan: Plan
    excludes: list[str]
    snapshot: str  # fresh snapshot to reuse, or ""
    upgrade_facts: UpgradeFacts


# One record for every guarded change (snapshot, rehearsal, live, rollback): the runner's; `fab extension`
# returns the same type. An upgrade's is Guarded(store, "upgrade", from_version=…, to_version=…).
UpgradeOutcome = Guarded


def storage_rel(facts: StoreFacts) -> str | None:
    root = facts.root.rstrip("/") + "/"
    storage = facts.dir_storage or facts.path("DIR_STORAGE")
    return storage[len(root):].strip("/") if storage.startswith(root) else None


def _touching(db: Any, prefix: str, replaced: Sequence[str], facts: StoreFacts, conn: Connection) -> list[Touching]:
    out: list[Touching] = []
    with db.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
                    (prefix + "modification",))
        if cur.fetchone()[0]:
            cur.execute(f"SELECT name, status, xml FROM {table(prefix, 'modification')}")
            for name, status, xml in cur.fetchall():
                files = touching_changed(str(name), ocmod_files(str(xml or "")), replaced)
                if files:
                    out.append(Touching("ocmod", str(name), files, bool(status)))
        cur.execute(f"SELECT `value` FROM {table(prefix, 'setting')} WHERE store_id = 0 AND `key` = 'config_theme'")
        row = cur.fetchone()
        theme = str(row[0]) if row else ""
        if theme and theme not in ("default", "basic", "theme_default"):
            out.append(Touching("theme", theme))
    vqmod = run(conn, f"test -d {quote(facts.root.rstrip('/') + '/vqmod/xml')} && ls {quote(facts.root.rstrip('/') + '/vqmod/xml')}",
                check=False, store=facts.store).stdout.split()
    out += [Touching("vqmod", name) for name in vqmod if name.endswith(".xml")]
    return out


def _modified_core(target: Target, current: Release | None, excludes: Sequence[str]) -> tuple[str, ...] | None:
    """Core files the store changed against its own release (None: that release is not at hand)."""
    if current is None:
        return None
    changes = file_changes(target, current, [*excludes, "/install/"])
    return tuple(changes["changed"])


def prepare_upgrade(conn: Connection, cfg: StoreConfig, facts: StoreFacts, release: Release, mux: SshMux, *,
                    current: Release | None = None, platform_problems: Sequence[str] = (), rehearse: bool = True,
                    snapshot_max_age: float = 0.0) -> Prepared:
    target = live_target(conn, cfg, facts, mux)
    extra = [str(p) for p in (cfg.option("upgrade", "protect", []) or [])]
    excludes = protected_excludes(facts.admin_dir, storage_rel(facts), extra)
    same = facts.version == release.version
    changes = {"new": [], "changed": []} if same else file_changes(target, release, excludes)
    state = traps.capture(target, facts.version, release.version)
    with open_db(conn, facts.db, store=cfg.store) as db:
        touching = [] if same else _touching(db, facts.db.prefix, changes["changed"], facts, conn)
    modified = None if same else _modified_core(target, current, excludes)
    removed, found_by, kept = ([], "", []) if same else removed_files(
        target, release.tree, current.tree if current is not None else None, facts.version[:1], excludes)
    df = run(conn, f"df -Pk {quote(facts.root)} | tail -1", check=False, store=cfg.store).stdout.split()
    free = int(df[3]) * 1024 if len(df) >= 4 and df[3].isdigit() else None
    size = sum(p.stat().st_size for p in release.tree.rglob("*") if p.is_file())
    snapshot = _fresh_snapshot(cfg, snapshot_max_age)
    ufacts = UpgradeFacts(
        store=cfg.store, current=facts.version, target=release.version, admin_dir=facts.admin_dir,
        added=tuple(changes["new"]), replaced=tuple(changes["changed"]),
        protected=("config.php", f"{facts.admin_dir}/config.php", "image/", "storage data", *extra),
        modified_core=modified, removed=tuple(removed), removed_by=found_by, removed_kept=tuple(kept), touching=tuple(touching), traps=tuple(state.describe()),
        platform_problems=tuple(platform_problems), snapshot=snapshot, disk_free=free, disk_needed=2 * size,
        rehearse=rehearse, upgrade_steps=len(list((release.tree / "install" / "model" / "upgrade").glob("*.php")))
        if release.version.startswith("3") else 0,
    )
    return Prepared(cfg, facts, release, plan_upgrade(ufacts), excludes, snapshot, ufacts)


def _fresh_snapshot(cfg: StoreConfig, max_age: float) -> str:
    """The newest verified snapshot when it is at most max_age seconds old, from the mirror folder or the
    store's repository alike (its summary: nothing extracted)."""
    from maint.mirror.listing import SnapshotPlace

    if max_age <= 0:
        return ""
    place = SnapshotPlace.of(cfg.mirror_root, cfg.options.get("mirror"), cfg.client, cfg.store)
    try:
        latest = place.latest()
    except (MaintError, OSError):
        return ""
    if latest is None or not latest.readable:
        return ""
    fresh = latest.verified and datetime.now(UTC) - latest.taken <= timedelta(seconds=max_age)
    return latest.name if fresh else ""


def take_snapshot(conn: Connection, cfg: StoreConfig, facts: StoreFacts, mux: SshMux) -> str:
    prep = prepare(conn, cfg, facts, MirrorOptions(), mux)
    return apply_mirror(conn, prep, mux, None).snapshot


def rehearse_with(cfg: StoreConfig, snapshot: str, admin_dir: str, procedure: Callable[[Target], T]) -> T:
    """Run `procedure` on a local working copy of the snapshot (`fab serve`'s), then stop the copy."""
    from maint.mirror.run import drop_extraction, open_snapshot
    from maint.workcopy import WorkCopy, serve

    began = time.monotonic()  # extracting from a repository is part of serving the working copy
    path, man = open_snapshot(cfg, snapshot)  # a folder of the mirror, or extracted from its repository
    try:
        served = serve(cfg.state_dir, man, path, check_pages=False)  # the procedure checks every page itself
    finally:
        drop_extraction(cfg, path)  # the working copy has its own files and database now
    wc = WorkCopy(cfg.state_dir, man.client, man.store)
    try:
        root = Path(served.root)
        consts = parse_config_php((root / "config.php").read_text(errors="replace"), file="config.php")
        target = local_target("working copy", cfg.store, served.url, root, admin_dir, consts)
        target.served_in = time.monotonic() - began
        return procedure(target)
    finally:
        wc.stop()


def rehearse(cfg: StoreConfig, snapshot: str, prepared: Prepared,
             on_step: Callable[[Step], None] | None = None) -> ProcedureResult:
    """The whole upgrade procedure on a working copy of the snapshot."""
    def procedure(target: Target) -> ProcedureResult:
        up = Step("working copy", True, f"snapshot {snapshot} served at {target.url}", target.served_in)
        if on_step:
            on_step(up)
        try:
            result = run_procedure(target, prepared.release, prepared.facts.version, prepared.excludes,
                                   on_step=on_step, remove=prepared.upgrade_facts.removed)
        except UpgradeStepError as exc:
            exc.result.steps.insert(0, up)
            raise
        result.steps.insert(0, up)
        return result

    return rehearse_with(cfg, snapshot, prepared.facts.admin_dir, procedure)


def read_live_storefront(conn: Connection, cfg: StoreConfig, facts: StoreFacts, mux: SshMux) -> StorefrontBefore:
    """The live storefront's prices and pages before the upgrade (read-only; run while the rehearsal runs)."""
    return read_storefront(live_target(conn, cfg, facts, mux))


def apply_live(conn: Connection, cfg: StoreConfig, facts: StoreFacts, prepared: Prepared, mux: SshMux,
               snapshot: str, on_step: Callable[[Step], None] | None = None,
               before: StorefrontBefore | None = None) -> ProcedureResult:
    """The procedure on the live store; a step failing inside the maintenance window is rolled back there
    (UpgradeStepError.rolled_back), before customers see the store again. The result's `snapshot` is the
    one a rollback restores: a newer one when orders arrived after `snapshot` (during the rehearsal)."""
    way = [snapshot]

    def way_back() -> str:
        # Customers see the maintenance page from here on: what they ordered until now must survive a rollback.
        newer = newer_than(conn, cfg, facts, way[0])
        if not newer:
            return f"snapshot {way[0]} holds every order, customer and review: it is the way back"
        way[0] = take_snapshot(conn, cfg, facts, mux)
        return (f"{describe_newer(newer)} arrived after snapshot {snapshot}: snapshot {way[0]} taken in the "
                "window, so a rollback keeps them")

    def rollback() -> list[str]:
        return rollback_to(conn, cfg, facts, way[0], mux, hold=False)

    target = live_target(conn, cfg, facts, mux)
    try:
        result = run_procedure(target, prepared.release, facts.version, prepared.excludes, on_step=on_step,
                               rollback=rollback, remove=prepared.upgrade_facts.removed, way_back=way_back,
                               before=before)
    except UpgradeStepError as exc:
        exc.result.snapshot = way[0]
        if exc.rolled_back:  # the window has ended: the store serves the snapshot's files and rows again
            exc.rollback_steps += verify_rolled_back(target, way[0], exc.result.baseline_failing)
        raise
    result.snapshot = way[0]
    return result


def rollback_to(conn: Connection, cfg: StoreConfig, facts: StoreFacts, snapshot: str, mux: SshMux,
                tolerate: Sequence[str] = (), *, hold: bool = True, task: str = "rollback",
                discard_newer: bool = True, carry_newer: bool = False) -> list[str]:
    """Files and database back from the snapshot (under the lock the caller holds), maintenance off, pages.
    `tolerate`: pages that already failed before the upgrade (they are reported, not held against it).
    Orders, customers and reviews newer than the snapshot: refused (PreconditionError, nothing changed)
    unless `discard_newer`; when discarded they are listed in the steps, so nobody has to guess what went.
    `carry_newer`: read once the store is in maintenance, and written back after the restore instead
    (maint.mirror.carryover); what could not be is listed with the reason."""
    from maint.mirror.run import drop_extraction, open_snapshot

    path, man = open_snapshot(cfg, snapshot)  # a folder of the mirror, or extracted from its repository
    try:
        return _rollback_from(conn, cfg, facts, path, man, snapshot, mux, tolerate, hold=hold, task=task,
                              discard_newer=discard_newer, carry_newer=carry_newer)
    finally:
        drop_extraction(cfg, path)


def _rollback_from(conn: Connection, cfg: StoreConfig, facts: StoreFacts, path: Path, man: Any, snapshot: str,
                   mux: SshMux, tolerate: Sequence[str], *, hold: bool, task: str, discard_newer: bool,
                   carry_newer: bool = False) -> list[str]:
    from maint.maintenance import planned_maintenance
    from maint.mirror.restore import prepare_restore, restore_carrying

    plan = prepare_restore(conn, cfg, facts, path, man, discard_newer=discard_newer)
    lost = [ch for ch in plan if ch.kind == "lose"]
    if lost and not discard_newer and not carry_newer:
        raise PreconditionError(f"the rollback to {snapshot} would lose " + "; ".join(ch.summary for ch in lost)
                                + "; nothing was changed: pass --discard-newer to accept that", store=cfg.store)
    guard = None
    if not discard_newer and not carry_newer:  # nothing to lose now: refuse rows arriving before the restore reaches the database
        with open_db(conn, facts.db, store=cfg.store) as db:
            guard = newest_rows(db, facts.db.prefix, live_tables(db, facts.db.database))
    target = live_target(conn, cfg, facts, mux)
    hold_it = planned_maintenance(conn, cfg, facts.db, task=task, why=f"back to snapshot {snapshot}",
                                  expected_minutes=15) if hold else nullcontext()
    with hold_it:
        # In maintenance from here: what customers placed since the snapshot is read before the restore,
        # and a row arriving after that read refuses the restore (the guard), nothing changed.
        result = restore_carrying(conn, cfg, facts, path, man, plan, carry=carry_newer, guard=guard)
        run(conn, f"rm -rf {quote(facts.root.rstrip('/') + '/install')}", check=False, store=cfg.store)
    steps = [f"discarded: {ch.summary}" for ch in lost if not carry_newer] + list(result.steps)
    if not hold:  # inside the caller's maintenance window: the pages are checked once it ends
        return steps
    if set_maintenance(target, False):
        steps.append("maintenance mode was on in the snapshot: switched off")
    return steps + verify_rolled_back(target, snapshot, tolerate)


def newer_than(conn: Connection, cfg: StoreConfig, facts: StoreFacts, snapshot: str,
               man: manifest_io.Manifest | None = None) -> tuple[NewerRows, ...]:
    """Orders, customers and reviews the live store has that the snapshot doesn't (read-only; only the
    snapshot's manifest is read, from the mirror folder or the repository, never the whole snapshot;
    `man`: that manifest when the caller has it already)."""
    from maint.mirror.restore import newer_rows
    from maint.mirror.run import snapshot_manifest

    man = man or snapshot_manifest(cfg, snapshot)
    with open_db(conn, facts.db, store=cfg.store) as db:
        return newer_rows(db, facts.db.prefix, man)


def describe_newer(newer: Sequence[NewerRows]) -> str:
    return "; ".join(f"{r.count} {NOUNS.get(r.table, r.table)} ({', '.join(r.examples)}"
                     f"{', …' if r.count > len(r.examples) else ''})" for r in newer)


def keep_in_maintenance(conn: Connection, cfg: StoreConfig, facts: StoreFacts, mux: SshMux) -> bool:
    """Maintenance mode on after a failed rollback; True when that worked."""
    try:
        set_maintenance(live_target(conn, cfg, facts, mux), True)
    except MaintError:
        return False
    return True


def verify_rolled_back(target: Target, snapshot: str, tolerate: Sequence[str] = ()) -> list[str]:
    """The storefront after a rollback: the pages that worked before the upgrade work again."""
    with StorefrontReader(target) as reader:
        passed, found = check_pages(reader)
    problems, known = new_problems(found, set(tolerate))
    if problems:
        raise VerificationError(f"rolled back to {snapshot}, but the storefront still fails: {'; '.join(problems)}",
                                store=target.store)
    return [f"as before the upgrade: {p}" for p in known] + [f"verified after the rollback: {', '.join(passed)} work"]


# -- the journal `fab rollback` reads ---------------------------------------------------------------------------------
def journal_dir(cfg: StoreConfig) -> Path:
    path = Path(cfg.state_dir).expanduser() / JOURNAL / cfg.client / cfg.store
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def write_journal(cfg: StoreConfig, outcome: UpgradeOutcome) -> Path:
    folder = journal_dir(cfg)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{stamp}-upgrade.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({**outcome.as_dict(), "time": stamp}, handle, indent=2)
    return path


def last_upgrade(cfg: StoreConfig) -> dict[str, Any] | None:
    files = sorted(journal_dir(cfg).glob("*-upgrade.json"))
    for path in reversed(files):
        data: dict[str, Any] = json.loads(path.read_text())
        if data.get("snapshot") and data.get("ok") and not data.get("rolled_back"):
            data["journal"] = str(path)
            return data
    return None


def mark_rolled_back(journal: str, steps: list[str]) -> None:
    path = Path(journal)
    data = json.loads(path.read_text())
    data.update(rolled_back=True, rollback_steps=steps, rolled_back_at=datetime.now(UTC).isoformat())
    path.write_text(json.dumps(data, indent=2))


def cleanup_release(release: Release) -> None:
    """Remove an unpacked archive (never a folder the user gave)."""
    if release.source.is_dir():
        return
    top = release.tree
    while top.parent != top and not top.name.startswith("maint-release-"):
        top = top.parent
    if top.name.startswith("maint-release-"):
        shutil.rmtree(top, ignore_errors=True)


def elapsed(since: float) -> float:
    return time.monotonic() - since
