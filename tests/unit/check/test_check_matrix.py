"""The two playbooks load and satisfy their schema; malformed entries are errors naming file and entry;
version arithmetic works for OpenCart, PHP, MySQL/MariaDB and Apache strings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from maint.errors import PlaybookError
from maint.matrix import (
    DEFAULT_PLAYBOOKS,
    VersionError,
    load_advisories,
    load_matrix,
    parse_range,
    parse_version,
)

MATRIX_FILE = DEFAULT_PLAYBOOKS / "matrix.yaml"
ADVISORIES_FILE = DEFAULT_PLAYBOOKS / "advisories.yaml"


@pytest.fixture(scope="module")
def matrix():
    return load_matrix()


def test_the_matrix_covers_every_release_line_from_1_5_6_to_the_newest_4_x(matrix) -> None:
    names = [r.name for r in matrix.releases]
    for tag in (
        "1.5.6",
        "1.5.6.4",
        "2.0.0.0",
        "2.1.0.2",
        "2.2.0.0",
        "2.3.0.2",
        "3.0.0.0",
        "3.0.3.8",
        "3.0.3.9",
        "3.0.4.1",
        "3.0.5.0",
        "3.0.5.1",
        "4.0.0.0",
        "4.0.2.3",
        "4.1.0.0",
        "4.1.0.3",
        "4.1.0.4",
    ):
        assert tag in names
    assert {r.line.name for r in matrix.releases} >= {"1.5", "2.0", "2.1", "2.2", "2.3", "3.0", "4.0", "4.1"}
    assert [r.name for r in matrix.releases if r.dev] == ["4.1.0.5", "4.2.0.0", "5.0.0.0"]


def test_every_entry_carries_its_source(matrix) -> None:
    for release in matrix.releases:
        assert release.source and release.php.source and release.extensions.source and release.drivers.source
        assert release.line.source
        for issue in release.php.issues:
            assert issue.source and issue.reason
    for advisory in load_advisories():
        assert advisory.source and advisory.summary


def test_releases_are_sorted_and_the_php_floor_never_falls_within_a_line(matrix) -> None:
    versions = [r.version for r in matrix.releases]
    assert versions == sorted(versions)
    by_line: dict[str, list] = {}
    for release in matrix.releases:
        by_line.setdefault(release.line.name, []).append(release.php_min)
    for floors in by_line.values():
        assert floors == sorted(floors)


def test_matrix_facts_the_checks_rely_on(matrix) -> None:
    r3038 = matrix.find("3.0.3.8")
    assert r3038.php_min.dotted == "7.3" and r3038.php.max.dotted == "7.4"
    assert any(i.severity == "unsupported" and parse_version("8.2") in i.versions for i in r3038.php.issues)
    assert matrix.find("3.0.5.1").php_min.dotted == "8.1"
    assert matrix.find("4.1.0.4").php_min.dotted == "8.1" and matrix.find("4.1.0.3").php_min.dotted == "8.0"
    assert "mcrypt" in matrix.find("2.3.0.2").extensions.required
    assert {"dom", "xmlwriter"} <= set(matrix.find("3.0.4.0").extensions.required)
    assert matrix.find("1.5.6.4").line.status == "eol" and matrix.find("4.1.0.4").line.status == "current"


def test_a_lagging_version_define_finds_its_tag_but_an_exact_tag_wins(matrix) -> None:
    assert matrix.find("3.0.3.1_rc").name == "3.0.3.1"
    assert matrix.find("2.1.0.0_rc1").name == "2.1.0.0"
    assert matrix.find("5.0.0.0 Alpha").name == "5.0.0.0"
    assert matrix.find("3.0.3.8").name == "3.0.3.8"  # 3.0.3.9 also says 3.0.3.8; the tag itself wins
    assert matrix.find("1.5.6.0").name == "1.5.6"
    assert matrix.find("9.9.9.9") is None and matrix.find("4.x") is None and matrix.find("") is None


def test_advisories_apply_by_range(matrix) -> None:
    advisories = {a.id: a for a in load_advisories()}
    divido = advisories["CVE-2024-21514"]
    assert divido.applies_to(parse_version("3.0.3.8")) and not divido.applies_to(parse_version("3.0.4.0"))
    assert divido.fixed.dotted == "3.0.4.0"
    assert advisories["CVE-2024-58341"].applies_to(parse_version("4.0.2.3"))
    assert not advisories["CVE-2024-58341"].applies_to(parse_version("4.1.0.0"))


# --- versions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parts", "prerelease"),
    [
        ("8.2.26-1+deb12u1", (8, 2, 26), False),
        ("7.4.3-4ubuntu2.19", (7, 4, 3), False),
        ("10.11.6-MariaDB-0+deb12u1", (10, 11, 6), False),
        ("3.0.3.1_rc", (3, 0, 3, 1), True),
        ("2.1.0.0_rc1", (2, 1, 0, 0), True),
        ("5.0.0.0 Alpha", (5, 0, 0, 0), True),
        ("  4.1.0.4\n", (4, 1, 0, 4), False),
        ("v2.4.62", (2, 4, 62), False),
    ],
)
def test_version_strings_as_platforms_report_them(text: str, parts: tuple, prerelease: bool) -> None:
    version = parse_version(text)
    assert version.parts == parts and version.prerelease is prerelease


@pytest.mark.parametrize("text", ["", "PHP", "unknown", "x8.2", "-", "Apache"])
def test_unparseable_versions_are_refused(text: str) -> None:
    with pytest.raises(VersionError):
        parse_version(text)


def test_versions_compare_part_by_part_and_a_pre_release_sorts_first() -> None:
    assert parse_version("3.0.10.0") > parse_version("3.0.9.9")
    assert parse_version("1.5.6") == parse_version("1.5.6")
    assert parse_version("1.5.6").compare(parse_version("1.5.6.0")) == 0
    assert parse_version("3.0.3.1_rc") < parse_version("3.0.3.1")
    assert parse_version("7.4.33").compare_to_bound(parse_version("7.4")) == 0
    assert parse_version("8.0.0").compare_to_bound(parse_version("7.4")) == 1


@pytest.mark.parametrize(
    ("spec", "inside", "outside"),
    [
        (">=8.0", ["8.0.0", "8.4.1", "9.0"], ["7.4.33"]),
        ("<=7.4", ["7.4.33", "5.6"], ["8.0.0"]),
        (">=7.3,<=8.3", ["7.3.0", "8.3.14"], ["7.2.34", "8.4.0"]),
        ("==8.4", ["8.4.0", "8.4.13"], ["8.3.9"]),
        ("8.4", ["8.4.2"], ["8.5.0"]),
        (">=4.0.0.0,<4.1.0.0", ["4.0.2.3"], ["4.1.0.0", "3.0.5.1"]),
        ("!=3.0.3.8", ["3.0.3.7"], ["3.0.3.8"]),
    ],
)
def test_ranges_compare_on_the_bounds_own_precision(spec: str, inside: list, outside: list) -> None:
    rng = parse_range(spec)
    assert all(parse_version(v) in rng for v in inside)
    assert not any(parse_version(v) in rng for v in outside)


@pytest.mark.parametrize("spec", ["", ">=", "~8.0", ">=8.0;<9", "8.x", ">= eight"])
def test_bad_ranges_are_refused(spec: str) -> None:
    with pytest.raises(VersionError):
        parse_range(spec)


# --- schema violations name the file and the entry -------------------------------------------


def write_changed(tmp_path: Path, source: Path, change) -> Path:
    data = yaml.safe_load(source.read_text())
    change(data)
    target = tmp_path / source.name
    target.write_text(yaml.safe_dump(data, sort_keys=False))
    return target


def release(data: dict, version: str) -> dict:
    return next(r for r in data["releases"] if r["version"] == version)


MATRIX_BREAKAGES = {
    "unknown php profile": (
        lambda d: release(d, "3.0.3.8").update(php="php-9"),
        r"releases\[\d+\] \(3\.0\.3\.8\).*php-9",
    ),
    "missing source": (
        lambda d: release(d, "4.1.0.4").pop("source"),
        r"releases\[\d+\] \(4\.1\.0\.4\): missing 'source'",
    ),
    "bad php_min": (lambda d: release(d, "2.0.0.0").update(php_min="five"), r"\(2\.0\.0\.0\): 'php_min'"),
    "typo key": (
        lambda d: release(d, "3.0.5.1").update(php_max="8.5"),
        r"\(3\.0\.5\.1\): unknown key\(s\) php_max",
    ),
    "duplicate": (lambda d: d["releases"].append(dict(release(d, "3.0.3.8"))), r"\(3\.0\.3\.8\): duplicate"),
    "bad date": (lambda d: release(d, "1.5.6").update(date="1st of August"), r"\(1\.5\.6\): 'date'"),
    "line missing": (lambda d: d["lines"].pop("2.2"), r"\(2\.2\.0\.0\): no entry under 'lines'"),
    "bad issue range": (
        lambda d: d["php_profiles"]["php-4.1"]["issues"][0].update(versions="8.4+"),
        r"php_profiles\.php-4\.1\.issues\[0\]: 'versions'",
    ),
    "bad severity": (
        lambda d: d["php_profiles"]["php-2.x"]["issues"][0].update(severity="fatal"),
        r"php_profiles\.php-2\.x\.issues\[0\]: 'severity' must be one of",
    ),
    "bad line status": (lambda d: d["lines"]["3.0"].update(status="alive"), r"lines\.3\.0: 'status'"),
    "db floor upside down": (
        lambda d: d["lines"]["4.1"]["mysql"].update(recommended="5.0"),
        r"lines\.4\.1\.mysql: 'recommended' 5\.0 is below 'min'",
    ),
    "extension set not a list": (
        lambda d: d["extension_sets"]["E5"].update(required="gd curl"),
        r"extension_sets\.E5: 'required' must be a list",
    ),
    "wrong schema": (lambda d: d.update(schema=2), r"top level: 'schema' must be 1"),
    "release not a mapping": (
        lambda d: d["releases"].append("4.2.0.1"),
        r"releases\[\d+\]: must be a mapping",
    ),
    "measured on a PHP that is not a minor": (
        lambda d: release(d, "4.1.0.4").update(measured_php=["8.2.26"]),
        r"\(4\.1\.0\.4\): 'measured_php' lists PHP minors",
    ),
}


@pytest.mark.parametrize("case", sorted(MATRIX_BREAKAGES))
def test_a_malformed_matrix_entry_is_an_error_naming_file_and_entry(tmp_path: Path, case: str) -> None:
    change, message = MATRIX_BREAKAGES[case]
    path = write_changed(tmp_path, MATRIX_FILE, change)
    with pytest.raises(PlaybookError, match=message) as err:
        load_matrix(path)
    assert str(path) in str(err.value)
    assert err.value.exit_code == 12


def advisory(data: dict, ident: str) -> dict:
    return next(a for a in data["advisories"] if a["id"] == ident)


ADVISORY_BREAKAGES = {
    "fixed inside its range": (
        lambda d: advisory(d, "CVE-2024-21514").update(fixed="3.0.3.8"),
        r"CVE-2024-21514\): 'fixed' 3\.0\.3\.8 lies inside",
    ),
    "short bound": (
        lambda d: advisory(d, "CVE-2016-10509").update(affected="<2.3"),
        r"CVE-2016-10509\): 'affected' bounds must be 4-part",
    ),
    "bad severity": (
        lambda d: advisory(d, "CVE-2023-2315").update(severity="severe"),
        r"CVE-2023-2315\): 'severity'",
    ),
    "bad id": (lambda d: advisory(d, "CVE-2013-1891").update(id="cve 2013 1891"), r"'id' 'cve 2013 1891'"),
    "duplicate": (
        lambda d: d["advisories"].append(dict(advisory(d, "CVE-2015-4671"))),
        r"CVE-2015-4671: listed twice",
    ),
    "missing summary": (
        lambda d: advisory(d, "CVE-2021-47923").pop("summary"),
        r"CVE-2021-47923\): missing 'summary'",
    ),
    "no fix and no mitigation": (
        lambda d: advisory(d, "CVE-2024-21518").pop("mitigation"),
        r"CVE-2024-21518\): no 'fixed' release, so a 'mitigation'",
    ),
}


@pytest.mark.parametrize("case", sorted(ADVISORY_BREAKAGES))
def test_a_malformed_advisory_is_an_error_naming_file_and_entry(tmp_path: Path, case: str) -> None:
    change, message = ADVISORY_BREAKAGES[case]
    path = write_changed(tmp_path, ADVISORIES_FILE, change)
    with pytest.raises(PlaybookError, match=message) as err:
        load_advisories(path)
    assert str(path) in str(err.value)


def test_missing_and_broken_yaml_files_are_playbook_errors(tmp_path: Path) -> None:
    with pytest.raises(PlaybookError, match="not found"):
        load_matrix(tmp_path / "nope.yaml")
    broken = tmp_path / "matrix.yaml"
    broken.write_text("schema: 1\nreleases: [\n")
    with pytest.raises(PlaybookError, match="not valid YAML"):
        load_matrix(broken)


# The private research notes the matrix was first built from: users cannot open them (issue #12).
PRIVATE_SOURCE = re.compile(r"opencart-facts|shared/|\bpart [A-D]\d*\b|§\s*\d|\bB\d(\.\d+)?\b", re.IGNORECASE)


def sources_in(data: object, where: str = "") -> list[tuple[str, str]]:
    if isinstance(data, dict):
        found = [(f"{where}.source", data["source"])] if isinstance(data.get("source"), str) else []
        return found + [pair for k, v in data.items() for pair in sources_in(v, f"{where}.{k}")]
    if isinstance(data, list):
        return [pair for i, v in enumerate(data) for pair in sources_in(v, f"{where}[{i}]")]
    return []


@pytest.mark.parametrize("path", sorted(DEFAULT_PLAYBOOKS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_source_in_the_playbooks_is_public(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    private = [(where, s) for where, s in sources_in(yaml.safe_load(text)) if PRIVATE_SOURCE.search(s)]
    assert not private
    assert not PRIVATE_SOURCE.search(text), "a comment or note cites the private facts document"


def test_measured_facts_cite_the_projects_own_doc() -> None:
    doc = Path(__file__).resolve().parents[3] / "docs" / "platform-facts.md"
    assert doc.is_file()
    for release in load_matrix().releases:
        if release.measured_php:
            assert "docs/platform-facts.md" in release.source, release.name
