"""Benchmark of `fab prices`: 100,000 price changes against a 100,000-product store, MyISAM and InnoDB.

    .venv/bin/python benchmarks/prices.py [--rounds 3] [--skip-row-by-row]

Starts a sandbox of its own with two large stores (3.0.3.8 on MyISAM, 4.1.0.4 on InnoDB) and prints,
best of --rounds:
- CSV end to end (read, validate, plan, undo file, lock, apply, cache clear) vs a hand-written raw SQL load
  (`mariadb --local-infile` on the host over SSH: LOAD DATA into a temporary table + UPDATE JOIN) of the
  same CSV, joined on the SKU                                                       target ≤ 1.5×
  and, stricter, vs the raw load of a list already keyed by product_id (see RawSql);
  rounds alternating, all with their SSH connection already open
- xlsx read vs a plain python-calamine read of the same file                       target ≤ 1.2×
- vs row-by-row UPDATEs in one transaction / with autocommit (run once each, through maint's SSH tunnel,
  --row-sample rows scaled to 100,000)                                           target ≥ 10× / ≥ 40×
- peak memory of the end-to-end run (a child process)                              target ≤ 200 MB
- 100 changes from a sheet with `fab prices`, SSH connection included               target < 4 s
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
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

PRODUCTS = 100_000
STORES = {"myisam": ("3.0.3.8", "MyISAM"), "innodb": ("4.1.0.4", "InnoDB")}


def progress(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


def best(runs: int, fn: Callable[[int], float]) -> float:
    return min(fn(i) for i in range(runs))


def write_price_csv(path: Path, round_: int, count: int = PRODUCTS) -> None:
    # every round sets different prices, so every round really changes every row
    with path.open("w") as out:
        out.write("sku,price\n")
        out.writelines(
            f"SKU-{i:06d},{(i % 900) + 10 + round_ % 7}.{round_ % 10}9\n" for i in range(1, count + 1)
        )


def write_price_xlsx(path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("Prices")
    ws.append(["sku", "price"])
    for i in range(1, PRODUCTS + 1):
        ws.append([f"SKU-{i:06d}", (i % 900) + 10.5])
    wb.save(path)


def task_context(sb: Any) -> Any:
    from invoke import Config, Context

    return Context(Config(overrides={"maint": sb.maint_config()}))


def end_to_end_child(args: argparse.Namespace) -> None:
    """One end-to-end run in a fresh process, so its peak memory is its own. Prints JSON."""
    from maint.sandbox import Sandbox

    sb = Sandbox.attach(Path(args.base))
    from maint.facts.opencart import get_store_facts
    from maint.pricing import service
    from maint.pricing.undo import file_sha256
    from maint.remote.sql import connect_db, open_db
    from maint.remote.ssh import connect
    from maint.tasks.common import TaskContext
    from maint.tasks.prices import price_summary

    cfg = TaskContext.from_c(task_context(sb)).store(args.store)
    began = time.perf_counter()
    conn = connect(cfg)
    facts = get_store_facts(conn, cfg)
    # timed from here: the SSH connection is up (as the raw SQL baseline's control master is)
    started = time.perf_counter()
    path = Path(args.file)
    # the same steps, in the same order, as `fab prices` after its SSH connection and store facts
    # (without printing: the plan's summary is computed, as for --json, but not shown)
    opened = service.open_price_sheet(path)
    with (
        service.early_lock(conn, cfg, "prices", facts) as lock,
        open_db(conn, facts.db, local_infile=True, store=args.store) as db,
        service.gc_paused(),
    ):
        reading = service.start_catalog_read(
            db,
            facts.db.prefix,
            facts.version,
            "sku",
            path,
            second=lambda: connect_db(conn, facts.db, store=args.store),
        )
        parsed = service.parse_price_sheet(path, opened, "sku")
        assert lock is not None
        lock.start()
        plan = service.plan_prices(db, facts.db.prefix, facts.version, parsed, prefetched=reading)
        sha = file_sha256(path)
        price_summary(plan)
        service.check_large(plan, allow_large_changes=True)  # no question (as with --yes): no lock.wait()
        applied = service.apply_changes(
            conn,
            cfg,
            facts,
            db,
            service.price_operations(plan),
            task="prices",
            header={"file": args.file, "sha256": sha, "match": "sku"},
            counts={"changed": len(plan.changes)},
            lock=lock,
        )
    seconds = time.perf_counter() - started
    # after the change, `fab prices` opens a few changed products on the storefront: timed on its own
    checked = time.perf_counter()
    with open_db(conn, facts.db, store=args.store) as db:
        service.check_storefront(conn, facts, db, [int(i) for i in plan.changes.id_texts[:3]])
    storefront = time.perf_counter() - checked
    conn.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": seconds,
                "setup": started - began,
                "storefront": storefront,
                "changed": applied.rows_changed,
                "peak_mb": peak_mb,
                "loaded_with": applied.loaded_with,
            }
        )
    )


class RawSql:
    """The hand-written baselines, over the same SSH host as maint: OpenSSH (with a control master opened
    beforehand, as maint's SSH connection is) runs `mariadb --local-infile` on the host, which reads the
    change list from stdin: LOAD DATA LOCAL into a temporary table, then UPDATE JOIN.

    Two of them: `by_sku` loads the very CSV maint gets (sku,price) and joins on the SKU, as someone
    applying the client's list by hand must (on 4.1 through product_code); `by_id` loads a list already
    keyed by product_id, a change list nobody sends, which spares the database the SKU join: the strict
    yardstick."""

    def __init__(self, cfg: Any, store: Any, work: Path) -> None:
        from maint.pricing.schema import price_schema
        from maint.remote.ssh import ssh_command_args

        self.store = store
        self.ssh = [*ssh_command_args(cfg, control_path=work / f"cm-{cfg.store}"), cfg.host]
        # the sandbox host is this machine: the password goes in an option file, never on a command line
        self.options = work / f"raw-{cfg.store}.cnf"
        self.options.write_text(f"[client]\npassword={store.db_password}\n")
        self.options.chmod(0o600)
        subprocess.run([*self.ssh, "true"], check=True)  # opens the control master, outside the timing
        product = f"{store.prefix}product"
        if price_schema(store.version).sku_in_product_code:
            table, column = f"{store.prefix}product_code", "value"
            self.join = (
                f"{product} p JOIN {table} c ON c.product_id = p.product_id AND c.code = 'SKU' "
                "JOIN t ON t.sku = c.value"
            )
        else:
            table, column = product, "sku"
            self.join = f"{product} p JOIN t ON t.sku = p.sku"
        # the temporary table's key compares like the store's column (else no index would be used)
        charset, collation = self.query(
            "SELECT CHARACTER_SET_NAME, COLLATION_NAME FROM information_schema.COLUMNS "
            f"WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{table}' AND COLUMN_NAME = '{column}'"
        ).split("\t")
        self.sku_type = f"VARCHAR(64) CHARACTER SET {charset} COLLATE {collation}"

    def _remote(self, sql: str, *extra: str) -> list[str]:
        store = self.store
        command = (
            "mariadb",
            f"--defaults-extra-file={self.options}",
            "--local-infile=1",
            *extra,
            "-h",
            "127.0.0.1",
            "-P",
            str(store.db_port),
            "-u",
            store.db_user,
            store.db_name,
            "-e",
            sql,
        )
        return [*self.ssh, " ".join(shlex.quote(a) for a in command)]

    def query(self, sql: str) -> str:
        out = subprocess.run(self._remote(sql, "-N", "-B"), check=True, capture_output=True, text=True)
        return out.stdout.strip()

    def _timed(self, sql: str, data: Path) -> float:
        with data.open("rb") as stdin:
            started = time.perf_counter()
            subprocess.run(self._remote(sql), check=True, stdin=stdin)
            return time.perf_counter() - started

    def by_sku(self, csv_file: Path) -> float:
        return self._timed(
            f"CREATE TEMPORARY TABLE t (sku {self.sku_type} PRIMARY KEY, price DECIMAL(15,4)); "
            "LOAD DATA LOCAL INFILE '/dev/stdin' INTO TABLE t FIELDS TERMINATED BY ',' IGNORE 1 LINES "
            "(sku, price); "
            f"UPDATE {self.join} SET p.price = t.price;",
            csv_file,
        )

    def by_id(self, tsv: Path) -> float:
        return self._timed(
            "CREATE TEMPORARY TABLE t (product_id INT PRIMARY KEY, price DECIMAL(15,4)); "
            "LOAD DATA LOCAL INFILE '/dev/stdin' INTO TABLE t; "
            f"UPDATE {self.store.prefix}product p JOIN t ON p.product_id = t.product_id SET p.price = t.price;",
            tsv,
        )


def row_by_row(cfg: Any, store: Any, count: int, autocommit: bool, round_: int) -> float:
    """Row-by-row UPDATEs through maint's own SSH tunnel (the same path maint's bulk load takes), `count`
    rows, scaled linearly to PRODUCTS: each row is one round trip, so the time is linear in the rows."""
    from maint.facts.opencart import get_store_facts
    from maint.remote.sql import open_db
    from maint.remote.ssh import connect

    conn = connect(cfg)
    facts = get_store_facts(conn, cfg)
    with open_db(conn, facts.db, autocommit=autocommit, store=cfg.store) as db:
        started = time.perf_counter()
        with db.cursor() as cur:
            for i in range(1, count + 1):
                cur.execute(
                    f"UPDATE {store.prefix}product SET price = %s WHERE product_id = %s",  # noqa: S608
                    (f"{(i % 900) + 20 + round_}.55", i),
                )
        if not autocommit:
            db.commit()
        seconds = time.perf_counter() - started
    conn.close()
    return seconds * PRODUCTS / count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-row-by-row", action="store_true")
    parser.add_argument(
        "--row-sample", type=int, default=10_000, help="rows timed row by row (scaled to 100,000)"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        end_to_end_child(args)
        return

    import signal

    def stop(signum: int, frame: object) -> None:  # SIGTERM: leave through `with Sandbox`, stopping it
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    from python_calamine import CalamineWorkbook

    from maint.pricing.fields import price_fields
    from maint.pricing.prices import BATCH
    from maint.sandbox import Sandbox, StoreSpec
    from maint.sandbox.mariadb import PRODUCTION_DURABILITY
    from maint.sheets import open_sheet
    from maint.tasks.prices import prices

    work = Path(tempfile.mkdtemp(prefix="maint-bench-prices-"))
    specs = [
        StoreSpec(name, version, size="large", engine=engine) for name, (version, engine) in STORES.items()
    ]
    began = time.perf_counter()
    results: dict[str, dict[str, float]] = {}
    try:
        # Production durability (each commit flushed): the row-by-row baselines are bound by commits,
        # and the test sandbox's relaxed setting would make them unrealistically cheap.
        with Sandbox(work / "sandbox", specs, mariadb_options=PRODUCTION_DURABILITY) as sb:
            print(f"sandbox with two {PRODUCTS:,}-product stores built in {time.perf_counter() - began:.0f}s")
            ctx = task_context(sb)
            from maint.tasks.common import TaskContext

            for name in STORES:
                store = sb.store(name)
                cfg = TaskContext.from_c(ctx).store(name)
                raw_sql = RawSql(cfg, store, work)
                res = results.setdefault(name, {})

                def ours(round_: int, name: str = name, res: dict[str, float] = res) -> float:
                    sheet = work / f"{name}-{round_}.csv"
                    write_price_csv(sheet, round_)
                    out = subprocess.run(
                        [
                            sys.executable,
                            __file__,
                            "--child",
                            "--base",
                            str(work / "sandbox"),
                            "--store",
                            name,
                            "--file",
                            str(sheet),
                        ],
                        capture_output=True,
                        text=True,
                    )
                    if out.returncode:
                        raise SystemExit(f"the end-to-end run failed:\n{out.stderr}")
                    data = json.loads(out.stdout.strip().splitlines()[-1])
                    assert data["changed"] > 0.95 * PRODUCTS, data
                    res["peak_mb"] = max(res.get("peak_mb", 0.0), data["peak_mb"])
                    res["setup"] = min(res.get("setup", 99.0), data["setup"])
                    res["storefront"] = min(res.get("storefront", 99.0), data["storefront"])
                    return float(data["seconds"])

                def raw_by_sku(round_: int, raw_sql: RawSql = raw_sql) -> float:
                    sheet = work / f"raw-{round_}.csv"
                    write_price_csv(sheet, round_ + 3)  # other prices than maint's rounds set
                    return raw_sql.by_sku(sheet)

                def raw_by_id(round_: int, raw_sql: RawSql = raw_sql) -> float:
                    tsv = work / f"raw-{round_}.tsv"
                    tsv.write_text(
                        "".join(f"{i}\t{(i % 900) + 30 + round_}.77\n" for i in range(1, PRODUCTS + 1))
                    )
                    return raw_sql.by_id(tsv)

                # rounds alternate maint and raw SQL, so all meet the same machine load (fair side by side)
                runs = [(ours(i), raw_by_sku(i), raw_by_id(i)) for i in range(args.rounds)]
                res["ours"] = min(r[0] for r in runs)
                res["raw"], res["raw_id"] = min(r[1] for r in runs), min(r[2] for r in runs)
                progress(
                    f"{name}: maint {res['ours']:.2f} s, raw SQL {res['raw']:.2f} s by SKU, "
                    f"{res['raw_id']:.2f} s by product_id, peak {res['peak_mb']:.0f} MB"
                )
                if not args.skip_row_by_row:
                    res["row_tx"] = row_by_row(cfg, store, args.row_sample, autocommit=False, round_=1)
                    res["row_auto"] = row_by_row(cfg, store, args.row_sample, autocommit=True, round_=2)
                    progress(
                        f"{name}: row by row {res['row_tx']:.1f} s (one tx), "
                        f"{res['row_auto']:.1f} s (autocommit)"
                    )

            xlsx = work / "prices.xlsx"
            write_price_xlsx(xlsx)

            def calamine_read(_: int) -> float:
                started = time.perf_counter()
                CalamineWorkbook.from_path(str(xlsx)).get_sheet_by_name("Prices").to_python()
                return time.perf_counter() - started

            def our_read(_: int) -> float:
                # the read as `fab prices` does it: numbered rows of cells, in batches (parsing them into
                # prices is the next step, as it is after a plain calamine read)
                started = time.perf_counter()
                for _batch in open_sheet(xlsx, price_fields("sku")).batches(BATCH):
                    pass
                return time.perf_counter() - started

            xlsx_calamine, xlsx_ours = best(args.rounds, calamine_read), best(args.rounds, our_read)
            progress(f"xlsx read: maint {xlsx_ours:.2f} s, calamine {xlsx_calamine:.2f} s")

            small = work / "hundred.csv"
            write_price_csv(small, 5, count=100)

            def hundred(round_: int) -> float:
                write_price_csv(small, round_ + 3, count=100)
                started = time.perf_counter()
                prices(ctx, "innodb", str(small), yes=True, allow_large_changes=True, json=True)
                return time.perf_counter() - started

            with open(os.devnull, "w") as sink:
                stdout, sys.stdout = sys.stdout, sink
                try:
                    hundred_s = best(args.rounds, hundred)
                finally:
                    sys.stdout = stdout
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\n{PRODUCTS:,} price changes, best of {args.rounds}")
    print(f"{'':24}{'MyISAM (3.0.3.8)':>20}{'InnoDB (4.1.0.4)':>20}   target")

    def line(label: str, fmt: Callable[[dict[str, float]], str], target: str) -> None:
        print(f"{label:24}{fmt(results['myisam']):>20}{fmt(results['innodb']):>20}   {target}")

    line("maint, CSV end to end", lambda r: f"{r['ours']:.2f} s", "")
    line("raw SQL, same CSV by SKU", lambda r: f"{r['raw']:.2f} s", "")
    line("ratio to raw SQL", lambda r: f"{r['ours'] / r['raw']:.2f}×", "≤ 1.5×")
    line("raw SQL by product_id", lambda r: f"{r['raw_id']:.2f} s", "")
    line("  ratio (stricter)", lambda r: f"{r['ours'] / r['raw_id']:.2f}×", "")
    if not args.skip_row_by_row:
        print(f"(row by row: {args.row_sample:,} rows timed over maint's SSH tunnel, scaled to {PRODUCTS:,})")
        line("row by row, one tx", lambda r: f"{r['row_tx']:.1f} s", "")
        line("  maint is faster by", lambda r: f"{r['row_tx'] / r['ours']:.1f}×", "≥ 10×")
        line("row by row, autocommit", lambda r: f"{r['row_auto']:.1f} s", "")
        line("  maint is faster by", lambda r: f"{r['row_auto'] / r['ours']:.1f}×", "≥ 40×")
    line("peak memory", lambda r: f"{r['peak_mb']:.0f} MB", "≤ 200 MB")
    line("(not timed: connect+facts)", lambda r: f"{r['setup']:.2f} s", "")
    line("(not timed: storefront)", lambda r: f"{r['storefront']:.2f} s", "")
    print(
        f"\nxlsx read of {PRODUCTS:,} rows: maint {xlsx_ours:.2f} s, plain calamine {xlsx_calamine:.2f} s, "
        f"ratio {xlsx_ours / xlsx_calamine:.2f}× (target ≤ 1.2×)"
    )
    print(
        f"100 changes with `fab prices`, SSH connection included: {hundred_s:.2f} s (target < 4 s; "
        "the PyPI OpenCart CLI needs ~2 s per product, ≈ 200 s)"
    )


if __name__ == "__main__":
    main()
