"""`extension` and `products` task wiring: bad arguments fail before any connection opens, with exit 50."""

from __future__ import annotations

from pathlib import Path

import pytest
from invoke import Config, Context
from invoke.exceptions import Exit

from maint.tasks import extension as extension_module
from maint.tasks import products as products_module

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def c(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Context:
    def no_connection(*_a, **_k):
        raise AssertionError("a connection was opened")

    monkeypatch.setattr(extension_module, "connect", no_connection)
    monkeypatch.setattr(products_module, "connect", no_connection)
    maint = {"inventory": str(PROJECT / "maint" / "playbooks" / "clients"), "state_dir": str(tmp_path / "state")}
    return Context(config=Config(overrides={"maint": maint}))


@pytest.mark.parametrize(("args", "says"), [
    (("upgrade", "demo", ""), "the action is one of list, install, remove"),
    (("install", "demo", ""), "name the package file"),
    (("remove", "demo", ""), "name the package's code"),
])
def test_extension_arguments_fail_before_connecting(c, capsys, args, says) -> None:
    with pytest.raises(Exit) as caught:
        extension_module.extension(c, *args)
    assert caught.value.code == 50
    assert says in capsys.readouterr().err


def test_a_bad_package_fails_before_the_store_is_asked_for_its_release(c, tmp_path, capsys, monkeypatch) -> None:
    package = tmp_path / "x.ocmod.zip"
    package.write_bytes(b"not a zip")
    with pytest.raises(Exit) as caught:
        extension_module.extension(c, "install", "demo", str(package))
    assert caught.value.code == 50 and "corrupt zip" in capsys.readouterr().err


def test_products_refuses_an_unknown_match_before_connecting(c, tmp_path, capsys) -> None:
    sheet = tmp_path / "p.csv"
    sheet.write_text("sku\nA\n")
    with pytest.raises(Exit) as caught:
        products_module.products(c, "demo", str(sheet), match="ean")
    assert caught.value.code == 50 and "--match" in capsys.readouterr().err
