"""Which files of the old release an upgrade removes: planned, found both ways, protected paths and extension
files never, the folders they leave empty removed too. Local trees through a local Target (bash), no services."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from test_upgrade_plan import facts

from maint.ops.upgrade import plan_upgrade
from maint.upgrade.procedure import protected_excludes
from maint.upgrade.removed import is_protected, of_installed, on_store, remove, removed_files
from maint.upgrade.target import Target


def tree(base: Path, files: list[str]) -> Path:
    for rel in files:
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel)
    return base


class _NoDb:
    """A store without an extension_path table and no extension installed."""

    def cursor(self) -> _NoDb:
        return self

    def __enter__(self) -> _NoDb:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def execute(self, *args: object) -> None:
        return None

    def fetchone(self) -> tuple[int]:
        return (0,)

    def fetchall(self) -> list[tuple[str, str]]:
        return []


def local(root: Path, admin: str = "admin") -> Target:
    @contextmanager
    def opener():  # type: ignore[no-untyped-def]
        yield _NoDb()

    return Target("working copy", "shop", "http://x/", str(root) + "/", admin, "oc_", {}, opener,
                  lambda command: ["bash", "-c", command], lambda path: path)


OLD = ["index.php", "admin/controller/common/old.php", "admin/config.php", "config.php", "image/catalog/a.png",
       "system/engine/old.php", "system/storage/vendor/gone/lib/a.php", "system/storage/vendor/kept/x.php",
       "install/index.php", "catalog/language/en-gb/old.php"]
NEW = ["index.php", "admin/controller/common/new.php", "system/engine/new.php", "system/storage/vendor/kept/x.php",
       "install/index.php", "catalog/language/en-gb/new.php"]


def test_with_the_old_release_every_dropped_file_is_removed_except_protected_and_install(tmp_path) -> None:
    old, new = tree(tmp_path / "old", OLD), tree(tmp_path / "new", NEW)
    store = tree(tmp_path / "store", [p.replace("admin/", "backoffice/", 1) for p in OLD] + ["mine.php"])
    rules = protected_excludes("backoffice", "system/storage")
    found, how, kept = removed_files(local(store, "backoffice"), new, old, "3", rules)
    assert how == "release" and kept == []
    assert found == ["backoffice/controller/common/old.php", "catalog/language/en-gb/old.php",
                     "system/engine/old.php", "system/storage/vendor/gone/lib/a.php"]


def test_without_the_old_release_only_core_folders_are_compared_and_own_folders_are_kept(tmp_path) -> None:
    new = tree(tmp_path / "new", NEW)
    store = tree(tmp_path / "store", [*OLD, "catalog/language/fr-fr/fr-fr.php", "extension/mine/x.php",
                                      "catalog/controller/custom/mine.php"])
    found, how, _ = removed_files(local(store), new, None, "4", protected_excludes("admin", "system/storage"))
    assert how == "list"
    # fr-fr and custom/ are folders the release doesn't have: someone's own; extension/mine is an extension
    assert found == ["admin/controller/common/old.php", "catalog/language/en-gb/old.php", "system/engine/old.php",
                     "system/storage/vendor/gone/lib/a.php"]
    found3, _, _ = removed_files(local(store), new, None, "3", protected_excludes("admin", "system/storage"))
    assert found3 == ["system/engine/old.php", "system/storage/vendor/gone/lib/a.php"]  # 3.0: system/ only


def test_removing_deletes_the_files_and_the_folders_they_leave_empty(tmp_path) -> None:
    new = tree(tmp_path / "new", NEW)
    store = tree(tmp_path / "store", OLD)
    gone = ["system/engine/old.php", "system/storage/vendor/gone/lib/a.php"]
    assert remove(local(store), gone, new).startswith("2 file(s)")
    assert not (store / "system/storage/vendor/gone").exists()
    assert (store / "system/engine").is_dir() and (store / "system/storage/vendor/kept/x.php").is_file()
    assert (store / "config.php").is_file()


def test_protected_rules_match_files_exactly_and_folders_by_prefix() -> None:
    rules = protected_excludes("admin", "system/storage", ["custom"])
    assert is_protected("config.php", rules) and is_protected("image/catalog/a.png", rules)
    assert is_protected("custom/x.php", rules) and is_protected("system/storage/logs/error.log", rules)
    assert not is_protected("catalog/config.php", rules) and not is_protected("system/storage/vendor/a.php", rules)
    assert on_store("admin/x.php", "bo") == "bo/x.php" and on_store("admin", "bo") == "bo"
    assert on_store("administrator.php", "bo") == "administrator.php"


def test_removed_files_are_planned_as_a_destructive_step_grouped_by_folder() -> None:
    plan = plan_upgrade(facts(removed=("system/storage/vendor/twig/a.php", "system/storage/vendor/twig/b.php",
                                       "system/fixture/legacy.php"), removed_by="release"))
    change = next(ch for ch in plan if ch.kind == "remove")
    assert change.destructive and change.target == "3 old core file(s)"
    assert "system/storage/vendor/twig (2)" in change.summary and "the snapshot keeps them" in change.summary
    assert change.data["files"][2] == "system/fixture/legacy.php"
    assert not any(ch.kind == "remove" for ch in plan_upgrade(facts()))


def test_files_of_an_installed_bundled_extension_are_recognised_in_both_layouts() -> None:
    installed = {("payment", "pp_standard"), ("payment", "cod")}
    assert of_installed("admin/controller/extension/payment/pp_standard.php", installed)
    assert of_installed("catalog/view/theme/default/template/extension/payment/pp_standard.twig", installed)
    assert of_installed("extension/opencart/admin/controller/payment/cod.php", installed)
    assert not of_installed("admin/controller/extension/payment/divido.php", installed)
    assert not of_installed("system/library/payment/cod.php", installed)  # not an extension folder


def test_kept_extension_files_are_a_warning_of_the_plan() -> None:
    plan = plan_upgrade(facts(removed=("a/b.php",), removed_by="release",
                              removed_kept=("admin/controller/extension/payment/pp_standard.php",)))
    assert any("installed extensions that OpenCart 3.0.5.1 no longer ships are kept" in w
               and "pp_standard.php" in w for w in plan.warnings)
