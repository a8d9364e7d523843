"""add-store's pure parts: finding roots in the script's output, writing the client's file, fingerprints."""

from pathlib import Path

import paramiko
import pytest
import yaml

from maint.errors import InventoryError
from maint.inventory import load_inventory
from maint.onboard import check_new_store, client_file_text, parse_roots, read_inventory, write_client_file
from maint.playbook_files import BUILTIN_DIR
from maint.remote.hostkeys import OfferedKey, same_fingerprint
from maint.remote.ssh import fingerprint

PLANS = BUILTIN_DIR / "plans.yaml"
EXISTING = """\
# ACME's stores; Ann approves changes.
name: acme
plan: starter
contacts: [{name: Ann, email: ann@acme.invalid}]
stores:
  - name: acme            # the main shop
    host: acme-prod
    root: /var/www/acme
"""
ENTRY = {"name": "acme-b2b", "host": "acme-prod", "root": "/var/www/b2b", "admin": "admin", "url": "https://b2b.invalid/"}


def test_roots_are_listed_once_in_the_order_found():
    out = "ROOT /home/a/public_html\nnoise\nROOT /var/www/shop\nROOT /home/a/public_html\n"
    assert parse_roots(out) == ["/home/a/public_html", "/var/www/shop"]


def test_a_store_is_appended_to_its_clients_file_keeping_the_comments(tmp_path):
    (tmp_path / "acme.yaml").write_text(EXISTING)
    inventory = read_inventory(tmp_path, PLANS)
    path, text = client_file_text(inventory, tmp_path, "acme", ENTRY, "")
    assert path == tmp_path / "acme.yaml"
    assert text.startswith(EXISTING) and "# the main shop" in text
    write_client_file(path, text, tmp_path, PLANS)
    stores = load_inventory(tmp_path, PLANS).clients[0].stores
    assert [s.name for s in stores] == ["acme", "acme-b2b"] and stores[1].url == "https://b2b.invalid/"


def test_a_new_client_gets_a_file_of_its_own_with_the_plan(tmp_path):
    inventory = read_inventory(tmp_path, PLANS)
    assert inventory is None
    path, text = client_file_text(inventory, tmp_path, "beta", {**ENTRY, "name": "beta"}, "retainer")
    write_client_file(path, text, tmp_path, PLANS)
    assert path.stat().st_mode & 0o777 == 0o600
    data = yaml.safe_load(path.read_text())
    assert data["plan"] == "retainer" and data["stores"][0]["root"] == "/var/www/b2b"


def test_a_file_that_does_not_load_afterwards_is_put_back(tmp_path):
    (tmp_path / "acme.yaml").write_text(EXISTING)
    with pytest.raises(InventoryError):
        write_client_file(tmp_path / "acme.yaml", EXISTING + "  - name: BAD NAME\n", tmp_path, PLANS)
    assert (tmp_path / "acme.yaml").read_text() == EXISTING


def test_a_store_already_in_the_inventory_or_a_bad_name_is_refused_before_connecting(tmp_path):
    (tmp_path / "acme.yaml").write_text(EXISTING)
    inventory = read_inventory(tmp_path, PLANS)
    with pytest.raises(InventoryError, match="already in the inventory"):
        check_new_store(inventory, "other", "acme")
    with pytest.raises(InventoryError, match="lower-case"):
        check_new_store(inventory, "Other Client", "shop")


def test_the_fingerprint_given_must_be_the_offered_ones():
    key = paramiko.Ed25519Key.from_private_key_file(str(_key()))
    offered = OfferedKey("shop", "127.0.0.1", 2222, key, Path("/dev/null"))
    assert offered.entry_name == "[127.0.0.1]:2222"
    assert same_fingerprint(fingerprint(key), offered)
    assert same_fingerprint(fingerprint(key).replace("SHA256", "sha256") + "=", offered)
    assert not same_fingerprint("SHA256:" + "A" * 43, offered)
    assert not same_fingerprint("", offered)


def _key() -> Path:
    import subprocess
    import tempfile

    folder = Path(tempfile.mkdtemp())
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / "k")], check=True)
    return folder / "k"
