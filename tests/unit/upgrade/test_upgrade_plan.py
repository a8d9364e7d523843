"""Planning an upgrade and reading its release: pure functions, no store."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from maint.errors import InputError, PreconditionError
from maint.ops.upgrade import Touching, UpgradeFacts, ocmod_files, plan_upgrade, touching_changed
from maint.upgrade.procedure import protected_excludes
from maint.upgrade.release import open_release
from maint.upgrade.routes import first_url, next_url


def facts(**kw) -> UpgradeFacts:
    base = dict(store="shop", current="3.0.3.8", target="3.0.5.1", admin_dir="admin", added=("a.php",),
                replaced=("index.php", "catalog/controller/common/home.php"), protected=("config.php",))
    base.update(kw)
    return UpgradeFacts(**base)


def test_the_same_release_plans_no_changes() -> None:
    plan = plan_upgrade(facts(target="3.0.3.8"))
    assert not plan and plan.noop_reason == "the store already runs OpenCart 3.0.3.8"


def test_a_downgrade_is_refused_naming_both_versions() -> None:
    with pytest.raises(PreconditionError, match="4.0.2.3 is older than the store's 4.1.0.4"):
        plan_upgrade(facts(current="4.1.0.4", target="4.0.2.3"))


def test_a_target_that_does_not_support_the_platform_is_refused_with_the_reason() -> None:
    with pytest.raises(PreconditionError, match="php: PHP 8.3 is above"):
        plan_upgrade(facts(platform_problems=("php: PHP 8.3 is above what 3.0.3.8 supports",)))


def test_a_full_disk_is_refused() -> None:
    with pytest.raises(PreconditionError, match="not enough disk space"):
        plan_upgrade(facts(disk_free=10 * 2**20, disk_needed=100 * 2**20))


def test_the_plan_lists_snapshot_rehearsal_files_upgrader_traps_and_verification_in_order() -> None:
    plan = plan_upgrade(facts(traps=("the 3.0 upgrader switches every OCMOD modification off",),
                              modified_core=("catalog/controller/common/home.php",),
                              touching=(Touching("ocmod", "Quote button", ("catalog/view/theme/default/x.twig",)),)))
    kinds = [c.kind for c in plan]
    assert kinds == ["snapshot", "rehearse", "maintenance", "files", "customised", "database", "trap", "caches",
                     "install", "maintenance", "verify"]
    assert "1 added, 2 replaced" in plan.changes[3].target
    assert any("ocmod Quote button changes replaced core files" in w for w in plan.warnings)
    assert any("estimated maintenance window" in w for w in plan.warnings)


def test_unknown_customisations_are_a_warning_that_says_how_to_find_them() -> None:
    plan = plan_upgrade(facts())
    assert any("--from-release" in w for w in plan.warnings)


def test_ocmod_paths_are_read_and_matched_with_globs() -> None:
    xml = '<modification><file path="catalog/controller/common/*.php"><operation/></file>' \
          '<file path="admin/a.php|admin/b.php"/></modification>'
    assert ocmod_files(xml) == ("catalog/controller/common/*.php", "admin/a.php", "admin/b.php")
    assert touching_changed("x", ocmod_files(xml), ["catalog/controller/common/home.php", "index.php"]) == (
        "catalog/controller/common/home.php",)


def test_protected_paths_keep_configs_images_storage_data_and_custom_folders() -> None:
    rules = protected_excludes("backoffice", "system/storage", ["custom"])
    assert {"/config.php", "/backoffice/config.php", "/image/", "/system/storage/session/", "/custom/"} <= set(rules)
    assert "/system/storage/vendor/" not in rules  # vendor/ is code: the release updates it


def test_upgrader_urls_for_each_line() -> None:
    base = "http://127.0.0.1:8080/"
    assert first_url(base, "3.0", "admin") == base + "install/index.php?route=upgrade/upgrade/next&step=1"
    assert first_url(base, "4.1", "backoffice") == base + "install/index.php?route=upgrade/upgrade_1&admin=backoffice"
    # 3.0 answers a next relative to install/; 4.x an absolute URL, possibly naming another host
    assert next_url("", {"next": "index.php?route=upgrade/upgrade/next&amp;step=2"}, base) == \
        base + "install/index.php?route=upgrade/upgrade/next&step=2"
    assert next_url("", {"next": "http://localhost/install/index.php?route=upgrade/upgrade_2"}, base) == \
        base + "install/index.php?route=upgrade/upgrade_2"
    assert next_url("", {"success": "done"}, base) is None


def _release_tree(folder: Path, version: str) -> Path:
    shop = folder / "upload"
    (shop / "system").mkdir(parents=True)
    (shop / "install").mkdir()
    (shop / "install" / "index.php").write_text("<?php\n")
    (shop / "index.php").write_text(f"<?php\n// Version\ndefine('VERSION', '{version}');\n")
    return shop


def test_a_release_folder_zip_and_tarball_are_read_and_their_version_checked(tmp_path: Path) -> None:
    _release_tree(tmp_path / "folder", "3.0.5.1")
    assert open_release(tmp_path / "folder", expect="3.0.5.1").version == "3.0.5.1"
    with zipfile.ZipFile(tmp_path / "r.zip", "w") as z:
        for p in (tmp_path / "folder").rglob("*"):
            z.write(p, p.relative_to(tmp_path / "folder"))
    assert open_release(tmp_path / "r.zip", expect="3.0.5.1", work=tmp_path).tree.name == "upload"
    with tarfile.open(tmp_path / "r.tar.gz", "w:gz") as t:
        t.add(tmp_path / "folder" / "upload", arcname="opencart-3.0.5.1/upload")
    assert open_release(tmp_path / "r.tar.gz", work=tmp_path).version == "3.0.5.1"
    with pytest.raises(InputError, match="is OpenCart 3.0.5.1, not 4.1.0.4"):
        open_release(tmp_path / "folder", expect="4.1.0.4")


def test_a_corrupt_or_truncated_archive_a_checksum_mismatch_and_a_zip_slip_are_refused(tmp_path: Path) -> None:
    _release_tree(tmp_path / "folder", "3.0.5.1")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for p in (tmp_path / "folder").rglob("*"):
            z.write(p, p.relative_to(tmp_path / "folder"))
    whole = buffer.getvalue()
    (tmp_path / "cut.zip").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputError, match="not a readable zip"):
        open_release(tmp_path / "cut.zip", work=tmp_path)
    (tmp_path / "ok.zip").write_bytes(whole)
    with pytest.raises(InputError, match="checksum mismatch"):
        open_release(tmp_path / "ok.zip", sha256="0" * 64, work=tmp_path)
    with zipfile.ZipFile(tmp_path / "slip.zip", "w") as z:
        z.writestr("../../evil.php", "<?php")
    with pytest.raises(InputError, match="unsafe path"):
        open_release(tmp_path / "slip.zip", work=tmp_path)
    (tmp_path / "text.zip").write_text("not a zip")
    with pytest.raises(InputError, match="not a readable zip"):
        open_release(tmp_path / "text.zip", work=tmp_path)


def test_the_json_plan_carries_every_file_the_upgrade_adds_replaces_and_removes() -> None:
    plan = plan_upgrade(facts(added=("a.php",), replaced=("index.php",), removed=("old/gone.php",),
                              removed_by="release")).as_dict()
    files = {c["kind"]: c.get("data", {}) for c in plan["changes"]}
    assert files["files"] == {"added": ["a.php"], "replaced": ["index.php"]}
    assert files["remove"] == {"files": ["old/gone.php"], "found_by": "release"}
    assert "data" not in next(c for c in plan["changes"] if c["kind"] == "verify")  # nothing to add: left out
