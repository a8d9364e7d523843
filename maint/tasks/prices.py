"""`fab prices|discounts|groups STORE FILE` and `fab undo STORE UNDOFILE`: client sheets into the store."""

from __future__ import annotations

import json as _json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from maint import render
from maint.errors import InputError, PreconditionError
from maint.facts.names import get_group_names, get_product_names, product_label
from maint.facts.opencart import get_store_facts
from maint.pricing import service
from maint.pricing.discounts import NO_DATE, DiscountPlan
from maint.pricing.groups import GroupPlan
from maint.pricing.issues import SheetInvalidError, issue_table
from maint.pricing.prices import PriceChanges, PricePlan, Rounding
from maint.pricing.undo import ColumnUpdate, file_sha256, read_undo, store_dir
from maint.remote.sql import connect_db, open_db
from maint.remote.ssh import connect
from maint.runner import Road, run_change
from maint.tasks.common import TaskContext, emit_json, maint_task, task, work_session

ISSUE_COLUMNS = ("file", "row", "column", "value", "reason")
SHOWN = 10


def show_issues(title: str, issues: list[Any], as_json: bool, store: str = "", code: int = 50) -> None:
    if as_json:
        emit_json([{"store": store or None, "ok": False, "error": title, "exit_code": code,
                    "issues": [i.as_dict() for i in issues]}])
        return
    render.table(title, ISSUE_COLUMNS, issue_table(issues), out=render.console(sys.stderr))


def price_summary(plan: PricePlan) -> dict[str, Any]:
    return {
        "file": plan.file,
        "changes": len(plan.changes),
        "unchanged": plan.unchanged,
        "specials_changed": plan.special_pairs_changed,
        "large_changes": len(plan.large),
        "rounded_to_places": plan.places,
        "rounded": [r.as_dict() for r in plan.rounded],
        "skipped": [i.as_dict() for i in plan.skipped],
        "largest": [
            {
                "row": c.row,
                "key": c.key,
                "product_id": c.product_id,
                "old": c.old,
                "new": c.new,
                "change_percent": None if c.ratio is None else round(float(c.ratio) * 100, 2),
            }
            for c in plan.largest(SHOWN)
        ],
    }


def show_roundings(store: str, rounded: list[Rounding], places: int) -> None:
    """Percent changes whose exact result had more decimals than the store's currency, each as
    old, change, exact result → stored (prices and discounts alike)."""
    if not rounded:
        return
    con = render.console()
    con.print(
        f"{store}: {len(rounded)} percent change(s) rounded half up to {places} decimal(s), as the "
        "store's currency shows prices:",
        highlight=False,
        markup=False,
    )
    for rounding in rounded[:SHOWN]:
        con.print(f"  {rounding.describe()}", highlight=False, markup=False)
    if len(rounded) > SHOWN:
        con.print(f"  … and {len(rounded) - SHOWN} more (--json lists them all)", highlight=False, markup=False)


def show_price_plan(store: str, plan: PricePlan, names: dict[int, str] | None = None) -> None:
    if plan.skipped:
        render.table(
            f"Skipped {len(plan.skipped)} invalid row(s) (--skip-invalid)",
            ISSUE_COLUMNS,
            issue_table(plan.skipped),
        )
    if plan.special_pairs_changed:
        render.console().print(
            f"{store}: {plan.special_pairs_changed} special price(s) to set "
            f"({len(plan.specials) - plan.special_pairs_changed} already as in the file)",
            highlight=False,
            markup=False,
        )
    show_roundings(store, plan.rounded, plan.places)
    if not plan.changes:
        return
    rows = [
        (c.row, c.key, product_label(c.product_id, names or {}), c.old, c.new, service.percent(c))
        for c in plan.largest(SHOWN)
    ]
    render.table(
        f"Plan for {store}: {len(plan.changes)} price change(s), {plan.unchanged} unchanged, "
        f"{len(plan.large)} beyond ±50 % (largest {len(rows)} shown)",
        ("row", "key", "product", "old", "new", "change"),
        rows,
    )


def applied_summary(applied: Any) -> dict[str, Any]:
    """What every applied sheet adds to its summary."""
    return {
        "applied": True,
        "rows_changed": applied.rows_changed,
        "undo_file": str(applied.undo_file),
        "engine": applied.engine,
        "warnings": applied.warnings,
    }


def _road(task: str, question: str, dry_run: bool, yes: bool, json: bool, over_budget: bool) -> Road:
    """The sheets' road: the store lock is taken early (see _store_db) and the task's work session, which
    records dry runs too, spans the run."""
    return Road(task, question, dry_run=dry_run, yes=yes, json=json, over_budget=over_budget, lock="early",
                ledger=False)


def _say(line: str) -> None:
    """The sheets' stop lines go to stdout, with their result."""
    render.console().print(line, highlight=False, markup=False)


@contextmanager
def issues_shown(path: Path, json: bool, store: str = "") -> Iterator[None]:
    """Show the table of every problem in the sheet before the one-line error ends the task."""
    try:
        yield
    except SheetInvalidError as exc:
        show_issues(f"{len(exc.issues)} problem(s) in {path.name}; nothing was changed", exc.issues, json,
                    store, exc.exit_code)
        raise


@contextmanager
def _store_db(cfg: Any, store: str, task: str, *, dry_run: bool) -> Iterator[tuple[Any, Any, Any, Any]]:
    """The store's SSH connection, its facts, its database (LOAD DATA LOCAL allowed) and, unless
    `dry_run`, the store lock being taken meanwhile (see service.PendingLock), with database errors
    turned into one-line messages; everything is closed and released on every path."""
    conn = connect(cfg)
    try:
        facts = get_store_facts(conn, cfg)
        with (
            service.early_lock(conn, cfg, task, facts, enabled=not dry_run) as lock,
            open_db(conn, facts.db, local_infile=True, store=store) as db,
            service.database_errors(store),
        ):
            yield conn, facts, db, lock
    finally:
        conn.close()


@task(
    name="prices",
    examples=[
        "fab prices demo prices.xlsx --dry-run",
        "fab prices demo prices.csv --columns price=VK,sku=Artikel",
        "fab prices demo prices.xlsx --yes --json",
    ],
    positional=["store", "file"],
    help={
        "store": "store name from the inventory",
        "file": "the client's price list (.xlsx or .csv)",
        "sheet": "the sheet to read (default: the first visible one)",
        "columns": "map fields to headers, e.g. price=Preis,sku=Artikel",
        "match": "match products by sku, model or product_id (default sku)",
        "skip_invalid": "apply the valid rows and list the invalid ones, instead of stopping",
        "allow_large_changes": "allow price changes beyond ±50 %",
        "dry_run": "show the plan and stop",
        "yes": "don't ask before applying",
        "json": "print the plan and result as JSON",
        "over_budget": "work even when the client's plan is spent",
        "diff_csv": "also write every change to this CSV file (for the client)",
    },
)
@maint_task
def prices(
    c,
    store,
    file,
    sheet="",
    columns="",
    match="sku",
    skip_invalid=False,
    allow_large_changes=False,
    dry_run=False,
    yes=False,
    json=False,
    diff_csv="",
    over_budget=False,
):
    """Set product prices from a spreadsheet: validate all rows, plan, apply all-or-nothing, keep an undo."""
    tc = TaskContext.from_c(c)
    cfg = tc.store(store)
    path = Path(file)
    # the header is checked before any connection; the rows are parsed while the store's products are read
    opened = service.open_price_sheet(path, match=match, sheet=sheet, columns=columns)
    with work_session(tc, cfg, "prices", quiet=json, over_budget=over_budget, yes=yes, dry_run=dry_run):
        # the collector stays off from parse to apply: 100,000-row lists create no cycles, and each
        # collection would walk every row object made so far
        with _store_db(cfg, store, "prices", dry_run=dry_run) as (conn, facts, db, lock), service.gc_paused():
            reading = service.start_catalog_read(
                db,
                facts.db.prefix,
                facts.version,
                match,
                path,
                second=lambda: connect_db(conn, facts.db, store=store),
            )
            try:
                parsed = service.parse_price_sheet(path, opened, match)
            except BaseException:
                if reading is not None:
                    reading.close()
                raise
            if lock is not None:
                lock.start()  # after the parse, so its SSH traffic doesn't slow it down
            with issues_shown(path, json, store):
                plan = service.plan_prices(
                    db,
                    facts.db.prefix,
                    facts.version,
                    parsed,
                    skip_invalid=skip_invalid,
                    prefetched=reading,
                )
            sha = file_sha256(path)
            noop = ""
            if plan.relative and not plan.empty:
                earlier = service.already_applied(store_dir(cfg.state_dir, cfg.client, cfg.store), sha)
                if earlier:
                    noop = (
                        f"this file was already applied on {earlier.get('when')} and its relative (%) "
                        "changes would compound; run `fab undo` first to apply it again"
                    )
                    plan.changes, plan.special_op, plan.special_pairs_changed = PriceChanges(), None, 0
            summary = {"store": store, **price_summary(plan), "dry_run": dry_run, "applied": False}
            names = get_product_names(db, facts.db.prefix, (c["product_id"] for c in summary["largest"]))
            for shown in summary["largest"]:
                shown["product"] = names.get(int(shown["product_id"]))
            _notes(summary, parsed.notes, json)
            if diff_csv:
                service.write_diff_csv(plan, Path(diff_csv))

            def apply() -> service.Applied:
                return service.apply_changes(
                    conn,
                    cfg,
                    facts,
                    db,
                    service.price_operations(plan),
                    task="prices",
                    header={"file": str(path.resolve()), "sha256": sha, "match": match},
                    counts={
                        "changed": len(plan.changes),
                        "specials": plan.special_pairs_changed,
                        "unchanged": plan.unchanged,
                        "skipped": len(plan.skipped),
                    },
                    sample=[int(i) for i in plan.changes.id_texts[:3]],
                    lock=lock,
                )

            question = (
                f"Apply {len(plan.changes)} price change(s) and {plan.special_pairs_changed} special(s) to {store}?"
            )
            done = run_change(
                tc,
                cfg,
                conn,
                plan,
                _road("prices", question, dry_run, yes, json, over_budget),
                apply,
                show=lambda p: show_price_plan(store, p, names),
                empty=plan.empty,
                noop_reason=noop or f"all {plan.unchanged} price(s) already as in the file",
                check=lambda: service.check_large(plan, allow_large_changes),
                lock=lock,
                say=_say,
            )
            if not done.applied:
                return done.report(store, json, summary)
    applied = done.result
    summary |= applied_summary(applied)
    _done(
        summary,
        json,
        f"{store}: applied {len(plan.changes)} price change(s) and {plan.special_pairs_changed} "
        f"special(s) ({applied.engine}); undo with:",
        applied.warnings,
        command=f"fab undo {store} {applied.undo_file}",
    )
    return summary


def _notes(summary: dict[str, Any], notes: list[str], as_json: bool) -> None:
    """Sheets of a workbook left out are said (and listed in --json), so nothing is skipped silently."""
    ignored = [n for n in notes if n.startswith("ignored sheet")]
    summary["notes"] = notes
    if not as_json:
        for note in ignored:
            render.console().print(f"note: {note}", highlight=False, markup=False)


def _done(
    summary: dict[str, Any],
    as_json: bool,
    message: str,
    warnings: list[str] | None = None,
    *,
    command: str = "",
) -> None:
    """The closing lines; `command` (how to undo) goes on a line of its own, never wrapped, so it can be
    copied whole from a terminal of any width."""
    if as_json:
        emit_json([summary])
        return
    con = render.console()
    con.print(message, highlight=False, markup=False)
    if command:
        con.print(
            f"  {command}", highlight=False, markup=False, soft_wrap=True, overflow="ignore", crop=False
        )
    for w in warnings or []:
        con.print(f"warning: {w}", highlight=False, markup=False)


@task(
    name="undo",
    examples=[
        "fab undo demo",
        "fab undo demo ~/.local/state/maint/undo/demo/demo/20261130T120000-prices.undo --dry-run",
        "fab undo demo FILE --yes",
    ],
    positional=["store", "undofile"],
    help={
        "store": "store name from the inventory",
        "undofile": "an undo file written by prices, discounts or groups (leave out to list the store's)",
        "dry_run": "show what would be restored and stop",
        "yes": "don't ask before restoring",
        "json": "print the result as JSON",
        "over_budget": "work even when the client's plan is spent",
    },
)
@maint_task
def undo(c, store, undofile=None, dry_run=False, yes=False, json=False, over_budget=False):
    """Restore the exact previous values recorded in an undo file (without one: list the store's)."""
    tc = TaskContext.from_c(c)
    cfg = tc.store(store)
    if not undofile:
        return list_undo_files(cfg, store, json)
    path = Path(undofile)
    meta, ops = read_undo(path)
    if meta.get("store") != cfg.store or meta.get("client") != cfg.client:
        raise InputError(
            f"this undo file belongs to {meta.get('client')}/{meta.get('store')}, not "
            f"{cfg.client}/{cfg.store}",
            file=str(path),
        )
    with work_session(tc, cfg, "undo", quiet=json, over_budget=over_budget, yes=yes, dry_run=dry_run):
        with _store_db(cfg, store, "undo", dry_run=dry_run) as (conn, facts, db, lock):
            plan = service.plan_undo(db, facts.db.prefix, ops)
            summary: dict[str, Any] = {
                "store": store,
                "undo_file": str(path),
                "task": meta.get("task"),
                "to_restore": plan.rows,
                "already_restored": plan.already,
                "conflicts": len(plan.conflicts),
                "dry_run": dry_run,
                "applied": False,
            }
            if plan.conflicts:
                table_, key, old, new, now = plan.conflicts[0]
                raise PreconditionError(
                    f"{len(plan.conflicts)} row(s) were changed by someone else since the run (e.g. "
                    f"{table_} {key}: was {old}, set to {new}, now {now}); nothing was restored",
                    store=store,
                )
            values = undo_values(plan.ops) if plan.rows else []
            if plan.rows:
                summary["values"] = [dict(zip(UNDO_KEYS, row, strict=True)) for row in values[:SHOWN]]

            def show(_plan: Any) -> None:
                if plan.rows:
                    render.table(
                        f"Plan for {store}: restore {plan.rows} value(s) from {path.name} "
                        f"({plan.already} already restored; first {min(SHOWN, len(values))} shown)",
                        UNDO_COLUMNS,
                        values[:SHOWN],
                    )

            def apply() -> service.Applied:
                header = {
                    "file": str(path.resolve()),
                    "sha256": file_sha256(path),
                    "undoes": meta.get("task"),
                    "undoes_sha256": meta.get("sha256"),
                }
                return service.apply_changes(
                    conn, cfg, facts, db, plan.ops, task="undo", header=header, counts={"restored": plan.rows},
                    lock=lock,
                )

            done = run_change(
                tc,
                cfg,
                conn,
                plan,
                _road("undo", f"Restore {plan.rows} value(s) on {store}?", dry_run, yes, json, over_budget),
                apply,
                show=show,
                empty=not plan.rows,
                noop_reason="Every value is already as before the run.",
                lock=lock,
                say=_say,
            )
            if not done.applied:
                return done.report(store, json, summary)
    applied = done.result
    summary |= {
        "applied": True,
        "rows_changed": applied.rows_changed,
        "undo_file_of_undo": str(applied.undo_file),
    }
    _done(
        summary,
        json,
        f"{store}: restored {applied.rows_changed} value(s); the undo itself can be undone with:",
        applied.warnings,
        command=f"fab undo {store} {applied.undo_file}",
    )
    return summary


UNDO_COLUMNS = ("table", "row", "column", "now", "back to")
UNDO_KEYS = ("table", "row", "column", "now", "back_to")


def undo_values(ops: list[Any]) -> list[tuple[str, str, str, str, str]]:
    """Old → new per value, as the plan of the original change showed them."""
    rows: list[tuple[str, str, str, str, str]] = []
    for op in ops:
        if isinstance(op, ColumnUpdate):
            rows += [(op.table, f"{op.key} {key}", op.column, str(now), str(back)) for key, now, back in op.rows]
        else:
            rows.append((op.table, f"{len(op.scopes())} product/group pair(s)", "tiers",
                         f"{len(op.before)} row(s)", f"{len(op.after)} row(s)"))
    return rows


def list_undo_files(cfg: Any, store: str, as_json: bool) -> list[dict[str, Any]]:
    """The store's undo files, newest first, each with what it undoes."""
    folder = store_dir(cfg.state_dir, cfg.client, cfg.store)
    found = []
    for path in sorted(folder.glob("*.undo"), reverse=True):
        try:
            with path.open(encoding="utf-8") as stream:
                meta = _json.loads(stream.readline())
        except (OSError, ValueError):
            meta = {}
        rows = sum(int(op.get("rows", 0) or 0) for op in meta.get("operations", []) if isinstance(op, dict))
        stamp = str(meta.get("created", ""))  # 20261130T120000123456Z
        when = (f"{stamp[0:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]}+00:00"
                if len(stamp) >= 15 else None)
        found.append({"file": str(path), "task": meta.get("task", "?"), "created": when,
                      "source": Path(str(meta.get("file", ""))).name, "rows": rows})
    if as_json:
        emit_json([{"store": store, "undo_files": found}])
        return found
    if not found:
        render.console().print(f"{store}: no undo files yet (in {folder})", highlight=False, markup=False)
        return found
    render.table(f"Undo files of {store}, newest first", ("created", "task", "from", "values", "file"),
                 [(f"{f['created'][:16].replace('T', ' ')} UTC" if f["created"] else "?", f["task"], f["source"], f["rows"], Path(f["file"]).name) for f in found])
    render.command("restore the newest with:", f"fab undo {store} {found[0]['file']} --dry-run")
    return found


def discount_summary(plan: DiscountPlan) -> dict[str, Any]:
    return {
        "file": plan.file,
        "mode": plan.mode,
        "pairs_changed": len(plan.pairs),
        "pairs_unchanged": plan.unchanged_pairs,
        "rows_deleted": plan.deleted,
        "rows_inserted": plan.inserted,
        "rounded_to_places": plan.places,
        "rounded": [r.as_dict() for r in plan.rounded],
        "skipped": [i.as_dict() for i in plan.skipped],
    }


def show_discount_plan(store: str, plan: DiscountPlan, columns: tuple[str, ...]) -> None:
    if plan.skipped:
        render.table(
            f"Skipped {len(plan.skipped)} invalid row(s) (--skip-invalid)",
            ISSUE_COLUMNS,
            issue_table(plan.skipped),
        )
    show_roundings(store, plan.rounded, plan.places)
    if not plan.pairs:
        return
    shown = []
    for pair in plan.pairs[:SHOWN]:
        old = "; ".join(_tier(columns, row[1:]) for row in pair.before) or "none"
        new = "; ".join(_tier(columns, row) for row in pair.after) or "none"
        shown.append((pair.key, pair.group, old, new))
    render.table(
        f"Plan for {store}: discounts of {len(plan.pairs)} product/group pair(s) ({plan.mode}): "
        f"{plan.deleted} tier(s) out, {plan.inserted} in, {plan.unchanged_pairs} pair(s) unchanged",
        ("product", "group", "before", "after"),
        shown,
    )


def _tier(columns: tuple[str, ...], row: tuple[Any, ...]) -> str:
    value = dict(zip(columns, row, strict=False))
    price = f"{value['price']}% off" if value.get("type") == "P" else str(value["price"])
    start, end = _day(value["date_start"]), _day(value["date_end"])
    dates = "" if start == end == "open" else f" {start}..{end}"  # 4.1 stores "no date" as NULL
    return f"≥{value['quantity']}: {price}{dates}"


def _day(value: Any) -> str:
    """A discount's date as a plan shows it: OpenCart's "no date" (0000-00-00, or NULL on 4.1) is "open"."""
    return "open" if value in (NO_DATE, None, "") else str(value)


@task(
    name="discounts",
    examples=[
        "fab discounts demo tiers.csv --dry-run",
        "fab discounts demo tiers.xlsx --mode merge",
    ],
    positional=["store", "file"],
    help={
        "store": "store name from the inventory",
        "file": "the client's discount list (.xlsx or .csv): product, group, quantity, price or -%, dates",
        "sheet": "the sheet to read (default: the first visible one)",
        "columns": "map fields to headers, e.g. group=Kundengruppe,quantity=Menge",
        "match": "match products by sku, model or product_id (default sku)",
        "mode": "replace: a product/group gets exactly the file's tiers; merge: add/update tiers by quantity",
        "skip_invalid": "apply the valid rows and list the invalid ones, instead of stopping",
        "dry_run": "show the plan and stop",
        "yes": "don't ask before applying",
        "json": "print the plan and result as JSON",
        "over_budget": "work even when the client's plan is spent",
    },
)
@maint_task
def discounts(
    c,
    store,
    file,
    sheet="",
    columns="",
    match="sku",
    mode="replace",
    skip_invalid=False,
    dry_run=False,
    yes=False,
    json=False,
    over_budget=False,
):
    """Set customer-group quantity discounts from a spreadsheet in the store's schema; keeps an undo file."""
    tc = TaskContext.from_c(c)
    cfg = tc.store(store)
    path = Path(file)
    parsed = service.read_discount_sheet(path, match=match, sheet=sheet, columns=columns)
    with work_session(tc, cfg, "discounts", quiet=json, over_budget=over_budget, yes=yes, dry_run=dry_run):
        with _store_db(cfg, store, "discounts", dry_run=dry_run) as (conn, facts, db, lock):
            with issues_shown(path, json, store):
                plan, op = service.plan_discount_file(
                    db, facts.db.prefix, facts.version, parsed, mode=mode, skip_invalid=skip_invalid
                )
            summary = {"store": store, **discount_summary(plan), "dry_run": dry_run, "applied": False}
            _notes(summary, parsed.notes, json)

            def apply() -> service.Applied:
                header = {"file": str(path.resolve()), "sha256": file_sha256(path), "match": match, "mode": mode}
                return service.apply_changes(
                    conn,
                    cfg,
                    facts,
                    db,
                    [op],
                    task="discounts",
                    header=header,
                    counts={"pairs": len(plan.pairs), "deleted": plan.deleted, "inserted": plan.inserted},
                    lock=lock,
                )

            question = f"Replace the discounts of {len(plan.pairs)} product/group pair(s) on {store}?"
            done = run_change(
                tc,
                cfg,
                conn,
                plan,
                _road("discounts", question, dry_run, yes, json, over_budget),
                apply,
                show=lambda p: show_discount_plan(store, p, op.columns),
                empty=not plan.pairs,
                noop_reason=f"all {plan.unchanged_pairs} product/group pair(s) already as in the file",
                lock=lock,
                say=_say,
            )
            if not done.applied:
                return done.report(store, json, summary)
    applied = done.result
    summary |= applied_summary(applied)
    _done(
        summary,
        json,
        f"{store}: replaced the discounts of {len(plan.pairs)} product/group pair(s) "
        f"({applied.engine}); undo with:",
        applied.warnings,
        command=f"fab undo {store} {applied.undo_file}",
    )
    return summary


def group_summary(plan: GroupPlan) -> dict[str, Any]:
    return {
        "file": plan.file,
        "created": [{"customer_group_id": gid, "name": name} for gid, name in plan.created],
        "renamed": [{"customer_group_id": gid, "from": old, "to": new} for gid, old, new in plan.renamed],
        "updated": [
            {"customer_group_id": gid, "name": name, "changes": what} for gid, name, what in plan.updated
        ],
        "deleted": [
            {"customer_group_id": gid, "name": name, "customers_moved_to": to, "customers": count,
             "rows_removed": plan.removed.get(gid, {})}
            for gid, name, to, count in plan.deleted
        ],
        "moved": len(plan.moved),
        "unchanged": plan.unchanged,
        "skipped": [i.as_dict() for i in plan.skipped],
    }


def show_group_plan(store: str, plan: GroupPlan, names: dict[int, str] | None = None) -> None:
    if plan.skipped:
        render.table(
            f"Skipped {len(plan.skipped)} invalid row(s) (--skip-invalid)",
            ISSUE_COLUMNS,
            issue_table(plan.skipped),
        )
    if not plan:
        return
    rows: list[tuple[str, str, str]] = [("create group", name, f"id {gid}") for gid, name in plan.created]
    rows += [("rename group", old, new) for _, old, new in plan.renamed]
    known = {**(names or {}), **dict(plan.created)}

    def group(gid: int) -> str:
        return known.get(gid, f"group {gid}")

    rows += [("update group", name, what) for _, name, what in plan.updated]
    rows += [
        (
            "delete group",
            f"{name} (id {gid})",
            (f"{count} customer(s) to {group(to)}" if to is not None else "no customers")
            + "; "
            + removed_rows(plan.removed.get(gid, {})),
        )
        for gid, name, to, count in plan.deleted
    ]
    rows += [("move customer", email, f"{group(old)} → {group(new)}") for _, email, old, new in plan.moved[:SHOWN]]
    if len(plan.moved) > SHOWN:
        rows.append(("…", f"{len(plan.moved) - SHOWN} more customers", ""))
    render.table(
        f"Plan for {store}: {len(plan.created)} group(s) to create, {len(plan.renamed)} to rename, "
        f"{len(plan.updated)} to update, {len(plan.deleted)} to delete, "
        f"{len(plan.moved)} customer(s) to move, {plan.unchanged} unchanged",
        ("change", "what", "to"),
        rows,
    )


def removed_rows(counts: dict[str, int]) -> str:
    """The rows a deleted group takes with it, per table: "removes 2 product_discount, 1 product_reward row(s)"."""
    if not counts:
        return "no rows in other tables"
    return "removes " + ", ".join(f"{n} {t}" for t, n in counts.items()) + " row(s)"


@task(
    name="groups",
    examples=[
        "fab groups demo groups.csv --dry-run",
        "fab groups demo groups.csv --create-groups",
    ],
    positional=["store", "file"],
    help={
        "store": "store name from the inventory",
        "file": "a sheet (or workbook) with email + group (move), group + new_name (rename), group alone "
        "(create; description, sort_order, approval), or group + action delete + move_to (delete)",
        "sheet": "the sheet to read (default: the first visible one)",
        "columns": "map fields to headers, e.g. email=Mail,group=Kundengruppe",
        "create_groups": "create groups that customers are moved into but that don't exist yet",
        "skip_invalid": "apply the valid rows and list the invalid ones, instead of stopping",
        "dry_run": "show the plan and stop",
        "yes": "don't ask before applying",
        "json": "print the plan and result as JSON",
        "over_budget": "work even when the client's plan is spent",
    },
)
@maint_task
def groups(
    c,
    store,
    file,
    sheet="",
    columns="",
    create_groups=False,
    skip_invalid=False,
    dry_run=False,
    yes=False,
    json=False,
    over_budget=False,
):
    """Create, describe, rename or delete customer groups and move customers into them; keeps an undo file."""
    tc = TaskContext.from_c(c)
    cfg = tc.store(store)
    path = Path(file)
    parsed = service.read_group_sheet(path, sheet=sheet, columns=columns)
    with work_session(tc, cfg, "groups", quiet=json, over_budget=over_budget, yes=yes, dry_run=dry_run):
        with _store_db(cfg, store, "groups", dry_run=dry_run) as (conn, facts, db, lock):
            with issues_shown(path, json, store):
                plan, ops = service.plan_group_file(
                    db,
                    facts.db.prefix,
                    parsed,
                    create_groups=create_groups,
                    skip_invalid=skip_invalid,
                    version=facts.version,
                )
            summary = {"store": store, **group_summary(plan), "dry_run": dry_run, "applied": False}
            _notes(summary, parsed.notes, json)

            def apply() -> service.Applied:
                return service.apply_changes(
                    conn,
                    cfg,
                    facts,
                    db,
                    ops,
                    task="groups",
                    header={"file": str(path.resolve()), "sha256": file_sha256(path)},
                    counts={
                        "created": len(plan.created),
                        "renamed": len(plan.renamed),
                        "updated": len(plan.updated),
                        "deleted": len(plan.deleted),
                        "moved": len(plan.moved),
                    },
                    lock=lock,
                )

            done = run_change(
                tc,
                cfg,
                conn,
                plan,
                _road("groups", f"Apply these group changes to {store}?", dry_run, yes, json, over_budget),
                apply,
                show=lambda p: show_group_plan(store, p, get_group_names(db, facts.db.prefix)),
                noop_reason="every group and customer already as in the file",
                lock=lock,
                say=_say,
            )
            if not done.applied:
                return done.report(store, json, summary)
    applied = done.result
    summary |= applied_summary(applied)
    _done(
        summary,
        json,
        f"{store}: group changes applied ({applied.engine}); undo with:",
        applied.warnings,
        command=f"fab undo {store} {applied.undo_file}",
    )
    return summary
