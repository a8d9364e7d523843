"""The playbooks ship inside the package; an agency's folder replaces or extends them file by file."""

from pathlib import Path

import pytest

from maint.billing.plans import load_plans
from maint.config import load_settings
from maint.errors import PlaybookError
from maint.health.playbook import load_checks
from maint.matrix import load_advisories, load_matrix
from maint.playbook_files import BUILTIN_DIR, NAMES, describe, merge, playbook_path

ADVISORY = """
  - id: AGENCY-2026-1
    affected: "<=3.0.3.8"
    fixed: "3.0.4.0"
    severity: high
    access: unauthenticated
    summary: "our own finding"
    source: "agency ticket 42"
"""


def test_the_built_in_playbooks_live_inside_the_package():
    import maint

    assert BUILTIN_DIR == Path(maint.__file__).parent / "playbooks"
    for name in NAMES:
        assert (BUILTIN_DIR / name).is_file()
    load_matrix(BUILTIN_DIR / "matrix.yaml")


def test_without_an_agency_folder_every_task_reads_the_built_in_files(tmp_path):
    settings = load_settings({})
    assert settings.playbook("matrix.yaml") == BUILTIN_DIR / "matrix.yaml"
    assert settings.plans_file == BUILTIN_DIR / "plans.yaml"


def test_an_agency_file_replaces_the_built_in_one_and_missing_files_fall_back(tmp_path):
    (tmp_path / "plans.yaml").write_text("plans:\n  gold: {kind: retainer, fee_per_month: 1}\n")
    settings = load_settings({"playbooks": str(tmp_path)})
    assert settings.plans_file == tmp_path / "plans.yaml"
    assert set(load_plans(settings.plans_file).plans) == {"gold"}
    assert settings.playbook("matrix.yaml") == BUILTIN_DIR / "matrix.yaml"
    assert "replaces the built-in one" in describe("plans.yaml", tmp_path)
    assert "(built-in)" in describe("matrix.yaml", tmp_path)


def test_extends_builtin_adds_advisories_to_the_shipped_ones(tmp_path):
    (tmp_path / "advisories.yaml").write_text("extends: builtin\nschema: 1\nadvisories:" + ADVISORY)
    builtin = load_advisories(BUILTIN_DIR / "advisories.yaml")
    extended = load_advisories(playbook_path("advisories.yaml", tmp_path))
    assert [a.id for a in extended] == [a.id for a in builtin] + ["AGENCY-2026-1"]
    assert "extends the built-in one" in describe("advisories.yaml", tmp_path)


def test_extends_builtin_tunes_one_health_check_and_keeps_the_others(tmp_path):
    (tmp_path / "health.yaml").write_text("extends: builtin\nchecks:\n  home: {warn: 3.5}\n")
    specs = {s.id: s for s in load_checks(tmp_path / "health.yaml")}
    shipped = {s.id: s for s in load_checks(BUILTIN_DIR / "health.yaml")}
    assert specs.keys() == shipped.keys()
    assert specs["home"].warn == 3.5 and specs["home"].level == shipped["home"].level


def test_extends_builtin_adds_a_plan(tmp_path):
    (tmp_path / "plans.yaml").write_text("extends: builtin\nplans:\n  gold: {kind: retainer, fee_per_month: 1}\n")
    plans = load_plans(tmp_path / "plans.yaml").plans
    assert "gold" in plans and "starter" in plans


def test_only_builtin_can_be_extended(tmp_path):
    (tmp_path / "matrix.yaml").write_text("extends: ../other\nschema: 1\n")
    with pytest.raises(PlaybookError, match=r"matrix\.yaml: extends: '\.\./other' is not supported"):
        load_matrix(tmp_path / "matrix.yaml")


def test_merge_replaces_keyed_entries_in_place_and_lists_of_plain_values_whole():
    base = {"releases": [{"version": "1", "a": 1}, {"version": "2", "a": 2}], "tags": ["x", "y"]}
    extra = {"releases": [{"version": "2", "a": 20}, {"version": "3", "a": 3}], "tags": ["z"]}
    assert merge(base, extra) == {
        "releases": [{"version": "1", "a": 1}, {"version": "2", "a": 20}, {"version": "3", "a": 3}],
        "tags": ["z"],
    }


def test_doctor_warns_about_a_missing_agency_folder_and_misnamed_files(tmp_path):
    from maint.doctor import check_playbooks

    loaders = {"matrix.yaml": load_matrix, "advisories.yaml": load_advisories, "health.yaml": load_checks,
               "plans.yaml": load_plans}
    missing = check_playbooks(load_settings({"playbooks": str(tmp_path / "nope")}), loaders)
    assert missing[0].state == "warn" and "does not exist" in missing[0].detail
    (tmp_path / "advisory.yaml").write_text("schema: 1\n")
    (tmp_path / "health.yaml").write_text("checks:\n  home: {level: 9}\n")
    found = {f.item: f for f in check_playbooks(load_settings({"playbooks": str(tmp_path)}), loaders)}
    assert "advisory.yaml" in found[str(tmp_path)].detail
    assert found["health.yaml"].state == "error" and found["health.yaml"].fix == f"fix {tmp_path / 'health.yaml'}"
    assert found["matrix.yaml"].state == "ok" and "(built-in)" in found["matrix.yaml"].detail
