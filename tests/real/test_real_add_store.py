"""`maint add-store` on real releases: the root finder recognises each release's tree, and the entry it
writes carries what the release's own config says (admin folder, URL)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml
from realtier import REAL, fab

from maint.onboard import find_roots_script, parse_roots


@pytest.mark.parametrize("version", list(REAL))
def test_the_root_finder_recognises_each_real_release(real, tmp_path, version) -> None:
    store = real.store(REAL[version])
    home = tmp_path / "home"
    home.mkdir()
    (home / "public_html").symlink_to(store.root)  # a hosting panel's usual layout
    out = subprocess.run(["sh", "-c", find_roots_script()], env={"HOME": str(home), "PATH": os.environ["PATH"]},
                         capture_output=True, text=True, check=True).stdout
    assert parse_roots(out) == [str(store.root.resolve())]


@pytest.mark.parametrize("version", list(REAL))
def test_add_store_writes_what_the_real_release_says(real, real_env, tmp_path, version) -> None:
    store = real.store(REAL[version])
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    env = {**os.environ, "FABRIC_MAINT_INVENTORY": str(inventory)}
    run = fab("add-store", "realclient", "shop", "--host", real.host, "--root", str(store.root), "--json", env=env)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)["stores"][0]
    assert summary["version"] == version and summary["host_key_added"] is False
    entry = yaml.safe_load((inventory / "realclient.yaml").read_text())["stores"][0]
    assert entry == {"name": "shop", "host": real.host, "root": str(store.root), "admin": "admin",
                     "url": store.url}
    assert store.db_password not in run.stdout + run.stderr + (inventory / "realclient.yaml").read_text()
