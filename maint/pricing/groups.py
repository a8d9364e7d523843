"""Customer groups from a sheet: create, describe, rename and delete groups, and move customers into them.

A row with `email` and `group` moves that customer; a row with `group` and `new_name` renames the group;
a row with only `group` (and maybe `description`, `sort_order`, `approval`) creates the group if it does
not exist and sets those fields if it does; a row with `action` "delete" deletes the group, moving its
customers to the group named in `move_to` (refused, naming them, when it has customers and no `move_to`).
Moves into a group that does not exist are errors unless `--create-groups` is given, so a typo can't
silently create a group. The store's default group (setting config_customer_group_id) is never deleted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from maint.pricing.issues import Issue
from maint.pricing.prices import label, normalise_key
from maint.pricing.undo import ColumnUpdate, SetReplace, Stored
from maint.sheets import Field, Sheet
from maint.sheets.values import cell_text, parse_int

NAME_LIMIT = 32  # customer_group_description.name is varchar(32)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
GROUP_COLUMNS = ("customer_group_id", "approval", "sort_order")
DESCRIPTION_COLUMNS = ("customer_group_id", "language_id", "name", "description")


DELETE_WORDS = ("delete", "löschen", "loeschen", "supprimer", "verwijderen", "remove")
_YES = ("1", "yes", "y", "true", "ja", "j", "oui", "x")
_NO = ("0", "no", "n", "false", "nein", "non", "nee", "")


def group_fields() -> list[Field]:
    from maint.pricing.fields import (
        APPROVAL,
        DESCRIPTION,
        EMAIL,
        GROUP,
        GROUP_ACTION,
        MOVE_TO,
        NEW_NAME,
        SORT_ORDER,
    )

    names = (*GROUP.aliases, "group name", "gruppenname", "nom du groupe", "groepsnaam")
    return [
        Field(EMAIL.name, EMAIL.aliases),
        Field(GROUP.name, names, required=True),
        NEW_NAME,
        DESCRIPTION,
        SORT_ORDER,
        APPROVAL,
        GROUP_ACTION,
        MOVE_TO,
    ]


@dataclass(frozen=True)
class GroupRow:
    row: int
    email: str
    group: str
    new_name: str
    description: str | None = None  # None: the sheet leaves it as it is
    sort_order: int | None = None
    approval: int | None = None
    delete: bool = False
    move_to: str = ""
    source: str = ""  # "file [sheet]" of a workbook read as several sheets


def parse_group_rows(sheet: Sheet) -> tuple[list[GroupRow], list[Issue]]:
    rows: list[GroupRow] = []
    issues: list[Issue] = []
    cols = sheet.columns
    names = {col.letter: label(col) for col in cols.values()}
    for row in sheet.rows:
        if row.problems:
            issues.extend(
                Issue(sheet.label, row.number, names.get(letter, letter), value, reason)
                for letter, value, reason in row.problems
            )
            continue
        email = cell_text(row.values.get("email")).lower()
        group = cell_text(row.values["group"])
        new_name = cell_text(row.values.get("new_name"))
        move_to = cell_text(row.values.get("move_to"))
        action = cell_text(row.values.get("action")).casefold()
        before = len(issues)

        def bad(name: str, value: str, reason: str, number: int = row.number) -> None:
            column = label(cols[name]) if name in cols else name
            issues.append(Issue(sheet.label, number, column, value, reason))

        description = None if "description" not in cols else cell_text(row.values.get("description"))
        sort_order = approval = None
        text = cell_text(row.values.get("sort_order"))
        if text:
            try:
                sort_order = parse_int(row.values.get("sort_order"), minimum=0)
            except ValueError as exc:
                bad("sort_order", text, f"sort order: {exc}")
        text = cell_text(row.values.get("approval"))
        if "approval" in cols and text.casefold() in _YES + _NO:
            approval = 1 if text.casefold() in _YES else (0 if text else None)
        elif text:
            bad("approval", text, "approval: write yes or no")
        delete = action in DELETE_WORDS
        if action and not delete:
            bad("action", action, "unknown action; the only one is 'delete' (or leave it empty)")
        if delete and (email or new_name or description or sort_order is not None or approval is not None):
            bad(
                "action",
                action,
                "a row that deletes a group can only name the group and where its customers go",
            )
        if move_to and not delete:
            bad("move_to", move_to, "move_to is for rows that delete a group")
        if not group:
            issues.append(Issue(sheet.label, row.number, label(cols["group"]), "", "empty customer group"))
        for name, value in (("group", group), ("new_name", new_name)):
            if len(value) > NAME_LIMIT:
                issues.append(
                    Issue(
                        sheet.label,
                        row.number,
                        label(cols[name]),
                        value,
                        f"group names can be at most {NAME_LIMIT} characters",
                    )
                )
        if email and not _EMAIL.match(email):
            issues.append(
                Issue(sheet.label, row.number, label(cols["email"]), email, "not an e-mail address")
            )
        if email and new_name:
            issues.append(
                Issue(
                    sheet.label,
                    row.number,
                    label(cols["new_name"]),
                    new_name,
                    "a row either moves a customer or renames a group, not both",
                )
            )
        if len(issues) == before:
            rows.append(
                GroupRow(
                    row.number,
                    email,
                    group,
                    new_name,
                    description,
                    sort_order,
                    approval,
                    delete,
                    move_to,
                    sheet.label,
                )
            )
    return rows, issues


@dataclass(frozen=True)
class GroupSnapshot:
    """The store's groups: description rows (id, language, name, description) and each group's row."""

    descriptions: list[tuple[int, int, str, str]]
    groups: dict[int, tuple[int, int]]  # id → (approval, sort_order)
    languages: list[int]

    def by_name(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for group_id, _, name, _ in self.descriptions:
            found.setdefault(normalise_key(name), group_id)
        return found


@dataclass
class GroupPlan:
    file: str
    created: list[tuple[int, str]] = field(default_factory=list)
    renamed: list[tuple[int, str, str]] = field(default_factory=list)
    moved: list[tuple[int, str, int, int]] = field(default_factory=list)  # customer, e-mail, from, to
    updated: list[tuple[int, str, str]] = field(default_factory=list)  # id, name, what changes
    deleted: list[tuple[int, str, int | None, int]] = field(default_factory=list)  # id, name, to, customers
    unchanged: int = 0
    skipped: list[Issue] = field(default_factory=list)
    # wanted fields of created and updated groups: id → (description or None, sort order, approval)
    fields: dict[int, tuple[str | None, int | None, int | None]] = field(default_factory=dict)
    # rows a deleted group leaves in other tables, removed with it: group id → table → row count
    removed: dict[int, dict[str, int]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.created or self.renamed or self.moved or self.updated or self.deleted)


def resolve_groups(
    rows: Iterable[GroupRow],
    snapshot: GroupSnapshot,
    customers: Mapping[str, list[tuple[int, int]]],
    *,
    file: str,
    columns: Mapping[str, str],
    create_groups: bool = False,
    default_group: int = 1,
    members: Mapping[int, list[tuple[int, str]]] | None = None,
) -> tuple[GroupPlan, list[Issue]]:
    """Plan creations, field updates, renames, moves and deletions.

    `customers` maps a lower-case e-mail to (customer_id, group_id); `members` maps each group that a row
    deletes to its customers (customer_id, e-mail)."""
    rows = list(rows)
    members = members or {}
    plan = GroupPlan(file)
    issues: list[Issue] = []
    names = snapshot.by_name()
    next_id = max([*snapshot.groups, 0]) + 1

    def issue(row: GroupRow, column: str, value: str, reason: str) -> None:
        issues.append(Issue(row.source or file, row.row, columns.get(column, column), value, reason))

    def ensure(name: str) -> int:
        nonlocal next_id
        key = normalise_key(name)
        if key not in names:
            names[key] = next_id
            plan.created.append((next_id, name))
            next_id += 1
        return names[key]

    deleting = {normalise_key(r.group): r for r in rows if r.delete}
    for row in rows:  # renames first, so moves can name the group by its new name
        if not row.new_name:
            continue
        key, new_key = normalise_key(row.group), normalise_key(row.new_name)
        if key in deleting or new_key in deleting:
            issue(row, "new_name", row.new_name, "this group is also deleted by the sheet")
            continue
        if key not in names:
            if new_key in names:
                plan.unchanged += 1  # renamed by an earlier run of this file
            else:
                issue(row, "group", row.group, "unknown customer group")
            continue
        group_id = names[key]
        if new_key in names and names[new_key] != group_id:
            issue(row, "new_name", row.new_name, "another group has this name")
            continue
        stored_names = [
            name
            for gid, _, name, _ in snapshot.descriptions
            if gid == group_id and normalise_key(name) == key
        ]
        if stored_names and all(name == row.new_name for name in stored_names):
            plan.unchanged += 1
            continue
        names.pop(key)
        names[new_key] = group_id
        plan.renamed.append((group_id, row.group, row.new_name))
    for row in rows:
        if row.email or row.new_name or row.delete:
            continue
        if normalise_key(row.group) in deleting:
            issue(row, "group", row.group, "this group is also deleted by the sheet")
            continue
        existed = normalise_key(row.group) in names
        group_id = ensure(row.group)
        wanted = (row.description, row.sort_order, row.approval)
        if group_id in plan.fields:
            issue(row, "group", row.group, "this group's fields are already set by another row")
            continue
        plan.fields[group_id] = wanted
        if existed:
            changes = _field_changes(snapshot, group_id, wanted)
            if changes:
                plan.updated.append((group_id, row.group, changes))
            else:
                plan.unchanged += 1
    seen: dict[str, int] = {}
    for row in rows:
        if not row.email:
            continue
        if row.email in seen:
            issue(row, "email", row.email, f"duplicate: already in row {seen[row.email]}")
            continue
        seen[row.email] = row.row
        found = customers.get(row.email, [])
        if not found:
            issue(row, "email", row.email, "no customer with this e-mail")
            continue
        if len(found) > 1:
            issue(row, "email", row.email, f"{len(found)} customers share this e-mail")
            continue
        key = normalise_key(row.group)
        if key in deleting:
            issue(row, "group", row.group, "this group is deleted by the sheet: move the customer elsewhere")
            continue
        if key not in names and not create_groups:
            issue(
                row,
                "group",
                row.group,
                "unknown customer group (add a row with only the group, or pass --create-groups)",
            )
            continue
        target = ensure(row.group)
        customer_id, current = found[0]
        if current == target:
            plan.unchanged += 1
        else:
            plan.moved.append((customer_id, row.email, current, target))
    _plan_deletions(plan, rows, names, deleting, default_group, members, issue)
    return plan, issues


def _field_changes(
    snapshot: GroupSnapshot, group_id: int, wanted: tuple[str | None, int | None, int | None]
) -> str:
    description, sort_order, approval = wanted
    approval_now, sort_now = snapshot.groups.get(group_id, (0, 0))
    changes = []
    if description is not None and any(
        d != description for gid, _, _, d in snapshot.descriptions if gid == group_id
    ):
        changes.append("description")
    if sort_order is not None and sort_order != sort_now:
        changes.append(f"sort order {sort_now} → {sort_order}")
    if approval is not None and approval != approval_now:
        changes.append(f"approval {'yes' if approval_now else 'no'} → {'yes' if approval else 'no'}")
    return ", ".join(changes)


def _plan_deletions(
    plan: GroupPlan,
    rows: list[GroupRow],
    names: dict[str, int],
    deleting: Mapping[str, GroupRow],
    default_group: int,
    members: Mapping[int, list[tuple[int, str]]],
    issue: Callable[[GroupRow, str, str, str], None],
) -> None:
    moved_already = {customer_id for customer_id, *_ in plan.moved}
    for key, row in deleting.items():
        if key not in names:
            plan.unchanged += 1  # deleted by an earlier run of this file
            continue
        group_id = names[key]
        if group_id == default_group:
            issue(
                row,
                "group",
                row.group,
                "this is the store's default customer group (setting config_customer_group_id); choose "
                "another default in the admin first",
            )
            continue
        leaving = [(cid, email) for cid, email in members.get(group_id, []) if cid not in moved_already]
        target: int | None = None
        if row.move_to:
            to_key = normalise_key(row.move_to)
            if to_key in deleting or to_key == key:
                issue(row, "move_to", row.move_to, "this group is deleted too: name one that stays")
                continue
            if to_key not in names:
                issue(row, "move_to", row.move_to, "unknown customer group")
                continue
            target = names[to_key]
        elif leaving:
            shown = ", ".join(email for _, email in leaving[:10])
            more = f" and {len(leaving) - 10} more" if len(leaving) > 10 else ""
            issue(
                row,
                "move_to",
                "",
                f"the group has {len(leaving)} customer(s) ({shown}{more}): name a group to move them to",
            )
            continue
        plan.deleted.append((group_id, row.group, target, len(leaving)))
        if target is not None:
            plan.moved.extend((cid, email, group_id, target) for cid, email in leaving)


def group_operations(plan: GroupPlan, snapshot: GroupSnapshot) -> list[SetReplace | ColumnUpdate]:
    """customer_group rows, customer_group_description rows (each group's rows replaced whole), then the
    customers' moves. The rows a deleted group leaves elsewhere (discounts, specials, the setting that
    lists the groups shown at sign-up) are the caller's, as they need the store (deletion_operations)."""
    ops: list[SetReplace | ColumnUpdate] = []
    sort_base = max([s for _, s in snapshot.groups.values()] + [0])
    deleted = {gid for gid, *_ in plan.deleted}
    created = dict(plan.created)
    touched_groups = sorted({*created, *(gid for gid, *_ in plan.updated), *deleted})
    group_before: list[Stored] = []
    group_after: list[Stored] = []
    for n, gid in enumerate(touched_groups, 1):
        description, sort_order, approval = plan.fields.get(gid, (None, None, None))
        if gid in snapshot.groups:
            approval_now, sort_now = snapshot.groups[gid]
            group_before.append((None, str(gid), str(approval_now), str(sort_now)))
        else:
            approval_now, sort_now = 0, sort_base + n
        if gid not in deleted:
            approval_new = approval_now if approval is None else approval
            sort_new = sort_now if sort_order is None else sort_order
            group_after.append((None, str(gid), str(approval_new), str(sort_new)))
    if group_before != group_after:
        ops.append(
            SetReplace(
                "customer_group",
                "",
                GROUP_COLUMNS,
                (),
                group_before,
                group_after,
                scope=("customer_group_id",),
            )
        )
    before: list[Stored] = []
    after: list[Stored] = []
    renamed = {gid: (old, new) for gid, old, new in plan.renamed}
    changed = {*renamed, *created, *(gid for gid, *_ in plan.updated), *deleted}
    for gid, language, name, description in snapshot.descriptions:
        if gid not in changed:
            continue
        before.append((None, str(gid), str(language), name, description))
        if gid in deleted:
            continue
        if gid in renamed and normalise_key(name) == normalise_key(renamed[gid][0]):
            name = renamed[gid][1]
        wanted = plan.fields.get(gid, (None, None, None))[0]
        after.append((None, str(gid), str(language), name, description if wanted is None else wanted))
    for gid, name in plan.created:
        wanted = plan.fields.get(gid, (None, None, None))[0] or ""
        after.extend((None, str(gid), str(language), name, wanted) for language in snapshot.languages)
    if before != after:
        ops.append(
            SetReplace(
                "customer_group_description",
                "",
                DESCRIPTION_COLUMNS,
                (),
                before,
                after,
                scope=("customer_group_id",),
            )
        )
    if plan.moved:
        ops.append(
            ColumnUpdate(
                "customer",
                "customer_id",
                "customer_group_id",
                "INT",
                [(cid, Decimal(old), Decimal(new)) for cid, _, old, new in plan.moved],
            )
        )
    return ops


def without_group(value: str, group_id: int) -> str | None:
    """config_customer_group_display (a JSON list of group ids, as OpenCart stores it) without `group_id`;
    None when it doesn't list it (or isn't such a list)."""
    try:
        listed = json.loads(value)
    except ValueError:
        return None
    if not isinstance(listed, list) or str(group_id) not in [str(v) for v in listed]:
        return None
    return json.dumps([v for v in listed if str(v) != str(group_id)], separators=(",", ":"))
