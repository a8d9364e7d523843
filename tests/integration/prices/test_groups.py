"""`fab groups` against the real sandbox: create, rename, move by e-mail; again "No changes"; undo exact."""

from __future__ import annotations

import pytest
from invoke.exceptions import Exit

from maint.tasks.prices import groups, undo

SHEET = (
    "E-Mail;Kundengruppe;Neuer Name\n"
    ";Händler;\n"
    ";Retail;Resellers\n"
    "customer00001@example.test;Händler;\n"
    "CUSTOMER00002@example.test;Wholesale;\n"
)


def group_state(price_sandbox, store: str) -> tuple[list, list]:
    s = price_sandbox.store(store)
    with price_sandbox.db_admin(s.db_name) as db, db.cursor() as cur:
        cur.execute(
            f"SELECT customer_group_id, language_id, name FROM `{s.prefix}customer_group_description` "
            "ORDER BY 1, 2"
        )
        names = list(cur.fetchall())
        cur.execute(
            f"SELECT customer_id, customer_group_id FROM `{s.prefix}customer` WHERE customer_id IN (1, 2) "
            "ORDER BY 1"
        )
        return names, list(cur.fetchall())


@pytest.mark.parametrize("store", ["s3", "s4"])
def test_groups_created_renamed_and_customers_moved_then_nothing_then_undo(
    store, tmp_path, price_sandbox, task_context, store_state
) -> None:
    sheet = tmp_path / "groups.csv"
    sheet.write_text(SHEET, encoding="utf-8")
    before = store_state(store)

    dry = groups(task_context, store, str(sheet), dry_run=True)
    assert (len(dry["created"]), len(dry["renamed"]), dry["moved"]) == (1, 1, 2)
    assert store_state(store) == before

    done = groups(task_context, store, str(sheet), yes=True)
    names, customers = group_state(price_sandbox, store)
    new_id = done["created"][0]["customer_group_id"]
    assert (new_id, 1, "Händler") in names and (2, 1, "Resellers") in names
    assert customers == [(1, new_id), (2, 3)]

    again = groups(task_context, store, str(sheet), yes=True)
    assert not again["applied"] and "already as in the file" in again["noop_reason"]

    undo(task_context, store, done["undo_file"], yes=True)
    assert {k: v for k, v in store_state(store).items() if k != "files"} == {
        k: v for k, v in before.items() if k != "files"
    }


def test_moving_into_a_missing_group_is_refused_without_create_groups(
    tmp_path, task_context, store_state, capsys
) -> None:
    sheet = tmp_path / "groups.csv"
    sheet.write_text("email,group\ncustomer00003@example.test,Gold\nnobody@example.test,Default\n")
    before = store_state("s3")
    with pytest.raises(Exit):
        groups(task_context, "s3", str(sheet), yes=True)
    err = capsys.readouterr().err
    assert "--create-groups" in err and "no customer with this e-mail" in err
    assert store_state("s3") == before


def test_group_names_with_sql_and_control_characters_are_stored_as_plain_text(
    tmp_path, price_sandbox, task_context, store_state
) -> None:
    name = "x'); DROP TABLE oc_customer;--"
    sheet = tmp_path / "groups.csv"
    sheet.write_text(f'group,new_name\nWholesale,"{name}"\n"{name}",\n', encoding="utf-8")
    before = store_state("s4")
    done = groups(task_context, "s4", str(sheet), yes=True)
    names, _ = group_state(price_sandbox, "s4")
    assert (3, 1, name) in names
    undo(task_context, "s4", done["undo_file"], yes=True)
    assert {k: v for k, v in store_state("s4").items() if k != "files"} == {
        k: v for k, v in before.items() if k != "files"
    }
