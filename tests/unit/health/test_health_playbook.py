"""health.yaml loading: the shipped playbook is valid; every malformed case names file and entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from maint.errors import ConfigError, PlaybookError
from maint.health.playbook import PROBES, apply_overrides, load_checks

ROOT = Path(__file__).resolve().parents[3]
BAD = ROOT / "fixtures" / "health" / "playbooks"


def test_shipped_playbook_covers_every_probe_with_a_level() -> None:
    specs = load_checks(ROOT / "maint" / "playbooks" / "health.yaml")
    assert {s.probe for s in specs} == PROBES
    assert all(1 <= s.level <= 4 for s in specs)


@pytest.mark.parametrize("file", sorted(BAD.glob("*.yaml")), ids=lambda p: p.stem)
def test_malformed_playbook_raises_playbook_error_naming_file_and_entry(file: Path) -> None:
    expected = file.read_text().splitlines()[0].removeprefix("# expect: ")
    with pytest.raises(PlaybookError) as err:
        load_checks(file)
    assert str(file) in str(err.value)
    assert expected in str(err.value)


def test_missing_playbook_is_a_playbook_error(tmp_path: Path) -> None:
    with pytest.raises(PlaybookError, match="cannot read"):
        load_checks(tmp_path / "health.yaml")


def specs():
    return load_checks(ROOT / "maint" / "playbooks" / "health.yaml")


def test_store_overrides_change_thresholds_params_and_disable_checks() -> None:
    out = apply_overrides(
        "s3",
        specs(),
        {"disable": ["tls"], "home": {"warn": 3, "crit": 9}, "search": {"params": {"term": "chair"}}},
    )
    by_id = {s.id: s for s in out}
    assert by_id["tls"].enabled is False
    assert (by_id["home"].warn, by_id["home"].crit) == (3.0, 9.0)
    assert by_id["search"].params == {"term": "chair"}


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"nope": {}}, "unknown check 'nope'"),
        ({"disable": ["nope"]}, "unknown check 'nope'"),
        ({"home": {"probe": "db"}}, "options.health.home.probe: unknown key"),
        ({"home": {"warn": 9}}, "warn 9 is past crit 8"),
        ({"home": {"level": 0}}, "support level 1-4"),
        ("all", "must be a mapping"),
    ],
)
def test_bad_store_overrides_are_config_errors_naming_the_store(overrides, message) -> None:
    with pytest.raises(ConfigError) as err:
        apply_overrides("s3", specs(), overrides)
    assert "store s3" in str(err.value) and message in str(err.value)
