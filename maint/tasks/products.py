"""`fab products STORE FILE --list featured|quote|…`: add and remove products in a list an extension keeps."""

from __future__ import annotations

import sys
from pathlib import Path

from maint import render
from maint.errors import InputError, VerificationError
from maint.extension import lists
from maint.facts.opencart import get_store_facts
from maint.mirror.sshmux import SshMux
from maint.pricing.fields import MATCH_CHOICES, MATCH_FIELDS
from maint.pricing.undo import store_dir
from maint.remote.ssh import connect
from maint.report.model import NOTE_UNDID, NOTE_WROTE
from maint.runner import Road, run_change
from maint.sheets import Field, open_sheet
from maint.sheets.values import cell_text
from maint.tasks.common import TaskContext, emit_json, maint_task, task
from maint.upgrade import storefront
from maint.upgrade.target import live_target

ACTION = Field("action", ("aktion", "do", "op", "operation", "list"))


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _rows(path: Path, match: str, sheet: str) -> list[lists.ListRow]:
    opened = open_sheet(path, [MATCH_FIELDS[match], ACTION], sheet=sheet or None)
    rows, problems = [], []
    for row in opened.rows:
        key = cell_text(row.values.get(match)).strip()
        action = cell_text(row.values.get("action")).strip().lower() or "add"
        if not key:
            problems.append(f"row {row.number}: no {match}")
        elif action not in lists.ACTIONS:
            problems.append(f"row {row.number}: action {action!r} is not add or remove")
        else:
            rows.append(lists.ListRow(row.number, key, lists.ACTIONS[action]))
    if problems:
        raise InputError("; ".join(problems[:20]) + f" ({len(problems)} row(s); nothing changed)", file=str(path))
    if not rows:
        raise InputError("no product rows", file=str(path))
    return rows


@task(
    name="products",
    positional=["store", "file"],
    examples=[
        "fab products demo featured.xlsx --list featured --dry-run",
        "fab products demo quote.csv --list quote --match model",
    ],
    help={
        "store": "store name from the inventory",
        "file": "the products (.xlsx or .csv): a sku/model/product_id column and an optional action (add/remove)",
        "list": "the list: featured (stock Featured module) or one the store's inventory describes (e.g. quote)",
        "module": "the Featured module's name when the store has several",
        "match": "match products by sku, model or product_id (default sku)",
        "sheet": "the sheet to read (default: the first visible one)",
        "undo": "FILE is an undo file this task wrote: put the list back as it was",
        "dry_run": "show the plan and stop",
        "yes": "don't ask before applying",
        "json": "print the plan and result as JSON",
        "over_budget": "work even when the client's plan is spent",
    },
)
@maint_task
def products(c, store, file, list="featured", module="", match="sku", sheet="", undo=False, dry_run=False,  # noqa: A002
             yes=False, json=False, over_budget=False):
    """Add and remove products in an extension's list (Featured, Add to Quote, …): plan, undo file, verify."""
    if match not in MATCH_CHOICES:
        raise InputError(f"--match is one of {', '.join(MATCH_CHOICES)}", column="--match")
    tc = TaskContext.from_c(c)
    cfg = tc.store(store, dry_run=dry_run)
    path = Path(file).expanduser()
    undo_data = lists.read_undo(path) if undo else None
    if undo_data is not None and (undo_data.get("store"), undo_data.get("client")) != (cfg.store, cfg.client):
        raise InputError(f"this undo file belongs to {undo_data.get('client')}/{undo_data.get('store')}",
                         file=str(path))
    rows = _rows(path, match, sheet) if undo_data is None else []
    spec = lists.list_spec(list, dict(cfg.option("products", "lists", {}) or {})) if undo_data is None else None
    conn = connect(cfg)
    try:
        facts = get_store_facts(conn, cfg)
        with SshMux(cfg) as mux:
            target = live_target(conn, cfg, facts, mux)
            if undo_data is not None:
                state, members = lists.undo_state(target, undo_data)
                from maint.model import Change, Plan
                plan = Plan(store=store, action=f"products --undo ({undo_data['list']})")
                if members != state.members:
                    plan.changes.append(Change("restore", state.where, f"{state.members} → {members}",
                                               destructive=True))
                else:
                    plan.noop_reason = f"{state.where} is already as before that run"
            else:
                assert spec is not None
                state = lists.read_list(target, spec, module)
                ids, names = lists.resolve(target, facts.version, match, rows, str(path))
                plan, members = lists.plan_list(store, state, rows, ids, names)
            # The ledger entry's note names the undo file the run wrote (or the one it undid): `fab report`
            # tells the change from its undo by it, not by when the file was written.
            note = [NOTE_UNDID + path.name] if undo_data is not None else []

            def apply() -> tuple[str, list[str], list[str]]:
                if undo_data is not None:
                    raw = undo_data.get("raw_before") if state.spec.kind in ("module", "setting") else None
                    lists.write_list(target, state, members, raw)
                    written = ""
                else:
                    folder = store_dir(Path(cfg.state_dir).expanduser(), cfg.client, cfg.store)
                    written = str(lists.write_undo(folder, cfg.client, cfg.store, state, members, str(path)))
                    note.append(NOTE_WROTE + Path(written).name)
                    lists.write_list(target, state, members)
                with storefront.StorefrontReader(target) as reader:
                    passed, problems = storefront.check_pages(reader)
                return written, passed, problems

            road = Road("products", f"Change {state.where} on the LIVE store {store}?", dry_run=dry_run, yes=yes,
                        json=json, over_budget=over_budget, note=note)
            done = run_change(tc, cfg, conn, plan, road, apply)
    finally:
        conn.close()
    if not done.applied or done.result is None:
        return done.report(store, json)
    undo_file, passed, problems = done.result
    data = {"store": store, "plan": plan.as_dict(), "applied": True, "undo_file": undo_file, "list": state.where,
            "members": members, "verified": passed, "problems": problems}
    if json:
        emit_json([{"ok": not problems, "error": "; ".join(problems) or None, **data}])
    else:
        render.key_values(f"{store}: {state.where} now lists {len(members)} products",
                          [("undo file", undo_file or "-"), ("verified", ", ".join(passed))])
    if problems:
        raise VerificationError(f"{store}: the list was changed but the storefront check failed: "
                                f"{'; '.join(problems)} (undo: fab products {store} {undo_file} --undo)", store=store)
    return data
