"""Reading .ocmod.zip packages as OpenCart's installers do, and refusing what they would do unsafely."""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

import pytest

from maint.extension.package import PackageError, read_package

PROJECT = Path(__file__).resolve().parents[3]


def _build():
    spec = importlib.util.spec_from_file_location("ext_build", PROJECT / "fixtures" / "extensions" / "build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build


build = _build()


def test_a_30_package_lists_its_files_its_modification_and_the_module_it_provides(tmp_path) -> None:
    pkg = read_package(build(tmp_path, "3"), store_line="3")
    assert pkg.line == "3" and pkg.code == "maint_hello" and pkg.version == "1.0"
    assert "catalog/controller/extension/module/maint_hello.php" in pkg.files
    assert pkg.provides == (("module", "maint_hello"),)
    assert pkg.modifications[0].files == ("catalog/view/theme/*/template/common/footer.twig",)


def test_a_4x_package_lands_in_its_own_extension_folder(tmp_path) -> None:
    pkg = read_package(build(tmp_path, "4"), store_line="4")
    assert pkg.line == "4" and pkg.code == "maint_hello" and pkg.name == "Maint Hello"
    assert all(f.startswith("extension/maint_hello/") for f in pkg.files)
    assert pkg.provides == (("module", "maint_hello"),)
    assert [m.code for m in pkg.modifications] == ["maint_hello"]


@pytest.mark.parametrize("line", ["3", "4"])
@pytest.mark.parametrize(("kind", "says"), [
    ("zipslip", "zip slip"),
    ("wrongline", "the store runs OpenCart"),
    ("corrupt", "corrupt zip"),
    ("nojson", "missing install.json"),
])
def test_a_bad_package_is_refused_naming_the_file_and_entry(tmp_path, line, kind, says) -> None:
    path = build(tmp_path, line, kind)
    with pytest.raises(PackageError) as caught:
        read_package(path, store_line=line)
    assert says in str(caught.value) and str(path) in str(caught.value)


def test_a_30_file_outside_the_allowed_folders_is_refused(tmp_path) -> None:
    path = tmp_path / "evil.ocmod.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("upload/index.php", "<?php")
    with pytest.raises(PackageError, match="'upload/index.php' refused: 'index.php' is outside"):
        read_package(path)


@pytest.mark.parametrize("entry", ["/etc/passwd", "C:/x.php", "a\\..\\b.php"])
def test_absolute_and_backslash_paths_are_refused(tmp_path, entry) -> None:
    path = tmp_path / "x.ocmod.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("install.json", "{}")
        zf.writestr(entry, "x")
    with pytest.raises(PackageError, match="refused"):
        read_package(path)


def test_only_ocmod_zip_files_are_taken(tmp_path) -> None:
    path = tmp_path / "x.zip"
    path.write_bytes(b"PK")
    with pytest.raises(PackageError, match=r"\*\.ocmod\.zip"):
        read_package(path)
