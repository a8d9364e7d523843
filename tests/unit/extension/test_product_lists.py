"""Product lists of extensions: how a list is described, planned and written back as OpenCart writes it."""

from __future__ import annotations

import pytest

from maint.errors import ConfigError
from maint.extension.lists import FEATURED, ListRow, ListState, _new_raw, list_spec, plan_list
from maint.extension.procedure import php_json


def test_featured_is_built_in_and_inventory_lists_and_presets_are_read() -> None:
    assert list_spec("featured", {}) is FEATURED
    quote = list_spec("quote", {"quote": {"preset": "quote_module"}})
    assert (quote.kind, quote.table, quote.column) == ("column", "product", "quote_status")
    own = list_spec("quote", {"quote": {"kind": "setting", "key": "module_quote_products"}})
    assert own.kind == "setting" and own.key == "module_quote_products"


@pytest.mark.parametrize("raw", [{"kind": "sql"}, {"kind": "column", "table": "product"},
                                 {"kind": "column", "table": "product; drop", "column": "x"}, {"preset": "nope"}])
def test_a_bad_list_description_is_a_config_error(raw) -> None:
    with pytest.raises(ConfigError, match="products.lists.quote"):
        list_spec("quote", {"quote": raw})


def test_an_unknown_list_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="known: featured, quote"):
        list_spec("wishlist", {"quote": {"preset": "quote_module"}})


def test_a_plan_adds_and_removes_only_what_differs() -> None:
    state = ListState(FEATURED, "module 28 'Home Page'", 28, "{}", [43, 40, 42, 30])
    rows = [ListRow(2, "p21", "add"), ListRow(3, "p11", "remove"), ListRow(4, "p1", "add")]
    plan, members = plan_list("shop", state, rows, {"p21": 47, "p11": 40, "p1": 43}, {47: "HP LP3065"})
    assert members == [43, 42, 30, 47]
    assert [c.kind for c in plan] == ["add", "remove"]
    again, _ = plan_list("shop", ListState(FEATURED, "m", 28, "{}", members), rows[:2], {"p21": 47, "p11": 40}, {})
    assert not again and "already lists" in again.noop_reason


def test_the_module_setting_is_written_as_php_json_encode_does() -> None:
    raw = '{"name":"Home Page","product":["43","40"],"limit":"4","status":"1"}'
    state = ListState(FEATURED, "m", 28, raw, [43, 40])
    assert _new_raw(state, [43, 40]) == raw
    assert php_json({"a": "x/y", "b": "é"}) == '{"a":"x\\/y","b":"\\u00e9"}'
