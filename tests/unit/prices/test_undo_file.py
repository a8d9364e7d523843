"""Undo files round-trip every previous value, and refuse damage."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from maint.errors import InputError
from maint.pricing.undo import ColumnUpdate, append_audit, read_audit, read_undo, store_dir, write_undo


def test_undo_file_round_trips_values_and_nulls(tmp_path: Path) -> None:
    op = ColumnUpdate(
        "product",
        "product_id",
        "price",
        "DECIMAL(15,4)",
        [(1, Decimal("10.0000"), Decimal("12.5000")), (2, None, Decimal("1"))],
    )
    path = write_undo(tmp_path, "prices", {"client": "c", "store": "s"}, [op])
    meta, ops = read_undo(path)
    assert (meta["task"], meta["store"], meta["operations"][0]["rows"]) == ("prices", "s", 2)
    assert ops == [op]
    assert ops[0].reversed().rows[0] == (1, Decimal("12.5000"), Decimal("10.0000"))
    assert not list(tmp_path.glob("*.part"))


def test_truncated_or_foreign_undo_files_are_refused(tmp_path: Path) -> None:
    op = ColumnUpdate("product", "product_id", "price", "DECIMAL(15,4)", [(1, Decimal(1), Decimal(2))] * 3)
    path = write_undo(tmp_path, "prices", {}, [op])
    path.write_text("\n".join(path.read_text().splitlines()[:2]) + "\n")
    with pytest.raises(InputError, match="truncated"):
        read_undo(path)
    other = tmp_path / "other.undo"
    other.write_text('{"format": "something else"}\n')
    with pytest.raises(InputError, match="not a maint undo file"):
        read_undo(other)


def test_audit_records_append_with_who_and_when(tmp_path: Path) -> None:
    folder = store_dir(tmp_path, "acme gmbh", "shop/1")
    assert folder == tmp_path / "undo" / "acme_gmbh" / "shop_1"
    append_audit(folder, {"task": "prices", "sha256": "x", "result": "applied"})
    append_audit(folder, {"task": "undo", "result": "applied"})
    records = read_audit(folder)
    assert [r["task"] for r in records] == ["prices", "undo"]
    assert records[0]["who"] and records[0]["when"]


def test_undo_files_and_the_audit_log_are_private_to_their_owner(tmp_path: Path) -> None:
    import os
    import stat

    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    os.chmod(state, 0o755)
    folder = store_dir(state, "acme", "shop")
    undo = write_undo(folder, "groups", {"file": "g.csv"}, [])
    append_audit(folder, {"task": "groups"})
    assert stat.S_IMODE(undo.stat().st_mode) == 0o600
    assert stat.S_IMODE((folder / "audit.jsonl").stat().st_mode) == 0o600
    for path in (folder, folder.parent, folder.parent.parent, state):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
