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


MEMBERS = {3: [(20, "w1@example.test"), (21, "w2@example.test")], 2: [(11, "b@example.test")]}


def delete_plan(rows, members=MEMBERS):  # type: ignore[no-untyped-def]
    return resolve_groups(
        rows, SNAPSHOT, CUSTOMERS, file="g.csv", columns=COLUMNS, default_group=1, members=members
    )


def test_deleting_a_group_moves_its_customers_to_the_group_the_sheet_names() -> None:
    result, issues = delete_plan([GroupRow(2, "", "Wholesale", "", delete=True, move_to="Retail")])
    assert issues == []
    assert result.deleted == [(3, "Wholesale", 2, 2)]
    assert result.moved == [(20, "w1@example.test", 3, 2), (21, "w2@example.test", 3, 2)]
    ops = group_operations(result, SNAPSHOT)
    assert (
        ops[0].table == "customer_group" and ops[0].before == [(None, "3", "0", "3")] and ops[0].after == []
    )
    assert ops[1].table == "customer_group_description" and ops[1].after == []
    assert ops[2].table == "customer" and len(ops[2].rows) == 2


def test_deleting_a_group_with_customers_and_nowhere_to_move_them_is_refused_naming_them() -> None:
    result, issues = delete_plan([GroupRow(2, "", "Wholesale", "", delete=True)])
    assert not result
    assert [(i.row, i.column) for i in issues] == [(2, "move_to")]
    assert "2 customer(s) (w1@example.test, w2@example.test)" in issues[0].reason


def test_the_default_group_is_never_deleted() -> None:
    result, issues = delete_plan([GroupRow(2, "", "Default", "", delete=True, move_to="Retail")])
    assert not result and "default customer group" in issues[0].reason


def test_a_group_already_deleted_plans_nothing_and_an_empty_group_needs_no_move_to() -> None:
    result, issues = delete_plan([GroupRow(2, "", "Gone", "", delete=True)])
    assert (issues, bool(result), result.unchanged) == ([], False, 1)
    result, issues = delete_plan([GroupRow(2, "", "Wholesale", "", delete=True)], members={})
    assert issues == [] and result.deleted == [(3, "Wholesale", None, 0)] and result.moved == []


def test_moving_customers_into_a_group_the_sheet_deletes_is_refused() -> None:
    _, issues = delete_plan(
        [
            GroupRow(2, "", "Wholesale", "", delete=True, move_to="Retail"),
            GroupRow(3, "a@example.test", "Wholesale", ""),
        ]
    )
    assert [(i.row, i.reason[:30]) for i in issues] == [(3, "this group is deleted by the s")]


def test_descriptions_sort_order_and_approval_are_set_on_new_and_existing_groups() -> None:
    result, issues = plan(
        [
            GroupRow(2, "", "Händler", "", description="Trade customers", sort_order=7, approval=1),
            GroupRow(3, "", "Retail", "", description="Shops", approval=1),
            GroupRow(4, "", "Wholesale", "", description=""),
        ]
    )
    assert issues == []
    assert result.created == [(4, "Händler")]
    assert result.updated == [(2, "Retail", "description, approval no → yes")]
    assert result.unchanged == 1  # Wholesale already has an empty description
    groups_op, descriptions_op = group_operations(result, SNAPSHOT)
    assert groups_op.before == [(None, "2", "0", "2")]
    assert sorted(groups_op.after) == [(None, "2", "1", "2"), (None, "4", "1", "7")]
    assert sorted(descriptions_op.after) == [
        (None, "2", "1", "Retail", "Shops"),
        (None, "4", "1", "Händler", "Trade customers"),
    ]
    again = GroupSnapshot(
        descriptions=[*SNAPSHOT.descriptions[:1], (2, 1, "Retail", "Shops"), (3, 1, "Wholesale", "")],
        groups={1: (0, 1), 2: (1, 2), 3: (0, 3)},
        languages=[1],
    )
    second, _ = resolve_groups(
        [GroupRow(3, "", "Retail", "", description="Shops", approval=1)], again, {}, file="g", columns=COLUMNS
    )
    assert not second and second.unchanged == 1


def test_the_sign_up_listing_loses_a_deleted_group() -> None:
    from maint.pricing.groups import without_group

    assert without_group('["1","3"]', 3) == '["1"]'
    assert without_group('["1"]', 3) is None
    assert without_group("not json", 3) is None
