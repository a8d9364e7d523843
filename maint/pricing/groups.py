"""Customer groups from a sheet: create groups, rename them, and move customers (by e-mail) into them.

A row with `email` and `group` moves that customer; a row with `group` and `new_name` renames the group;
a row with only `group` creates it if it does not exist. Moves into a group that does not exist are
errors unless `--create-groups` is given, so a typo can't silently create a group.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from maint.pricing.issues import Issue
from maint.pricing.prices import label, normalise_key
from maint.pricing.undo import ColumnUpdate, SetReplace, Stored
from maint.sheets import Field, Sheet
from maint.sheets.values import cell_text

NAME_LIMIT = 32  # customer_group_description.name is varchar(32)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
GROUP_COLUMNS = ("customer_group_id", "approval", "sort_order")
DESCRIPTION_COLUMNS = ("customer_group_id", "language_id", "name", "description")


def group_fields() -> list[Field]:
    from maint.pricing.fields import EMAIL, GROUP, NEW_NAME

    return [Field(EMAIL.name, EMAIL.aliases), Field(GROUP.name, GROUP.aliases, required=True), NEW_NAME]


@dataclass(frozen=True)
class GroupRow:
    row: int
    email: str
    group: str
    new_name: str


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
        before = len(issues)
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
            issues.append(Issue(sheet.label, row.number, label(cols["email"]), email, "not an e-mail address"))
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
            rows.append(GroupRow(row.number, email, group, new_name))
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
    unchanged: int = 0
    skipped: list[Issue] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.created or self.renamed or self.moved)


def resolve_groups(
    rows: Iterable[GroupRow],
    snapshot: GroupSnapshot,
    customers: Mapping[str, list[tuple[int, int]]],
    *,
    file: str,
    columns: Mapping[str, str],
    create_groups: bool = False,
) -> tuple[GroupPlan, list[Issue]]:
    """Plan creations, renames and moves; `customers` maps a lower-case e-mail to (customer_id, group_id)."""
    rows = list(rows)
    plan = GroupPlan(file)
    issues: list[Issue] = []
    names = snapshot.by_name()
    next_id = max([*snapshot.groups, 0]) + 1

    def ensure(name: str) -> int:
        nonlocal next_id
        key = normalise_key(name)
        if key not in names:
            names[key] = next_id
            plan.created.append((next_id, name))
            next_id += 1
        return names[key]

    for row in rows:  # renames first, so moves can name the group by its new name
        if not row.new_name:
            continue
        key, new_key = normalise_key(row.group), normalise_key(row.new_name)
        if key not in names:
            if new_key in names:
                plan.unchanged += 1  # renamed by an earlier run of this file
            else:
                issues.append(Issue(file, row.row, columns["group"], row.group, "unknown customer group"))
            continue
        group_id = names[key]
        if new_key in names and names[new_key] != group_id:
            issues.append(
                Issue(file, row.row, columns["new_name"], row.new_name, "another group has this name")
            )
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
        if not row.email and not row.new_name:
            ensure(row.group)
    seen: dict[str, int] = {}
    for row in rows:
        if not row.email:
            continue
        if row.email in seen:
            issues.append(
                Issue(
                    file, row.row, columns["email"], row.email, f"duplicate: already in row {seen[row.email]}"
                )
            )
            continue
        seen[row.email] = row.row
        found = customers.get(row.email, [])
        if not found:
            issues.append(Issue(file, row.row, columns["email"], row.email, "no customer with this e-mail"))
            continue
        if len(found) > 1:
            issues.append(
                Issue(file, row.row, columns["email"], row.email, f"{len(found)} customers share this e-mail")
            )
            continue
        key = normalise_key(row.group)
        if key not in names and not create_groups:
            issues.append(
                Issue(
                    file,
                    row.row,
                    columns["group"],
                    row.group,
                    "unknown customer group (add a row with only the group, or pass --create-groups)",
                )
            )
            continue
        target = ensure(row.group)
        customer_id, current = found[0]
        if current == target:
            plan.unchanged += 1
        else:
            plan.moved.append((customer_id, row.email, current, target))
    return plan, issues


def group_operations(plan: GroupPlan, snapshot: GroupSnapshot) -> list[SetReplace | ColumnUpdate]:
    ops: list[SetReplace | ColumnUpdate] = []
    sort_base = max([s for _, s in snapshot.groups.values()] + [0])
    if plan.created:
        ops.append(
            SetReplace(
                "customer_group",
                "",
                GROUP_COLUMNS,
                (),
                [],
                [(None, str(gid), "0", str(sort_base + n)) for n, (gid, _) in enumerate(plan.created, 1)],
                scope=("customer_group_id",),
            )
        )
    before: list[Stored] = []
    after: list[Stored] = []
    renamed = {gid: (old, new) for gid, old, new in plan.renamed}
    for gid, language, name, description in snapshot.descriptions:
        if gid in renamed and normalise_key(name) == normalise_key(renamed[gid][0]):
            before.append((None, str(gid), str(language), name, description))
            after.append((None, str(gid), str(language), renamed[gid][1], description))
    for gid, name in plan.created:
        after.extend((None, str(gid), str(language), name, "") for language in snapshot.languages)
    if after:
        ops.append(
            SetReplace(
                "customer_group_description",
                "",
                DESCRIPTION_COLUMNS,
                (),
                before,
                after,
                scope=("customer_group_id", "language_id"),
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
