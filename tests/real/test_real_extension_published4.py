"""A real published OpenCart 4.x extension on real 4.1.0.4: "Example Plugin" (github.com/ashrafsaqib/
Opencart-4-sample-extension---plugin-boilerplate), a module whose install() creates a table, an event and
permissions, with an OCMOD that points the storefront's header and footer at controllers it does not ship.

Its code is not committed: the .ocmod.zip is built here from a local git mirror of the repository (the tool's
`fetch` puts one under /work/.mirror), and the tests skip without one.
- As published, its OCMOD (enabled, as maint does) breaks every storefront page: the rehearsal fails and the
  live store is never touched; forced live, it is rolled back by itself.
- Its module without the OCMOD installs through the store's routes (its own install() runs), plans nothing the
  second time, and is removed without a trace: its uninstall() drops the table and the event, maint takes back
  the permissions it granted (4.x's and the 3.0-style route its install() adds)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest
import requests
from realtier import REAL, db_state, fab, files_state, query

PUBLISHED = Path(os.environ.get(
    "MAINT_PUBLISHED_4X_EXTENSION_REPO",
    "/work/.mirror/ashrafsaqib+Opencart-4-sample-extension---plugin-boilerplate/repo"))
NAME = REAL["4.1.0.4"]
VOLATILE = ("session", "customer_online", "product", "product_report", "product_viewed", "user_login")


def _package(out: Path, *, with_ocmod: bool) -> Path:
    """example_plugin.ocmod.zip from the mirror's HEAD, as its author zips it (install.json at the top)."""
    if not PUBLISHED.exists():
        pytest.skip(f"no mirror of the published 4.x extension at {PUBLISHED} (MAINT_PUBLISHED_4X_EXTENSION_REPO)")
    tar = subprocess.run(["git", "-C", str(PUBLISHED), "archive", "--format=tar", "HEAD"], capture_output=True,
                         check=True).stdout
    out.mkdir(parents=True, exist_ok=True)
    path = out / "example_plugin.ocmod.zip"
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for member in archive.getmembers():
            top = member.name.split("/", 1)[0]
            if member.isfile() and (top in ("install.json", "admin", "catalog") or (with_ocmod and top == "ocmod")):
                handle = archive.extractfile(member)
                assert handle is not None
                zf.writestr(member.name, handle.read())
    return path


def state(real):
    skip = ("cache", "session", "logs")
    return db_state(real, NAME, skip=VOLATILE), files_state(real.store(NAME).root, skip_parts=skip)


def test_a_published_4x_extension_whose_ocmod_breaks_the_storefront_never_reaches_the_live_store(
    real, real_env, tmp_path
) -> None:
    pkg = str(_package(tmp_path / "full", with_ocmod=True))
    before = state(real)
    plan = json.loads(fab("extension", "install", NAME, pkg, "--dry-run", "--json").stdout)["stores"][0]["plan"]
    assert {"file", "modification", "extension"} <= {c["kind"] for c in plan["changes"]}

    rehearsed = fab("extension", "install", NAME, pkg, "--yes", timeout=900)
    assert rehearsed.returncode == 70, rehearsed.stderr
    assert "the rehearsal failed, the live store was not touched" in rehearsed.stderr
    assert "extension/custom/module/header" in rehearsed.stderr  # why: the controller its OCMOD calls
    assert state(real) == before

    live = fab("extension", "install", NAME, pkg, "--yes", "--no-rehearse", timeout=900)
    assert live.returncode == 70, live.stderr
    assert "rolled back to the snapshot and verified" in live.stderr
    assert state(real) == before
    assert "<title>Your Store</title>" in requests.get(real.store(NAME).url, timeout=30).text


def test_a_published_4x_module_installs_through_the_store_plans_nothing_and_removes_without_a_trace(
    real, real_env, tmp_path
) -> None:
    pkg = str(_package(tmp_path / "module", with_ocmod=False))
    before = state(real)
    done = fab("extension", "install", NAME, pkg, "--yes", timeout=900)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "rehearsal: ok  verify" in done.stderr and "live: ok  verify" in done.stderr
    # Its own install() ran: its table, its event, the permissions.
    assert query(real, NAME, "SHOW TABLES LIKE '{p}example_plugin'") != []
    assert query(real, NAME, "SELECT `trigger` FROM {p}event WHERE code = 'example_plugin'") == [
        ("catalog/model/checkout/order/addOrderHistory/after",)]
    listed = json.loads(fab("extension", "list", NAME, "--json").stdout)["stores"][0]
    assert any(i["code"] == "example_plugin" and i["version"] == "1.0" for i in listed["installs"])
    assert any(e["code"] == "example_plugin" and e["folder"] == "example_plugin" for e in listed["extensions"])

    installed = state(real)
    again = fab("extension", "install", NAME, pkg, "--yes")
    assert again.returncode == 0 and "No changes" in again.stderr
    assert fab("extension", "remove", NAME, "example_plugin", "--dry-run").returncode == 0
    assert state(real) == installed

    removed = fab("extension", "remove", NAME, "example_plugin", "--yes", "--no-rehearse", timeout=900)
    assert removed.returncode == 0, removed.stderr + removed.stdout
    assert state(real) == before  # files, its table, its event, extension rows and permissions all gone
    assert "No changes" in fab("extension", "remove", NAME, "example_plugin", "--yes").stderr
