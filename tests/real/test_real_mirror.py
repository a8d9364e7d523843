"""`fab mirror`, `fab serve` and `fab restore` on real 3.0.5.1 (MyISAM) and 4.1.0.4 (InnoDB)."""

from __future__ import annotations

import pytest
import requests
from realtier import REAL, db_state, fab, files_state, query

STORES = [REAL["3.0.5.1"], REAL["4.1.0.4"]]
VOLATILE = ("session", "customer_online")


@pytest.mark.parametrize("name", STORES)
def test_a_real_store_is_mirrored_served_and_restored_to_its_snapshot(name, real, real_env) -> None:
    store = real.store(name)
    mirrored = fab("mirror", name, "--yes")
    assert mirrored.returncode == 0, mirrored.stderr
    assert "verified and published as latest" in mirrored.stdout
    assert store.db_password not in mirrored.stdout + mirrored.stderr

    served = fab("serve", name)
    try:
        assert served.returncode == 0, served.stderr + served.stdout
        url = next(word for line in served.stdout.splitlines() if line.strip().startswith("URL")
                   for word in line.split() if word.startswith("http://127.0.0.1:"))
        page = requests.get(url, timeout=30)
        assert page.status_code == 200 and "<title>Your Store</title>" in page.text
    finally:
        fab("serve", name, "--stop")

    before_rows, before_files = db_state(real, name, skip=VOLATILE), files_state(store.root)
    # What a bad day on the live store looks like: a price changed, a file dropped in.
    query(real, name, "UPDATE {p}product SET price = 1.0 WHERE product_id = 40")
    (store.root / "image" / "catalog" / "intruder.txt").write_text("not in the snapshot")
    assert db_state(real, name, skip=VOLATILE) != before_rows

    restored = fab("restore", name, "--snapshot", "latest", "--yes", "--discard-newer")
    assert restored.returncode == 0, restored.stderr + restored.stdout
    assert query(real, name, "SELECT price FROM {p}product WHERE product_id = 40")[0][0] == 101
    assert not (store.root / "image" / "catalog" / "intruder.txt").exists()
    assert files_state(store.root) == before_files
    assert db_state(real, name, skip=VOLATILE) == before_rows
    assert requests.get(store.url, timeout=30).status_code == 200
