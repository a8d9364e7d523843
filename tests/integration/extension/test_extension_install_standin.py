"""`fab extension install|remove` on the stand-in store (3.0.5.1 and 4.1.0.4 shaped), through its installer
routes (fixtures/opencart/common/system/fixture/installer.php): applied, the store changes as planned; applied
again, "No changes"; `--dry-run`, files and rows byte for byte unchanged; removed, no file and no row left;
a package that breaks the storefront fails the rehearsal (live untouched) and, live, is rolled back by itself."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest
import requests
import standin
from standin import rows

from maint.sandbox import Sandbox, StoreSpec

# Rows the storefront checks write and undo, and the temporary admin's login records.
VOLATILE = ("session", "customer_online", "product", "user_login")
STORES = {"i3": "3", "i4": "4"}
OCMOD_OUT = {"3": "system/storage/modification", "4": "extension/ocmod"}
FOOTER = {"3": "catalog/view/theme/default/template/common/footer.twig", "4": "catalog/view/template/common/footer.twig"}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(tmp_path_factory.mktemp("ext-install"), (StoreSpec("i3", "3.0.5.1"), StoreSpec("i4", "4.1.0.4")),
                 client="exti") as sb:
        yield sb


def state(sandbox: Sandbox, name: str) -> tuple[dict[str, object], str]:
    """Every table's checksum and every file's bytes, but for sessions, caches, logs and the OCMOD output
    (Refresh rebuilds it from the enabled modifications, whoever clicks it: checked on its own)."""
    return standin.state(sandbox, name, VOLATILE, skip=(OCMOD_OUT[STORES[name]],))


def fab(sandbox: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    return standin.fab(sandbox, *args, timeout=900)


def home(sandbox: Sandbox, name: str) -> str:
    return requests.get(sandbox.store(name).url, timeout=30).text


@pytest.mark.parametrize("name", STORES)
def test_an_extension_installs_through_the_stand_ins_routes_plans_nothing_again_and_removes_without_a_trace(
    sandbox, packages, name
) -> None:
    line, store = STORES[name], sandbox.store(name)
    pkg = packages(line, "good")
    before = state(sandbox, name)
    dry = fab(sandbox, "extension", "install", name, pkg, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert state(sandbox, name) == before

    done = fab(sandbox, "extension", "install", name, pkg, "--yes")
    assert done.returncode == 0, done.stderr + done.stdout
    assert "rehearsal: ok  verify" in done.stderr and "live: ok  verify" in done.stderr
    # As planned: the package's files, its install row and paths, the extension row its install() wrote a
    # setting for, its modification enabled and applied by Refresh, the permissions the install granted.
    assert "maint-hello-footer 1.0" in home(sandbox, name)
    assert (store.root / OCMOD_OUT[line] / FOOTER[line]).is_file()
    listed = json.loads(fab(sandbox, "extension", "list", name, "--json").stdout)["stores"][0]
    hello = next(i for i in listed["installs"] if i["code"] == "maint_hello")
    assert hello["version"] == "1.0" and all((store.root / f).exists() for f in hello["files"])
    assert {"type": "module", "code": "maint_hello"}.items() <= next(
        e for e in listed["extensions"] if e["code"] == "maint_hello").items()
    assert any(m["code"] == "maint_hello" and m["enabled"] for m in listed["modifications"])
    assert rows(sandbox, name, "SELECT `value` FROM {p}setting WHERE `key` = 'module_maint_hello_status'") == [("1",)]
    route = "extension/module/maint_hello" if line == "3" else "extension/maint_hello/module/maint_hello"
    granted = json.loads(str(rows(sandbox, name, "SELECT permission FROM {p}user_group")[0][0]))
    assert route in granted["access"] and route in granted["modify"]
    if line == "4":  # its install() grants the 3.0-style route too (as published 4.x modules do): remove takes it back
        assert "extension/module/maint_hello" in granted["access"]
    assert rows(sandbox, name, "SELECT COUNT(*) FROM {p}user WHERE username LIKE 'maint\\_%%'") == [(0,)]
    assert not list((store.storage / "upload").glob("tmp-*"))  # the 3.0 installer's temporary folder is gone

    installed = state(sandbox, name)
    again = fab(sandbox, "extension", "install", name, pkg, "--yes")
    assert again.returncode == 0 and "No changes" in again.stderr
    assert state(sandbox, name) == installed
    assert fab(sandbox, "extension", "remove", name, "maint_hello", "--dry-run").returncode == 0
    assert state(sandbox, name) == installed

    removed = fab(sandbox, "extension", "remove", name, "maint_hello", "--yes", "--no-rehearse")
    assert removed.returncode == 0, removed.stderr + removed.stdout
    assert "maint-hello-footer" not in home(sandbox, name)
    assert not (store.root / OCMOD_OUT[line] / FOOTER[line]).exists()
    assert state(sandbox, name) == before  # files, rows, settings and permissions as they were
    gone = fab(sandbox, "extension", "remove", name, "maint_hello", "--yes")
    assert gone.returncode == 0 and "No changes" in gone.stderr


@pytest.mark.parametrize("name", STORES)
def test_a_package_that_breaks_the_storefront_fails_the_rehearsal_then_live_is_rolled_back(sandbox, packages,
                                                                                           name) -> None:
    pkg = packages(STORES[name], "broken")
    before = state(sandbox, name)
    rehearsed = fab(sandbox, "extension", "install", name, pkg, "--yes")
    assert rehearsed.returncode == 70, rehearsed.stderr
    assert "the rehearsal failed, the live store was not touched" in rehearsed.stderr
    assert state(sandbox, name) == before

    live = fab(sandbox, "extension", "install", name, pkg, "--yes", "--no-rehearse")
    assert live.returncode == 70, live.stderr
    assert "rolled back to the snapshot and verified" in live.stderr and "home" in live.stderr
    assert state(sandbox, name) == before
    assert "Featured" in home(sandbox, name)

