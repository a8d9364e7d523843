"""The steps of `fab prices` and `fab undo` as plain functions of a connection, facts and arguments.

The task layer (maint/tasks/prices.py) only wires these together with prompts and output.
"""

from __future__ import annotations

import csv
import gc
import math
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pymysql

from maint.errors import InputError, MaintError, PreconditionError, SqlError
from maint.lock import HeldStoreLock, take_store_lock
from maint.pricing import storefront
from maint.pricing.apply import apply_operations, limit_local_infile, load_temp_tables, read_sets
from maint.pricing.catalog import (
    CatalogPrefetch,
    packed_select,
    quick_thread_switches,
    read_catalog,
    read_customers,
    read_default_group,
    read_discounts,
    read_group_snapshot,
    read_groups,
)
from maint.pricing.discounts import (
    MODES,
    DiscountPlan,
    DiscountRow,
    discount_columns,
    parse_discount_rows,
    resolve_discounts,
)
from maint.pricing.fields import MATCH_CHOICES, discount_fields, price_fields
from maint.pricing.groups import (
    GroupPlan,
    GroupRow,
    group_fields,
    group_operations,
    parse_group_rows,
    resolve_groups,
    without_group,
)
from maint.pricing.issues import Issue, SheetInvalidError
from maint.pricing.prices import (
    PriceDiff,
    PricePlan,
    PriceRows,
    label,
    normalise_key,
    parse_price_rows,
    resolve_prices,
)
from maint.pricing.schema import PriceSchema, price_schema
from maint.pricing.undo import (
    ColumnRow,
    ColumnRows,
    ColumnUpdate,
    Operation,
    SetReplace,
    Stored,
    append_audit,
    read_audit,
    store_dir,
    write_undo,
)
from maint.remote.sql import connect_db, table
from maint.remote.ssh import quote, run
from maint.sheets import Sheet, no_rows_error, open_sheets
from maint.sheets.headers import parse_columns_option
from maint.sheets.values import FOUR_PLACES
from maint.storefront import StorefrontReader

PRICE_TYPE = "DECIMAL(15,4)"


@contextmanager
def database_errors(store: str) -> Iterator[None]:
    """A failing query while reading or planning is an expected failure (exit 41), not a traceback."""
    try:
        yield
    except pymysql.err.MySQLError as exc:
        code = exc.args[0] if exc.args else "?"
        raise SqlError(
            f"database error {code} while reading the store: {exc.args[-1] if exc.args else exc}", store=store
        ) from None


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a bulk step.

    Building 100,000 row objects triggers hundreds of collections that each walk the objects made so far
    (about a third of parsing and planning time); these steps create no reference cycles, so nothing piles
    up while paused, and the collector is back on right after the step.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        # Everything made while paused sits in the youngest generation, whose next collection would walk
        # all of it (20 ms for a big list); filed under the oldest one instead, it is walked only by an
        # occasional full collection, when most of it is long gone.
        gc.freeze()
        gc.unfreeze()
        gc.enable()


@dataclass
class PriceSheet:
    """A price file read and parsed, before it meets a store."""

    path: Path
    match: str
    rows: PriceRows
    issues: list[Issue]
    key_header: str
    notes: list[str] = field(default_factory=list)


def open_price_sheet(path: Path, *, match: str = "sku", sheet: str = "", columns: str = "") -> list[Sheet]:
    """Open the file and match its header (InputError for an unreadable file); rows are read later.
    A workbook gives every sheet with a price list's header (see open_sheets)."""
    if match not in MATCH_CHOICES:
        raise InputError(f"--match must be one of {', '.join(MATCH_CHOICES)}, not {match!r}")
    fields = price_fields(match)
    explicit = parse_columns_option(columns, fields) if columns else {}
    return open_sheets(path, fields, sheet=sheet or None, columns=explicit)


def parse_price_sheet(path: Path, opened: Sheet | list[Sheet], match: str) -> PriceSheet:
    """Read and parse every row of every sheet; problems are collected, not raised."""
    sheets = opened if isinstance(opened, list) else [opened]
    rows, issues = PriceRows(), list[Issue]()
    with gc_paused():
        for one in sheets:
            parse_price_rows(one, match, rows, issues)
    if not len(rows) and not issues:
        raise no_rows_error(sheets)
    return PriceSheet(path, match, rows, issues, label(sheets[0].columns[match]), sheet_notes(sheets))


def sheet_notes(sheets: list[Sheet]) -> list[str]:
    """What was read, and which sheets of a workbook were left out (no header the task knows)."""
    notes = [note for one in sheets for note in one.notes]
    ignored = sheets[0].ignored
    if ignored:
        notes.append(
            f"ignored sheet(s) {', '.join(map(repr, ignored))} of {sheets[0].file}: no header this task reads"
        )
    return notes


def read_price_sheet(path: Path, *, match: str = "sku", sheet: str = "", columns: str = "") -> PriceSheet:
    """Read and parse every row; problems are collected, not raised (header problems raise InputError)."""
    return parse_price_sheet(path, open_price_sheet(path, match=match, sheet=sheet, columns=columns), match)


PREFETCH_FILE_BYTES = 128 * 1024  # from about 5,000 rows up read_catalog() scans the whole product table


def start_catalog_read(
    db: Any, prefix: str, version: str, match: str, path: Path, *, second: Any = None
) -> CatalogPrefetch | None:
    """For a big file, start the store's product scan in threads, to run while the rows are parsed
    (see CatalogPrefetch; `second` opens another database connection for it); pass it to plan_prices(),
    or close() it. None for small files."""
    if path.stat().st_size < PREFETCH_FILE_BYTES:
        return None
    limit_local_infile(db)  # before the thread's first query (see limit_local_infile)
    return CatalogPrefetch(db, prefix, price_schema(version), match, second=second)


def plan_prices(
    db: Any,
    prefix: str,
    version: str,
    parsed: PriceSheet,
    *,
    skip_invalid: bool = False,
    prefetched: CatalogPrefetch | None = None,
) -> PricePlan:
    """Resolve products against the store and diff old → new; SheetInvalidError unless --skip-invalid."""
    limit_local_infile(db)
    schema = price_schema(version)
    with gc_paused():
        rows = parsed.rows
        keys = rows.normalised_keys()
        rows.new_prices()  # the sheet's share of the work, done while the products may still arrive
        catalog = read_catalog(db, prefix, schema, parsed.match, keys, prefetched=prefetched, normalised=True)
        places = storefront.read_currency(db, prefix).places if parsed.rows.irregular else 2
        plan, unresolved = resolve_prices(
            parsed.rows,
            catalog,
            file=parsed.path.name,
            match=parsed.match,
            column=parsed.key_header,
            places=places,
        )
        del catalog
    issues = sorted([*parsed.issues, *unresolved], key=lambda i: (i.row, i.column))
    if issues and not skip_invalid:
        raise SheetInvalidError(issues)
    plan.skipped = issues
    plan.special_op = special_operation(db, prefix, schema, plan)
    return plan


def special_operation(db: Any, prefix: str, schema: PriceSchema, plan: PricePlan) -> SetReplace | None:
    """Each listed product gets exactly one special for the default group: product_special on 3.0/4.0,
    a product_discount row with special=1, quantity 1, type F on 4.1 (facts B6)."""
    if not plan.specials:
        return None
    group = read_default_group(db, prefix)
    filters: tuple[tuple[str, str], ...]
    if schema.special_table:
        table_name, pk, filters = schema.special_table, "product_special_id", ()
        columns: tuple[str, ...] = (
            "product_id",
            "customer_group_id",
            "priority",
            "price",
            "date_start",
            "date_end",
        )
    else:
        table_name, pk, filters = "product_discount", "product_discount_id", (("special", "1"),)
        columns = discount_columns(schema)
    existing = read_discounts(
        db, prefix, columns, filters, [s[0] for s in plan.specials], table_name=table_name, pk=pk
    )
    before: list[Stored] = []
    after: list[Stored] = []
    for product_id, _, _, special, price in plan.specials:
        text = str(price.quantize(FOUR_PLACES))
        if schema.special_table:
            content: tuple[str, ...] = (
                str(product_id),
                str(group),
                "1",
                text,
                special.date_start,
                special.date_end,
            )
        else:
            content = (
                str(product_id),
                str(group),
                "1",
                "1",
                text,
                "F",
                "1",
                special.date_start,
                special.date_end,
            )
        current = existing.get((product_id, group), [])
        if Counter(tuple(r[1:]) for r in current) == Counter([content]):
            continue
        plan.special_pairs_changed += 1
        before.extend(current)
        after.append((None, *content))
    if not after:
        return None
    return SetReplace(table_name, pk, columns, filters, before, after)


def check_large(plan: PricePlan, allow_large_changes: bool) -> None:
    large = plan.large
    if large and not allow_large_changes:
        first = large[0]
        raise PreconditionError(
            f"{len(large)} price change(s) exceed ±50 % (e.g. row {first.row}, {first.key}: "
            f"{first.old} → {first.new}); check the file, or pass --allow-large-changes"
        )


def already_applied(audit_dir: Path, sha256: str) -> dict[str, Any] | None:
    """The audit record of an earlier successful run of the same file that no undo has reverted since."""
    latest: dict[str, Any] | None = None
    for record in read_audit(audit_dir):
        if record.get("result") != "applied":
            continue
        if record.get("task") != "undo" and record.get("sha256") == sha256:
            latest = dict(record)
        elif record.get("task") == "undo" and record.get("undoes_sha256") == sha256:
            latest = None
    return latest


def price_operations(plan: PricePlan) -> list[Operation]:
    """The price update (if any prices change) and the specials replacement (if any specials change)."""
    ops: list[Operation] = []
    changes = plan.changes
    if changes:
        rows = ColumnRows(changes.id_texts, changes.old_texts, changes.new_texts)
        ops.append(ColumnUpdate("product", "product_id", "price", PRICE_TYPE, rows))
    if plan.special_op is not None:
        ops.append(plan.special_op)
    return ops


def percent(diff: PriceDiff) -> str:
    """The change in percent: one decimal, or below 1 % two significant digits (up to four decimals), so a
    small change is never shown as 0.0% (100 → 99.95 is -0.05%)."""
    ratio = diff.ratio
    if ratio is None:
        return "new"
    value = ratio * 100
    if value == 0 or abs(value) >= 1:
        return f"{value:+.1f}%"
    places = min(4, max(2, 1 - math.floor(math.log10(abs(value)))))
    text = f"{value:+.{places}f}".rstrip("0").rstrip(".")
    return f"{text}%"


def write_diff_csv(plan: PricePlan, path: Path) -> None:
    """The diff for the client: one line per change, in sheet order."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["row", "key", "product_id", "old_price", "new_price", "change"])
        for c in plan.changes:
            writer.writerow([c.row, c.key, c.product_id, c.old, c.new, percent(c)])


_MISSING = object()  # a key the store no longer has


@dataclass
class UndoPlan:
    ops: list[Operation]  # rows still as the run left them, to put back
    already: int = 0  # rows (or discount sets) already as before the run
    conflicts: list[tuple[str, int | str, object, object, object]] = field(default_factory=list)
    rows: int = 0


def current_values(db: Any, prefix: str, op: ColumnUpdate) -> dict[int, Decimal | None]:
    """The column's value now for every key of the operation (keys loaded into a temporary table first)."""
    load_temp_tables(db, [op])
    target = table(prefix, op.table)
    table("", op.key), table("", op.column)  # undo files are input: identifiers only letters, digits, _
    key, column = f"{target}.`{op.key}`", f"{target}.`{op.column}`"
    joined = f"{target} JOIN maint_tmp_0 ON {key} = maint_tmp_0.k WHERE 1=1"
    return {
        int(k): None if v is None else Decimal(v)
        for k, v in packed_select(db, [key, column], joined, [], key)
        if k is not None
    }


def plan_undo(db: Any, prefix: str, ops: Sequence[Operation]) -> UndoPlan:
    """What reverting needs: rows still as the run left them go back; rows changed since are conflicts."""
    limit_local_infile(db)
    plan = UndoPlan([])
    for op in ops:
        if isinstance(op, SetReplace):
            load_temp_tables(db, [op])
            current = read_sets(db, prefix, op, 0)
            if Counter(r[1:] for r in current) == Counter(r[1:] for r in op.after):
                plan.ops.append(replace(op, before=current, after=op.before))
                plan.rows += len(current) + len(op.before)
            elif Counter(current) == Counter(op.before):
                plan.already += len(op.before)
            else:
                plan.conflicts.append(
                    (op.table, f"{len(op.scopes())} product/group pair(s)", "", "", "changed")
                )
            continue
        values = current_values(db, prefix, op)
        revert: list[ColumnRow] = []
        for key, old, new in op.rows:  # an undo file's rows: int keys, Decimal values
            now = values.get(int(key), _MISSING)
            if now is _MISSING:
                plan.conflicts.append((op.table, key, old, new, None))
            elif now == old:
                plan.already += 1
            elif now == new:
                revert.append((key, new, old))
            else:
                plan.conflicts.append((op.table, key, old, new, now))
        if revert:
            plan.ops.append(ColumnUpdate(op.table, op.key, op.column, op.sql_type, revert))
            plan.rows += len(revert)
    return plan


def check_storefront(
    conn: Any, facts: Any, db: Any, product_ids: Sequence[int], *, sample: int = 3
) -> list[str]:
    """Open a few changed products' pages and warn about those that don't show what they should now
    (special, quantity-1 discount, taxes and currency worked out first: see maint.pricing.storefront),
    through the storefront reader, which takes back what the visits left in the shop."""
    picked = list(dict.fromkeys(product_ids))[:sample]
    if not picked:
        return []
    prefix = facts.db.prefix
    schema = price_schema(facts.version)
    failed: list[str] = []

    def expected() -> dict[int, storefront.Expected]:  # read while the pages load
        try:
            return storefront.expected_prices(db, prefix, schema, picked, read_default_group(db, prefix))
        except pymysql.err.MySQLError as exc:
            failed.append(
                f"could not work out what the storefront should show ({exc.args[-1] if exc.args else exc})"
            )
            return {}

    with StorefrontReader(_StoreSide(conn, facts, db)) as reader:
        problems = storefront.storefront_mismatches(reader, expected, picked)
    return failed or problems


@dataclass
class _StoreSide:
    """The store as the storefront reader needs it, over the task's own SSH and database connections."""

    conn: Any
    facts: Any
    database: Any

    @property
    def url(self) -> str:
        return str(self.facts.url).rstrip("/") + "/"

    @property
    def prefix(self) -> str:
        return str(self.facts.db.prefix)

    def db(self) -> AbstractContextManager[Any]:
        return nullcontext(self.database)

    def path(self, key: str) -> str:
        found = str(self.facts.path(key) or "")
        if not found and key == "DIR_SESSION" and self.facts.dir_storage:
            found = self.facts.dir_storage.rstrip("/") + "/session/"  # 4.x's default under DIR_STORAGE
        return found

    def sh(self, command: str, *, check: bool = False) -> Any:
        return run(self.conn, command, check=check)


@dataclass
class Applied:
    rows_changed: int
    undo_file: Path
    engine: str
    loaded_with: str
    warnings: list[str] = field(default_factory=list)


class PendingLock:
    """The store lock, taken in a thread once start() is called (by a task that may change the store,
    early): its SSH round trip (~0.1 s) then overlaps reading and planning instead of delaying the
    change, and the plan is made and applied under one lock. apply_changes() waits for it and releases it
    (clearing the product cache first); release() frees it on every path that doesn't apply."""

    def __init__(self, conn: Any, cfg: Any, task: str, facts: Any) -> None:
        self.cache_dir = product_cache_dir(facts)
        clear = f"rm -f -- {quote(self.cache_dir.rstrip('/'))}/cache.product.*" if self.cache_dir else ""
        self._take = lambda: take_store_lock(conn, cfg, task, finish=clear)
        self._future: Future[HeldStoreLock] | None = None
        self._released = False

    def start(self) -> Future[HeldStoreLock]:
        """Start taking the lock (once); the future of it being taken."""
        if self._future is None:
            pool = ThreadPoolExecutor(max_workers=1)
            self._future = pool.submit(self._take)
            pool.shutdown(wait=False)  # the thread ends once the lock is taken (or refused)
        return self._future

    def wait(self) -> None:
        """Raise now if the lock could not be taken (LockError: another run holds it)."""
        self.start().result()

    def release(self, *, finish: bool = False) -> tuple[int, str]:
        """Release once (later calls do nothing); a lock never taken needs no release."""
        if self._released or self._future is None or _failure(self._future) is not None:
            self._released = True
            return 0, ""
        self._released = True
        return self._future.result().release(finish=finish)


@contextmanager
def early_lock(
    conn: Any, cfg: Any, task: str, facts: Any, *, enabled: bool = True
) -> Iterator[PendingLock | None]:
    """A PendingLock for the block (None when not `enabled`, e.g. for --dry-run), released on the way out."""
    if not enabled:
        yield None
        return
    pending = PendingLock(conn, cfg, task, facts)
    try:
        yield pending
    finally:
        try:
            pending.release()
        except MaintError:
            if sys.exc_info()[0] is None:
                raise  # a lost connection while releasing matters only when nothing else went wrong


def apply_changes(
    conn: Any,
    cfg: Any,
    facts: Any,
    db: Any,
    ops: Sequence[Operation],
    *,
    task: str,
    header: dict[str, Any],
    counts: dict[str, Any],
    hook: Any = None,
    sample: Sequence[int] = (),
    lock: PendingLock | None = None,
) -> Applied:
    """Lock the store, write the undo file, apply all-or-nothing, clear caches, check the shop, audit.

    The lock is `lock`, taken since the task connected, or else taken now in a thread while the undo
    file is written (in another) and the change list loaded; none of these touches the store, and both
    are done before the first statement that does. The lock's session stays open and, at the end, clears
    the cache and releases the lock in one round trip.
    """
    audit_dir = store_dir(cfg.state_dir, cfg.client, cfg.store)
    prefix = facts.db.prefix

    def reconnect() -> Any:
        return limit_local_infile(connect_db(conn, facts.db, local_infile=True, store=cfg.store))

    limit_local_infile(db)
    pending = lock or PendingLock(conn, cfg, task, facts)
    locking = pending.start()
    with quick_thread_switches(), ThreadPoolExecutor(max_workers=1) as pool:
        writing = pool.submit(
            write_undo,
            audit_dir,
            task,
            {"client": cfg.client, "store": cfg.store, "version": facts.version, **header},
            ops,
        )

        def ready() -> None:  # before the first statement that can change the store
            writing.result()  # the undo file is written and fsynced
            locking.result()  # the store is ours

        try:
            result = apply_operations(reconnect, db, prefix, ops, hook=hook, ready=ready)
        except BaseException as exc:
            not_locked = _failure(locking)  # these wait for a pending thread
            undo_failed = _failure(writing)
            undo_file = None if undo_failed is not None else writing.result()
            if not_locked is not None:
                # never locked, so nothing was attempted: as before, no undo file and no audit record
                if undo_file is not None:
                    undo_file.unlink(missing_ok=True)
                if isinstance(exc, Exception) and exc is not not_locked:
                    raise not_locked from None
                raise
            try:
                if undo_file is not None and isinstance(exc, Exception):
                    append_audit(
                        audit_dir,
                        {
                            "task": task,
                            **header,
                            "counts": counts,
                            "undo_file": str(undo_file),
                            "result": f"failed: {exc}",
                        },
                    )
            finally:
                pending.release()
            raise
        undo_file = writing.result()
        status, stderr = pending.release(finish=True)  # clears the cache, then unlocks
        warnings = (
            [] if pending.cache_dir else ["DIR_CACHE is unknown: clear the store's product cache by hand"]
        )
        if pending.cache_dir and status != 0:
            warnings.append(f"could not clear {pending.cache_dir}cache.product.*: {stderr.strip()[:200]}")
    append_audit(
        audit_dir,
        {
            "task": task,
            **header,
            "counts": counts,
            "undo_file": str(undo_file),
            "result": "applied",
            "engine": result.engine,
        },
    )
    if sample:
        warnings += check_storefront(conn, facts, db, sample)
    return Applied(result.rows_changed, undo_file, result.engine, result.loaded_with, warnings)


def _failure(future: Future[Any]) -> BaseException | None:
    """Why a step in a thread failed (for the lock: LockError, a lost connection), or None once it is done."""
    try:
        future.result()
    except Exception as exc:  # noqa: BLE001 - returned to the caller, which raises it
        return exc
    return None


def product_cache_dir(facts: Any) -> str:
    """Where OpenCart caches product lists (4.x serves old prices from them for an hour); '' if unknown."""
    storage_cache = facts.dir_storage.rstrip("/") + "/cache/" if facts.dir_storage else ""
    return str(facts.path("DIR_CACHE") or storage_cache)


@dataclass
class DiscountSheet:
    path: Path
    match: str
    rows: list[DiscountRow]
    issues: list[Issue]
    key_header: str
    group_header: str
    notes: list[str] = field(default_factory=list)


def read_discount_sheet(
    path: Path, *, match: str = "sku", sheet: str = "", columns: str = ""
) -> DiscountSheet:
    if match not in MATCH_CHOICES:
        raise InputError(f"--match must be one of {', '.join(MATCH_CHOICES)}, not {match!r}")
    fields = discount_fields(match)
    explicit = parse_columns_option(columns, fields) if columns else {}
    sheets = open_sheets(path, fields, sheet=sheet or None, columns=explicit)
    rows: list[DiscountRow] = []
    issues: list[Issue] = []
    for one in sheets:
        more_rows, more_issues = parse_discount_rows(one, match)
        rows += more_rows
        issues += more_issues
    if not rows and not issues:
        raise no_rows_error(sheets)
    first = sheets[0]
    return DiscountSheet(
        path,
        match,
        rows,
        issues,
        label(first.columns[match]),
        label(first.columns["group"]),
        sheet_notes(sheets),
    )


def plan_discount_file(
    db: Any,
    prefix: str,
    version: str,
    parsed: DiscountSheet,
    *,
    mode: str = "replace",
    skip_invalid: bool = False,
) -> tuple[DiscountPlan, SetReplace]:
    """Resolve products and groups, read the current tiers, plan; returns the plan and its operation."""
    limit_local_infile(db)
    if mode not in MODES:
        raise InputError(f"--mode must be one of {', '.join(MODES)}, not {mode!r}")
    schema = price_schema(version)
    columns = discount_columns(schema)
    filters = (("special", "0"),) if schema.discount_type else ()
    catalog = read_catalog(db, prefix, schema, parsed.match, (r.key for r in parsed.rows))
    groups = read_groups(db, prefix)
    places = storefront.read_currency(db, prefix).places
    product_ids = [e.product_id for entries in catalog.values() for e in entries]
    existing = read_discounts(db, prefix, columns, filters, product_ids)
    plan, unresolved = resolve_discounts(
        parsed.rows,
        catalog,
        groups,
        existing,
        schema,
        file=parsed.path.name,
        match=parsed.match,
        key_column=parsed.key_header,
        group_column=parsed.group_header,
        mode=mode,
        places=places,
    )
    issues = sorted([*parsed.issues, *unresolved], key=lambda i: (i.row, i.column))
    if issues and not skip_invalid:
        raise SheetInvalidError(issues)
    plan.skipped = issues
    op = SetReplace(
        "product_discount",
        "product_discount_id",
        columns,
        filters,
        [row for pair in plan.pairs for row in pair.before],
        [(None, *row) for pair in plan.pairs for row in pair.after],
    )
    return plan, op


@dataclass
class GroupSheet:
    path: Path
    rows: list[GroupRow]
    issues: list[Issue]
    columns: dict[str, str]
    notes: list[str] = field(default_factory=list)


GROUP_FIELD_NAMES = (
    "email",
    "group",
    "new_name",
    "description",
    "sort_order",
    "approval",
    "action",
    "move_to",
)


def read_group_sheet(path: Path, *, sheet: str = "", columns: str = "") -> GroupSheet:
    """Every sheet of a workbook with a groups header ("Groups": group, description; "Members": e-mail,
    group), read as one unit; problems are collected, not raised."""
    fields = group_fields()
    explicit = parse_columns_option(columns, fields) if columns else {}
    sheets = open_sheets(path, fields, sheet=sheet or None, columns=explicit)
    rows: list[GroupRow] = []
    issues: list[Issue] = []
    labels: dict[str, str] = {}
    for one in sheets:
        more_rows, more_issues = parse_group_rows(one)
        rows += more_rows
        issues += more_issues
        for name, col in one.columns.items():
            labels.setdefault(name, label(col))
    if not rows and not issues:
        raise no_rows_error(sheets)
    return GroupSheet(
        path, rows, issues, {n: labels.get(n, n) for n in GROUP_FIELD_NAMES}, sheet_notes(sheets)
    )


def plan_group_file(
    db: Any,
    prefix: str,
    parsed: GroupSheet,
    *,
    create_groups: bool = False,
    skip_invalid: bool = False,
    version: str = "3.0.3.8",
) -> tuple[GroupPlan, list[Operation]]:
    limit_local_infile(db)
    snapshot = read_group_snapshot(db, prefix)
    customers = read_customers(db, prefix, (r.email for r in parsed.rows))
    names = snapshot.by_name()
    doomed = [names[key] for key in (normalise_key(r.group) for r in parsed.rows if r.delete) if key in names]
    plan, unresolved = resolve_groups(
        parsed.rows,
        snapshot,
        customers,
        file=parsed.path.name,
        columns=parsed.columns,
        create_groups=create_groups,
        default_group=read_default_group(db, prefix),
        members=read_members(db, prefix, doomed),
    )
    issues = sorted([*parsed.issues, *unresolved], key=lambda i: (i.row, i.column))
    if issues and not skip_invalid:
        raise SheetInvalidError(issues)
    plan.skipped = issues
    ops: list[Operation] = list(group_operations(plan, snapshot))
    removals = deletion_operations(db, prefix, price_schema(version), [gid for gid, *_ in plan.deleted])
    for op in removals:
        if isinstance(op, SetReplace) and "customer_group_id" in op.columns:
            at = op.columns.index("customer_group_id") + 1
            for row in op.before:
                counts = plan.removed.setdefault(int(str(row[at])), {})
                counts[op.table] = counts.get(op.table, 0) + 1
    return plan, [*ops, *removals]


def read_members(db: Any, prefix: str, group_ids: Sequence[int]) -> dict[int, list[tuple[int, str]]]:
    """The customers (id, e-mail) of each of these groups."""
    found: dict[int, list[tuple[int, str]]] = {}
    if not group_ids:
        return found
    marks = ",".join(["%s"] * len(group_ids))
    with db.cursor() as cur:
        cur.execute(
            f"SELECT customer_group_id, customer_id, email FROM {table(prefix, 'customer')} "  # noqa: S608
            f"WHERE customer_group_id IN ({marks}) ORDER BY customer_id",
            list(group_ids),
        )
        for group_id, customer_id, email in cur.fetchall():
            found.setdefault(int(group_id), []).append((int(customer_id), str(email)))
    return found


SETTING_COLUMNS = ("store_id", "code", "key", "value", "serialized")
GROUP_DISPLAY = "config_customer_group_display"


# Every other table keyed by customer_group_id in 3.0, 4.0 and 4.1 (git grep customer_group_id over each
# release's schema), with its primary key ("" when the row is its own key) and content columns. OpenCart's
# own admin (model/customer/customer_group.php deleteCustomerGroup) removes the group's discounts, specials,
# reward points and tax-rate links; its custom-field links and subscription plans (3.0 product_recurring,
# 4.x product_subscription) it leaves behind, pointing at a group that no longer exists: removed here too.
# `order` keeps the group a past order was placed in; `customer` rows are moved, never removed.
_SPECIAL_COLUMNS = ("product_id", "customer_group_id", "priority", "price", "date_start", "date_end")
GROUP_ROW_TABLES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("product_reward", "product_reward_id", ("product_id", "customer_group_id", "points")),
    ("tax_rate_to_customer_group", "", ("tax_rate_id", "customer_group_id")),
    ("custom_field_customer_group", "", ("custom_field_id", "customer_group_id", "required")),
    ("product_recurring", "", ("product_id", "recurring_id", "customer_group_id")),
    ("product_subscription", "", ("product_id", "subscription_plan_id", "customer_group_id", "trial_price",
                                  "price")),
)


def group_row_tables(schema: PriceSchema) -> list[tuple[str, str, tuple[str, ...]]]:
    """(table, primary key, content columns) of every table whose rows belong to a customer group."""
    tables = [("product_discount", "product_discount_id", discount_columns(schema))]
    if schema.special_table:
        tables.append((schema.special_table, "product_special_id", _SPECIAL_COLUMNS))
    return tables + list(GROUP_ROW_TABLES)


def deletion_operations(
    db: Any, prefix: str, schema: PriceSchema, group_ids: Sequence[int]
) -> list[Operation]:
    """What deleting groups removes besides their own rows: their rows in every table keyed by the group
    (`group_row_tables`: discounts, on 4.1 specials too, specials on 3.0/4.0, reward points, tax-rate links,
    custom-field links, subscription plans) and their ids from the setting that lists the groups offered at
    sign-up (config_customer_group_display, of every store). A table the store doesn't have is skipped."""
    if not group_ids:
        return []
    ops: list[Operation] = []
    marks = ",".join(["%s"] * len(group_ids))
    tables = group_row_tables(schema)
    present = existing_tables(db, prefix, (name for name, _, _ in tables))
    with db.cursor() as cur:
        for name, pk, columns in tables:
            if name not in present:
                continue
            select = ", ".join(["NULL" if not pk else f"CAST(`{pk}` AS CHAR)",
                                *(f"CAST(`{c}` AS CHAR)" for c in columns)])
            cur.execute(
                f"SELECT {select} FROM {table(prefix, name)} WHERE customer_group_id IN ({marks})",  # noqa: S608
                list(group_ids),
            )
            rows = [tuple(r) for r in cur.fetchall()]
            if rows:
                ops.append(SetReplace(name, pk, columns, (), rows, [], scope=("customer_group_id",)))
        select = ", ".join(f"CAST(`{c}` AS CHAR)" for c in ("setting_id", *SETTING_COLUMNS))
        cur.execute(
            f"SELECT {select} FROM {table(prefix, 'setting')} WHERE `key` = %s",  # noqa: S608
            (GROUP_DISPLAY,),
        )
        before: list[Stored] = []
        after: list[Stored] = []
        for row in cur.fetchall():
            value = str(row[4])
            for group_id in group_ids:
                value = without_group(value, group_id) or value
            if value != row[4]:
                before.append(tuple(row))
                after.append((*row[:4], value, row[5]))
    if before:
        ops.append(
            SetReplace(
                "setting",
                "setting_id",
                SETTING_COLUMNS,
                (("key", GROUP_DISPLAY),),
                before,
                after,
                scope=("store_id",),
            )
        )
    return ops


def existing_tables(db: Any, prefix: str, names: Iterable[str]) -> set[str]:
    """Which of these tables (names without the prefix) the store's database has."""
    wanted = {prefix + n: n for n in names}
    if not wanted:
        return set()
    with db.cursor() as cur:
        cur.execute(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
            f"AND TABLE_NAME IN ({','.join(['%s'] * len(wanted))})",
            list(wanted),
        )
        return {wanted[str(r[0])] for r in cur.fetchall() if str(r[0]) in wanted}
