"""`fab extension` and `fab products` on the stand-in store (3.0.5.1 and 4.1.0.4 shaped): listing, bad packages
refused with nothing changed, and the Featured list applied, planned again as nothing, dry-run unchanged and
undone byte for byte. Install and remove through the stand-in's installer routes: test_extension_install_standin.py."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import standin
from standin import fab

from maint.sandbox import Sandbox, StoreSpec

VOLATILE = ("session", "customer_online", "product")
STORES = {"e3": "3", "e4": "4"}


@pytest.fixture(scope="module")
def ext_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(tmp_path_factory.mktemp("ext-sandbox"), (StoreSpec("e3", "3.0.5.1"), StoreSpec("e4", "4.1.0.4")),
                 client="ext") as sb:
        yield sb


def state(sandbox: Sandbox, name: str) -> tuple[dict[str, object], str]:
    return standin.state(sandbox, name, VOLATILE)


@pytest.mark.parametrize("name", STORES)
def test_extension_list_reads_packages_extensions_and_modifications(ext_sandbox, name) -> None:
    run = fab(ext_sandbox, "extension", "list", name, "--json")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)["stores"][0]
    assert {i["code"] for i in data["installs"]} >= {"fixture_banner", "fixture_seo"}
    assert any(e["type"] == "module" and e["code"] == "featured" for e in data["extensions"])
    plain = fab(ext_sandbox, "extension", "list", name)
    assert plain.returncode == 0 and "fixture_banner" in plain.stdout


@pytest.mark.parametrize("name", STORES)
@pytest.mark.parametrize(("kind", "code", "says"), [
    ("zipslip", 50, "zip slip"), ("wrongline", 50, "the store runs OpenCart"), ("corrupt", 50, "corrupt zip"),
    ("nojson", 50, "missing install.json"), ("overwrite", 60, "would overwrite"),
])
def test_a_bad_package_is_refused_with_nothing_changed(ext_sandbox, packages, name, kind, code, says) -> None:
    root = ext_sandbox.store(name).root
    if kind == "overwrite":  # the stand-in ships neither file: put the "core" file there first
        core = root / ("catalog/language/en-gb/en-gb.php" if STORES[name] == "3" else "image/catalog/opencart-logo.png")
        core.parent.mkdir(parents=True, exist_ok=True)
        core.write_text("core")
    before = state(ext_sandbox, name)
    run = fab(ext_sandbox, "extension", "install", name, str(packages(STORES[name], kind)), "--yes")
    assert run.returncode == code, run.stderr
    assert says in run.stderr and "maint_hello.ocmod.zip" in run.stderr
    assert state(ext_sandbox, name) == before


@pytest.mark.parametrize("name", STORES)
def test_a_dry_run_plans_the_install_and_changes_nothing(ext_sandbox, packages, name) -> None:
    before = state(ext_sandbox, name)
    dry = fab(ext_sandbox, "extension", "install", name, str(packages(STORES[name], "good")), "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    kinds = {c["kind"] for c in json.loads(dry.stdout)["stores"][0]["plan"]["changes"]}
    assert {"file", "modification", "extension"} <= kinds
    assert state(ext_sandbox, name) == before


@pytest.mark.parametrize("name", STORES)
def test_featured_products_apply_plan_nothing_dry_run_nothing_and_undo_byte_for_byte(ext_sandbox, tmp_path,
                                                                                   name) -> None:
    sheet = tmp_path / "featured.csv"
    sheet.write_text("product_id,action\n7,add\n1,remove\n")
    before = state(ext_sandbox, name)
    dry = fab(ext_sandbox, "products", name, str(sheet), "--list", "featured", "--match", "product_id", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert state(ext_sandbox, name) == before

    done = fab(ext_sandbox, "products", name, str(sheet), "--list", "featured", "--match", "product_id", "--yes",
               "--json")
    assert done.returncode == 0, done.stderr + done.stdout
    data = json.loads(done.stdout)["stores"][0]
    assert data["members"] == [4, 3, 2, 7]
    again = fab(ext_sandbox, "products", name, str(sheet), "--list", "featured", "--match", "product_id", "--yes")
    assert again.returncode == 0 and "No changes" in again.stderr

    undone = fab(ext_sandbox, "products", name, data["undo_file"], "--undo", "--yes")
    assert undone.returncode == 0, undone.stderr
    assert state(ext_sandbox, name) == before
