"""The remote dump command, strip groups and the mirror/serve/restore planners."""

from __future__ import annotations

import pytest

from maint.errors import InputError, PreconditionError, VerificationError
from maint.mirror.dump import build_dump_command, consistency_for, defaults_file, explain_dump_error
from maint.mirror.rsync import build_argv, default_excludes, relative_inside
from maint.mirror.sftpcopy import excluded
from maint.mirror.strip import parse_groups, stripped_tables
from maint.ops.mirror import MirrorFacts, ServeFacts, TreeSource, php_outside, plan_mirror, plan_serve
from maint.remote.sql import DbCredentials

CREDS = DbCredentials(host="127.0.0.1", port=3307, user="shop", password='p"a\\ss word', database="shop_db")


def test_the_password_goes_to_stdin_never_into_the_remote_command() -> None:
    cmd = build_dump_command(CREDS, consistency="single-transaction")
    assert "p\"a" not in cmd.script and "ss word" not in cmd.script
    assert b'password="p\\"a\\\\ss word"' in cmd.stdin
    assert f"head -c {len(cmd.stdin)}" in cmd.script
    assert "trap 'rm -f \"$f\"' EXIT" in cmd.script and "mktemp" in cmd.script and "umask 077" in cmd.script


def test_dump_options_follow_the_engines() -> None:
    assert consistency_for({"a": "InnoDB", "b": "InnoDB"}) == "single-transaction"
    assert consistency_for({"a": "InnoDB", "b": "MyISAM"}) == "lock-tables"
    locked = build_dump_command(CREDS, consistency="lock-tables", compression="gzip")
    assert "--lock-tables" in locked.script and "--single-transaction" not in locked.script
    assert locked.script.endswith("gzip -1 -c") and locked.filename == "db.sql.gz"
    for flag in ("--quick", "--routines", "--triggers", "--hex-blob"):
        assert flag in locked.script


def test_stripped_tables_keep_their_structure_through_a_no_data_dump() -> None:
    cmd = build_dump_command(CREDS, consistency="single-transaction", stripped=["oc_customer", "oc_order"])
    assert "--no-data --skip-comments shop_db oc_customer oc_order" in cmd.script
    assert "--ignore-table=shop_db.oc_customer" in cmd.script


def test_localhost_means_the_hosts_socket_so_no_host_line() -> None:
    creds = DbCredentials(host="localhost", port=3306, user="u", password="p", database="d")
    assert b"host=" not in defaults_file(creds)


def test_privilege_errors_are_explained() -> None:
    msg = explain_dump_error("mysqldump: Got error: 1044: Access denied for user 'u'@'%' to database 'd' "
                             "when using LOCK TABLES\nmaint-dump-failed\n")
    assert "LOCK TABLES" in msg and "GRANT" in msg


def test_strip_groups_are_prefix_aware_and_keep_lookup_tables() -> None:
    tables = ["shop_customer", "shop_customer_group", "shop_address", "shop_order", "shop_order_status",
              "shop_session", "shop_product", "other_customer"]
    assert stripped_tables(tables, "shop_", ["customers", "orders", "sessions"]) == [
        "shop_customer", "shop_address", "shop_order", "shop_session"]


def test_unknown_strip_groups_are_refused() -> None:
    with pytest.raises(InputError, match="unknown strip group"):
        parse_groups("customers,passwords")


def test_excludes_are_anchored_in_the_storage_folder_wherever_it_lives() -> None:
    assert default_excludes("system/storage")["www"] == [
        "/image/cache/*", "/system/storage/cache/*", "/system/storage/logs/*", "/system/storage/session/*"]
    outside = default_excludes(None)
    assert outside["www"] == ["/image/cache/*"] and outside["storage"] == ["/cache/*", "/logs/*", "/session/*"]
    assert relative_inside("/srv/www/system/storage/", "/srv/www") == "system/storage"
    assert relative_inside("/srv/storage/", "/srv/www") is None


def test_sftp_walk_applies_the_same_excludes() -> None:
    rules = ["/image/cache/*"]
    assert excluded("image/cache/a.jpg", False, rules) and excluded("image/cache/sub", True, rules)
    assert not excluded("image/cache", True, rules) and not excluded("image/catalog/a.jpg", False, rules)


def test_rsync_argv_links_against_the_previous_snapshot_over_the_strict_ssh() -> None:
    argv = build_argv(ssh_args=["ssh", "-F", "/c f", "-o", "StrictHostKeyChecking=yes"], host="shop",
                      remote_dir="/srv/www", dest="/m/.partial/files/www", link_dest="/m/2026/files/www",
                      excludes=["/image/cache/*"])
    assert argv[-2:] == ["shop:/srv/www/", "/m/.partial/files/www/"]
    assert "--link-dest=/m/2026/files/www" in argv and "--exclude=/image/cache/*" in argv
    assert argv[argv.index("-e") + 1] == "ssh -F '/c f' -o StrictHostKeyChecking=yes"


def _facts(**over: object) -> MirrorFacts:
    base: dict[str, object] = dict(
        store="s3", version="3.0.3.8", trees=(TreeSource("www", "/srv/www", ("/image/cache/*",)),),
        engines={"oc_product": "MyISAM", "oc_session": "InnoDB"}, db_bytes=90_000_000, remote_files=100,
        remote_bytes=10_000_000, previous=None, partial=False, free_bytes=10**12)
    base.update(over)
    return MirrorFacts(**base)  # type: ignore[arg-type]


def test_a_myisam_store_plans_a_locked_dump_and_says_how_long_writes_wait() -> None:
    plan = plan_mirror(_facts())
    dump = next(c for c in plan if c.kind == "dump")
    assert "table locks" in dump.summary
    assert any("holds the shop's writes" in w and "2 s" in w for w in plan.warnings)


def test_an_innodb_store_plans_a_single_transaction_dump_without_warning() -> None:
    plan = plan_mirror(_facts(engines={"oc_product": "InnoDB"}))
    assert "--single-transaction" in next(c for c in plan if c.kind == "dump").summary
    assert not plan.warnings


def test_too_little_free_space_stops_before_the_transfer() -> None:
    with pytest.raises(PreconditionError, match="free space"):
        plan_mirror(_facts(free_bytes=1_000_000))


def test_a_second_mirror_is_planned_incremental_and_a_partial_is_resumed() -> None:
    plan = plan_mirror(_facts(previous="20260101T000000Z", partial=True,
                              incoming={"new": 1, "changed": 2, "deleted": 3, "bytes": 10}))
    assert "incremental against 20260101T000000Z" in plan.changes[0].summary
    assert "1 new, 2 changed, 3 deleted" in next(c for c in plan if c.kind == "transfer").summary
    assert any("resuming" in w for w in plan.warnings)


def _serve(**over: object) -> ServeFacts:
    base: dict[str, object] = dict(store="s3", snapshot="20260101T000000Z", verified=True, version="3.0.3.8",
                                   local_php="8.2.29", php_min="7.3", php_max="7.4", url="http://127.0.0.1:8080/",
                                   database="wc_s3")
    base.update(over)
    return ServeFacts(**base)  # type: ignore[arg-type]


def test_serving_an_unverified_snapshot_is_refused() -> None:
    with pytest.raises(VerificationError, match="refusing"):
        plan_serve(_serve(verified=False))


def test_serve_warns_when_local_php_is_outside_the_releases_range() -> None:
    assert any("newer than 7.4" in w for w in plan_serve(_serve()).warnings)
    assert not plan_serve(_serve(version="4.1.0.4", php_min="8.1", php_max="8.5")).warnings
    assert php_outside("8.2.29", "7.3", "8.2") is None
    assert php_outside("7.2.1", "7.3", None) is not None


def test_docker_is_refused_without_an_engine() -> None:
    with pytest.raises(PreconditionError, match="Docker"):
        plan_serve(_serve(docker=True, docker_available=False))


@pytest.mark.parametrize(("repository", "kind", "says"), [("borg:/r", "archive", "borg create"),
                                                           ("restic:/r", "snapshot", "restic backup")])
def test_a_repository_target_plans_an_archive_or_a_restic_snapshot_by_its_own_tool_instead_of_publishing(
        repository: str, kind: str, says: str) -> None:
    plan = plan_mirror(_facts(repository=repository))
    archive = [c for c in plan.changes if c.kind == kind]
    assert [c.target for c in archive] == [repository] and says in archive[0].summary
    assert not any(c.kind == "publish" for c in plan.changes)


def test_a_streamed_first_borg_mirror_plans_the_host_tar_and_says_how_it_is_checked() -> None:
    plan = plan_mirror(_facts(repository="borg:/r", streamed=True))
    files = [c for c in plan.changes if c.kind == "files"]
    assert files and all("tar stream from the host" in c.summary and "archived by borg" in c.summary for c in files)
    verify = next(c for c in plan.changes if c.kind == "verify")
    assert "what the host's tar wrote" in verify.summary
    plain = plan_mirror(_facts(repository="borg:/r"))
    assert all("rsync" in c.summary for c in plain.changes if c.kind == "files")
