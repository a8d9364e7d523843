"""The health `advisories` check grades as `fab check` does (maint.advisories): issue #12 found stock
4.1.0.4, the newest release, CRITICAL for advisories no release fixes."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from maint.advisories import CRITICAL, WARNING, grade_advisory
from maint.health.grading import grade
from maint.health.model import CheckSpec, State
from maint.health.remote import probe_advisories
from maint.matrix import load_advisories

SPEC = CheckSpec(id="advisories", probe="advisories", title="Security advisories that apply", level=1)


def observe(version: str) -> Any:
    rs = SimpleNamespace(facts=SimpleNamespace(version=version))
    return grade("shop", SPEC, probe_advisories(rs, SPEC))  # type: ignore[arg-type]


def test_the_newest_release_with_only_unfixable_advisories_is_a_level_2_warning_with_mitigations() -> None:
    result = observe("4.1.0.4")
    assert (result.state, result.level) == (State.WARNING, 2)
    assert "CVE-2024-21518" in result.evidence and "no fix" in result.evidence
    assert "marketplace/installer" in result.evidence  # its mitigation


def test_a_critical_advisory_a_release_fixes_is_level_1() -> None:
    result = observe("4.0.2.3")
    assert (result.state, result.level) == (State.CRITICAL, 1)
    assert (
        "CVE-2024-58341 (critical, unauthenticated, fixed in 4.1.0.0): upgrade to 4.1.0.0" in result.evidence
    )


@pytest.fixture(scope="module")
def advisories() -> dict[str, Any]:
    return {a.id: a for a in load_advisories()}


@pytest.mark.parametrize(
    ("ident", "expected"),
    [
        ("CVE-2024-58341", CRITICAL),  # critical, unauthenticated, fixed
        ("CVE-2020-20491", CRITICAL),  # high, admin, fixed
        ("CVE-2024-21517", CRITICAL),  # medium but needs no login, fixed
        ("CVE-2023-2315", WARNING),  # medium, admin, fixed
        ("CVE-2024-21518", WARNING),  # high, admin, no fix
        ("CVE-2014-3990", WARNING),  # high, unauthenticated, no fix: mitigation only
    ],
)
def test_advisories_are_graded_by_what_the_agency_can_do(advisories, ident: str, expected: str) -> None:
    graded = grade_advisory(advisories[ident])
    assert graded.grade == expected
    if advisories[ident].fixed is None:
        assert graded.action == advisories[ident].mitigation
    else:
        assert graded.action == f"upgrade to {advisories[ident].fixed.dotted}"
