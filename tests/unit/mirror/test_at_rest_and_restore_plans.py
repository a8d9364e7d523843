"""Planning of private modes, encryption and restore's safeguards (#12, #20), without services."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from maint.errors import ConfigError
from maint.mirror import modes
from maint.mirror.crypt import parse_recipient
from maint.mirror.rsync import parse_itemized
from maint.mirror.secrets import excludes_for, secret_paths, tar_script
from maint.ops.mirror import MirrorFacts, NewerRows, RestoreFacts, TreeSource, plan_mirror, plan_restore


def _mirror_facts(**over: object) -> MirrorFacts:
    base: dict[str, object] = dict(
        store="s4", version="4.1.0.4", trees=(TreeSource("www", "/srv/www"),), engines={"oc_product": "InnoDB"},
        db_bytes=1_000_000, remote_files=10, remote_bytes=1_000, previous=None, partial=False, free_bytes=10**12)
    base.update(over)
    return MirrorFacts(**base)  # type: ignore[arg-type]


def _restore_facts(**over: object) -> RestoreFacts:
    base: dict[str, object] = dict(
        store="s4", snapshot="20261206T100000Z", verified=True, snapshot_version="4.1.0.4", live_version="4.1.0.4",
        trees=(TreeSource("www", "/srv/www"),), database="shop", tables=120, rows=5000)
    base.update(over)
    return RestoreFacts(**base)  # type: ignore[arg-type]


def test_a_looser_mirror_is_planned_to_be_tightened() -> None:
    plan = plan_mirror(_mirror_facts(loose_dirs=2, loose_files=3))
    change = next(c for c in plan if c.kind == "permissions")
    assert "2 folder(s) to 0700 and 3 file(s)" in change.summary
    assert not any(c.kind == "permissions" for c in plan_mirror(_mirror_facts()))


def test_an_encrypted_mirror_plans_an_encrypted_dump_and_secrets_tar_and_warns_of_clear_older_snapshots() -> None:
    plan = plan_mirror(_mirror_facts(encryption="age to age1abc", clear_snapshots=3))
    assert next(c for c in plan if c.kind == "dump").target == "db.sql.zst.age"
    assert any(c.kind == "secrets" for c in plan)
    assert any("3 older snapshot(s)" in w and "in clear" in w for w in plan.warnings)


def test_restore_lists_newer_orders_and_refuses_them_without_discard_newer() -> None:
    newer = (NewerRows("order", 7, ("#31 2026-12-06 20:48:10 ann@example.com 42.5000",)),
             NewerRows("customer", 1, ("#9 2026-12-06 20:40:00 ann@example.com",)))
    plan = plan_restore(_restore_facts(newer=newer))
    lose = [c for c in plan if c.kind == "lose"]
    assert [c.target for c in lose] == ["order", "customer"] and all(c.destructive for c in lose)
    assert "7 order(s) newer than the snapshot would be lost: #31" in lose[0].summary and "; …" in lose[0].summary
    assert any("refused without --discard-newer" in w for w in plan.warnings)
    assert not any("--discard-newer" in w for w in plan_restore(_restore_facts(newer=newer, discard_newer=True)).warnings)


def test_restore_with_carry_newer_lists_what_it_would_carry_instead_of_what_it_would_lose() -> None:
    newer = (NewerRows("order", 1, ("#31 2026-12-06 20:48:10 ann@example.com 42.5000",)),)
    plan = plan_restore(_restore_facts(newer=newer, carry_newer=True,
                                       carry=("1 order(s) #31 with order_product 2 row(s)",)))
    assert not any(c.kind == "lose" for c in plan) and not plan.warnings
    [carry] = [c for c in plan if c.kind == "carry"]
    assert carry.summary == ("1 order(s) #31 with order_product 2 row(s) newer than the snapshot: carried over into "
                             "the restored store, ids kept") and not carry.destructive
    assert [c.kind for c in plan][:2] == ["carry", "snapshot"]


def test_carrying_and_discarding_newer_rows_together_is_refused_naming_the_flag() -> None:
    from maint.errors import InputError
    from maint.ops.mirror import check_newer_flags

    with pytest.raises(InputError, match="--discard-newer and --carry-newer contradict each other") as err:
        check_newer_flags(True, True)
    assert err.value.exit_code == 50
    for discard, carry in ((True, False), (False, True), (False, False)):
        check_newer_flags(discard, carry)


def test_restore_snapshots_the_live_store_first_and_puts_the_store_modes_back() -> None:
    plan = plan_restore(_restore_facts(modes={"www/config.php": "0644"}))
    kinds = [c.kind for c in plan]
    assert kinds.index("snapshot") < kinds.index("files") < kinds.index("database")
    assert "config.php 0644" in next(c for c in plan if c.kind == "modes").summary


def test_restore_of_a_store_left_as_the_last_restore_left_it_plans_nothing() -> None:
    plan = plan_restore(_restore_facts(unchanged_since="s4 is as the restore of X left it"))
    assert not plan and plan.noop_reason.startswith("nothing to restore")


def test_attribute_only_differences_are_not_counted_as_changed_files() -> None:
    items = parse_itemized([".f...p..... config.php", ">f.st...... index.php", "<f+++++++++ new.php"])
    assert items == {"new": ["new.php"], "changed": ["index.php"], "deleted": []}


def test_secret_paths_cover_configs_and_personal_data_wherever_storage_lives() -> None:
    assert secret_paths("www", "admin_x", "system/storage") == [
        "config.php", "admin_x/config.php", "system/storage/upload", "system/storage/download",
        "system/storage/backup"]
    assert secret_paths("www", "admin", None) == ["config.php", "admin/config.php"]
    assert secret_paths("storage", "admin", None) == ["upload", "download", "backup"]
    assert excludes_for(["config.php", "system/storage/upload"]) == ["/config.php", "/system/storage/upload"]
    assert "'a b/config.php'" in tar_script("/srv/www", ["a b/config.php"])


def test_recipients_choose_the_tool_and_a_missing_key_file_is_named(tmp_path: Path) -> None:
    assert parse_recipient("age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq").tool == "age"
    armoured = tmp_path / "agency.asc"
    armoured.write_text("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxyz\n")
    gpg = parse_recipient(str(armoured))
    assert gpg.tool == "gpg" and gpg.from_file and "--recipient-file" in gpg.encrypt_argv()
    with pytest.raises(ConfigError, match="no key file /nope/agency.pub"):
        parse_recipient("/nope/agency.pub")
    with pytest.raises(ConfigError, match="empty"):
        parse_recipient("  ")


def test_private_files_are_0600_whatever_the_umask_and_hard_links_count_once(tmp_path: Path) -> None:
    old = os.umask(0o000)
    try:
        fd = modes.open_private(tmp_path / "dump")
        os.close(fd)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "dump").stat().st_mode) == 0o600
    a = tmp_path / "a.php"
    a.write_text("x")
    a.chmod(0o644)
    os.link(a, tmp_path / "b.php")
    dirs, files = modes.loose([tmp_path], [a, tmp_path / "b.php", tmp_path / "dump"])
    assert files == [a]
    modes.tighten(dirs, files)
    assert stat.S_IMODE((tmp_path / "b.php").stat().st_mode) == 0o600
