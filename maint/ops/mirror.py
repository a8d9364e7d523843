"""Pure planners for `fab mirror`, `fab mirror --prune`, `fab serve` and `fab restore`.

Each takes plain facts gathered elsewhere and returns a Plan (or raises when the work cannot be done
safely); nothing here touches a host, a database or a disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from maint.errors import InputError, PreconditionError, VerificationError
from maint.mirror.retention import Decision, Retention, decide
from maint.model import Change, Plan

# Measured on a 2-core machine (opencart-facts part C): mysqldump reads ~45 MB of table data a second.
DUMP_BYTES_PER_SECOND = 45e6
# Compressed dumps are about a quarter of the tables' data length (zstd -3 / gzip -1 on OpenCart data).
DUMP_COMPRESSION_RATIO = 0.3
SPACE_MARGIN = 64 * 1024 * 1024


@dataclass(frozen=True)
class TreeSource:
    name: str  # folder under files/
    remote: str  # absolute path on the host
    excludes: tuple[str, ...] = ()


@dataclass(frozen=True)
class MirrorFacts:
    """What the mirror planner needs to know, gathered read-only from the host, its DB and the mirror disk."""

    store: str
    version: str
    trees: tuple[TreeSource, ...]
    engines: dict[str, str]  # table → engine
    db_bytes: int
    remote_files: int
    remote_bytes: int
    previous: str | None  # timestamp of `latest`
    partial: bool  # an interrupted run left a partial folder
    free_bytes: int
    has_rsync: bool = True
    has_mysqldump: bool = True
    compression: str = "zstd"
    stripped: tuple[str, ...] = ()
    incoming: dict[str, int] = field(default_factory=dict)  # from an rsync dry run: new, changed, bytes
    loose_dirs: int = 0  # mirror folders not yet 0700 (made by an older maint, or by hand)
    loose_files: int = 0  # dumps, manifests, config copies not yet 0600
    encryption: str = ""  # "age to age1…" when mirror.encrypt is set
    clear_snapshots: int = 0  # older snapshots made before encryption was switched on
    repository: str = ""  # "borg:/path", "restic:/path": the snapshot goes in there, not into a folder
    streamed: bool = False  # borg target, first mirror: the host's tar streams into `.current` and borg at once


def estimate_lock_seconds(db_bytes: int) -> float:
    return max(db_bytes / DUMP_BYTES_PER_SECOND, 1.0)


def estimate_space(facts: MirrorFacts) -> int:
    """Bytes the new snapshot needs: the dump plus what is new (hard links cost nothing)."""
    dump = int(facts.db_bytes * DUMP_COMPRESSION_RATIO)
    if facts.previous and "bytes" in facts.incoming:
        files = facts.incoming["bytes"]
    elif facts.previous:
        files = facts.remote_bytes // 10  # unknown: assume a tenth changed
    else:
        files = facts.remote_bytes
    return dump + files + SPACE_MARGIN


def engine_summary(engines: dict[str, str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for engine in engines.values():
        out[engine or "unknown"] = out.get(engine or "unknown", 0) + 1
    return dict(sorted(out.items()))


def plan_mirror(facts: MirrorFacts) -> Plan:
    """Files, then the dump, then verification and publishing; refuses when the mirror disk is too small."""
    plan = Plan(store=facts.store, action="mirror")
    need = estimate_space(facts)
    if facts.free_bytes < need:
        raise PreconditionError(
            f"not enough free space on the mirror disk: {_mb(facts.free_bytes)} free, about {_mb(need)} needed",
            store=facts.store,
        )
    if facts.partial:
        plan.warnings.append("an interrupted run left a partial snapshot: resuming it")
    if facts.loose_dirs or facts.loose_files:
        plan.changes.append(Change("permissions", "mirror folder",
                                   f"tighten {facts.loose_dirs} folder(s) to 0700 and {facts.loose_files} file(s) "
                                   "(dumps, manifests, config copies) to 0600: client data at rest"))
    if facts.clear_snapshots:
        plan.warnings.append(f"{facts.clear_snapshots} older snapshot(s) were made before mirror.encrypt and hold the "
                             "dump and config.php in clear: delete them (or prune) once this one is verified")
    base = f"incremental against {facts.previous} (unchanged files hard-linked)" if facts.previous else "full copy"
    method = "rsync" if facts.has_rsync else "SFTP walk (no rsync on the host: copies files whose size or mtime changed)"
    if not facts.has_rsync:
        plan.warnings.append("the host has no rsync: the SFTP fallback is much slower (12-37x)")
    if facts.streamed:
        method, base = "tar stream from the host", "unpacked into the rsync base and archived by borg as it arrives"
    for tree in facts.trees:
        detail = f"{method}, {base}"
        if tree.excludes:
            detail += f"; excluding {', '.join(tree.excludes)}"
        plan.changes.append(Change("files", f"files/{tree.name} <- {tree.remote}", detail,
                                   data={"name": tree.name, "remote": tree.remote}))
    if facts.incoming:
        plan.changes.append(Change(
            "transfer", "files", f"{facts.incoming.get('new', 0)} new, {facts.incoming.get('changed', 0)} changed, "
            f"{facts.incoming.get('deleted', 0)} deleted files, {_mb(facts.incoming.get('bytes', 0))} to transfer"))
    engines = engine_summary(facts.engines)
    engine_text = ", ".join(f"{n} {e}" for e, n in engines.items()) or "no tables"
    from maint.mirror.dump import consistency_for  # local: keeps the planner's import light

    consistency = consistency_for(facts.engines)
    tool = "mysqldump" if facts.has_mysqldump else "PyMySQL streaming dump (no mysqldump on the host; ~18x slower)"
    if consistency == "single-transaction":
        how = f"{tool} --single-transaction ({engine_text}): consistent, the shop keeps running"
    else:
        seconds = estimate_lock_seconds(facts.db_bytes)
        how = f"{tool} with table locks ({engine_text})"
        plan.warnings.append(
            f"{engines.get('MyISAM', 0)} MyISAM table(s) have no transactional snapshot: the dump locks the tables "
            f"and holds the shop's writes (orders, carts, logins) for about {seconds:.0f} s"
        )
    ext = "zst" if facts.compression == "zstd" else "gz"
    sealed = f", encrypted as it arrives ({facts.encryption})" if facts.encryption else ""
    plan.changes.append(Change("dump", f"db.sql.{ext}" + (".age" if facts.encryption.startswith("age") else
                                                          ".gpg" if facts.encryption else ""),
                               f"{how}, compressed on the host with {facts.compression}, {_mb(facts.db_bytes)} of "
                               f"tables{sealed}", data={"consistency": consistency}))
    if facts.encryption:
        plan.changes.append(Change("secrets", "secrets-<tree>.tar",
                                   "config.php files and storage upload/download/backup: tar on the host, "
                                   f"encrypted as it arrives ({facts.encryption}); kept out of the plain tree"))
    if facts.stripped:
        plan.changes.append(Change("strip", ", ".join(facts.stripped),
                                   f"structure only, no rows ({len(facts.stripped)} tables with personal data)"))
    against = "the stream's length vs what the host's tar wrote" if facts.streamed else "file count and bytes vs rsync"
    plan.changes.append(Change("verify", "snapshot", f"dump completion marker, row count of every table, {against}"))
    if facts.repository.startswith("restic:"):
        plan.changes.append(Change("snapshot", facts.repository, "restic backup of the verified snapshot, tagged "
                                   "<client>-<store>-<timestamp> (deduplicated, compressed, encrypted by restic), "
                                   "then remove the local copy; the rsync base stays for the next run"))
    elif facts.repository:
        plan.changes.append(Change("archive", facts.repository, "borg create <client>-<store>-<timestamp> from the "
                                   "verified snapshot (deduplicated, compressed, encrypted by borg), then remove "
                                   "the local copy; the rsync base stays for the next run"))
    else:
        plan.changes.append(Change("publish", "latest",
                                   "rename the partial folder to its timestamp and point latest at it"))
    return plan


def plan_prune(store: str, snapshots: Sequence[str], rules: Retention, latest: str | None) -> tuple[Plan, list[Decision]]:
    """Which snapshots `--prune` deletes; `latest` is never deleted."""
    decisions = decide(snapshots, rules)
    plan = Plan(store=store, action="prune")
    for d in decisions:
        if not d.keep and d.snapshot != latest:
            plan.changes.append(Change("delete", d.snapshot, "not kept by the retention rules", destructive=True))
    if not plan.changes:
        plan.noop_reason = (f"all {len(decisions)} snapshot(s) are kept (daily {rules.daily}, weekly {rules.weekly}, "
                            f"monthly {rules.monthly})")
    return plan, decisions


# --- working copy -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServeFacts:
    store: str
    snapshot: str
    verified: bool
    version: str
    local_php: str
    php_min: str | None  # supported range of the store's release, from the matrix
    php_max: str | None
    url: str  # local address
    database: str
    docker: bool = False
    docker_available: bool = False


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def php_outside(local: str, low: str | None, high: str | None) -> str | None:
    """Why the local PHP is outside [low, high] (bounds compared on as many parts as they have), or None."""
    have = _version_tuple(local)
    if low and have[: len(_version_tuple(low))] < _version_tuple(low):
        return f"PHP {local} is older than the {low} this release needs"
    if high and have[: len(_version_tuple(high))] > _version_tuple(high):
        return f"PHP {local} is newer than {high}, the newest this release supports"
    return None


def plan_serve(facts: ServeFacts) -> Plan:
    """Import, rewrite configs and URLs for the local address, serve, check pages. Refuses unverified snapshots."""
    if not facts.verified:
        raise VerificationError(f"snapshot {facts.snapshot} did not pass verification; refusing to import it",
                                store=facts.store)
    if facts.docker and not facts.docker_available:
        raise PreconditionError("--docker needs a Docker engine, and none answers here", store=facts.store)
    plan = Plan(store=facts.store, action="serve")
    plan.changes += [
        Change("import", facts.database, f"import db of snapshot {facts.snapshot} into the local MariaDB"),
        Change("config", "config.php, <admin>/config.php", f"paths to the working copy, URLs to {facts.url}, local DB"),
        Change("settings", "store URL settings", f"config_url/config_ssl and store rows to {facts.url}"),
        Change("serve", facts.url, "PHP in Docker (the store's PHP version)" if facts.docker
               else f"php -S on 127.0.0.1 (PHP {facts.local_php})"),
        Change("check", facts.url, "home, a product page and search render"),
    ]
    why = None if facts.docker else php_outside(facts.local_php, facts.php_min, facts.php_max)
    if why:
        hint = " (use --docker for the store's own PHP)" if facts.docker_available else ""
        plan.warnings.append(f"OpenCart {facts.version}: {why}; expect deprecation notices or errors{hint}")
    return plan


@dataclass(frozen=True)
class NewerRows:
    """Rows of one table the live store has and the snapshot does not: a restore would lose them."""

    table: str  # order | customer | review
    count: int
    examples: tuple[str, ...] = ()  # "#12 2026-12-06 10:01:02 ann@example.com 101.0000"


NOUNS = {"order": "order(s)", "customer": "customer(s)", "review": "review(s)"}


@dataclass(frozen=True)
class RestoreFacts:
    store: str
    snapshot: str
    verified: bool
    snapshot_version: str
    live_version: str
    trees: tuple[TreeSource, ...]
    database: str
    tables: int
    rows: int
    stripped: tuple[str, ...] = ()
    extra_tables: tuple[str, ...] = ()  # live tables the snapshot does not have (created after it)
    newer: tuple[NewerRows, ...] = ()  # orders, customers, reviews the restore would lose
    discard_newer: bool = False  # --discard-newer: the user accepts losing them
    carry_newer: bool = False  # --carry-newer: they are written back after the restore instead
    carry: tuple[str, ...] = ()  # with carry_newer: what would be carried, one line per kind (`Held.describe`)
    file_changes: dict[str, int] = field(default_factory=dict)  # tree → files that would change (rsync dry run)
    unchanged_since: str = ""  # the live store is exactly as a restore of this snapshot left it (why we know)
    encrypted: str = ""  # age | gpg
    safety_snapshot: bool = True  # snapshot the live store first, so the restore can be undone
    modes: dict[str, str] = field(default_factory=dict)  # "www/config.php" → the store's own mode to put back


def check_newer_flags(discard_newer: bool, carry_newer: bool) -> None:
    """`fab restore` and `fab rollback`: newer orders are either discarded or carried, not both."""
    if discard_newer and carry_newer:
        raise InputError("--discard-newer and --carry-newer contradict each other", column="--carry-newer")


def carry_change(line: str) -> Change:
    """The plan's line for one kind of row a restore or rollback with --carry-newer writes back."""
    return Change("carry", "newer rows", f"{line} newer than the snapshot: carried over into the restored store, "
                  "ids kept")


def plan_restore(facts: RestoreFacts) -> Plan:
    """Put a verified snapshot back on the live host: files (rsync --delete, configs kept) and the database."""
    if not facts.verified:
        raise VerificationError(f"snapshot {facts.snapshot} did not pass verification; refusing to restore it",
                                store=facts.store)
    if facts.stripped:
        raise PreconditionError(f"snapshot {facts.snapshot} was taken with --strip ({len(facts.stripped)} tables "
                                "without rows); restoring it would delete customers or orders", store=facts.store)
    plan = Plan(store=facts.store, action="restore")
    if facts.unchanged_since:
        plan.noop_reason = f"nothing to restore: {facts.unchanged_since}"
        return plan
    if facts.snapshot_version != facts.live_version:
        plan.warnings.append(f"the live store runs {facts.live_version}; the snapshot holds {facts.snapshot_version}")
    plan.changes += [carry_change(line) for line in facts.carry] if facts.carry_newer else []
    for rows in facts.newer if not facts.carry_newer else ():
        shown = "; ".join(rows.examples) + ("; …" if rows.count > len(rows.examples) else "")
        plan.changes.append(Change("lose", rows.table, f"{rows.count} {NOUNS.get(rows.table, rows.table)} newer "
                                   f"than the snapshot would be lost: {shown}", destructive=True,
                                   data={"count": rows.count, "examples": list(rows.examples)}))
    if facts.newer and not facts.discard_newer and not facts.carry_newer:
        lost = ", ".join(f"{r.count} {NOUNS.get(r.table, r.table)}" for r in facts.newer)
        plan.warnings.append(f"{lost} newer than the snapshot would be lost: refused without --discard-newer "
                             "(or --carry-newer to keep them)")
    if facts.safety_snapshot:
        plan.changes.append(Change("snapshot", "the live store", "a new snapshot of the current files and database "
                                   "first, so this restore can be undone with `fab restore --snapshot <it>`"))
    for tree in facts.trees:
        changes = facts.file_changes.get(tree.name)
        counted = f"{changes} file(s) differ; " if changes is not None else ""
        plan.changes.append(Change("files", tree.remote, f"replace with files/{tree.name} of {facts.snapshot} "
                                   f"({counted}files not in the snapshot are deleted; excluded caches untouched)",
                                   destructive=True, data={"name": tree.name, "remote": tree.remote}))
    if facts.encrypted:
        plan.changes.append(Change("secrets", "config files, uploads, downloads", f"decrypt ({facts.encrypted}) "
                                   "and unpack the snapshot's secrets tar on the host", destructive=True))
    if facts.modes:
        plan.changes.append(Change("modes", ", ".join(sorted(facts.modes)), "the store's own modes ("
                                   + ", ".join(f"{k.split('/', 1)[-1]} {v}" for k, v in sorted(facts.modes.items()))
                                   + "), not the mirror's 0600", data={"modes": dict(facts.modes)}))
    plan.changes.append(Change("database", facts.database, f"drop and re-create {facts.tables} tables, "
                               f"{facts.rows} rows from the snapshot's dump", destructive=True))
    if facts.extra_tables:
        plan.changes.append(Change("drop", ", ".join(facts.extra_tables),
                                   f"drop {len(facts.extra_tables)} table(s) created after the snapshot",
                                   destructive=True))
    plan.changes.append(Change("cache", "DIR_CACHE/cache.*", "delete the data cache so no page shows newer data"))
    return plan


def _mb(n: int | float) -> str:
    return f"{n / 1e6:.1f} MB"
