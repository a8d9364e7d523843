"""Planning group creations, renames and customer moves."""

from __future__ import annotations

from maint.pricing.groups import GroupRow, GroupSnapshot, group_operations, resolve_groups
from maint.pricing.undo import ColumnUpdate, SetReplace

SNAPSHOT = GroupSnapshot(
    descriptions=[(1, 1, "Default", ""), (2, 1, "Retail", "r"), (3, 1, "Wholesale", "")],
    groups={1: (0, 1), 2: (0, 2), 3: (0, 3)},
    languages=[1],
)
CUSTOMERS = {
    "a@example.test": [(10, 1)],
    "b@example.test": [(11, 2)],
    "twin@example.test": [(12, 1), (13, 1)],
}
COLUMNS = {"email": "A (email)", "group": "B (group)", "new_name": "C (new_name)"}


def row(number: int, email: str = "", group: str = "", new_name: str = "") -> GroupRow:
    return GroupRow(number, email, group, new_name)


def plan(rows, create_groups=False, snapshot=SNAPSHOT):  # type: ignore[no-untyped-def]
    return resolve_groups(
        rows, snapshot, CUSTOMERS, file="g.csv", columns=COLUMNS, create_groups=create_groups
    )


def test_moves_renames_and_creations_are_planned_with_new_ids() -> None:
    result, issues = plan(
        [
            row(2, group="Händler", new_name=""),
            row(3, group="Retail", new_name="Resellers"),
            row(4, "a@example.test", "Händler"),
            row(5, "b@example.test", "resellers"),
        ]
    )
    assert issues == []
    assert result.created == [(4, "Händler")]
    assert result.renamed == [(2, "Retail", "Resellers")]
    assert result.moved == [(10, "a@example.test", 1, 4)]
    assert result.unchanged == 1  # b is already in Retail, now Resellers
    ops = group_operations(result, SNAPSHOT)
    assert [type(op) for op in ops] == [SetReplace, SetReplace, ColumnUpdate]
    assert ops[1].before == [(None, "2", "1", "Retail", "r")]
    assert sorted(ops[1].after) == [(None, "2", "1", "Resellers", "r"), (None, "4", "1", "Händler", "")]


def test_a_renamed_group_is_unchanged_when_the_file_runs_again() -> None:
    renamed = GroupSnapshot([(1, 1, "Default", ""), (2, 1, "Resellers", "r")], {1: (0, 1), 2: (0, 2)}, [1])
    result, issues = plan([row(3, group="Retail", new_name="Resellers")], snapshot=renamed)
    assert issues == [] and not result and result.unchanged == 1


def test_moves_into_unknown_groups_need_create_groups() -> None:
    _, issues = plan([row(2, "a@example.test", "Gold")])
    assert "--create-groups" in issues[0].reason
    result, issues = plan([row(2, "a@example.test", "Gold")], create_groups=True)
    assert issues == [] and result.created == [(4, "Gold")]


def test_unknown_shared_and_duplicate_emails_and_name_clashes_are_reported() -> None:
    _, issues = plan(
        [
            row(2, "nobody@example.test", "Default"),
            row(3, "twin@example.test", "Default"),
            row(4, "a@example.test", "Default"),
            row(5, "a@example.test", "Retail"),
            row(6, group="Retail", new_name="wholesale"),
        ]
    )
    assert [(i.row, i.reason.split(":")[0]) for i in issues] == [
        (6, "another group has this name"),
        (2, "no customer with this e-mail"),
        (3, "2 customers share this e-mail"),
        (5, "duplicate"),
    ]
