"""Planning an extension install or removal from the store's extension facts (pure)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from maint.errors import PreconditionError
from maint.extension.facts import (
    ExtensionFacts,
    ExtensionRow,
    Installed,
    ModificationRow,
    conflicts,
    store_path,
)
from maint.extension.package import read_package
from maint.extension.plan import plan_install, plan_remove

PROJECT = Path(__file__).resolve().parents[3]
spec = importlib.util.spec_from_file_location("ext_build", PROJECT / "fixtures" / "extensions" / "build.py")
assert spec and spec.loader
build_module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_module)


def facts(line="3", installs=(), extensions=(), mods=()) -> ExtensionFacts:
    return ExtensionFacts("shop", "3.0.5.1" if line == "3" else "4.1.0.4", line, list(installs), list(extensions),
                          list(mods), [], [], [])


def test_a_new_package_plans_its_files_modification_extension_and_refresh(tmp_path) -> None:
    pkg = read_package(build_module.build(tmp_path, "3"))
    plan = plan_install(pkg, facts(), set(), admin_dir="backoffice")
    kinds = [c.kind for c in plan]
    assert kinds.count("file") == 4 and "modification" in kinds and "refresh" in kinds
    assert any(c.target == "backoffice/controller/extension/module/maint_hello.php" for c in plan)
    assert not plan.destructive


def test_an_installed_package_with_everything_in_place_plans_no_changes(tmp_path) -> None:
    pkg = read_package(build_module.build(tmp_path, "3"))
    inst = Installed(7, "maint_hello", "maint_hello.ocmod.zip", "Maint Hello", "1.0", "", "", None)
    mod = ModificationRow(1, 7, "maint_hello", "m", "1.0", "", True, [])
    plan = plan_install(pkg, facts(installs=[inst], extensions=[ExtensionRow("module", "maint_hello", "", True)],
                                   mods=[mod]), set(pkg.files))
    assert not plan and "already installed" in plan.noop_reason


def test_overwriting_a_core_file_is_refused_unless_allowed(tmp_path) -> None:
    pkg = read_package(build_module.build(tmp_path, "3", "overwrite"))
    existing = {"catalog/language/en-gb/en-gb.php"}
    with pytest.raises(PreconditionError, match="would overwrite 1 existing file.*OpenCart's core"):
        plan_install(pkg, facts(), existing)
    plan = plan_install(pkg, facts(), existing, allow_overwrite=True)
    assert plan.destructive


def test_a_4x_package_whose_folder_exists_is_refused(tmp_path) -> None:
    pkg = read_package(build_module.build(tmp_path, "4"))
    with pytest.raises(PreconditionError, match="extension/maint_hello/"):
        plan_install(pkg, facts("4"), {"extension/maint_hello"})


def test_removal_plans_uninstall_files_and_modifications_and_nothing_when_absent() -> None:
    inst = Installed(7, "maint_hello", "maint_hello.ocmod.zip", "Maint Hello", "1.0", "", "", None,
                     ["catalog/a.php", "admin/b.php"])
    mod = ModificationRow(1, 7, "maint_hello", "m", "1.0", "", True, [])
    plan = plan_remove("maint_hello", facts(installs=[inst], mods=[mod]), [("module", "maint_hello")])
    assert [c.kind for c in plan] == ["extension", "file", "file", "modification", "package"]
    assert not plan_remove("other", facts(), []) and "not installed" in plan_remove("other", facts(), []).noop_reason


def test_two_modifications_changing_one_file_are_flagged() -> None:
    a = ModificationRow(1, 0, "a", "A", "", "", True, ["catalog/view/theme/*/template/common/header.twig"])
    b = ModificationRow(2, 0, "b", "B", "", "", True, ["catalog/x.php|catalog/view/theme/*/template/common/header.twig"])
    assert conflicts([a, b]) == ["modifications a, b all change catalog/view/theme/*/template/common/header.twig"]


def test_recorded_paths_become_store_paths() -> None:
    assert store_path("3", "admin/controller/x.php", "backoffice") == "backoffice/controller/x.php"
    assert store_path("4", "quote/admin/controller/module/quote.php", "admin") == \
        "extension/quote/admin/controller/module/quote.php"
    assert store_path("4", "image/catalog/q.png", "admin") == "image/catalog/q.png"
