"""rsync --stats / progress and mysqldump row counting, from captured output in fixtures/facts/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maint.errors import FactError
from maint.mirror.dumpfile import compare_counts, count_rows, mismatches
from maint.mirror.rsync import parse_itemized, parse_progress, parse_stats

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "facts"
STATS_CASES = sorted((FIXTURES / "rsync-stats").glob("*.txt"))
DUMP_CASES = sorted((FIXTURES / "mysqldump-rows").glob("*.sql"))


@pytest.mark.parametrize("case", STATS_CASES, ids=lambda p: p.stem)
def test_rsync_stats_are_parsed_into_counts(case: Path) -> None:
    expected = json.loads(case.with_suffix(".json").read_text())
    stats = parse_stats(case.read_text())
    got = {k: getattr(stats, k) for k in expected}
    assert got == expected


def test_output_without_a_stats_block_is_an_error() -> None:
    with pytest.raises(FactError, match="no --stats"):
        parse_stats("rsync: connection unexpectedly closed\n")


def test_progress2_lines_give_bytes_and_file_counts() -> None:
    update = parse_progress("    421,338,112 100%  117.52MB/s    0:00:03 (xfr#25284, to-chk=0/25305)")
    assert update is not None
    assert (update.bytes, update.percent, update.transferred, update.to_check, update.total) == (
        421338112, 100, 25284, 0, 25305)
    assert parse_progress("              4  28%    0.00kB/s    0:00:00  ").bytes == 4  # type: ignore[union-attr]
    assert parse_progress("Number of files: 5") is None


def test_dry_run_itemized_lines_split_new_changed_and_deleted_files() -> None:
    lines = [">f+++++++++ new.php", ">f.st...... index.php", "cd+++++++++ image/", "*deleting old.php",
             "*deleting gone/", ".d..t...... system/"]
    assert parse_itemized(lines) == {"new": ["new.php"], "changed": ["index.php"], "deleted": ["old.php"]}


@pytest.mark.parametrize("case", DUMP_CASES, ids=lambda p: p.stem)
def test_dump_rows_are_counted_per_table_in_both_insert_layouts(case: Path) -> None:
    expected = json.loads(case.with_suffix(".json").read_text())
    with open(case, "rb") as handle:
        count = count_rows(handle)
    assert count.rows == expected["rows"]
    assert count.completed is expected["completed"]


def test_row_checks_accept_counts_between_before_and_after_a_live_dump() -> None:
    checks = compare_counts({"t": 5, "live": 11, "gone": 3}, {"t": 5, "live": 10, "gone": 3}, {"t": 5, "live": 12})
    assert mismatches(checks) == []


def test_row_checks_flag_missing_tables_and_wrong_counts() -> None:
    checks = compare_counts({"t": 4}, {"t": 5, "u": 1}, {"t": 5, "u": 1})
    assert [(c.table, c.dumped) for c in mismatches(checks)] == [("t", 4), ("u", -1)]


def test_stripped_tables_must_be_dumped_empty() -> None:
    checks = compare_counts({"oc_customer": 0, "oc_product": 3}, {"oc_customer": 20, "oc_product": 3},
                            {"oc_customer": 20, "oc_product": 3}, stripped=["oc_customer"])
    assert mismatches(checks) == []
    checks = compare_counts({"oc_customer": 2}, {"oc_customer": 20}, {"oc_customer": 20}, stripped=["oc_customer"])
    assert len(mismatches(checks)) == 1


@pytest.mark.parametrize("size", [1, 7, 64, 1 << 20])
def test_row_counts_do_not_depend_on_how_the_stream_is_chunked(size: int) -> None:
    data = (FIXTURES / "mysqldump-rows" / "mixed-layouts.sql").read_bytes()
    whole = count_rows([data])
    chunked = count_rows(data[i : i + size] for i in range(0, len(data), size))
    assert chunked == whole and whole.completed


@pytest.mark.parametrize("text", ["restic:", "restic:relative/repo", "restic:sftp:host:/repo", "rustic:/repo"])
def test_a_restic_repository_must_be_a_local_absolute_path(text: str) -> None:
    from maint.errors import ConfigError
    from maint.mirror.restic import parse_repository

    with pytest.raises(ConfigError, match="restic:/absolute/path"):
        parse_repository(text)


def test_a_repository_of_either_kind_is_opened_by_its_prefix_and_anything_else_is_refused() -> None:
    from maint.errors import ConfigError
    from maint.mirror.borg import BorgRepo
    from maint.mirror.repository import open_repository
    from maint.mirror.restic import ResticRepo

    restic = open_repository("restic:/srv/restic", "acme", "shop", "~/.restic-pw")
    assert isinstance(restic, ResticRepo) and (restic.kind, restic.location, restic.password_file) == (
        "restic", "/srv/restic", "~/.restic-pw")
    assert restic.describe("20261207T030405Z") == "restic:/srv/restic::acme-shop-20261207T030405Z"
    assert isinstance(open_repository("borg:/srv/borg", "acme", "shop"), BorgRepo)
    with pytest.raises(ConfigError, match="borg:/path/to/repo or restic:/path/to/repo"):
        open_repository("s3:bucket", "acme", "shop")


def test_a_restic_summary_tag_round_trips_and_holds_no_comma() -> None:
    from maint.mirror.restic import _decode, _encode

    summary = {"verified": True, "opencart_version": "4.1.0.4", "bytes": 123, "note": "before restoring 2026, etc.",
               "encryption": "", "files_archive": ""}
    tag = _encode(summary)
    assert "," not in tag and _decode(tag) == summary
    assert _decode("not base64 json!") is None and _decode(_encode({})[:0]) is None
