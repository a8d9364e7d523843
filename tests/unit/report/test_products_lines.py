"""fab report's line for a `fab products` run: the undo file its ledger note names, not the nearest in time."""

from __future__ import annotations

from datetime import UTC, datetime

from maint.billing.account import WorkItem
from maint.report.formats import DEFAULT
from maint.report.model import _products_text, products_text

START = datetime(2026, 12, 7, 9, 44, 0, tzinfo=UTC)
WRITTEN = START.timestamp() + 1
RECORD = {"format": 1, "list": "featured", "before": [40], "after": [40, 28], "source": "/x/featured-nov.csv",
          "task": "products", "file": "20261207T094401000000Z-products-featured.json"}


def item(note: str, offset: float = 0) -> WorkItem:
    return WorkItem(id=1, client="demo", store="demo", task="products",
                    started=datetime.fromtimestamp(START.timestamp() + offset, UTC), seconds=2, note=note)


def test_an_undo_run_a_second_after_the_change_is_told_as_the_undo_not_as_the_change_again() -> None:
    undo = item("undo of 20261207T094401000000Z-products-featured.json", offset=2)
    assert _products_text([(WRITTEN, RECORD)], undo, DEFAULT) == "Put a product list back as it was before an earlier change"


def test_a_change_run_is_told_from_the_undo_file_its_note_names() -> None:
    other = {**RECORD, "file": "20261207T094402000000Z-products-addtoquote.json", "list": "addtoquote"}
    change = item("undo file 20261207T094401000000Z-products-featured.json")
    line = _products_text([(WRITTEN, RECORD), (WRITTEN + 1, other)], change, DEFAULT)
    assert line == products_text(RECORD, DEFAULT) and line.startswith("Updated the Featured products list from featured-nov.csv")


def test_a_change_whose_undo_file_is_gone_still_reads_as_a_change() -> None:
    change = item("undo file 20261207T094401000000Z-products-featured.json")
    assert _products_text([], change, DEFAULT).startswith("Changed a product list")


def test_an_entry_from_before_notes_named_the_file_is_matched_by_time() -> None:
    assert _products_text([(WRITTEN, RECORD)], item(""), DEFAULT) == products_text(RECORD, DEFAULT)
