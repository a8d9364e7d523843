"""`fab check` and the health `advisories` check on real releases (issue #12, section 2): a critical
advisory a release fixes makes the verdict critical, the target is the newest release that runs the
platform and fixes the advisories, and advisories no release fixes are a warning, never critical."""

from __future__ import annotations

import json
from typing import Any

import pytest
from realtier import REAL, fab

from maint.matrix import parse_version


def check_json(name: str, *flags: str) -> tuple[int, dict[str, Any]]:
    run = fab("check", name, "--json", *flags)
    assert run.returncode in (0, 1, 2, 3), run.stderr
    return run.returncode, json.loads(run.stdout)["stores"][0]


def verdict(store: dict[str, Any], component: str) -> dict[str, Any]:
    return next(v for v in store["verdicts"] if v["component"] == component)


def test_real_4_0_2_3_is_critical_for_its_sql_injection_and_moves_to_4_1(real, real_env) -> None:
    code, store = check_json(REAL["4.0.2.3"])
    assert (code, store["status"]) == (2, "critical")
    assert verdict(store, "php")["status"] == "ok"  # the platform is fine: the advisory alone is critical
    assert verdict(store, "advisories")["status"] == "critical"
    assert "CVE-2024-58341" in [a["id"] for a in store["advisories"] if a["grade"] == "critical"]
    assert parse_version(store["recommended_upgrade"]) >= parse_version("4.1.0.0")
    assert "no core upgrade needed" not in store["recommendation"]


@pytest.mark.parametrize("php", ["", "8.3"])
def test_real_3_0_3_8_on_php_8_2_is_sent_to_the_newest_3_0(real, real_env, php: str) -> None:
    code, store = check_json(REAL["3.0.3.8"], *(["--php", php] if php else []))
    assert code == 2
    assert verdict(store, "php")["status"] == "unsupported"
    assert store["recommended_upgrade"] == "3.0.5.1", store["recommendation"]


def test_real_4_1_0_4_is_not_critical_for_advisories_no_release_fixes(real, real_env) -> None:
    code, store = check_json(REAL["4.1.0.4"])
    assert code != 2 and store["status"] != "critical"
    advisories = verdict(store, "advisories")
    assert advisories["status"] == "warning"
    cve = next(a for a in store["advisories"] if a["id"] == "CVE-2024-21518")
    assert cve["grade"] == "warning" and cve["fixed"] is None and cve["mitigation"]
    assert store["recommended_upgrade"] is None


def test_real_4_1_0_4_health_grades_advisories_as_a_warning(real, real_env) -> None:
    run = fab("health", REAL["4.1.0.4"], "--json")
    results = {r["check"]: r for r in json.loads(run.stdout)["stores"][0]["checks"]}
    assert results["advisories"]["state"] == "WARNING" and results["advisories"]["level"] == 2
    assert "CVE-2024-21518" in results["advisories"]["evidence"]


@pytest.mark.parametrize("version", list(REAL))
def test_the_check_table_fits_120_columns_and_cites_public_sources_only(real, real_env, version) -> None:
    run = fab("check", REAL[version])
    assert max(len(line) for line in run.stdout.splitlines()) <= 120, run.stdout
    assert "overall:" in run.stdout
    full = fab("check", REAL[version], "--sources").stdout
    assert "source" in full and "opencart-facts" not in full and "part B" not in full
