from pathlib import Path

import pytest

from maint.config import Settings, load_settings, store_config
from maint.errors import ConfigError, InventoryError
from maint.inventory import load_inventory

PROJECT = Path(__file__).resolve().parents[3]
GOOD = """
name: acme
plan: starter
contacts: [{name: Ann, email: ann@acme.invalid}]
stores:
  - name: acme-shop
    host: acme-prod
    root: /var/www/shop
    url: https://acme.invalid/
    options: {mirror: {exclude: [image/cache/]}}
"""


def write(tmp_path, text, name="acme.yaml"):
    (tmp_path / name).write_text(text)
    return tmp_path


def test_the_shipped_demo_inventory_is_valid():
    inv = load_inventory(PROJECT / "maint" / "playbooks" / "clients", PROJECT / "maint" / "playbooks" / "plans.yaml")
    assert "demo" in inv.store_names()


def test_a_valid_client_file_loads(tmp_path):
    inv = load_inventory(write(tmp_path, GOOD))
    client, store = inv.find_store("acme-shop")
    assert client.plan == "starter" and store.admin_dir == "admin" and store.url == "https://acme.invalid/"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace("    host: acme-prod\n", ""), "stores[0].host: missing"),
        (GOOD.replace("root: /var/www/shop", "root: /var/www/shop\n    password: hunter2"), "stores[0].password: secrets"),
        (GOOD.replace("url: https://acme.invalid/", "url: acme.invalid"), "stores[0].url"),
        (GOOD.replace("plan: starter", "plan: platinum"), "unknown plan 'platinum'"),
        (GOOD.replace("name: acme\n", "name: Acme Inc\n"), "name: 'Acme Inc' must be lower-case"),
        (GOOD.replace("contacts:", "contact:"), "contact: unknown key"),
        (GOOD + "  - [broken", "not valid YAML"),
        (GOOD.replace("options: {mirror: {exclude: [image/cache/]}}", "options: {db: {db_password: x}}"), "secrets"),
    ],
)
def test_invalid_inventory_names_the_file_and_the_key(tmp_path, text, message):
    write(tmp_path, text)
    with pytest.raises(InventoryError) as err:
        load_inventory(tmp_path, PROJECT / "maint" / "playbooks" / "plans.yaml")
    assert message in str(err.value)
    assert "acme.yaml" in str(err.value)
    assert "hunter2" not in str(err.value)


def test_a_missing_inventory_folder_says_how_to_configure_it(tmp_path):
    with pytest.raises(InventoryError, match="FABRIC_MAINT_INVENTORY"):
        load_inventory(tmp_path / "nope")


def test_a_store_name_used_twice_is_refused(tmp_path):
    write(tmp_path, GOOD)
    write(tmp_path, GOOD.replace("name: acme\n", "name: other\n"), "other.yaml")
    with pytest.raises(InventoryError, match="also defined"):
        load_inventory(tmp_path)


def test_unknown_store_lists_the_known_ones(tmp_path):
    inv = load_inventory(write(tmp_path, GOOD))
    with pytest.raises(InventoryError, match="acme-shop"):
        inv.find_store("nope")


def test_flags_override_settings_which_override_the_inventory(tmp_path):
    inv = load_inventory(write(tmp_path, GOOD))
    settings = load_settings({"state_dir": str(tmp_path / "state"), "connect_timeout": "5",
                              "options": {"mirror": {"keep_daily": 7, "exclude": ["x"]}}})
    cfg = store_config(settings, inv, "acme-shop", {"dry_run": True})
    assert cfg.dry_run is True
    assert cfg.connect_timeout == 5.0
    assert cfg.state_dir == tmp_path / "state"
    assert cfg.option("mirror", "exclude") == ("image/cache/",)  # the store's own beats the agency default
    assert cfg.option("mirror", "keep_daily") == 7
    with pytest.raises(TypeError):
        cfg.options["mirror"]["exclude"] = []  # frozen


def test_an_unknown_flag_is_a_config_error(tmp_path):
    inv = load_inventory(write(tmp_path, GOOD))
    with pytest.raises(ConfigError):
        store_config(Settings(), inv, "acme-shop", {"colour": "red"})
