"""Benchmark of `fab mirror` and `fab serve`'s import against the standard tools, over the same sshd.

    .venv/bin/python benchmarks/mirror.py [--rounds 3] [--base /dev/shm/maint-bench-mirror]

Starts a sandbox of its own (data on tmpfs, ~2.6 GB, deleted afterwards unless --keep) with two large stores (20,000 image files of 16 KB, >= 300 MB; 3.0.3.8 on
MyISAM and 4.1.0.4 on InnoDB, padded to >= 1,000,000 rows each), mirror destinations on tmpfs, and
prints, best of --rounds:
- first mirror of the files vs `rsync -a` over ssh                                  target <= 1.2x
- re-mirror with nothing changed vs a no-change `rsync -a`                           target <= +0.3 s
- the database part (dump + row counts + verification) vs `mysqldump | gzip -1` run
  on the host over ssh, per engine                                                   target <= 1.2x
- import into the working copy vs `zstd -dc | mariadb`                               target <= 1.2x
- peak memory of a whole `mirror` run in a child process                             target <= 150 MB
With --encrypt instead: the files and database parts with `mirror.encrypt` (age) against the same
parts in clear                                                                       target <= 1.2x
With --borg: the files part into a borg repository vs `rsync -a`                    target <= 2x
and a no-change run                                                                  target <= 2 s
With --restic: the same into a restic repository (`restic backup` with its parent)   same targets
then whole mirror runs into borg (first, no change), by part (--borg-whole: only those)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

MIN_ROWS = 1_000_000
STORES = {"myisam": ("b3", "3.0.3.8", "MyISAM"), "innodb": ("b4", "4.1.0.4", "InnoDB")}


def best(rounds: int, fn: Callable[[int], float]) -> float:
    return min(fn(i) for i in range(rounds))


def timed(fn: Callable[[], Any]) -> float:
    started = time.monotonic()
    fn()
    return time.monotonic() - started


def exact_rows(cur: Any, db_name: str) -> int:
    cur.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", (db_name,))
    total = 0
    for (name,) in cur.fetchall():
        cur.execute(f"SELECT COUNT(*) FROM `{name}`")
        total += int(cur.fetchone()[0])
    return total


def pad_rows(sb: Any, db_name: str, engine: str) -> int:
    """Add a log table so the database holds at least MIN_ROWS rows (MariaDB's sequence engine)."""
    with sb.db_admin(db_name) as db, db.cursor() as cur:
        missing = MIN_ROWS - exact_rows(cur, db_name)
        if missing > 0:
            cur.execute(f"CREATE TABLE IF NOT EXISTS oc_bench_log (id INT PRIMARY KEY, customer_id INT, "
                        f"message VARCHAR(120), date_added DATETIME) ENGINE={engine}")
            cur.execute("SELECT COALESCE(MAX(id), 0) FROM oc_bench_log")
            first = int(cur.fetchone()[0]) + 1
            cur.execute(f"INSERT INTO oc_bench_log SELECT seq, seq % 20000, CONCAT('visit ', seq, ' it''s (a),(b)'), "
                        f"NOW() FROM seq_{first}_to_{first + missing + 999}")
        return exact_rows(cur, db_name)


def configs(sb: Any, mirror_root: Path) -> dict[str, Any]:
    from maint.config import load_settings, store_config
    from maint.inventory import load_inventory

    raw = sb.maint_config()
    settings = load_settings(raw)
    inv = load_inventory(settings.inventory)
    return {"raw": raw, "cfg": {k: store_config(settings, inv, name, {"mirror_root": str(mirror_root)})
                                for k, (name, _, _) in STORES.items()}}


def ssh_base(cfg: Any) -> list[str]:
    return ["ssh", "-F", str(cfg.ssh_config), "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={cfg.known_hosts}"]


def bench_files(cfg: Any, work: Path, rounds: int) -> dict[str, float]:
    from maint.facts.opencart import get_store_facts
    from maint.mirror.layout import StoreMirror
    from maint.mirror.run import MirrorOptions, prepare, pull_files, pull_secret_archives, verify_files
    from maint.mirror.sshmux import SshMux
    from maint.remote.ssh import connect

    e = shlex.join(ssh_base(cfg))
    src = f"{cfg.host}:{cfg.root.rstrip('/')}/"
    excludes = ["--exclude=/image/cache/*", "--exclude=/system/storage/cache/*", "--exclude=/system/storage/logs/*",
                "--exclude=/system/storage/session/*"]

    def plain_first(i: int) -> float:
        dest = work / f"plain-{i}"
        shutil.rmtree(dest, ignore_errors=True)
        t = timed(lambda: subprocess.run(["rsync", "-a", "-e", e, *excludes, src, f"{dest}/"], check=True))
        return t

    def plain_again(i: int) -> float:
        return timed(lambda: subprocess.run(["rsync", "-a", "-e", e, *excludes, src, f"{work / 'plain-0'}/"],
                                            check=True))

    conn = connect(cfg)
    facts = get_store_facts(conn, cfg)
    mirror = StoreMirror.of(Path(cfg.mirror_root), cfg.client, cfg.store)

    def ours(again: bool) -> Callable[[int], float]:
        def run(i: int) -> float:
            if not again:
                shutil.rmtree(mirror.path, ignore_errors=True)
            elif not mirror.current.is_dir():
                ours(False)(0)  # a first run leaves the .current copy a re-mirror starts from
            shutil.rmtree(mirror.partial, ignore_errors=True)
            mirror.prepare_partial()
            with SshMux(cfg) as mux:
                prep = prepare(conn, cfg, facts, MirrorOptions(), mux)  # planning: facts, not the transfer
                started = time.monotonic()
                roots = pull_files(conn, prep, mux, None)
                if prep.recipient is not None:  # mirror.encrypt: configs and uploads as an encrypted tar
                    pull_secret_archives(prep, mux)
                verify_files(prep, roots)
                return time.monotonic() - started  # includes the SSH handshake of the first rsync
        return run

    out = {"first_plain": best(rounds, plain_first), "first_ours": best(rounds, ours(False)),
           "again_plain": best(rounds, plain_again), "again_ours": best(rounds, ours(True))}
    conn.close()
    shutil.rmtree(mirror.path, ignore_errors=True)
    return out


def bench_db(cfg: Any, work: Path, rounds: int) -> tuple[dict[str, float], Path]:
    from maint.facts.opencart import get_store_facts
    from maint.mirror.dump import defaults_file
    from maint.mirror.layout import StoreMirror
    from maint.mirror.run import MirrorOptions, dump_database, prepare
    from maint.mirror.sshmux import SshMux
    from maint.remote.ssh import connect

    conn = connect(cfg)
    facts = get_store_facts(conn, cfg)
    cnf = work / f"{cfg.store}.cnf"  # the host is this machine: the baseline's credentials, not timed
    cnf.write_bytes(defaults_file(facts.db))
    cnf.chmod(0o600)
    single = "--single-transaction" if cfg.store == "b4" else "--lock-tables"
    remote = (f"mysqldump --defaults-extra-file={cnf} --quick --routines --triggers --hex-blob {single} "
              f"{facts.db.database} | gzip -1")

    def plain(i: int) -> float:
        with open(work / "plain.sql.gz", "wb") as out:
            return timed(lambda: subprocess.run([*ssh_base(cfg), cfg.host, remote], stdout=out, check=True))

    mirror = StoreMirror.of(Path(cfg.mirror_root), cfg.client, cfg.store)

    def ours(i: int) -> float:
        shutil.rmtree(mirror.path, ignore_errors=True)
        mirror.prepare_partial()
        with SshMux(cfg) as mux:
            prep = prepare(conn, cfg, facts, MirrorOptions(), mux)  # planning, shared with the files part
            started = time.monotonic()
            dump_database(conn, prep, mux, None)  # dump, row counts of the source, verification
            return time.monotonic() - started

    out = {"plain": best(rounds, plain), "ours": best(rounds, ours)}
    keep = work / f"{cfg.store}-db.sql.zst"
    dump = mirror.dump_file(None)
    assert dump is not None
    shutil.copyfile(dump, keep)
    conn.close()
    cnf.unlink()
    return out, keep


def bench_import(dump: Path, base: Path, rounds: int) -> dict[str, float]:
    from maint.workcopy import WorkCopy

    wc = WorkCopy(base / "wc-state", "bench", "imp")
    wc.stop()
    server = wc.start_database()
    try:
        def plain(i: int) -> float:
            with server.connect() as db, db.cursor() as cur:
                cur.execute("DROP DATABASE IF EXISTS plain_import")
                cur.execute("CREATE DATABASE plain_import")
            cmd = f"zstd -dc {shlex.quote(str(dump))} | mariadb --no-defaults --socket={server.socket} -uroot plain_import"
            return timed(lambda: subprocess.run(["sh", "-c", cmd], check=True))

        def ours(i: int) -> float:
            with server.connect() as db, db.cursor() as cur:  # both start from an empty database
                cur.execute("DROP DATABASE IF EXISTS ours_import")
            return wc.import_dump(server, dump, "ours_import", "bench-pass")

        return {"plain": best(rounds, plain), "ours": best(rounds, ours)}
    finally:
        wc.stop()


def peak_memory(raw: dict[str, str], store: str, mirror_root: Path) -> float:
    child = PROJECT / "tests" / "integration" / "mirror" / "mirror_child.py"
    proc = subprocess.Popen([sys.executable, str(child), json.dumps(raw), store, "{}", str(mirror_root)],
                            stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"the mirror child failed ({status})")
    return usage.ru_maxrss / 1024


def bench_encrypted(c: dict[str, Any], work: Path, rounds: int) -> None:
    """The files and database parts with mirror.encrypt (age) against the same parts in clear."""
    import dataclasses

    key = work / "agency.key"
    key.unlink(missing_ok=True)
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    public = subprocess.run(["age-keygen", "-y", str(key)], check=True, capture_output=True, text=True).stdout.strip()
    for name, cfg in c["cfg"].items():
        sealed = dataclasses.replace(cfg, options={**cfg.options, "mirror": {"encrypt": public}})
        if name == "innodb":
            clear, enc = bench_files(cfg, work, rounds), bench_files(sealed, work, rounds)
            print(f"files, first mirror: encrypted {enc['first_ours']:.2f}s  clear {clear['first_ours']:.2f}s  ratio "
                  f"{enc['first_ours'] / clear['first_ours']:.2f}x; nothing changed: encrypted "
                  f"{enc['again_ours']:.2f}s  clear {clear['again_ours']:.2f}s  (target <= 1.2x)", flush=True)
        d_clear, _ = bench_db(cfg, work, rounds)
        d_enc, _ = bench_db(sealed, work, rounds)
        print(f"database ({name}): encrypted {d_enc['ours']:.2f}s  clear {d_clear['ours']:.2f}s  "
              f"ratio {d_enc['ours'] / d_clear['ours']:.2f}x  (target <= 1.2x)", flush=True)


def _cpu() -> float:
    """CPU seconds of this process and its finished children (rsync, ssh, borg): less load-bound than time."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def bench_borg(cfg: Any, work: Path, rounds: int) -> None:
    """Files part with a borg repository as the target (pull, verify, `borg create`) against `rsync -a`."""
    import dataclasses
    from concurrent.futures import ThreadPoolExecutor

    from maint.facts.opencart import get_store_facts
    from maint.mirror.borg import TAR_SUFFIX, summary_of
    from maint.mirror.layout import StoreMirror
    from maint.mirror.manifest import Manifest
    from maint.mirror.run import MirrorOptions, prepare, pull_files, tree_archive, verify_files
    from maint.mirror.sshmux import SshMux
    from maint.remote.ssh import connect

    os.environ.setdefault("BORG_PASSPHRASE", "bench")
    os.environ["BORG_BASE_DIR"] = str(work / "borg-home")
    repo = work / "borg-repo"
    e = shlex.join(ssh_base(cfg))
    src = f"{cfg.host}:{cfg.root.rstrip('/')}/"
    excludes = ["--exclude=/image/cache/*", "--exclude=/system/storage/cache/*", "--exclude=/system/storage/logs/*",
                "--exclude=/system/storage/session/*"]

    def plain(i: int) -> float:
        dest = work / f"plain-{i}"
        shutil.rmtree(dest, ignore_errors=True)
        return timed(lambda: subprocess.run(["rsync", "-a", "-e", e, *excludes, src, f"{dest}/"], check=True))

    sealed = dataclasses.replace(cfg, options={**cfg.options, "mirror": {"repository": f"borg:{repo}"}})
    conn = connect(sealed)
    facts = get_store_facts(conn, sealed)
    mirror = StoreMirror.of(Path(sealed.mirror_root), sealed.client, sealed.store)

    def ours(again: bool, whole_tree: bool = False) -> Callable[[int], float]:
        """whole_tree: archive `.current` every run, as before tree archives were shared (for comparison)."""
        def run(i: int) -> float:
            if not again:
                shutil.rmtree(mirror.path, ignore_errors=True)
                shutil.rmtree(repo, ignore_errors=True)
                subprocess.run(["borg", "init", "-e", "repokey", str(repo)], check=True, capture_output=True)
            mirror.discard_partial()
            mirror.prepare_partial()
            with SshMux(sealed) as mux, ThreadPoolExecutor(max_workers=1) as pool:
                prep = prepare(conn, sealed, facts, MirrorOptions(), mux)
                assert prep.repo is not None
                ts = f"2026010{i}T00000{int(again)}Z"
                started, cpu = time.monotonic(), _cpu()
                # as apply_mirror does: while rsync runs; not while a stream's borg create holds the lock
                trees = pool.submit(prep.repo.trees) if not prep.stream_command else None
                verify_files(prep, pull_files(conn, prep, mux, None, stream_ts=ts))
                pulled = time.monotonic()
                tree = tree_archive(prep, ts, trees.result() if trees is not None else [])
                assert tree is not None
                if whole_tree:
                    tree = dataclasses.replace(tree, archive=ts + TAR_SUFFIX)
                listed = time.monotonic()
                man = Manifest(sealed.client, sealed.store, ts, verified=True, files_archive=tree.archive)
                new_tree = tree.archive == ts + TAR_SUFFIX and tree.archive != prep.streamed_tree
                prep.repo.create(mirror.path, ts, summary_of(man), tree=new_tree)
                tree.write(mirror.path)
                took = time.monotonic() - started
                if again:
                    print(f"  no-change run {i}{' (whole tree archived)' if whole_tree else ''}: {took:.2f}s = "
                          f"rsync + count {pulled - started:.2f}s, waiting for borg list {listed - pulled:.2f}s, "
                          f"borg create {time.monotonic() - listed:.2f}s; tree archive "
                          f"{'reused' if tree.archive != ts + TAR_SUFFIX else 'NEW'}; CPU {_cpu() - cpu:.2f}s "
                          f"(all processes)", flush=True)
                return took
        return run

    def plain_again(i: int) -> float:
        return timed(lambda: subprocess.run(["rsync", "-a", "-e", e, *excludes, src, f"{work / 'plain-0'}/"],
                                            check=True))

    first_plain, first_ours = best(rounds, plain), best(rounds, ours(False))
    again = best(rounds, lambda i: ours(True)(i + 1))
    again_plain = best(rounds, plain_again)
    whole = best(rounds, lambda i: ours(True, whole_tree=True)(i + 5))
    print(f"borg target, first mirror of the files: ours {first_ours:.2f}s  rsync -a {first_plain:.2f}s  ratio "
          f"{first_ours / first_plain:.2f}x (target <= 2x); nothing changed: {again:.2f}s (target <= 2 s; "
          f"a no-change rsync -a alone took {again_plain:.2f}s, ratio {again / again_plain:.2f}x; archiving the "
          f"whole tree every run took {whole:.2f}s)", flush=True)
    conn.close()


def rsync_baseline(cfg: Any, work: Path) -> tuple[Callable[[int], float], Callable[[int], float]]:
    """`rsync -a` of the store's files over the same ssh: a first copy into work/plain-i, and a no-change
    one into work/plain-0."""
    e = shlex.join(ssh_base(cfg))
    src = f"{cfg.host}:{cfg.root.rstrip('/')}/"
    excludes = ["--exclude=/image/cache/*", "--exclude=/system/storage/cache/*", "--exclude=/system/storage/logs/*",
                "--exclude=/system/storage/session/*"]

    def first(i: int) -> float:
        dest = work / f"plain-{i}"
        shutil.rmtree(dest, ignore_errors=True)
        return timed(lambda: subprocess.run(["rsync", "-a", "-e", e, *excludes, src, f"{dest}/"], check=True))

    def again(i: int) -> float:
        return timed(lambda: subprocess.run(["rsync", "-a", "-e", e, *excludes, src, f"{work / 'plain-0'}/"],
                                            check=True))

    return first, again


def bench_restic(cfg: Any, work: Path, rounds: int) -> None:
    """Files part with a restic repository as the target (pull, verify, `restic backup`) against `rsync -a`."""
    import dataclasses

    from maint.facts.opencart import get_store_facts
    from maint.mirror import manifest as manifest_io
    from maint.mirror.layout import StoreMirror
    from maint.mirror.manifest import Manifest
    from maint.mirror.repository import summary_of
    from maint.mirror.restic import ResticRepo
    from maint.mirror.run import MirrorOptions, prepare, pull_files, verify_files
    from maint.mirror.sshmux import SshMux
    from maint.remote.ssh import connect

    os.environ.setdefault("RESTIC_PASSWORD", "bench")
    os.environ["RESTIC_CACHE_DIR"] = str(work / "restic-cache")
    repo = work / "restic-repo"
    plain, plain_again = rsync_baseline(cfg, work)
    sealed = dataclasses.replace(cfg, options={**cfg.options, "mirror": {"repository": f"restic:{repo}"}})
    conn = connect(sealed)
    facts = get_store_facts(conn, sealed)
    mirror = StoreMirror.of(Path(sealed.mirror_root), sealed.client, sealed.store)

    def ours(again: bool) -> Callable[[int], float]:
        def run(i: int) -> float:
            if not again:
                for path in (mirror.path, repo, work / "restic-cache"):
                    shutil.rmtree(path, ignore_errors=True)
                subprocess.run(["restic", "init", "--repo", str(repo)], check=True, capture_output=True)
            mirror.discard_partial()
            mirror.prepare_partial()
            with SshMux(sealed) as mux:
                prep = prepare(conn, sealed, facts, MirrorOptions(), mux)
                assert isinstance(prep.repo, ResticRepo)
                ts = f"202601{i + 1:02d}T00000{int(again)}Z"  # a valid day: restic's --time is parsed from it
                started, cpu = time.monotonic(), _cpu()
                verify_files(prep, pull_files(conn, prep, mux, None, stream_ts=ts))
                pulled = time.monotonic()
                man = Manifest(sealed.client, sealed.store, ts, verified=True)
                manifest_io.write(mirror.partial, man)
                prep.repo.create(mirror.path, ts, summary_of(man), files=True)
                took = time.monotonic() - started
                print(f"  {'no-change' if again else 'first'} run {i}: {took:.2f}s = rsync + count "
                      f"{pulled - started:.2f}s, restic backup {time.monotonic() - pulled:.2f}s; CPU "
                      f"{_cpu() - cpu:.2f}s (all processes)", flush=True)
                return took
        return run

    first_plain, first_ours = best(rounds, plain), best(rounds, ours(False))
    again = best(rounds, lambda i: ours(True)(i + 1))
    again_plain = best(rounds, plain_again)
    print(f"restic target, first mirror of the files: ours {first_ours:.2f}s  rsync -a {first_plain:.2f}s  ratio "
          f"{first_ours / first_plain:.2f}x (target <= 2x); nothing changed: {again:.2f}s (target <= 2 s; a "
          f"no-change rsync -a alone took {again_plain:.2f}s, ratio {again / again_plain:.2f}x)", flush=True)
    conn.close()


def bench_borg_whole(cfg: Any, work: Path, rounds: int) -> None:
    """A whole `fab mirror` run into a borg repository (facts, plan, files, dump, verification, archive), first
    and with nothing changed, broken into its parts as the manifest's timings record them."""
    import dataclasses

    from maint.facts.opencart import get_store_facts
    from maint.mirror.layout import StoreMirror
    from maint.mirror.run import MirrorOptions, apply_mirror, prepare
    from maint.mirror.sshmux import SshMux
    from maint.remote.ssh import connect

    os.environ.setdefault("BORG_PASSPHRASE", "bench")
    os.environ["BORG_BASE_DIR"] = str(work / "borg-home")
    repo = work / "borg-whole"
    sealed = dataclasses.replace(cfg, options={**cfg.options, "mirror": {"repository": f"borg:{repo}"}})
    mirror = StoreMirror.of(Path(sealed.mirror_root), sealed.client, sealed.store)
    shutil.rmtree(mirror.path, ignore_errors=True)
    shutil.rmtree(repo, ignore_errors=True)
    subprocess.run(["borg", "init", "-e", "repokey", str(repo)], check=True, capture_output=True)

    def one(label: str) -> float:
        started = time.monotonic()
        conn = connect(sealed)
        try:
            facts = get_store_facts(conn, sealed)
            with SshMux(sealed) as mux:
                factsed = time.monotonic()
                prep = prepare(conn, sealed, facts, MirrorOptions(), mux)
                planned = time.monotonic()
                result = apply_mirror(conn, prep, mux, None)
        finally:
            conn.close()
        took = time.monotonic() - started
        parts = ", ".join(f"{k} {v:.2f}s" for k, v in result.manifest.timings.items())
        print(f"  whole {label} mirror: {took:.2f}s = connect + facts {factsed - started:.2f}s, prepare "
              f"{planned - factsed:.2f}s, apply {time.monotonic() - planned:.2f}s ({parts}); tree archive "
              f"{result.manifest.files_archive}; dump {result.manifest.dump.reused_from or 'new'}", flush=True)
        return took

    first = one("first")
    again = min(one("no-change") for _ in range(max(rounds, 2)))
    print(f"borg target, whole mirror run (connect, facts, plan, files, dump, verify, archive): first {first:.2f}s, "
          f"nothing changed {again:.2f}s", flush=True)
    shutil.rmtree(mirror.path, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--base", type=Path, default=Path("/dev/shm/maint-bench-mirror"))
    parser.add_argument("--encrypt", action="store_true", help="measure encryption at rest (age) against clear")
    parser.add_argument("--borg", action="store_true", help="measure a borg repository as the mirror target")
    parser.add_argument("--restic", action="store_true", help="measure a restic repository as the mirror target")
    parser.add_argument("--borg-whole", action="store_true",
                        help="with --borg: only the whole mirror runs (facts, dump, archive), not the files part")
    parser.add_argument("--keep", action="store_true",
                        help="keep the sandbox's data (~2.6 GB) for the next run instead of deleting it")
    args = parser.parse_args()
    from maint.sandbox import Sandbox, StoreSpec

    base = args.base
    fresh = not (base / "state.json").exists()
    specs = [StoreSpec(name, version, size="large", engine=engine) for name, version, engine in STORES.values()]
    print(f"sandbox in {base} ({'building the large stores, a few minutes' if fresh else 'reusing'})", flush=True)
    began = time.monotonic()
    sb = Sandbox(base, specs, client="bench", stop_at_exit=True)
    sb.start()
    try:
        print(f"  started in {time.monotonic() - began:.0f}s", flush=True)
        rows = {k: pad_rows(sb, sb.store(name).db_name, engine) for k, (name, _, engine) in STORES.items()}
        work = base / "work"
        work.mkdir(exist_ok=True)
        mirror_root = base / "mirror"
        c = configs(sb, mirror_root)
        files = subprocess.run(["sh", "-c", f"find {shlex.quote(str(sb.store('b4').root))} -type f | wc -l"],
                               capture_output=True, text=True, check=True).stdout.strip()
        size = subprocess.run(["du", "-sm", str(sb.store("b4").root)], capture_output=True, text=True).stdout.split()[0]
        print(f"store b4: {files} files, {size} MB; rows: " + ", ".join(f"{k} {v:,}" for k, v in rows.items()))
        if args.encrypt or args.borg or args.restic:
            if args.encrypt:
                bench_encrypted(c, work, args.rounds)
            if args.borg:
                if not args.borg_whole:
                    bench_borg(c["cfg"]["innodb"], work, args.rounds)
                bench_borg_whole(c["cfg"]["innodb"], work, args.rounds)
            if args.restic:
                bench_restic(c["cfg"]["innodb"], work, args.rounds)
            return
        f = bench_files(c["cfg"]["innodb"], work, args.rounds)
        print(f"files, first mirror:    ours {f['first_ours']:.2f}s  rsync -a {f['first_plain']:.2f}s  "
              f"ratio {f['first_ours'] / f['first_plain']:.2f}x  (target <= 1.2x)")
        print(f"files, nothing changed: ours {f['again_ours']:.2f}s  rsync -a {f['again_plain']:.2f}s  "
              f"+{f['again_ours'] - f['again_plain']:.2f}s  (target <= +0.3s)")
        dumps = {}
        for key in STORES:
            d, dumps[key] = bench_db(c["cfg"][key], work, args.rounds)
            print(f"database ({key}, {rows[key]:,} rows): ours {d['ours']:.2f}s  mysqldump|gzip -1 {d['plain']:.2f}s  "
                  f"ratio {d['ours'] / d['plain']:.2f}x  (target <= 1.2x)")
        for key in STORES:
            i = bench_import(dumps[key], base, args.rounds)
            print(f"import ({key}): ours {i['ours']:.2f}s  zstd -dc | mariadb {i['plain']:.2f}s  "
                  f"ratio {i['ours'] / i['plain']:.2f}x  (target <= 1.2x)")
        shutil.rmtree(mirror_root, ignore_errors=True)
        mem = peak_memory(c["raw"], "b4", mirror_root)
        print(f"peak memory of a whole mirror run (files + InnoDB dump + verify): {mem:.0f} MB  (target <= 150 MB)")
    finally:
        sb.stop()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
