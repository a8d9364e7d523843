"""Verdict rules, data-driven: fixtures/ops/check/<case>.yaml gives the facts that differ from a clean
store (4.x-ready PHP 8.2, MariaDB 10.11, Apache 2.4 with mod_rewrite, tidy host), optional what-if
targets, and the expected statuses, reasons, sources and upgrade target. Adding a case is adding a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from maint.errors import InputError
from maint.facts.host import DiskUsage, FileMode, HostFacts
from maint.facts.mysql import DbServer, parse_sql_mode
from maint.facts.php import PhpFacts
from maint.facts.web import WebServer
from maint.matrix import load_advisories, load_matrix
from maint.ops.check import (
    CheckFacts,
    Targets,
    brief,
    combined_exit,
    plan_check,
    unknown_report,
    validate_targets,
)
from tests.unit.check.test_check_matrix import PRIVATE_SOURCE

CASES = Path(__file__).resolve().parents[3] / "fixtures" / "ops" / "check"
ROOT = "/var/www/shop"
MODERN_EXTENSIONS = [
    "core",
    "date",
    "openssl",
    "pcre",
    "zlib",
    "hash",
    "json",
    "session",
    "standard",
    "mysqlnd",
    "pdo",
    "xml",
    "curl",
    "dom",
    "mbstring",
    "gd",
    "iconv",
    "mysqli",
    "pdo_mysql",
    "zip",
    "xmlwriter",
    "xmlreader",
    "simplexml",
]
CLEAN = {
    "php": {
        "version": "8.2.26",
        "sapi": "fpm-fcgi",
        "extensions": MODERN_EXTENSIONS,
        "server_software": "Apache",
        "ini": {
            "memory_limit": "256M",
            "max_execution_time": "60",
            "upload_max_filesize": "32M",
            "post_max_size": "32M",
            "display_errors": "Off",
            "file_uploads": "1",
            "session.auto_start": "0",
            "open_basedir": None,
        },
    },
    "db": {"kind": "mariadb", "version": "10.11.6", "sql_mode": ""},
    "db_driver": "mysqli",
    "web": {
        "kind": "apache",
        "version": "2.4.62",
        "modules": ["core", "rewrite", "access_compat", "headers"],
    },
    "htaccess": True,
    "host": {
        "disk": {"total": 100 * 1024**3, "available": 60 * 1024**3},
        "config_files": {"config.php": "640", "admin/config.php": "640"},
        "install_present": False,
        "storage_in_webroot": False,
    },
    "error_display_setting": "0",
}


def merged(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        out[key] = (
            merged(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
        )
    return out


def build_facts(spec: dict[str, Any]) -> CheckFacts:
    data = merged(CLEAN, spec)
    php = data["php"] and PhpFacts(
        data["php"]["version"],
        data["php"]["sapi"],
        frozenset(data["php"]["extensions"]),
        data["php"]["ini"],
        data["php"]["server_software"],
        data["php"].get("via", "http"),
    )
    db = data["db"] and DbServer(
        data["db"]["kind"],
        data["db"]["version"],
        data["db"]["version"],
        parse_sql_mode(data["db"]["sql_mode"]),
    )
    web = data["web"] and WebServer(
        data["web"]["kind"],
        data["web"]["version"],
        "test",
        "",
        None if data["web"]["modules"] is None else frozenset(data["web"]["modules"]),
    )
    host = data["host"] and HostFacts(
        ROOT,
        DiskUsage(data["host"]["disk"]["total"], data["host"]["disk"]["available"], "/"),
        tuple(
            FileMode(f"{ROOT}/{path}", int(mode, 8), "shop")
            for path, mode in data["host"]["config_files"].items()
        ),
        data["host"]["install_present"],
        data["host"]["storage_in_webroot"],
        f"{ROOT}/system/storage/" if data["host"]["storage_in_webroot"] else "/var/lib/shop-storage/",
    )
    reasons = {
        k: data[k]
        for k in ("version_reason", "php_reason", "db_reason", "web_reason", "host_reason")
        if k in data
    }
    return CheckFacts(
        "shop",
        data["version"],
        php=php or None,
        db=db or None,
        db_driver=data["db_driver"],
        web=web or None,
        htaccess=data["htaccess"],
        host=host or None,
        error_display_setting=data["error_display_setting"],
        **reasons,
    )


@pytest.fixture(scope="module")
def playbooks():
    return load_matrix(), load_advisories()


def case_files() -> list:
    files = sorted(CASES.glob("*.yaml"))
    assert files
    return [pytest.param(f, id=f.stem) for f in files]


@pytest.mark.parametrize("case", case_files())
def test_verdicts(case: Path, playbooks) -> None:
    spec = yaml.safe_load(case.read_text())
    report = plan_check(build_facts(spec["facts"]), *playbooks, Targets(**spec.get("targets", {})))
    expect = spec["expect"]
    by_component = {v.component: v for v in report.verdicts}
    if "status" in expect:
        assert report.status == expect["status"], [(v.component, v.status, v.reason) for v in report.verdicts]
    if "exit_code" in expect:
        assert report.exit_code == expect["exit_code"]
    for component, status in expect.get("verdicts", {}).items():
        assert by_component[component].status == status, (component, by_component[component].reason)
    for component, text in expect.get("reasons", {}).items():
        assert text in by_component[component].reason, (component, by_component[component].reason)
    for component, text in expect.get("sources", {}).items():
        assert text in by_component[component].source
    for component, text in expect.get("planned", {}).items():
        assert by_component[component].planned == text
    for component, text in expect.get("found", {}).items():
        assert by_component[component].found == text
    for component in expect.get("absent", []):
        assert component not in by_component
    if "recommended" in expect:
        assert report.recommended == expect["recommended"], report.recommendation
    for text in expect.get("recommendation", []):
        assert text in report.recommendation
    if "breaks" in expect:
        assert [b.split(":")[0] for b in report.breaks] == expect["breaks"]
    for ident in expect.get("advisories", []):
        assert ident in [a.advisory.id for a in report.advisories]
    for text in expect.get("warnings", []):
        assert any(text in w for w in report.warnings)
    private = [v.source for v in report.verdicts if PRIVATE_SOURCE.search(v.source)]
    assert not private, "verdicts cite public sources only"


def test_every_verdict_carries_a_reason_and_the_platform_ones_a_source(playbooks) -> None:
    report = plan_check(build_facts({"version": "3.0.3.8"}), *playbooks)
    for verdict in report.verdicts:
        assert verdict.reason
    for component in ("opencart", "php", "php extensions", "database", "web server", "advisories"):
        assert next(v for v in report.verdicts if v.component == component).source


def test_the_json_form_has_everything_a_machine_needs(playbooks) -> None:
    data = plan_check(build_facts({"version": "3.0.3.8"}), *playbooks, Targets(php="8.3")).as_dict()
    assert set(data) >= {
        "store",
        "version",
        "release",
        "status",
        "exit_code",
        "what_if",
        "breaks",
        "recommended_upgrade",
        "recommendation",
        "verdicts",
        "advisories",
        "warnings",
    }
    assert data["what_if"] == {"php": "8.3"}
    assert {"component", "found", "planned", "supported", "status", "reason", "source"} <= set(
        data["verdicts"][0]
    )
    assert {"id", "affected", "fixed", "severity", "source"} <= set(data["advisories"][0])


def test_an_unreachable_store_is_unknown_with_the_reason() -> None:
    report = unknown_report("gone", "SSH connection to 127.0.0.1:1 refused")
    assert (report.status, report.exit_code) == ("unknown", 3)
    assert "refused" in report.verdicts[0].reason


@pytest.mark.parametrize(
    ("codes", "worst"), [([0, 0], 0), ([0, 1], 1), ([1, 3], 3), ([3, 2], 2), ([0, 2, 1, 3], 2), ([], 0)]
)
def test_many_stores_exit_with_the_worst_status_critical_first(codes: list[int], worst: int) -> None:
    reports = [unknown_report(f"s{i}", "x") for i in range(len(codes))]
    for report, code in zip(reports, codes, strict=True):
        report.exit_code = code
    assert combined_exit(reports) == worst


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        (Targets(mysql="8.4", mariadb="10.11"), "give one"),
        (Targets(php="eight"), "--php 'eight'"),
        (Targets(apache="2.4.x.y.z.w"), "--apache"),
        (Targets(php="8.3-rc1"), "--php"),
    ],
)
def test_what_if_flags_that_cannot_be_evaluated_are_refused(targets: Targets, message: str) -> None:
    with pytest.raises(InputError, match=message):
        validate_targets(targets)


def test_sensible_what_if_flags_pass() -> None:
    targets = Targets(php="8.3", mysql="8.4", apache="2.4")
    assert validate_targets(targets) is targets


@pytest.mark.parametrize(
    ("reason", "short"),
    [
        ("not PHP 8 compatible: a maintainer says 3.0.3.8 fails", "not PHP 8 compatible"),
        ("line 1.5 is end of life: no fixes (last 1.x release; no release since)", "line 1.5 is end of life"),
        ("newer than PHP 8.5 (tested: a; b); CI lints 8.1-8.5", "newer than PHP 8.5 (tested: a; b)"),
        ("x" * 80, "x" * 59 + "…"),
    ],
)
def test_the_default_table_shows_the_head_of_a_reason(reason: str, short: str) -> None:
    assert brief(reason, 60) == short
