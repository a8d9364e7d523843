"""Product lists that extensions keep: stock OpenCart's Featured module, and lists described per store in
the inventory (an Add to Quote extension's), planned from a spreadsheet, applied with an undo file.

Where a list lives (`ListSpec.kind`):
- `module`: a JSON list of product ids under `key` in `module.setting` of the modules whose `code` is one of
  `codes` (Featured: 3.0 code 'featured', 4.x 'opencart.featured'; key 'product'), per module name;
- `setting`: a setting value (store 0) holding a JSON list (or a comma-separated list) of product ids;
- `column`: a flag column on a product-keyed table (`table`.`column` = `on` for members, `off` otherwise);
- `table`: a table with one row per member (`table`.product_id).
The inventory describes a store's own lists under `options.products.lists`, e.g.
    products: {lists: {quote: {kind: column, table: product, column: quote_status}}}
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from maint.errors import ConfigError, InputError, PreconditionError
from maint.extension.procedure import php_json
from maint.model import Change, Plan
from maint.pricing.catalog import product_source
from maint.pricing.schema import price_schema
from maint.remote.sql import table
from maint.upgrade.target import Target

KINDS = ("module", "setting", "column", "table")
NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")
FORMAT = "maint-products-undo/1"
ACTIONS = {"add": "add", "+": "add", "yes": "add", "1": "add", "remove": "remove", "delete": "remove",
           "-": "remove", "no": "remove", "0": "remove"}


@dataclass(frozen=True)
class ListSpec:
    name: str
    kind: str
    codes: tuple[str, ...] = ()
    key: str = ""
    table: str = ""
    column: str = ""
    on: str = "1"
    off: str = "0"

    def describe(self) -> str:
        if self.kind == "module":
            return f"the {'/'.join(self.codes)} module's setting {self.key!r}"
        if self.kind == "setting":
            return f"the setting {self.key!r}"
        if self.kind == "column":
            return f"{self.table}.{self.column} = {self.on}"
        return f"rows of {self.table}"


FEATURED = ListSpec("featured", "module", ("featured", "opencart.featured"), "product")
# Ready descriptions of free Add to Quote extensions whose source we read (`preset: NAME` in the inventory).
PRESETS: dict[str, dict[str, str]] = {
    # "Quote module" (admin/controller/extension/module/quote_module.php, OpenCart 2.x/3.0): its install()
    # runs ALTER TABLE product ADD quote_status varchar(255); its product form saves 1 (quote) or 0.
    "quote_module": {"kind": "column", "table": "product", "column": "quote_status", "on": "1", "off": "0"},
}


def list_spec(name: str, lists: Mapping[str, Any]) -> ListSpec:
    """The built-in `featured`, or a list the store's inventory entry describes."""
    if name in lists:
        raw = lists[name]
        if isinstance(raw, Mapping) and "preset" in raw:
            if raw["preset"] not in PRESETS:
                raise ConfigError(f"inventory: products.lists.{name}: unknown preset {raw['preset']!r} "
                                  f"(known: {', '.join(PRESETS)})")
            raw = {**PRESETS[str(raw["preset"])], **{k: v for k, v in raw.items() if k != "preset"}}
        if not isinstance(raw, Mapping) or raw.get("kind") not in KINDS:
            raise ConfigError(f"inventory: products.lists.{name}: `kind` must be one of {', '.join(KINDS)}")
        spec = ListSpec(name, str(raw["kind"]), tuple(str(c) for c in raw.get("codes", ()) or ()),
                        str(raw.get("key", "product" if raw["kind"] == "module" else "")),
                        str(raw.get("table", "")), str(raw.get("column", "")),
                        str(raw.get("on", "1")), str(raw.get("off", "0")))
        needs = {"module": ("codes", "key"), "setting": ("key",), "column": ("table", "column"),
                 "table": ("table",)}[spec.kind]
        for attr in needs:
            if not getattr(spec, attr):
                raise ConfigError(f"inventory: products.lists.{name}: a {spec.kind} list needs `{attr}`")
        for ident in (spec.table, spec.column):
            if ident and not NAME_RE.match(ident):
                raise ConfigError(f"inventory: products.lists.{name}: {ident!r} is not a table or column name")
        return spec
    if name == "featured":
        return FEATURED
    known = ", ".join(["featured", *sorted(lists)])
    raise ConfigError(f"no product list named {name!r} for this store (known: {known}); describe it in the "
                      "inventory under options.products.lists")


@dataclass
class ListState:
    """Where the list was read and what it holds (product ids, in the list's order)."""

    spec: ListSpec
    where: str  # "module 28 'Home Page'" / "setting key" / "table.column"
    row_id: int  # module_id / setting_id; 0 otherwise
    raw: str  # module setting / setting value as stored (restored verbatim by undo)
    members: list[int]
    names: dict[int, str] = field(default_factory=dict)


def _ids(values: Sequence[Any]) -> list[int]:
    return [int(v) for v in values if str(v).strip().isdigit()]


def read_list(target: Target, spec: ListSpec, module: str = "") -> ListState:
    p = target.prefix
    with target.db() as db, db.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
                    "AND TABLE_NAME = %s", (p + (spec.table or ("module" if spec.kind == "module" else "setting")),))
        if not cur.fetchone()[0]:
            raise PreconditionError(f"{target.store} has no table {p}{spec.table or 'module'}: is the extension "
                                    "behind this list installed?", store=target.store)
        if spec.kind == "module":
            marks = ", ".join(["%s"] * len(spec.codes))
            cur.execute(f"SELECT module_id, name, setting FROM {table(p, 'module')} WHERE code IN ({marks}) "
                        "ORDER BY module_id", spec.codes)
            rows = [r for r in cur.fetchall() if not module or r[1] == module]
            if not rows:
                raise PreconditionError(f"no {spec.name} module{' named ' + repr(module) if module else ''} on "
                                        f"{target.store}", store=target.store)
            if len(rows) > 1:
                names = ", ".join(repr(r[1]) for r in rows)
                raise InputError(f"{target.store} has {len(rows)} {spec.name} modules ({names}): name one with "
                                 "--module", column="--module")
            mid, name, raw = rows[0]
            setting = json.loads(raw or "{}")
            return ListState(spec, f"module {mid} {name!r}", int(mid), str(raw), _ids(setting.get(spec.key) or []))
        if spec.kind == "setting":
            cur.execute(f"SELECT setting_id, `value` FROM {table(p, 'setting')} WHERE store_id = 0 AND `key` = %s",
                        (spec.key,))
            row = cur.fetchone()
            if row is None:
                raise PreconditionError(f"the setting {spec.key!r} does not exist on {target.store}: is the "
                                        "extension installed?", store=target.store)
            raw = str(row[1] or "")
            try:
                values = json.loads(raw) if raw.strip().startswith("[") else raw.split(",")
            except ValueError:
                values = raw.split(",")
            return ListState(spec, f"setting {spec.key}", int(row[0]), raw, _ids(values))
        if spec.kind == "column":
            cur.execute(f"SELECT product_id FROM {table(p, spec.table)} WHERE `{spec.column}` = %s "
                        "ORDER BY product_id", (spec.on,))
        else:
            cur.execute(f"SELECT product_id FROM {table(p, spec.table)} ORDER BY product_id")
        return ListState(spec, spec.describe(), 0, "", [int(r[0]) for r in cur.fetchall()])


@dataclass(frozen=True)
class ListRow:
    row: int
    key: str
    action: str  # add / remove


def resolve(target: Target, version: str, match: str, rows: Sequence[ListRow], file: str
            ) -> tuple[dict[str, int], dict[int, str]]:
    """Sheet keys → product ids (every row checked; unknown and ambiguous keys raise one InputError), and names."""
    src = product_source(target.prefix, price_schema(version), match)
    found: dict[str, list[int]] = {}
    with target.db() as db, db.cursor() as cur:
        cur.execute(f"SELECT {src.id_expr}, {src.key_expr} FROM {src.from_where}")
        wanted = {r.key.strip().lower() for r in rows}
        for pid, key in cur.fetchall():
            norm = str(key or "").strip().lower()
            if norm in wanted:
                found.setdefault(norm, []).append(int(pid))
        cur.execute(f"SELECT product_id, name FROM {table(target.prefix, 'product_description')} "
                    "WHERE language_id = (SELECT MIN(language_id) FROM "
                    f"{table(target.prefix, 'product_description')})")
        names = {int(a): str(b) for a, b in cur.fetchall()}
    problems = []
    for r in rows:
        ids = found.get(r.key.strip().lower(), [])
        if not ids:
            problems.append(f"row {r.row}: no product with {match} {r.key!r}")
        elif len(set(ids)) > 1:
            problems.append(f"row {r.row}: {match} {r.key!r} matches products {sorted(set(ids))}")
    if problems:
        raise InputError("; ".join(problems[:20]) + (" …" if len(problems) > 20 else "")
                         + f" ({len(problems)} row(s); nothing changed)", file=file, column=match)
    return {r.key: found[r.key.strip().lower()][0] for r in rows}, names


def plan_list(store: str, state: ListState, rows: Sequence[ListRow], ids: Mapping[str, int],
              names: Mapping[int, str]) -> tuple[Plan, list[int]]:
    plan = Plan(store=store, action=f"products --list {state.spec.name}")
    members = list(state.members)
    for r in rows:
        pid = ids[r.key]
        label = f"product {pid} {names.get(pid, '')!r} ({r.key})"
        if r.action == "add" and pid not in members:
            members.append(pid)
            plan.changes.append(Change("add", label, f"add to {state.where}"))
        elif r.action == "remove" and pid in members:
            members = [m for m in members if m != pid]
            plan.changes.append(Change("remove", label, f"remove from {state.where}", destructive=True))
    if not plan.changes:
        plan.noop_reason = f"{state.where} already lists what the sheet asks ({len(members)} products)"
    return plan, members


def _new_raw(state: ListState, members: list[int]) -> str:
    if state.spec.kind == "module":
        setting = json.loads(state.raw or "{}")
        setting[state.spec.key] = [str(m) for m in members]
        return php_json(setting)
    if state.raw.strip().startswith("[") or not state.raw.strip():
        return php_json([str(m) for m in members])
    return ",".join(str(m) for m in members)


def write_list(target: Target, state: ListState, members: list[int], raw: str | None = None) -> None:
    """Set the list to `members` (module/setting: `raw` verbatim when given, as undo does)."""
    spec, p = state.spec, target.prefix
    with target.db() as db, db.cursor() as cur:
        if spec.kind == "module":
            cur.execute(f"UPDATE {table(p, 'module')} SET setting = %s WHERE module_id = %s",
                        (raw if raw is not None else _new_raw(state, members), state.row_id))
        elif spec.kind == "setting":
            cur.execute(f"UPDATE {table(p, 'setting')} SET `value` = %s WHERE setting_id = %s",
                        (raw if raw is not None else _new_raw(state, members), state.row_id))
        else:
            add = [m for m in members if m not in state.members]
            drop = [m for m in state.members if m not in members]
            t = table(p, spec.table)
            if spec.kind == "column":
                for value, ids in ((spec.on, add), (spec.off, drop)):
                    if ids:
                        cur.execute(f"UPDATE {t} SET `{spec.column}` = %s WHERE product_id IN "
                                    f"({', '.join(['%s'] * len(ids))})", (value, *ids))
            else:
                if add:
                    cur.executemany(f"INSERT INTO {t} (product_id) VALUES (%s)", [(m,) for m in add])
                if drop:
                    cur.execute(f"DELETE FROM {t} WHERE product_id IN ({', '.join(['%s'] * len(drop))})", drop)
        db.commit()


def write_undo(folder: Path, client: str, store: str, state: ListState, members: list[int], source: str) -> Path:
    """The way back, written (0600, fsynced) before the change: the list before and after, raw text included."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = folder / f"{stamp}-products-{state.spec.name}.json"
    data = {"format": FORMAT, "client": client, "store": store, "list": state.spec.name,
            "spec": state.spec.__dict__ | {"codes": list(state.spec.codes)}, "where": state.where,
            "row_id": state.row_id, "before": state.members, "after": members, "raw_before": state.raw,
            "raw_after": _new_raw(state, members) if state.spec.kind in ("module", "setting") else "",
            "source": source, "time": stamp}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    return path


def read_undo(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        raise InputError("not a readable products undo file", file=str(path)) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError("not a products undo file (unknown format)", file=str(path))
    return data


def undo_state(target: Target, data: Mapping[str, Any]) -> tuple[ListState, list[int]]:
    """The list as it is now (must be as the run left it) and the members to go back to."""
    spec_data = dict(data["spec"])
    spec = ListSpec(**{**spec_data, "codes": tuple(spec_data.get("codes") or ())})
    module = ""
    if spec.kind == "module":
        module = str(data["where"]).split(" ", 2)[2].strip("'\"") if str(data["where"]).count(" ") >= 2 else ""
    now = read_list(target, spec, module)
    if now.members != list(data["after"]):
        raise PreconditionError(f"{now.where} changed since that run (now {now.members}, the run left "
                                f"{data['after']}): not undone", store=target.store)
    return now, list(data["before"])
