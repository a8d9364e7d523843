"""Making one snapshot: gather facts, plan, pull files, dump, verify, publish.

The only code in maint.mirror that changes anything, and it changes only the mirror disk: the host
sees read-only commands plus a temporary defaults file that the dump's shell removes on every path.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql
from fabric import Connection

from maint.config import StoreConfig
from maint.errors import (
    ConfigError,
    ConnectError,
    MaintError,
    PreconditionError,
    RemoteCommandError,
    SqlError,
    VerificationError,
)
from maint.facts.opencart import StoreFacts
from maint.lock import local_lock
from maint.mirror import manifest as manifest_io
from maint.mirror import modes
from maint.mirror.borg import TAR_SUFFIX, BorgRepo, TreeState, warm_borg
from maint.mirror.crypt import Recipient, parse_recipient
from maint.mirror.dbstate import (
    DumpState,
    Fingerprint,
    dump_key,
    file_sha256,
    forget,
    read_fingerprint,
    settled,
)
from maint.mirror.dump import COMPRESSORS, build_dump_command, consistency_for, stream_dump
from maint.mirror.dumpfile import compare_counts, mismatches
from maint.mirror.layout import FILES, StoreMirror, count_tree, free_bytes, timestamp, tree_fingerprint
from maint.mirror.manifest import DumpInfo, FileRoot, Manifest, Newest, SecretArchive
from maint.mirror.repository import extraction_dir, noun, open_repository, summary_of
from maint.mirror.restic import ResticRepo
from maint.mirror.rsync import (
    RsyncStats,
    build_argv,
    default_excludes,
    parse_itemized,
    parse_progress,
    parse_stats,
    relative_inside,
)
from maint.mirror.secrets import archive_name, excludes_for, pull_secrets, secret_paths
from maint.mirror.sshmux import SshMux
from maint.mirror.strip import stripped_tables
from maint.model import Plan
from maint.ops.mirror import MirrorFacts, TreeSource, plan_mirror
from maint.remote.sql import open_db, table
from maint.remote.ssh import run

Progress = Callable[[str, int, int | None], None]  # (phase, done, total)
# Tables whose new rows a restore would throw away, with their id column.
NEWEST_TABLES = {"order": "order_id", "customer": "customer_id", "review": "review_id"}


@dataclass(frozen=True)
class MirrorOptions:
    strip_groups: tuple[str, ...] = ()
    dry_run: bool = False
    method: str = "auto"  # auto | rsync | sftp
    dump_tool: str = "auto"  # auto | mysqldump | pymysql
    compression: str = "auto"  # auto | zstd | gzip
    check_space: bool = True
    dump_command: str = ""  # the host's dump program when not on PATH (e.g. /opt/mysql/bin/mysqldump)
    rsync_args: tuple[str, ...] = ()  # extra rsync options (e.g. --bwlimit on a thin line)


@dataclass
class HostTools:
    rsync: bool
    dump: str  # mysqldump | mariadb-dump | ""
    zstd: bool
    php: str = ""  # the host's CLI PHP version, for a working copy in the same PHP (serve --docker)
    gnu_tar: str = ""  # the host's GNU tar version ("1.34"): a first mirror into borg streams from it (tarstream)


@dataclass
class Prepared:
    """Everything gathered before the plan: what apply needs besides the plan itself."""

    cfg: StoreConfig
    facts: StoreFacts
    mirror: StoreMirror
    mirror_facts: MirrorFacts
    plan: Plan
    tools: HostTools
    options: MirrorOptions
    counted: dict[str, tuple[int, int]] = field(default_factory=dict)  # tree → (files, bytes) counted on disk
    recipient: Recipient | None = None  # mirror.encrypt
    loose: tuple[list[Path], list[Path]] = ([], [])  # folders / files of the mirror that are too open
    note: str = ""  # recorded in the manifest (e.g. "before restoring 2026…")
    newest: dict[str, Newest] = field(default_factory=dict)  # read in the dump's consistent view
    repo: BorgRepo | ResticRepo | None = None  # mirror.repository: the snapshot becomes an archive there
    fingerprints: dict[str, str] = field(default_factory=dict)  # borg target: tree → tree_fingerprint digest
    stream_command: str = ""  # borg target, first mirror: the host's tar that streams the files (first_stream)
    streamed_tree: str = ""  # borg target: the tree archive a first mirror made while the files arrived
    stream_check: str = ""  # its verification line


@dataclass
class MirrorResult:
    store: str
    snapshot: str
    path: Path
    manifest: Manifest
    resumed: bool

    def as_dict(self) -> dict[str, Any]:
        return {"store": self.store, "snapshot": self.snapshot, "path": str(self.path), "resumed": self.resumed,
                **{k: v for k, v in self.manifest.as_dict().items() if k not in ("store",)}}


def mirror_of(cfg: StoreConfig) -> StoreMirror:
    root = cfg.mirror_root or str(cfg.option("mirror", "root", "") or "")
    if not root:
        raise ConfigError("no mirror folder: set `mirror:` on the store in the inventory or maint.options.mirror.root",
                          store=cfg.store)
    return StoreMirror.of(Path(root), cfg.client, cfg.store)


def lock_path(cfg: StoreConfig) -> Path:
    return Path(cfg.state_dir).expanduser() / "locks" / f"mirror-{cfg.client}-{cfg.store}.lock"


_TOOLS = ("for t in rsync mysqldump mariadb-dump zstd; do command -v $t >/dev/null 2>&1 && echo $t; done; "
          "php -r 'echo \"php=\", PHP_VERSION;' 2>/dev/null; echo; "
          "tar --version 2>/dev/null | sed -n '1s/^tar (GNU tar) \\([0-9][0-9.]*\\).*/gnutar=\\1/p'")


def probe_tools(conn: Connection, store: str) -> HostTools:
    return _tools(run(conn, _TOOLS + "; true", store=store).stdout.split())


def _tools(out: list[str]) -> HostTools:
    dump = "mysqldump" if "mysqldump" in out else "mariadb-dump" if "mariadb-dump" in out else ""
    php = next((w[4:] for w in out if w.startswith("php=")), "")
    gnu_tar = next((w[7:] for w in out if w.startswith("gnutar=")), "")
    return HostTools(rsync="rsync" in out, dump=dump, zstd="zstd" in out, php=php, gnu_tar=gnu_tar)


def trees_of(cfg: StoreConfig, facts: StoreFacts, encrypted: bool = False) -> tuple[tuple[TreeSource, ...], str | None]:
    """The web root, plus DIR_STORAGE when it lives outside it; and storage's path inside the web root.

    Encrypted, the secret paths (config files, uploads, downloads, backups) are excluded from the plain tree.
    """
    storage_rel = relative_inside(facts.dir_storage, facts.root) if facts.dir_storage else None
    excludes = default_excludes(storage_rel)
    www_ex = cfg.option("mirror", "exclude", None)
    storage_ex = cfg.option("mirror", "storage_exclude", None)
    www = list(www_ex) if www_ex is not None else list(excludes["www"])
    storage = list(storage_ex) if storage_ex is not None else list(excludes["storage"])
    if encrypted:
        www += excludes_for(secret_paths("www", facts.admin_dir, storage_rel))
        storage += excludes_for(secret_paths("storage", facts.admin_dir, storage_rel))
    trees = [TreeSource("www", facts.root, tuple(www))]
    if facts.dir_storage and storage_rel is None:
        trees.append(TreeSource("storage", facts.dir_storage.rstrip("/"), tuple(storage)))
    return tuple(trees), storage_rel


def repository_of(cfg: StoreConfig) -> BorgRepo | ResticRepo | None:
    """`mirror.repository: borg:/path` or `restic:/path`: snapshots go into that repository."""
    value = cfg.option("mirror", "repository", "")
    password_file = str(cfg.option("mirror", "password_file", "") or "")
    return open_repository(str(value), cfg.client, cfg.store, password_file) if value else None


def recipient_of(cfg: StoreConfig) -> Recipient | None:
    """`mirror.encrypt` (the store's inventory entry, or maint.options.mirror for every store)."""
    value = cfg.option("mirror", "encrypt", "")
    return parse_recipient(str(value)) if value else None


def table_facts(db: pymysql.connections.Connection, database: str) -> tuple[dict[str, str], int]:
    """Engine of every base table of the database (mysqldump dumps them all) and their data length."""
    with db.cursor() as cur:
        cur.execute("SELECT TABLE_NAME, ENGINE, COALESCE(DATA_LENGTH, 0) FROM information_schema.TABLES "
                    "WHERE TABLE_SCHEMA = %s AND TABLE_TYPE = 'BASE TABLE'", (database,))
        rows = cur.fetchall()
    return {str(n): str(e or "") for n, e, _ in rows}, sum(int(s) for _, _, s in rows)


def count_rows(db: pymysql.connections.Connection, tables: list[str]) -> dict[str, int]:
    counts = {}
    with db.cursor() as cur:
        for name in tables:
            try:
                cur.execute(f"SELECT COUNT(*) FROM {table('', name)}")  # noqa: S608 - name checked by table()
            except pymysql.MySQLError as exc:
                raise SqlError(f"counting the rows of {name} failed: {exc.args[-1] if exc.args else exc}") from None
            counts[name] = int(cur.fetchone()[0])
    return counts


def prepare(conn: Connection, cfg: StoreConfig, facts: StoreFacts, options: MirrorOptions, mux: SshMux) -> Prepared:
    """Read-only: tools on the host, tables and engines, sizes, the mirror disk; then the plan."""
    mux.start()  # the transfer's SSH master connects while the host is asked
    mirror = mirror_of(cfg)
    recipient = recipient_of(cfg)
    repo = repository_of(cfg)
    if isinstance(repo, ResticRepo):
        repo.check_access()  # a missing or wrong password is said before anything changes
    trees, _ = trees_of(cfg, facts, encrypted=recipient is not None)
    # Two round trips to the host, asked at once: tools and tree size in one shell, the tables through the tunnel.
    with ThreadPoolExecutor(max_workers=1) as pool:
        tabling = pool.submit(_table_facts_of, conn, cfg, facts)
        tools, (remote_files, remote_bytes) = _probe_host(conn, cfg, trees)
        engines, db_bytes = tabling.result()
    if options.method == "rsync" and not tools.rsync:
        raise PreconditionError("--method rsync: the host has no rsync", store=cfg.store)
    stripped = tuple(stripped_tables(sorted(engines), facts.db.prefix, options.strip_groups))
    previous = mirror.latest()
    use_rsync = tools.rsync and options.method != "sftp"
    compression = _compression(options, tools)
    loose = modes.loose(*mirror.private_paths(facts.admin_dir))
    clear = _clear_snapshots(mirror) if recipient is not None else 0
    incoming: dict[str, int] = {}
    if options.dry_run and use_rsync:
        incoming = _rsync_preview(mux, cfg, mirror, trees, previous)
    stream = first_stream(conn, cfg, repo, tools, use_rsync, mirror.current, trees)
    mf = MirrorFacts(
        store=cfg.store, version=facts.version, trees=trees, engines=engines, db_bytes=db_bytes,
        remote_files=remote_files, remote_bytes=remote_bytes, previous=previous, partial=mirror.has_partial(),
        free_bytes=free_bytes(mirror.path) if options.check_space else 1 << 62, has_rsync=use_rsync,
        has_mysqldump=bool(tools.dump or options.dump_command) and options.dump_tool != "pymysql", compression=compression,
        stripped=stripped, incoming=incoming,
        loose_dirs=len(loose[0]), loose_files=len(loose[1]),
        encryption=recipient.describe() if recipient else "", clear_snapshots=clear,
        repository=f"{repo.kind}:{repo.location}" if repo else "", streamed=stream is not None,
    )
    return Prepared(cfg, facts, mirror, mf, plan_mirror(mf), tools, options, recipient=recipient, loose=loose,
                    repo=repo, stream_command=stream or "")


def _table_facts_of(conn: Connection, cfg: StoreConfig, facts: StoreFacts) -> tuple[dict[str, str], int]:
    with open_db(conn, facts.db, store=cfg.store) as db:
        return table_facts(db, facts.db.database)


def _clear_snapshots(mirror: StoreMirror) -> int:
    """Snapshots made before encryption was switched on (their dump and configs are in clear)."""
    clear = 0
    for ts in mirror.snapshots():
        try:
            if not manifest_io.read(mirror.snapshot(ts)).encryption:
                clear += 1
        except VerificationError:
            continue
    return clear


def _compression(options: MirrorOptions, tools: HostTools) -> str:
    if options.compression != "auto":
        return options.compression
    local_zstd = subprocess.run(["sh", "-c", "command -v zstd"], capture_output=True, check=False).returncode == 0
    return "zstd" if tools.zstd and local_zstd else "gzip"


def _probe_host(conn: Connection, cfg: StoreConfig, trees: tuple[TreeSource, ...]) -> tuple[HostTools, tuple[int, int]]:
    """probe_tools and the trees' size (files, bytes), from one shell on the host, where they run side by
    side: a shell's start-up is most of a round trip's cost."""
    from maint.facts.disk import parse_tree_size, tree_size_command

    size = tree_size_command([t.remote for t in trees])
    out = run(conn, f"{{ {_TOOLS}; echo; }} & size=$({size}); wait; echo \"size $size\"", store=cfg.store,
              check=False).stdout.splitlines()
    found = parse_tree_size(next((line[5:] for line in out if line.startswith("size ")), ""))
    return _tools([w for line in out if not line.startswith("size ") for w in line.split()]), (found.files, found.bytes)


def _rsync_preview(mux: SshMux, cfg: StoreConfig, mirror: StoreMirror, trees: tuple[TreeSource, ...],
                   previous: str | None) -> dict[str, int]:
    """An rsync dry run against the previous snapshot: what would be new, changed, deleted."""
    totals = {"new": 0, "changed": 0, "deleted": 0, "bytes": 0}
    for tree in trees:
        base = mirror.snapshot(previous) / FILES / tree.name if previous else None
        dest = mirror.current / tree.name
        if not dest.is_dir():
            dest = base if base is not None and base.is_dir() else mirror.partial / FILES / tree.name
        argv = build_argv(ssh_args=mux.ssh_args, host=cfg.host, remote_dir=tree.remote, dest=str(dest),
                          link_dest=None, excludes=tree.excludes, dry_run=True, progress=False)
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        _raise_for_rsync(done.returncode, done.stderr, cfg.store)
        items = parse_itemized(done.stdout.splitlines())
        stats = parse_stats(done.stdout)
        totals["new"] += len(items["new"])
        totals["changed"] += len(items["changed"])
        totals["deleted"] += len(items["deleted"])
        totals["bytes"] += stats.transferred_bytes
    return totals


# --- apply ----------------------------------------------------------------------------------------


def apply_mirror(conn: Connection, prep: Prepared, mux: SshMux, progress: Progress | None = None) -> MirrorResult:
    """Run the plan under the store's local lock; publish only when every check passed."""
    cfg, mirror = prep.cfg, prep.mirror
    with local_lock(lock_path(cfg), "mirror", store=cfg.store), warm_borg(prep.repo) as warm, \
            ThreadPoolExecutor(max_workers=2) as pool:
        modes.tighten(*modes.loose(*mirror.private_paths(prep.facts.admin_dir)))  # earlier, looser mirrors
        resumed = mirror.prepare_partial()
        modes.private_dirs(mirror.current)  # rsync's base holds the store's files too
        ts = timestamp()
        # borg target: which tree archives exist, asked while rsync runs (by the run's borg process, `warm`).
        # Not when the files stream into a new one: nothing to look for, and its borg holds the repository's lock.
        borg = prep.repo if isinstance(prep.repo, BorgRepo) else None
        trees = pool.submit(borg.trees, warm=warm) if borg is not None and not prep.stream_command else None
        # borg target: whether the database is still as the kept dump holds it, read while the files come.
        kept_check = pool.submit(_kept_dump, conn, prep) if borg is not None else None
        timings: dict[str, float] = {}
        started = time.monotonic()
        store_modes = remote_modes(conn, cfg, prep.facts)
        mux.ready()
        roots = pull_files(conn, prep, mux, progress, stream_ts=ts)
        secrets = pull_secret_archives(prep, mux) if prep.recipient is not None else []
        _private_configs(mirror, prep.facts.admin_dir)
        timings["files"] = round(time.monotonic() - started, 3)
        started = time.monotonic()
        # A streamed copy's counts come from the disk itself: the stream's own check replaces rsync's.
        checks = [prep.stream_check] if prep.stream_check else verify_files(prep, roots)
        timings["verify"] = round(time.monotonic() - started, 3)
        tree = tree_archive(prep, ts, trees.result() if trees is not None else [] if borg is not None else None)
        new_tree = tree is not None and tree.archive == ts + TAR_SUFFIX and prep.streamed_tree != tree.archive
        # A new tree archive goes in while the database is dumped: borg reads the mirror disk, the dump runs on
        # the host. If the dump fails, the archive is named by no snapshot and `--prune` drops it.
        tree_job = pool.submit(borg.create_tree, mirror.path, ts) if borg is not None and new_tree else None
        started = time.monotonic()
        kept, before = kept_check.result() if kept_check is not None else (None, None)
        if kept is not None:
            dump_info = _reuse_dump(prep, kept)
            dump_check = (f"database unchanged since snapshot {kept.snapshot} (schema and row fingerprint): its "
                          f"verified dump ({len(dump_info.tables)} tables) reused, sha256 checked")
        else:
            dump_info = dump_database(conn, prep, mux, progress)
            dump_check = f"dump complete, {len(dump_info.tables)} tables' row counts match"
            # Kept for the next runs only if the database did not move while it was dumped.
            after = _fingerprint(conn, prep) if before is not None else None
            before = before if before is not None and after is not None and settled(before, after) else None
        timings["database"] = round(time.monotonic() - started, 3)
        checks += [dump_check] + [f"{a.file}: {a.files} files, as many as on the host" for a in secrets]
        storage_rel = relative_inside(prep.facts.dir_storage, prep.facts.root) if prep.facts.dir_storage else None
        man = Manifest(
            client=cfg.client, store=cfg.store, timestamp=ts, host=cfg.host, opencart_version=prep.facts.version,
            db_prefix=prep.facts.db.prefix, admin_dir=prep.facts.admin_dir,
            storage_root="" if storage_rel is not None else "storage", storage_rel=storage_rel or "",
            url=prep.facts.url, php_version=prep.tools.php, method="rsync" if prep.mirror_facts.has_rsync else "sftp", roots=roots,
            dump=dump_info, timings=timings, verified=True, checks=checks, newest=prep.newest, modes=store_modes,
            encryption=prep.recipient.tool if prep.recipient else "",
            recipient=prep.recipient.value if prep.recipient else "", secrets=secrets, note=prep.note,
            files_archive=tree.archive if tree is not None else "",
        )
        manifest_io.write(mirror.partial, man)
        if prep.repo is not None:
            started = time.monotonic()
            if isinstance(prep.repo, ResticRepo):  # restic skips unchanged files itself (its parent snapshot)
                prep.repo.create(mirror.path, ts, summary_of(man), files=prep.mirror_facts.has_rsync)
            else:
                if tree_job is not None:
                    tree_job.result()
                prep.repo.create(mirror.path, ts, summary_of(man), tree=False, warm=warm)
                if tree is not None:
                    tree.write(mirror.path)
                if kept is None:
                    _keep_dump(prep, ts, dump_info, before)
            man.timings["archive"] = round(time.monotonic() - started, 3)
            mirror.discard_partial()
            return MirrorResult(cfg.store, ts, Path(prep.repo.describe(ts)), man, resumed)
        try:
            path = mirror.publish(ts)
        except OSError as exc:
            raise MaintError(f"publishing the snapshot failed: {exc}", store=cfg.store) from None
        return MirrorResult(cfg.store, ts, path, man, resumed)


def _dump_key(prep: Prepared) -> str:
    mf = prep.mirror_facts
    return dump_key(host=prep.cfg.host, database=prep.facts.db.database, compression=mf.compression,
                    tool="mysqldump" if mf.has_mysqldump else "pymysql", stripped=list(mf.stripped),
                    consistency=consistency_for(mf.engines), dump_command=prep.options.dump_command,
                    recipient=prep.recipient.value if prep.recipient else "")


def _fingerprint(conn: Connection, prep: Prepared) -> Fingerprint | None:
    """The database's fingerprint; None when it cannot be read (the run then dumps, as it always did)."""
    try:
        with open_db(conn, prep.facts.db, store=prep.cfg.store) as db:
            return read_fingerprint(db, prep.facts.db.database)
    except (pymysql.MySQLError, MaintError):
        return None


def _kept_dump(conn: Connection, prep: Prepared) -> tuple[DumpState | None, Fingerprint | None]:
    """borg target: the kept dump when the database is provably as it holds it, and this run's fingerprint
    (read before any dump: a dump after it that finds it again may be kept for the next runs)."""
    now = _fingerprint(conn, prep)
    kept = DumpState.read(prep.mirror.path)
    if now is None or kept is None or kept.key != _dump_key(prep) or kept.fingerprint != now.digest:
        return None, now
    try:
        if file_sha256(kept.path(prep.mirror.path)) != kept.file_sha256:
            return None, now  # damaged or replaced on the mirror disk: dump again
    except OSError:
        return None, now
    return kept, now


def _reuse_dump(prep: Prepared, kept: DumpState) -> DumpInfo:
    """The kept dump into the partial snapshot (a hard link: borg stores its bytes once) and its manifest entry."""
    for name in ("db.sql.zst", "db.sql.gz"):
        for suffix in ("", ".age", ".gpg"):
            (prep.mirror.partial / (name + suffix)).unlink(missing_ok=True)
    os.link(kept.path(prep.mirror.path), prep.mirror.partial / kept.dump.file)
    prep.newest = dict(kept.newest)
    return dataclasses.replace(kept.dump, reused_from=kept.snapshot)


def _keep_dump(prep: Prepared, ts: str, info: DumpInfo, settled_at: Fingerprint | None) -> None:
    """After a borg run that dumped: keep its dump for the next runs when the database did not move while it
    was dumped (`settled_at`: the fingerprint read before it, found again after it), else keep none."""
    if settled_at is None:
        forget(prep.mirror.path)
        return
    source = prep.mirror.partial / info.file
    DumpState(ts, _dump_key(prep), settled_at.digest, info, file_sha256(source), dict(prep.newest)).keep(
        prep.mirror.path, source)


def tree_archive(prep: Prepared, ts: str, trees: list[str] | None) -> TreeState | None:
    """borg target: the tree archive holding this run's files (`.current`, by rsync or SFTP). The last one
    when the tree's fingerprint is unchanged and the archive is still in the repository, else a new one
    (`<ts>.files`). None without a borg target."""
    if prep.repo is None or trees is None:
        return None
    names = sorted(e.name for e in os.scandir(prep.mirror.current))  # a tree dropped from the config too
    fingerprint = "/".join(names + [f"{k}={v}" for k, v in sorted(prep.fingerprints.items())])
    last = TreeState.read(prep.mirror.path)
    if last is not None and last.fingerprint == fingerprint and last.archive in trees:
        return last
    return TreeState(ts + TAR_SUFFIX, fingerprint)


def remote_modes(conn: Connection, cfg: StoreConfig, facts: StoreFacts) -> dict[str, str]:
    """The store's own modes of the config files the mirror keeps 0600 ("www/config.php" → "0644").

    Read over SFTP (lstat, as `stat` without -L): no shell on the host, whose start-up is most of a round
    trip's cost and sat in front of the transfer."""
    import stat

    import paramiko

    paths = {f"www/{rel}": f"{facts.root.rstrip('/')}/{rel}" for rel in ("config.php", f"{facts.admin_dir}/config.php")}
    found: dict[str, str] = {}
    try:
        sftp = conn.sftp()
        for rel, path in paths.items():
            try:
                mode = sftp.lstat(path).st_mode
            except (FileNotFoundError, PermissionError):
                continue  # no such config on this store (or not ours to read): nothing to put back
            if mode is not None:
                found[rel] = f"{stat.S_IMODE(mode):04o}"
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise ConnectError(f"SSH connection lost while reading the config files' modes: {exc}", store=cfg.store) from None
    return found


def _private_configs(mirror: StoreMirror, admin_dir: str) -> None:
    """Config copies 0600 in the partial snapshot and the `.current` base (the same inodes)."""
    for rel in ("config.php", f"{admin_dir}/config.php"):
        modes.private_file(mirror.partial / FILES / "www" / rel)
        modes.private_file(mirror.current / "www" / rel)


def pull_secret_archives(prep: Prepared, mux: SshMux) -> list[SecretArchive]:
    """Each tree's config files and personal-data folders, tarred on the host and encrypted as they arrive."""
    assert prep.recipient is not None
    storage_rel = relative_inside(prep.facts.dir_storage, prep.facts.root) if prep.facts.dir_storage else None
    out = []
    for tree in prep.mirror_facts.trees:
        paths = secret_paths(tree.name, prep.facts.admin_dir, storage_rel)
        if not paths:
            continue
        dest = prep.mirror.partial / archive_name(tree.name, prep.recipient.suffix)
        out.append(pull_secrets(mux.argv(), tree.remote, tree.name, paths, dest, prep.recipient, store=prep.cfg.store))
    return out


def newest_rows(db: pymysql.connections.Connection, prefix: str, tables: Sequence[str]) -> dict[str, Newest]:
    """MAX(id) and MAX(date_added) of the orders, customers and reviews: what a restore would lose is above."""
    out = {}
    with db.cursor() as cur:
        for name, key in NEWEST_TABLES.items():
            if prefix + name not in tables:
                continue
            cur.execute(f"SELECT COALESCE(MAX({key}), 0), COALESCE(CAST(MAX(date_added) AS CHAR), ''), COUNT(*) "
                        f"FROM {table(prefix, name)}")  # noqa: S608 - names are ours, prefix checked
            max_id, latest, rows = cur.fetchone()
            out[name] = Newest(int(max_id), str(latest), int(rows))
    return out


def pull_files(conn: Connection, prep: Prepared, mux: SshMux, progress: Progress | None,
               stream_ts: str | None = None) -> list[FileRoot]:
    """rsync each tree into the store's `.current` copy, then hard-link that into the partial snapshot.

    rsync with --link-dest spends ~3.5 s linking 20,000 unchanged files (opencart-facts part C); a no-change
    rsync into a kept copy takes ~0.7 s and `cp -al` ~0.25 s. rsync replaces a changed file by a new
    inode (temp file + rename, never --inplace), so published snapshots keep their content.

    `stream_ts`: a borg target's first mirror may stream the files into `.current` and the tree archive
    `<stream_ts>.files.tar` at once instead (`tarstream`; `prep.streamed_tree` says it did).
    """
    cfg, mirror = prep.cfg, prep.mirror
    if prep.stream_command and isinstance(prep.repo, BorgRepo) and stream_ts is not None:
        return _stream_files(prep, mux, progress, prep.stream_command, prep.repo, stream_ts)
    previous = prep.mirror_facts.previous
    roots = []
    for tree in prep.mirror_facts.trees:
        dest = mirror.partial / FILES / tree.name
        link = mirror.snapshot(previous) / FILES / tree.name if previous else None
        link = link if link is not None and link.is_dir() else None
        if prep.mirror_facts.has_rsync:
            current = mirror.current / tree.name
            if not current.is_dir() and link is not None:
                link_copy(link, current)  # seed from the last snapshot: nothing is fetched twice
            current.mkdir(parents=True, exist_ok=True)
            stats = _rsync(mux, cfg, tree, current, None, progress, prep.mirror_facts.remote_bytes,
                           prep.options.rsync_args)
            try:
                if prep.repo is not None:  # the repository archives `.current` in place: no linked copy
                    files, size, prep.fingerprints[tree.name] = tree_fingerprint(current)
                    prep.counted[tree.name] = (files, size)
                    roots.append(FileRoot(name=tree.name, remote=tree.remote, files=stats.files,
                                          bytes=stats.total_bytes, new=stats.new, changed=stats.changed,
                                          deleted=stats.deleted))
                    continue
                # Count what rsync wrote while cp links it into the snapshot: two cores, half the wait.
                with ThreadPoolExecutor(max_workers=1) as pool:
                    counting = pool.submit(count_tree, current)
                    link_copy(current, dest)
                    prep.counted[tree.name] = counting.result()
            except OSError as exc:
                raise _disk_or_transfer_error(exc, cfg.store) from None
            deleted = stats.deleted
        elif isinstance(prep.repo, BorgRepo):  # SFTP into a borg target: `.current` as the rsync base, same tree skip
            from maint.mirror.sftpcopy import copy_tree

            current = mirror.current / tree.name
            try:
                stats = copy_tree(conn.sftp(), tree.remote, current, None, tree.excludes,
                                  on_file=_byte_counter(progress, prep.mirror_facts.remote_bytes))
                # Configs 0600 before the fingerprint: SFTP leaves an unchanged file's mode as the last run set
                # it (rsync puts the store's back, and takes it away again, on every run).
                _private_configs(mirror, prep.facts.admin_dir)
                files, size, prep.fingerprints[tree.name] = tree_fingerprint(current)
            except OSError as exc:
                raise _disk_or_transfer_error(exc, cfg.store) from None
            prep.counted[tree.name] = (files, size)
            deleted = stats.deleted
        else:
            from maint.mirror.sftpcopy import copy_tree

            dest.mkdir(parents=True, exist_ok=True)
            prev_files = _previous_count(mirror, previous, tree.name) if link is not None else 0
            try:
                stats = copy_tree(conn.sftp(), tree.remote, dest, link, tree.excludes,
                                  on_file=_byte_counter(progress, prep.mirror_facts.remote_bytes))
            except OSError as exc:
                raise _disk_or_transfer_error(exc, cfg.store) from None
            deleted = max(prev_files + stats.new - stats.files, 0) if link is not None else 0
        roots.append(FileRoot(name=tree.name, remote=tree.remote, files=stats.files, bytes=stats.total_bytes,
                              new=stats.new, changed=stats.changed, deleted=deleted))
    return roots


def first_stream(conn: Connection, cfg: StoreConfig, repo: BorgRepo | ResticRepo | None, tools: HostTools,
                 use_rsync: bool, current: Path, trees: Sequence[TreeSource]) -> str | None:
    """The host's tar command when this run can stream its files into a borg tree archive (see tarstream):
    a borg target, a first mirror (no `.current` tree yet), GNU tar >= 1.28 on the host, excludes tar reads
    as rsync does. The trees by their real paths: tar archives a symlinked root as the link, where rsync
    (`root/`) copies what it points to."""
    from maint.mirror import tarstream

    version = tarstream.gnu_tar_version(f"tar (GNU tar) {tools.gnu_tar}") if tools.gnu_tar else None
    if not isinstance(repo, BorgRepo) or not use_rsync or version is None or version < tarstream.MIN_GNU_TAR:
        return None
    if any((current / tree.name).exists() for tree in trees) or tarstream.remote_command(trees) is None:
        return None
    script = "; ".join(f"(cd -- {shlex.quote(t.remote)} && pwd -P) || echo" for t in trees)
    real = run(conn, script, store=cfg.store, check=False).stdout.split("\n")[:len(trees)]
    if len(real) != len(trees) or not all(path.startswith("/") for path in real):
        return None
    return tarstream.remote_command([dataclasses.replace(t, remote=path) for t, path in zip(trees, real, strict=True)])


def _stream_files(prep: Prepared, mux: SshMux, progress: Progress | None, command: str, repo: BorgRepo,
                  ts: str) -> list[FileRoot]:
    from maint.mirror import tarstream

    mirror = prep.mirror
    modes.private_dirs(mirror.current)  # tar makes the trees inside; the copy is client data
    try:
        streamed = tarstream.stream_first_mirror(mux.argv(), command, mirror.path, repo, ts,
                                                 _byte_counter(progress, prep.mirror_facts.remote_bytes))
        roots = []
        for tree in prep.mirror_facts.trees:
            files, size, prep.fingerprints[tree.name] = tree_fingerprint(mirror.current / tree.name)
            prep.counted[tree.name] = (files, size)
            roots.append(FileRoot(name=tree.name, remote=tree.remote, files=files, bytes=size, new=files))
    except OSError as exc:
        raise _disk_or_transfer_error(exc, prep.cfg.store) from None
    if prep.mirror_facts.remote_files and not any(files for files, _ in prep.counted.values()):
        raise VerificationError(f"the host's tar stream held no files, where the host counted "
                                f"{prep.mirror_facts.remote_files}", store=prep.cfg.store)
    prep.stream_check = tarstream.check_copy(streamed, list(prep.counted.values()))
    prep.streamed_tree = ts + TAR_SUFFIX
    return roots


def link_copy(src: Path, dest: Path) -> None:
    """dest becomes a copy of src made of hard links (GNU `cp -al`; os.link where cp lacks -l)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["cp", "-al", str(src), str(dest)], capture_output=True, text=True, check=False)
    if done.returncode == 0:
        return
    if "No space left" in done.stderr:
        raise OSError(28, "No space left on device")
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(src, dest, symlinks=True, copy_function=os.link)


def _byte_counter(progress: Progress | None, total: int) -> Callable[[int], None]:
    done = [0]

    def on_file(size: int) -> None:
        done[0] += size
        if progress:
            progress("files", done[0], total)

    return on_file


def _previous_count(mirror: StoreMirror, previous: str | None, name: str) -> int:
    if previous is None:
        return 0
    try:
        old = manifest_io.read(mirror.snapshot(previous))
    except VerificationError:
        return count_tree(mirror.snapshot(previous) / FILES / name)[0]
    return next((r.files for r in old.roots if r.name == name), 0)


def _rsync(mux: SshMux, cfg: StoreConfig, tree: TreeSource, dest: Path, link: Path | None,
           progress: Progress | None, total: int, extra: tuple[str, ...] = ()) -> RsyncStats:
    argv = build_argv(ssh_args=mux.ssh_args, host=cfg.host, remote_dir=tree.remote, dest=str(dest),
                      link_dest=str(link) if link else None, excludes=tree.excludes, progress=progress is not None)
    argv[1:1] = list(extra)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout and proc.stderr
    tail: list[bytes] = []
    pending = b""
    while chunk := proc.stdout.read1(65536):  # type: ignore[attr-defined]
        pending += chunk
        *lines, pending = re.split(rb"[\r\n]", pending)
        for raw in lines:
            line = raw.decode(errors="replace")
            update = parse_progress(line) if progress else None
            if update is not None and progress:
                progress("files", update.bytes, total)
            elif line.strip():
                tail.append(raw)
    tail.append(pending)
    stderr = proc.stderr.read().decode(errors="replace")
    code = proc.wait()
    _raise_for_rsync(code, stderr, cfg.store)
    return parse_stats(b"\n".join(tail).decode(errors="replace"))


def _raise_for_rsync(code: int, stderr: str, store: str) -> None:
    if code in (0, 24):  # 24: files vanished while copying (caches, sessions on a live shop)
        return
    last = (stderr.strip().splitlines() or [""])[-1][:300]
    if "No space left on device" in stderr:
        raise MaintError(f"the mirror disk is full (rsync: {last})", store=store)
    if code == 255 or "connection unexpectedly closed" in stderr or "Connection closed" in stderr:
        raise ConnectError(f"SSH connection dropped during the file transfer (rsync exit {code}): {last}", store=store)
    raise RemoteCommandError(f"rsync failed (exit {code}): {last}", store=store)


def _disk_or_transfer_error(exc: OSError, store: str) -> MaintError:
    if exc.errno == 28:
        return MaintError("the mirror disk is full", store=store)
    return ConnectError(f"SFTP transfer failed: {exc}", store=store)


def dump_database(conn: Connection, prep: Prepared, mux: SshMux, progress: Progress | None) -> DumpInfo:
    cfg, facts, mf = prep.cfg, prep.facts, prep.mirror_facts
    consistency = consistency_for(mf.engines)
    for name in ("db.sql.zst", "db.sql.gz"):
        for suffix in ("", ".age", ".gpg"):
            (prep.mirror.partial / (name + suffix)).unlink(missing_ok=True)
    filename = COMPRESSORS[mf.compression][2] + (prep.recipient.suffix if prep.recipient else "")
    dest = prep.mirror.partial / filename
    tables = sorted(mf.engines)
    if mf.has_mysqldump:
        command = build_dump_command(facts.db, consistency=consistency, stripped=mf.stripped,
                                     compression=mf.compression,
                                     dump_binary=prep.options.dump_command or prep.tools.dump)
        with open_db(conn, facts.db, store=cfg.store) as snap_db, open_db(conn, facts.db, store=cfg.store) as now_db:
            result, before, after = _dump_while_counting(mux, command, dest, snap_db, now_db, tables, consistency,
                                                         progress, cfg.store, prep)
        tool = prep.tools.dump
    else:
        from maint.mirror.pydump import dump_with_pymysql

        with open_db(conn, facts.db, store=cfg.store) as db, open_db(conn, facts.db, store=cfg.store) as dump_db:
            prep.newest = newest_rows(db, facts.db.prefix, tables)
            before = count_rows(db, tables)
            result = dump_with_pymysql(dump_db, facts.db.database, dest, consistency=consistency,
                                       stripped=mf.stripped, compression=mf.compression, store=cfg.store,
                                       recipient=prep.recipient)
            after = count_rows(db, tables)
        tool = "pymysql"
    if not result.count.completed:
        raise VerificationError("the dump is incomplete: no completion marker at its end", store=cfg.store)
    bad = mismatches(compare_counts(result.count.rows, before, after, mf.stripped))
    if bad:
        first = ", ".join(f"{c.table} (dump {c.dumped}, source {c.before})" for c in bad[:5])
        raise VerificationError(f"row counts differ from the source for {len(bad)} table(s): {first}", store=cfg.store)
    from maint.ops.mirror import engine_summary

    return DumpInfo(file=filename, tool=tool, compression=mf.compression, consistency=consistency, bytes=result.bytes,
                    sha256=result.sha256, tables=result.count.rows, stripped=list(mf.stripped),
                    engines=engine_summary(mf.engines))


def _dump_while_counting(
    mux: SshMux, command: Any, dest: Path, snap_db: pymysql.connections.Connection,
    now_db: pymysql.connections.Connection, tables: list[str], consistency: str, progress: Progress | None,
    store: str, prep: Prepared,
) -> tuple[Any, dict[str, int], dict[str, int]]:
    """Stream the dump while counting the source, so the counts cost (almost) no time.

    `before` comes from a consistent snapshot opened just before mysqldump starts its own (MyISAM counts
    are instant: simply before). Only tables whose dumped count differs from it are counted again
    afterwards; a live table written to during the dump must then lie between the two counts.
    """
    from concurrent.futures import Future

    before_future: Future[dict[str, int]] | None = None
    before: dict[str, int] = {}
    with ThreadPoolExecutor(max_workers=1) as pool:
        if consistency == "single-transaction":
            with snap_db.cursor() as cur:
                cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            prep.newest = newest_rows(snap_db, prep.facts.db.prefix, tables)
            before_future = pool.submit(count_rows, snap_db, tables)
        else:
            prep.newest = newest_rows(snap_db, prep.facts.db.prefix, tables)
            before = count_rows(snap_db, tables)

        def on_bytes(n: int) -> None:
            if progress:
                progress("database", n, None)

        try:
            result = stream_dump(mux.argv(), command, dest, on_bytes=on_bytes, store=store,
                                 recipient=prep.recipient)
        except OSError as exc:
            raise _disk_or_transfer_error(exc, store) from None
        finally:
            if before_future is not None:
                before_future.exception()  # wait: the connection closes when this returns
        if before_future is not None:
            before = before_future.result()
            with snap_db.cursor() as cur:
                cur.execute("COMMIT")
    changed = [t for t in tables if result.count.rows.get(t) != before.get(t)]
    after = {**before, **count_rows(now_db, changed)} if changed else dict(before)
    return result, before, after


def verify_files(prep: Prepared, roots: list[FileRoot]) -> list[str]:
    checks = []
    for root in roots:
        counted = prep.counted.get(root.name)
        files, size = counted if counted is not None else count_tree(prep.mirror.partial / FILES / root.name)
        if (files, size) != (root.files, root.bytes):
            raise VerificationError(
                f"files/{root.name}: {files} files, {size} bytes on disk, but the transfer reported "
                f"{root.files} files, {root.bytes} bytes", store=prep.cfg.store)
        checks.append(f"files/{root.name}: {files} files, {size} bytes as reported by the transfer")
    return checks


def snapshot_manifest(cfg: StoreConfig, snapshot: str) -> Manifest:
    """One snapshot's manifest alone, nothing extracted: from the mirror folder, or the repository's copy."""
    repo = repository_of(cfg)
    return repo.manifest(snapshot) if repo is not None else manifest_io.read(mirror_of(cfg).snapshot(snapshot))


def open_snapshot(cfg: StoreConfig, snapshot: str = "") -> tuple[Path, Manifest]:
    """A snapshot's folder and manifest (`latest` when snapshot is ""), from the mirror folder or, with
    `mirror.repository`, extracted from the borg archive or restic snapshot into the state folder (0700;
    remove it with `drop_extraction` when done)."""
    repo = repository_of(cfg)
    if repo is not None:
        have = repo.snapshots()
        name = snapshot or (have[-1] if have else "")
        if not name:
            raise PreconditionError(f"no {noun(repo.kind)} of {cfg.store} in {repo.kind}:{repo.location} yet: run "
                                    "`fab mirror` first", store=cfg.store)
        if name not in have:
            raise PreconditionError(f"no {noun(repo.kind)} {repo.prefix}{name} in {repo.kind}:{repo.location} (have: "
                                    f"{', '.join(have) or 'none'})", store=cfg.store)
        path = repo.extract(name, extraction_dir(cfg.state_dir, cfg.client, cfg.store, name, repo.kind))
        return path, manifest_io.read(path)
    mirror = mirror_of(cfg)
    name = snapshot or mirror.latest() or ""
    if not name:
        raise PreconditionError("no snapshot yet: run `fab mirror` first", store=cfg.store)
    path = mirror.snapshot(name)
    if not path.is_dir():
        raise PreconditionError(f"no snapshot {name} (have: {', '.join(mirror.snapshots()) or 'none'})",
                                store=cfg.store)
    return path, manifest_io.read(path)


def drop_extraction(cfg: StoreConfig, path: Path) -> None:
    """Remove a repository snapshot's extraction (client data in clear) once serve or restore is done with it."""
    repo = repository_of(cfg)
    if repo is not None and path.is_relative_to(Path(cfg.state_dir).expanduser() / f"{repo.kind}-extract"):
        shutil.rmtree(path, ignore_errors=True)
