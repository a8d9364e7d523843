"""Real releases installed by their own installers: what every other real-tier test stands on."""

from __future__ import annotations

import json

import pytest
import requests
from realtier import REAL, fab, query


@pytest.mark.parametrize("version", list(REAL))
def test_each_release_is_installed_with_sample_data_and_without_its_installer(real, version) -> None:
    store = real.store(REAL[version])
    assert not (store.root / "install").exists()
    assert (store.root / "config.php").read_text().count("DB_PASSWORD") == 1
    page = requests.get(store.url, timeout=30)
    assert page.status_code == 200 and "<title>Your Store</title>" in page.text
    assert "Deprecated:" not in page.text and "Warning:" not in page.text
    assert query(real, store.name, "SELECT COUNT(*) FROM {p}product")[0][0] == 19


@pytest.mark.parametrize("version", list(REAL))
def test_info_reads_each_real_release(real, real_env, version) -> None:
    name = REAL[version]
    run = fab("info", name, "--json")
    assert run.returncode == 0, run.stderr
    info = json.loads(run.stdout)["stores"][0]
    assert info["version"] == version
    assert info["counts"]["product"] == 19
    assert info["table_prefix"] == "oc_"
    assert info["maintenance"] is False
    engines = info["engines"]
    if version.startswith("3."):
        assert engines.get("MyISAM", 0) > 100  # part C: a 3.0 install is mostly MyISAM
    else:
        assert set(engines) == {"InnoDB"}
    password = real.store(name).db_password
    assert password not in run.stdout + run.stderr
