"""The supported-core matrix and the security advisories: loading, validation, version arithmetic.

Both playbooks are data (``maint/playbooks/matrix.yaml``, ``advisories.yaml``; see maint.playbook_files). Loading checks
every entry against the schema below and raises :class:`PlaybookError` naming the file and entry,
so a typo in the data stops ``fab check`` instead of producing a wrong verdict.

Versions: one comparison rule serves OpenCart, PHP, MySQL, MariaDB and Apache. A range bound is
compared on as many numeric parts as it has, so the bound ``7.4`` accepts ``7.4.33`` and ``==8.4``
means any 8.4.x. OpenCart bounds always carry four parts, which makes the rule exact for them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maint.errors import PlaybookError
from maint.playbook_files import BUILTIN_DIR, read_playbook

DEFAULT_PLAYBOOKS = BUILTIN_DIR
SCHEMA_VERSION = 1

# ---------------------------------------------------------------------------------------------
# Versions

# Leading dotted number, then any vendor suffix ("-MariaDB-0+deb12u1", "_rc1", " Alpha").
_VERSION = re.compile(r"^\s*v?(\d{1,6}(?:\.\d{1,6}){0,4})(.*)$", re.DOTALL)
# A pre-release marker right after the number sorts the version before the plain release.
_PRERELEASE = re.compile(r"^[\s._-]*(alpha|beta|rc|dev)", re.IGNORECASE)
_COMPARISON = re.compile(r"^\s*(>=|<=|==|!=|>|<)?\s*(\d{1,6}(?:\.\d{1,6}){0,4})\s*$")


class VersionError(ValueError):
    """A version or range string that cannot be understood."""


@dataclass(frozen=True)
class Version:
    parts: tuple[int, ...]
    prerelease: bool = False
    raw: str = field(default="", compare=False)

    def __str__(self) -> str:
        return self.raw or self.dotted

    @property
    def dotted(self) -> str:
        return ".".join(map(str, self.parts))

    def line(self, depth: int = 2) -> str:
        """The release line: ``3.0`` for 3.0.3.8, ``8.2`` for PHP 8.2.26."""
        return ".".join(map(str, self.parts[:depth]))

    def compare(self, other: Version) -> int:
        """-1/0/1 over all parts (missing parts count as 0); a pre-release sorts before its release."""
        width = max(len(self.parts), len(other.parts))
        mine = ((self.parts + (0,) * width)[:width], not self.prerelease)
        theirs = ((other.parts + (0,) * width)[:width], not other.prerelease)
        return (mine > theirs) - (mine < theirs)

    def compare_to_bound(self, bound: Version) -> int:
        """-1/0/1 on the bound's own precision: 7.4.33 compares equal to the bound 7.4."""
        width = len(bound.parts)
        mine = (self.parts + (0,) * width)[:width]
        return (mine > bound.parts) - (mine < bound.parts)

    def at_most(self, bound: Version) -> bool:
        return self.compare_to_bound(bound) <= 0

    def at_least(self, bound: Version) -> bool:
        return self.compare_to_bound(bound) >= 0

    def __lt__(self, other: Version) -> bool:
        return self.compare(other) < 0

    def __le__(self, other: Version) -> bool:
        return self.compare(other) <= 0

    def __gt__(self, other: Version) -> bool:
        return self.compare(other) > 0

    def __ge__(self, other: Version) -> bool:
        return self.compare(other) >= 0


def parse_version(text: str) -> Version:
    """``"8.2.26-1+deb12u1"`` → Version((8, 2, 26)); VersionError unless a number leads the text."""
    if not isinstance(text, str):
        raise VersionError(f"not a version string: {text!r}")
    match = _VERSION.match(text)
    if not match:
        raise VersionError(f"unparseable version {text.strip()[:60]!r}")
    parts = tuple(int(p) for p in match.group(1).split("."))
    return Version(parts, prerelease=bool(_PRERELEASE.match(match.group(2))), raw=text.strip())


_OPS: dict[str, Callable[[int], bool]] = {
    ">=": lambda c: c >= 0,
    "<=": lambda c: c <= 0,
    ">": lambda c: c > 0,
    "<": lambda c: c < 0,
    "==": lambda c: c == 0,
    "!=": lambda c: c != 0,
}


@dataclass(frozen=True)
class VersionRange:
    """A conjunction of comparisons such as ``>=8.0,<8.4``."""

    clauses: tuple[tuple[str, Version], ...]
    spec: str

    def __contains__(self, version: object) -> bool:
        if not isinstance(version, Version):
            return False
        return all(_OPS[op](version.compare_to_bound(bound)) for op, bound in self.clauses)

    def __str__(self) -> str:
        return self.spec


def parse_range(spec: str) -> VersionRange:
    """``">=8.0,<8.4"`` → VersionRange; a bare version means ``==``."""
    if not isinstance(spec, str) or not spec.strip():
        raise VersionError(f"empty version range {spec!r}")
    clauses = []
    for piece in spec.split(","):
        match = _COMPARISON.match(piece)
        if not match:
            raise VersionError(f"bad comparison {piece.strip()!r} in range {spec!r}")
        clauses.append((match.group(1) or "==", parse_version(match.group(2))))
    return VersionRange(tuple(clauses), spec.strip())


# ---------------------------------------------------------------------------------------------
# The matrix as data


@dataclass(frozen=True)
class ExtensionSet:
    name: str
    required: tuple[str, ...]
    any_of: tuple[tuple[str, ...], ...]
    ini: Mapping[str, str]
    source: str
    notes: str = ""


@dataclass(frozen=True)
class DriverSet:
    name: str
    shipped: tuple[str, ...]
    offered: tuple[str, ...]
    source: str
    notes: str = ""


@dataclass(frozen=True)
class PhpIssue:
    versions: VersionRange
    severity: str  # "unsupported" or "warning"
    reason: str
    source: str


@dataclass(frozen=True)
class PhpProfile:
    name: str
    max: Version
    issues: tuple[PhpIssue, ...]
    source: str
    linted: VersionRange | None = None
    notes: str = ""
    uncertain: tuple[str, ...] = ()


@dataclass(frozen=True)
class DbFloor:
    min: Version
    recommended: Version


@dataclass(frozen=True)
class Line:
    name: str
    status: str  # current / maintained / superseded / eol / dev
    eol_reason: str
    database: Mapping[str, str]
    session_sql_mode: str
    apache: Mapping[str, str]
    source: str
    mysql: DbFloor | None = None
    mariadb: DbFloor | None = None
    uncertain: tuple[str, ...] = ()


@dataclass(frozen=True)
class Release:
    version: Version
    date: str
    php_min: Version
    php_runtime: Version
    php: PhpProfile
    extensions: ExtensionSet
    drivers: DriverSet
    line: Line
    source: str
    dev: bool = False
    version_constant: str = ""
    notes: str = ""
    uncertain: tuple[str, ...] = ()
    # PHP minors ("8.2") this release was installed and run on for this project, with no error
    # (docs/platform-facts.md): support there is measured, not inferred.
    measured_php: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.version.dotted

    def measured_on(self, php: Version) -> bool:
        return php.line() in self.measured_php


@dataclass(frozen=True)
class Advisory:
    id: str
    affected: VersionRange
    fixed: Version | None
    severity: str
    access: str
    summary: str
    source: str
    aliases: tuple[str, ...] = ()
    notes: str = ""
    uncertain: tuple[str, ...] = ()
    # What the agency can do while no release fixes it (required when `fixed` is null).
    mitigation: str = ""

    def applies_to(self, version: Version) -> bool:
        return version in self.affected


@dataclass(frozen=True)
class Matrix:
    releases: tuple[Release, ...]  # sorted oldest first
    lines: Mapping[str, Line]
    file: str = ""

    def find(self, version: str) -> Release | None:
        """The release a store's version string names: the tag first, then a lagging VERSION define."""
        text = version.strip()
        for release in self.releases:
            if release.name == text:
                return release
        for release in self.releases:
            if release.version_constant and release.version_constant == text:
                return release
        try:
            wanted = parse_version(text)
        except VersionError:
            return None
        if wanted.prerelease or len(wanted.parts) < 3:
            return None
        # "1.5.6" and "1.5.6.0" name the same tag; a suffix-free match on all parts is still exact.
        return next(
            (r for r in self.releases if r.version.compare(wanted) == 0 and not r.version.prerelease), None
        )

    def newer_than(self, release: Release) -> list[Release]:
        return [r for r in self.releases if r.version > release.version]


# ---------------------------------------------------------------------------------------------
# Loading and schema validation


class _Entry:
    """Field access for one mapping in a playbook; every problem names the file and the entry."""

    def __init__(self, file: str, where: str, data: Any) -> None:
        self.file, self.where = file, where
        if not isinstance(data, Mapping):
            raise self.error(f"must be a mapping, got {type(data).__name__}")
        self.data = data

    def error(self, problem: str) -> PlaybookError:
        return PlaybookError(f"{self.file}: {self.where}: {problem}")

    def only(self, allowed: set[str]) -> None:
        unknown = sorted(set(map(str, self.data)) - allowed)
        if unknown:
            raise self.error(f"unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")

    def text(self, key: str, *, required: bool = True, empty_ok: bool = False) -> str:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.error(f"missing {key!r}")
            return ""
        if not isinstance(value, str) or (not empty_ok and not value.strip()):
            raise self.error(f"{key!r} must be a non-empty string, got {value!r}")
        return value

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        value = self.text(key)
        if value not in choices:
            raise self.error(f"{key!r} must be one of {', '.join(choices)}, got {value!r}")
        return value

    def strings(self, key: str, *, required: bool = False) -> tuple[str, ...]:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.error(f"missing {key!r}")
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.error(f"{key!r} must be a list of strings")
        return tuple(value)

    def version(self, key: str, *, required: bool = True) -> Version | None:
        value = self.data.get(key)
        if value is None and not required:
            return None
        try:
            return parse_version(self.text(key))
        except VersionError as exc:
            raise self.error(f"{key!r}: {exc}") from None

    def range(self, key: str, *, required: bool = True) -> VersionRange | None:
        if self.data.get(key) is None and not required:
            return None
        try:
            return parse_range(self.text(key))
        except VersionError as exc:
            raise self.error(f"{key!r}: {exc}") from None

    def mapping(self, key: str, *, required: bool = True) -> Mapping[str, str]:
        value = self.data.get(key)
        if value is None and not required:
            return {}
        if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
            raise self.error(f"{key!r} must be a mapping of strings")
        return {str(k): v for k, v in value.items()}

    def ref(self, key: str, table: Mapping[str, Any], what: str) -> Any:
        name = self.text(key)
        if name not in table:
            raise self.error(f"{key!r} names unknown {what} {name!r} (known: {', '.join(sorted(table))})")
        return table[name]


def _read_yaml(path: Path) -> tuple[str, Mapping[str, Any]]:
    file = str(path)
    data = read_playbook(path)
    top = _Entry(file, "top level", data)
    if top.data.get("schema") != SCHEMA_VERSION:
        raise top.error(f"'schema' must be {SCHEMA_VERSION}, got {top.data.get('schema')!r}")
    return file, top.data


def _section(file: str, data: Mapping[str, Any], key: str, kind: type) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or not value:
        raise PlaybookError(f"{file}: top level: {key!r} must be a non-empty {kind.__name__}")
    return value


def _extension_set(file: str, name: str, raw: Any) -> ExtensionSet:
    e = _Entry(file, f"extension_sets.{name}", raw)
    e.only({"required", "any_of", "ini", "source", "notes"})
    any_of = e.data.get("any_of") or []
    if not isinstance(any_of, list) or not all(
        isinstance(g, list) and g and all(isinstance(x, str) for x in g) for g in any_of
    ):
        raise e.error("'any_of' must be a list of non-empty lists of extension names")
    return ExtensionSet(
        name,
        e.strings("required", required=True),
        tuple(tuple(g) for g in any_of),
        e.mapping("ini"),
        e.text("source"),
        e.text("notes", required=False),
    )


def _driver_set(file: str, name: str, raw: Any) -> DriverSet:
    e = _Entry(file, f"driver_sets.{name}", raw)
    e.only({"shipped", "offered", "source", "notes"})
    return DriverSet(
        name,
        e.strings("shipped", required=True),
        e.strings("offered", required=True),
        e.text("source"),
        e.text("notes", required=False),
    )


def _php_profile(file: str, name: str, raw: Any) -> PhpProfile:
    e = _Entry(file, f"php_profiles.{name}", raw)
    e.only({"max", "linted", "issues", "source", "notes", "uncertain"})
    raw_issues = e.data.get("issues", [])
    if not isinstance(raw_issues, list):
        raise e.error("'issues' must be a list")
    issues = []
    for i, item in enumerate(raw_issues):
        ie = _Entry(file, f"php_profiles.{name}.issues[{i}]", item)
        ie.only({"versions", "severity", "reason", "source"})
        versions = ie.range("versions")
        assert versions is not None
        issues.append(
            PhpIssue(
                versions,
                ie.choice("severity", ("unsupported", "warning")),
                ie.text("reason"),
                ie.text("source"),
            )
        )
    max_ = e.version("max")
    assert max_ is not None
    return PhpProfile(
        name,
        max_,
        tuple(issues),
        e.text("source"),
        e.range("linted", required=False),
        e.text("notes", required=False),
        e.strings("uncertain"),
    )


def _db_floor(e: _Entry, key: str) -> DbFloor | None:
    if e.data.get(key) is None:
        return None
    sub = _Entry(e.file, f"{e.where}.{key}", e.data[key])
    sub.only({"min", "recommended"})
    low, rec = sub.version("min"), sub.version("recommended")
    assert low is not None and rec is not None
    if rec < low:
        raise sub.error(f"'recommended' {rec} is below 'min' {low}")
    return DbFloor(low, rec)


LINE_STATUSES = ("current", "maintained", "superseded", "eol", "dev")


def _line(file: str, name: str, raw: Any) -> Line:
    e = _Entry(file, f"lines.{name}", raw)
    e.only(
        {
            "status",
            "eol_reason",
            "database",
            "mysql",
            "mariadb",
            "session_sql_mode",
            "apache",
            "source",
            "uncertain",
        }
    )
    if not re.fullmatch(r"\d+\.\d+", name):
        raise e.error("a line is named major.minor, e.g. '3.0'")
    apache = e.mapping("apache")
    if apache.get("htaccess_syntax") not in ("2.2", "2.4"):
        raise e.error("'apache.htaccess_syntax' must be '2.2' or '2.4'")
    return Line(
        name,
        e.choice("status", LINE_STATUSES),
        e.text("eol_reason", empty_ok=True),
        e.mapping("database"),
        e.text("session_sql_mode"),
        apache,
        e.text("source"),
        _db_floor(e, "mysql"),
        _db_floor(e, "mariadb"),
        e.strings("uncertain"),
    )


_RELEASE_KEYS = {
    "version",
    "date",
    "dev",
    "php_min",
    "php_runtime",
    "php",
    "extensions",
    "drivers",
    "version_constant",
    "notes",
    "uncertain",
    "source",
    "measured_php",
}


def _release(file: str, index: int, raw: Any, tables: Mapping[str, Mapping[str, Any]]) -> Release:
    where = f"releases[{index}]"
    if isinstance(raw, Mapping) and isinstance(raw.get("version"), str):
        where += f" ({raw['version']})"
    e = _Entry(file, where, raw)
    e.only(_RELEASE_KEYS)
    version = e.version("version")
    assert version is not None
    if len(version.parts) not in (3, 4) or version.raw != version.dotted:
        raise e.error(f"'version' must be a plain 3- or 4-part release number, got {version.raw!r}")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", e.text("date")):
        raise e.error(f"'date' must be YYYY-MM-DD, got {e.data['date']!r}")
    line = tables["lines"].get(version.line())
    if line is None:
        raise e.error(f"no entry under 'lines' for its line {version.line()!r}")
    dev = e.data.get("dev", False)
    if not isinstance(dev, bool):
        raise e.error("'dev' must be true or false")
    php_min, php_runtime = e.version("php_min"), e.version("php_runtime")
    assert php_min is not None and php_runtime is not None
    return Release(
        version,
        e.text("date"),
        php_min,
        php_runtime,
        e.ref("php", tables["php_profiles"], "php profile"),
        e.ref("extensions", tables["extension_sets"], "extension set"),
        e.ref("drivers", tables["driver_sets"], "driver set"),
        line,
        e.text("source"),
        dev,
        e.text("version_constant", required=False),
        e.text("notes", required=False),
        e.strings("uncertain"),
        _php_minors(e, "measured_php"),
    )


def _php_minors(e: _Entry, key: str) -> tuple[str, ...]:
    minors = e.strings(key)
    bad = [m for m in minors if not re.fullmatch(r"\d+\.\d+", m)]
    if bad:
        raise e.error(f"{key!r} lists PHP minors such as '8.2', got {', '.join(map(repr, bad))}")
    return minors


def load_matrix(path: Path | None = None) -> Matrix:
    """Read and validate ``matrix.yaml``; PlaybookError names the file and the entry at fault."""
    file, data = _read_yaml(path or DEFAULT_PLAYBOOKS / "matrix.yaml")
    _Entry(file, "top level", data).only(
        {"schema", "extension_sets", "driver_sets", "php_profiles", "lines", "releases"}
    )
    builders: dict[str, Callable[[str, str, Any], Any]] = {
        "extension_sets": _extension_set,
        "driver_sets": _driver_set,
        "php_profiles": _php_profile,
        "lines": _line,
    }
    tables = {
        key: {str(name): build(file, str(name), raw) for name, raw in _section(file, data, key, dict).items()}
        for key, build in builders.items()
    }
    releases = [
        _release(file, i, raw, tables) for i, raw in enumerate(_section(file, data, "releases", list))
    ]
    seen: dict[str, int] = {}
    for i, release in enumerate(releases):
        if release.name in seen:
            raise PlaybookError(
                f"{file}: releases[{i}] ({release.name}): duplicate of releases[{seen[release.name]}]"
            )
        seen[release.name] = i
    releases.sort(key=lambda r: (r.version.parts + (0,) * 4)[:4])
    return Matrix(tuple(releases), tables["lines"], file)


ADVISORY_SEVERITIES = ("critical", "high", "medium", "low")
ADVISORY_ACCESS = ("unauthenticated", "customer", "admin")
_ADVISORY_ID = re.compile(r"^(CVE-\d{4}-\d{4,}|GHSA(-[0-9a-z]{4}){3}|[A-Z][A-Z0-9]+-[\w.-]+)$")


def _advisory(file: str, index: int, raw: Any) -> Advisory:
    where = f"advisories[{index}]"
    if isinstance(raw, Mapping) and isinstance(raw.get("id"), str):
        where += f" ({raw['id']})"
    e = _Entry(file, where, raw)
    e.only(
        {
            "id",
            "aliases",
            "affected",
            "fixed",
            "severity",
            "access",
            "summary",
            "notes",
            "uncertain",
            "source",
            "mitigation",
        }
    )
    ident = e.text("id")
    if not _ADVISORY_ID.match(ident):
        raise e.error(f"'id' {ident!r} is not a CVE/GHSA-style identifier")
    affected = e.range("affected")
    assert affected is not None
    for _, bound in affected.clauses:
        if len(bound.parts) != 4:
            raise e.error(f"'affected' bounds must be 4-part OpenCart versions, got {bound.dotted!r}")
    fixed = e.version("fixed", required=False)
    if fixed is not None and fixed in affected:
        raise e.error(f"'fixed' {fixed} lies inside its own affected range {affected}")
    mitigation = e.text("mitigation", required=False)
    if fixed is None and not mitigation:
        raise e.error("no 'fixed' release, so a 'mitigation' must say what to do meanwhile")
    return Advisory(
        ident,
        affected,
        fixed,
        e.choice("severity", ADVISORY_SEVERITIES),
        e.choice("access", ADVISORY_ACCESS),
        e.text("summary"),
        e.text("source"),
        e.strings("aliases"),
        e.text("notes", required=False),
        e.strings("uncertain"),
        mitigation,
    )


def load_advisories(path: Path | None = None) -> tuple[Advisory, ...]:
    """Read and validate ``advisories.yaml``."""
    file, data = _read_yaml(path or DEFAULT_PLAYBOOKS / "advisories.yaml")
    _Entry(file, "top level", data).only({"schema", "advisories"})
    advisories = [_advisory(file, i, raw) for i, raw in enumerate(_section(file, data, "advisories", list))]
    ids = [a.id for a in advisories]
    duplicate = next((i for i in ids if ids.count(i) > 1), None)
    if duplicate:
        raise PlaybookError(f"{file}: advisory {duplicate}: listed twice")
    return tuple(advisories)
