"""Every file of the spreadsheet corpus (fixtures/sheets/cases.yaml) gives exactly its expected outcome."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from maint.errors import InputError
from maint.pricing.prices import CatalogEntry, normalise_key, resolve_prices
from maint.pricing.service import read_price_sheet

CORPUS = Path(__file__).resolve().parents[3] / "fixtures" / "sheets"
CASES: dict[str, dict[str, Any]] = yaml.safe_load((CORPUS / "cases.yaml").read_text())
CATALOG = {normalise_key(f"SKU-{i:05d}"): [CatalogEntry(i, Decimal("100.0000"))] for i in range(1, 41)}


def outcome(name: str, case: dict[str, Any]) -> tuple[dict[int, str], list[list[Any]]]:
    parsed = read_price_sheet(CORPUS / name, sheet=case.get("sheet", ""))
    plan, unresolved = resolve_prices(parsed.rows, CATALOG, file=name, match="sku", column=parsed.key_header)
    issues = sorted(parsed.issues + unresolved, key=lambda i: (i.row, i.column))
    return {c.row: str(c.new) for c in plan.changes}, [[i.row, i.column, i.reason] for i in issues]


def test_every_corpus_file_has_a_case() -> None:
    files = {p.name for p in CORPUS.iterdir() if p.suffix in (".csv", ".xlsx")}
    assert files == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_corpus_file_gives_its_expected_outcome(name: str) -> None:
    case = CASES[name]
    if "error" in case:
        with pytest.raises(InputError) as caught:
            outcome(name, case)
        assert case["error"]["message"] in str(caught.value)
        assert caught.value.file and name in caught.value.file
        assert caught.value.row == case["error"].get("row")
        return
    prices, issues = outcome(name, case)
    if "prices" in case:
        assert issues == []
        assert prices == {int(k): v for k, v in case["prices"].items()}
    else:
        assert len(issues) == len(case["issues"]), issues
        for (row, column, reason), (want_row, want_column, want_reason) in zip(
            issues, case["issues"], strict=True
        ):
            assert (row, column) == (want_row, want_column)
            assert want_reason in reason
