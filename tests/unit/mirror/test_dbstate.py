"""The database fingerprint's rule for keeping a dump (borg target, #20): only a dump taken while nothing
was written may stand in for later runs."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from maint.mirror.dbstate import DumpState, Fingerprint, forget, settled
from maint.mirror.manifest import DumpInfo, Newest

BEGAN = datetime(2026, 12, 7, 3, 0, 5, 400000)


def _fp(digest: str = "a", newest: datetime | None = datetime(2026, 12, 7, 3, 0, 1)) -> Fingerprint:
    return Fingerprint(digest, BEGAN, newest, 0)


def test_a_dump_is_kept_when_the_fingerprint_is_the_same_after_it_and_every_write_is_older_than_the_read() -> None:
    assert settled(_fp(), _fp())
    assert settled(_fp(newest=None), _fp(newest=None))  # every table read in full


def test_a_dump_is_not_kept_when_the_database_moved_while_it_was_dumped() -> None:
    assert not settled(_fp("a"), _fp("b"))


def test_a_dump_is_not_kept_when_a_table_was_written_in_the_second_its_fingerprint_was_read() -> None:
    # A later write in that same second would carry the same update time: the fingerprint could miss it.
    assert not settled(_fp(newest=datetime(2026, 12, 7, 3, 0, 5)), _fp(newest=datetime(2026, 12, 7, 3, 0, 5)))


def test_the_kept_dump_and_its_state_are_private_and_read_back_as_written(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    dump = tmp_path / "db.sql.zst"
    dump.write_bytes(b"dump")
    state = DumpState("20261207T030000Z", "key", "digest", DumpInfo(file="db.sql.zst", sha256="s", tables={"t": 3}),
                      "f", {"order": Newest(7, "2026-12-01 10:00:00", 7)})
    state.keep(store_dir, dump)
    assert DumpState.read(store_dir) == state
    folder = DumpState.folder(store_dir)
    assert folder.stat().st_mode & 0o777 == 0o700
    assert {p.name: p.stat().st_mode & 0o777 for p in folder.iterdir()} == {"db.sql.zst": 0o600, "state.json": 0o600}
    forget(store_dir)
    assert DumpState.read(store_dir) is None and not folder.exists()
