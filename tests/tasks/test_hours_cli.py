"""The hours tasks through invoke's real parser: flags, positionals and help."""

import importlib

import pytest
from invoke import Collection
from invoke.parser import Parser

import maint.tasks.cli_compat  # noqa: F401  (optional leading positionals, as the real program has)

tasks = importlib.import_module("maint.tasks.hours")


def parse(*argv: str) -> dict:
    collection = Collection(tasks.hours, tasks.log, tasks.account)
    result = Parser(contexts=collection.to_contexts()).parse_argv(list(argv))
    return result[0].as_kwargs


def test_every_task_has_a_summary_and_help_for_every_flag() -> None:
    for t in (tasks.hours, tasks.log, tasks.account):
        assert t.__doc__.strip().splitlines()[0]
        assert Collection(t).to_contexts()  # raises if a help key names no argument


def test_log_takes_store_duration_and_note_positionally() -> None:
    kwargs = parse("log", "demo", "1.5h", "fixed the cart", "--level", "2", "--category", "settings")
    assert (kwargs["store"], kwargs["duration"], kwargs["note"]) == ("demo", "1.5h", "fixed the cart")
    assert (kwargs["level"], kwargs["category"]) == (2, "settings")


def test_hours_takes_a_client_or_all() -> None:
    assert parse("hours", "demo", "--month", "2026-11", "--csv", "out.csv")["client"] == "demo"
    assert parse("hours", "--all")["all_"] is True


@pytest.mark.skipif(
    not {"duration", "note"} <= maint.tasks.cli_compat.OPTIONAL_POSITIONALS,
    reason="needs 'duration' and 'note' in cli_compat.OPTIONAL_POSITIONALS (lead's file)",
)
def test_log_correct_takes_the_new_duration_positionally() -> None:
    kwargs = parse("log", "--correct", "7", "2h")
    assert (kwargs["correct"], kwargs["store"]) == (7, "2h")
