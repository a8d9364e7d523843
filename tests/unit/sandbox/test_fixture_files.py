"""The fixture store's files: determinism, version markers, config.php formats, release trees."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from maint.sandbox import fixture
from maint.sandbox.fixture import VERSIONS, DbTarget, StoreSize, export_release, write_files

DB = DbTarget("127.0.0.1", 3306, "shop", "s3cr'et", "shop_db")
TINY = StoreSize(products=5, customers=2, orders=2, image_files=7, image_bytes=300)
DEFINE = re.compile(r"^define\('([A-Z_]+)', (.+)\);", re.M)


def tree_hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*")) if p.is_file()
    }


def build(tmp_path: Path, version: str, name: str = "www", **kwargs: object) -> Path:
    root = tmp_path / name
    write_files(version, root, DB, url="http://127.0.0.1:8123/", size=TINY, **kwargs)  # type: ignore[arg-type]
    return root


def defines(path: Path) -> dict[str, str]:
    return dict(DEFINE.findall(path.read_text()))


@pytest.mark.parametrize("version", VERSIONS)
def test_same_arguments_give_byte_identical_trees(tmp_path: Path, version: str) -> None:
    first = tree_hashes(build(tmp_path, version, "a"))
    second = tree_hashes(build(tmp_path, version, "b"))
    # config.php files name their own docroot; everything else must match byte for byte
    strip = {k: v for k, v in first.items() if not k.endswith("config.php")}
    assert strip == {k: v for k, v in second.items() if not k.endswith("config.php")}
    assert first.keys() == second.keys()


def test_another_seed_changes_the_images(tmp_path: Path) -> None:
    a = build(tmp_path, "4.1.0.4", "a", seed=1)
    b = build(tmp_path, "4.1.0.4", "b", seed=2)
    image = "image/" + fixture.data.product_image(1)
    assert (a / image).read_bytes() != (b / image).read_bytes()


def test_images_have_the_requested_count_and_size(tmp_path: Path) -> None:
    root = build(tmp_path, "3.0.3.8")
    images = [p for p in (root / "image" / "catalog").rglob("*.jpg")]
    assert len(images) == TINY.image_files
    assert {p.stat().st_size for p in images} == {TINY.image_bytes}


@pytest.mark.parametrize("version", VERSIONS)
def test_version_constant_is_on_line_3_of_both_index_files(tmp_path: Path, version: str) -> None:
    root = build(tmp_path, version)
    for index in (root / "index.php", root / "admin" / "index.php"):
        assert index.read_text().splitlines()[2] == f"define('VERSION', '{version}');"


@pytest.mark.parametrize(("version", "floor"), [
    ("3.0.3.8", "7.3.0"), ("3.0.5.1", "8.1.0"), ("4.0.2.3", "8.0.0"), ("4.1.0.4", "8.1.0"),
])
def test_startup_checks_the_php_floor_of_the_release(tmp_path: Path, version: str, floor: str) -> None:
    startup = (build(tmp_path, version) / "system" / "startup.php").read_text()
    assert f"version_compare(phpversion(), '{floor}', '<')" in startup
    assert f"PHP{floor.rsplit('.', 1)[0]}+ Required" in startup


MARKERS = {
    "3.0": ["catalog/view/theme/default/template/common/home.twig", "admin/controller/marketplace/modification.php",
            "system/library/db/mysqli.php", "system/library/db/pdo.php", "system/library/db/pgsql.php",
            "system/storage/modification/index.html", "system/storage/session/index.html",
            "system/storage/vendor/composer/installed.json", ".htaccess.txt", "config-dist.php",
            "admin/config-dist.php", "image/cache/index.html"],
    "4.x": ["extension/opencart/catalog/controller/module/featured.php", "catalog/view/template/common/home.twig",
            "system/storage/backup/index.html", "system/storage/marketplace/index.html",
            "system/storage/vendor/autoload.php", "system/library/db/pdo.php", ".htaccess.txt", "config-dist.php"],
}


@pytest.mark.parametrize("version", VERSIONS)
def test_tree_markers_identify_the_line(tmp_path: Path, version: str) -> None:
    root = build(tmp_path, version)
    line = "3.0" if version.startswith("3.") else "4.x"
    for rel in MARKERS[line]:
        assert (root / rel).is_file(), rel
    assert (root / "extension" / "opencart").exists() == (line == "4.x")
    assert (root / "catalog/view/theme/default").exists() == (line == "3.0")
    assert (root / "catalog/language/fr-fr").is_dir() == (version == "4.1.0.4")
    assert (root / "extension/ocmod").is_dir() == (version == "4.1.0.4")
    assert not (root / "install").exists()  # an installed store has had install/ removed


@pytest.mark.parametrize(("version", "twig"), [("3.0.3.8", "v2.13.0"), ("3.0.5.1", "v3.24.0")])
def test_vendored_twig_version_matches_the_tag(tmp_path: Path, version: str, twig: str) -> None:
    installed = (build(tmp_path, version) / "system/storage/vendor/composer/installed.json").read_text()
    assert f'"version": "{twig}"' in installed


def test_3038_ships_divido_and_3051_does_not(tmp_path: Path) -> None:
    divido = "catalog/controller/extension/payment/divido.php"
    assert (build(tmp_path, "3.0.3.8", "a") / divido).is_file()
    assert not (build(tmp_path, "3.0.5.1", "b") / divido).exists()


# -- config.php formats (facts B3.2) -----------------------------------------------------------


@pytest.mark.parametrize("version", ["3.0.3.8", "3.0.5.1"])
def test_30_configs_use_literal_paths_and_storage_relative_dirs(tmp_path: Path, version: str) -> None:
    root = build(tmp_path, version)
    cat, adm = defines(root / "config.php"), defines(root / "admin" / "config.php")
    assert cat["HTTP_SERVER"] == cat["HTTPS_SERVER"] == "'http://127.0.0.1:8123/'"
    assert cat["DIR_APPLICATION"] == f"'{root}/catalog/'"
    assert cat["DIR_STORAGE"] == "DIR_SYSTEM . 'storage/'"
    assert cat["DIR_CACHE"] == "DIR_STORAGE . 'cache/'"
    assert cat["DIR_MODIFICATION"] == "DIR_STORAGE . 'modification/'"
    assert "APPLICATION" not in cat and "DIR_OPENCART" not in cat
    assert cat["DB_PORT"] == "'3306'" and cat["DB_PREFIX"] == "'oc_'" and cat["DB_DRIVER"] == "'mysqli'"
    assert cat["DB_PASSWORD"] == r"'s3cr\'et'"
    assert adm["HTTP_SERVER"] == "'http://127.0.0.1:8123/admin/'"
    assert adm["HTTP_CATALOG"] == adm["HTTPS_CATALOG"] == "'http://127.0.0.1:8123/'"
    assert adm["DIR_CATALOG"] == f"'{root}/catalog/'"
    assert adm["DIR_TEMPLATE"] == "DIR_APPLICATION . 'view/template/'"
    assert adm["OPENCART_SERVER"] == "'https://www.opencart.com/'"


@pytest.mark.parametrize("version", ["4.0.2.3", "4.1.0.4"])
def test_4x_configs_use_dir_opencart_expressions(tmp_path: Path, version: str) -> None:
    root = build(tmp_path, version)
    cat, adm = defines(root / "config.php"), defines(root / "admin" / "config.php")
    assert cat["APPLICATION"] == "'Catalog'" and adm["APPLICATION"] == "'Admin'"
    assert cat["DIR_OPENCART"] == f"'{root}/'"
    assert cat["DIR_SYSTEM"] == "DIR_OPENCART . 'system/'"
    assert cat["DIR_EXTENSION"] == "DIR_OPENCART . 'extension/'"
    assert cat["DIR_TEMPLATE"] == "DIR_APPLICATION . 'view/template/'"
    assert not {"HTTPS_SERVER", "DIR_MODIFICATION"} & cat.keys()
    assert adm["DIR_APPLICATION"] == "DIR_OPENCART . 'admin/'"
    assert adm["DIR_CATALOG"] == "DIR_OPENCART . 'catalog/'"
    assert adm["HTTP_CATALOG"] == "'http://127.0.0.1:8123/'" and "OPENCART_SERVER" in adm
    is_41 = version == "4.1.0.4"
    for text in ((root / "config.php").read_text(), (root / "admin" / "config.php").read_text()):
        assert ("define('CACHE_ENGINE', 'file');" in text) == is_41
        assert ("// define('CACHE_HOSTNAME', '');" in text) == is_41
    assert ("DB_SSL_KEY" in cat) == is_41 and ("DB_SSL_CA" in adm) == is_41


@pytest.mark.parametrize("version", VERSIONS)
def test_renamed_admin_and_outside_storage_are_written_into_both_configs(tmp_path: Path, version: str) -> None:
    storage = tmp_path / "outside" / "storage"
    root = build(tmp_path, version, admin_dir="backoffice", storage_dir=storage)
    assert (root / "backoffice" / "index.php").is_file() and not (root / "admin").exists()
    assert not (root / "system" / "storage").exists()
    assert (storage / "logs" / "index.html").is_file()
    cat, adm = defines(root / "config.php"), defines(root / "backoffice" / "config.php")
    assert cat["DIR_STORAGE"] == adm["DIR_STORAGE"] == f"'{storage}/'"
    assert adm["HTTP_SERVER"] == "'http://127.0.0.1:8123/backoffice/'"


# -- release trees -----------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_release_tree_has_installer_and_no_configs(tmp_path: Path, version: str) -> None:
    dest = tmp_path / "upload"
    export_release(version, dest)
    assert not (dest / "config.php").exists() and not (dest / "admin" / "config.php").exists()
    assert (dest / "config-dist.php").is_file() and (dest / "admin" / "config-dist.php").is_file()
    assert (dest / ".htaccess.txt").is_file() and not (dest / "router.php").exists()
    assert (dest / "install" / "index.php").is_file()
    assert "VERSION" not in (dest / "install" / "index.php").read_text()
    steps = list((dest / "install").rglob("upgrade*/*.php")) + list((dest / "install" / "model").rglob("*.php"))
    assert steps
    assert (dest / "index.php").read_text().splitlines()[2] == f"define('VERSION', '{version}');"


def test_upgrade_step_counts_follow_the_facts(tmp_path: Path) -> None:
    export_release("3.0.5.1", tmp_path / "a")
    export_release("4.1.0.4", tmp_path / "b")
    assert sorted(p.stem for p in (tmp_path / "a/install/model/upgrade").glob("*.php")) == [
        str(n) for n in range(1000, 1011)]
    assert len(list((tmp_path / "b/install/controller/upgrade").glob("upgrade_*.php"))) == 12


def test_newer_release_files_differ_in_mtime_so_rsync_copies_them(tmp_path: Path) -> None:
    old = build(tmp_path, "3.0.3.8")
    export_release("3.0.5.1", tmp_path / "new")
    assert (old / "index.php").stat().st_size == (tmp_path / "new/index.php").stat().st_size
    assert (old / "index.php").stat().st_mtime != (tmp_path / "new/index.php").stat().st_mtime


def test_unknown_version_and_bad_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(fixture.FixtureError, match="unknown fixture version"):
        export_release("2.3.0.2", tmp_path)
    with pytest.raises(fixture.FixtureError, match="prefix"):
        write_files("4.1.0.4", tmp_path, DB, url="http://x/", prefix="oc-;")
    with pytest.raises(fixture.FixtureError, match="admin folder"):
        write_files("4.1.0.4", tmp_path, DB, url="http://x/", admin_dir="../x")


def test_db_target_repr_hides_the_password() -> None:
    assert "s3cr" not in repr(DB)


def test_admin_credentials_are_stable() -> None:
    assert fixture.admin_credentials() == fixture.admin_credentials()
    assert fixture.admin_credentials()[0] == "admin"
