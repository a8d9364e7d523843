"""How fresh a snapshot `fab upgrade` may reuse: the flag, else the inventory's or fabric.yaml's option."""

from __future__ import annotations

from typing import Any

import pytest

from maint.errors import InputError
from maint.tasks.upgrade import _snapshot_max_age


class _Cfg:
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options

    def option(self, section: str, key: str, default: Any = None) -> Any:
        return self.options.get(section, {}).get(key, default)


def test_a_snapshot_is_taken_every_run_unless_configured() -> None:
    assert _snapshot_max_age(_Cfg({}), 0) == 0.0


def test_the_inventory_option_sets_the_reusable_age() -> None:
    assert _snapshot_max_age(_Cfg({"upgrade": {"snapshot_max_age": 900}}), 0) == 900.0


def test_the_flag_wins_over_the_option() -> None:
    assert _snapshot_max_age(_Cfg({"upgrade": {"snapshot_max_age": 900}}), "60") == 60.0


@pytest.mark.parametrize("value", ["soon", -5])
def test_a_bad_age_is_refused_naming_the_option(value: Any) -> None:
    with pytest.raises(InputError, match="snapshot_max_age"):
        _snapshot_max_age(_Cfg({"upgrade": {"snapshot_max_age": value}}), 0)
