"""Verdicts for ``fab check``: a store's platform against the supported-core matrix.

Pure functions of facts, the matrix, the advisories and optional what-if targets. Every verdict
says what was found, what the release supports, a status and the reason with its source:

    ok           within what the release is known to work with
    warning      works, with a known problem or outside what anyone has verified
    unsupported  known not to work (or the line is end of life)
    critical     an advisory a release fixes, critical/high or needing no login (maint.advisories)
    unknown      a fact is missing or unreadable, or the release is not in the matrix: never a guess

The overall status follows monitoring convention: critical (2) if anything is unsupported or
critical, else unknown (3) if anything is unknown, else warning (1), else ok (0).

Sources are public: `path@tag` in github.com/opencart/opencart, issue/PR numbers, CVE records, and
the project's own docs/platform-facts.md for what was measured on real installs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from maint.advisories import GradedAdvisory, grade_advisories, overall_grade
from maint.advisories import summary as advisory_summary
from maint.errors import InputError
from maint.facts.host import HostFacts
from maint.facts.mysql import DbServer
from maint.facts.php import PhpFacts
from maint.facts.web import WebServer
from maint.matrix import Advisory, Matrix, Release, Version, VersionError, parse_version

OK, WARNING, UNSUPPORTED, UNKNOWN, CRITICAL = "ok", "warning", "unsupported", "unknown", "critical"
# Severity for "worst of": unknown outranks warning but not unsupported (a known break beats a gap).
_RANK = {OK: 0, WARNING: 1, UNKNOWN: 2, UNSUPPORTED: 3, CRITICAL: 3}
OVERALL = {
    OK: ("ok", 0),
    WARNING: ("warning", 1),
    UNKNOWN: ("unknown", 3),
    UNSUPPORTED: ("critical", 2),
    CRITICAL: ("critical", 2),
}
# Components whose verdict depends on the platform, and so on the release an upgrade would bring.
PLATFORM_COMPONENTS = ("php", "php extensions", "database", "web server")

# What this project measured on real installs (PHP 8.2 per release, sql_mode, install/ routes).
PLATFORM_FACTS = "docs/platform-facts.md"
LOW_DISK_BYTES = 1024**3
LOW_DISK_RATIO = 0.05
# The PHP extension each OpenCart DB_DRIVER needs.
DRIVER_EXTENSION = {
    "mysqli": "mysqli",
    "pdo": "pdo_mysql",
    "mpdo": "pdo_mysql",
    "mysql": "mysql",
    "pgsql": "pgsql",
    "postgre": "pgsql",
}


@dataclass(frozen=True)
class Verdict:
    component: str
    found: str
    supported: str
    status: str
    reason: str
    source: str = ""
    planned: str = ""  # the what-if value evaluated instead of `found`
    uncertain: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "component": self.component,
            "found": self.found,
            "planned": self.planned or None,
            "supported": self.supported,
            "status": self.status,
            "reason": self.reason,
            "source": self.source,
            "uncertain": list(self.uncertain),
        }


@dataclass(frozen=True)
class Targets:
    """A planned host change (``--php 8.3 --mysql 8.4 --apache 2.4``); empty strings mean unchanged."""

    php: str = ""
    mysql: str = ""
    mariadb: str = ""
    apache: str = ""

    def __bool__(self) -> bool:
        return any((self.php, self.mysql, self.mariadb, self.apache))

    def as_dict(self) -> dict[str, str]:
        return {
            k: v
            for k, v in (
                ("php", self.php),
                ("mysql", self.mysql),
                ("mariadb", self.mariadb),
                ("apache", self.apache),
            )
            if v
        }


@dataclass(frozen=True)
class CheckFacts:
    """What the probes found; a None fact comes with the reason it is missing."""

    store: str
    version: str | None
    version_reason: str = ""
    php: PhpFacts | None = None
    php_reason: str = "not probed"
    db: DbServer | None = None
    db_reason: str = "not probed"
    db_driver: str | None = None
    web: WebServer | None = None
    web_reason: str = "not probed"
    htaccess: bool | None = None
    host: HostFacts | None = None
    host_reason: str = "not probed"
    error_display_setting: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Platform:
    """The platform a release is judged on: found facts, with what-if targets laid over them."""

    php: str | None
    php_missing: str
    extensions: frozenset[str] | None
    db_kind: str | None
    db_version: str | None
    db_missing: str
    web_kind: str | None
    web_version: str | None
    web_modules: frozenset[str] | None
    web_missing: str
    htaccess: bool | None


@dataclass
class CheckReport:
    store: str
    version: str | None
    release: str | None
    verdicts: list[Verdict]
    advisories: list[GradedAdvisory]
    status: str  # ok / warning / critical / unknown
    exit_code: int
    recommended: str | None = None
    recommendation: str = ""
    breaks: list[str] = field(default_factory=list)
    targets: Targets = field(default_factory=Targets)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "version": self.version,
            "release": self.release,
            "status": self.status,
            "exit_code": self.exit_code,
            "what_if": self.targets.as_dict(),
            "breaks": list(self.breaks),
            "recommended_upgrade": self.recommended,
            "recommendation": self.recommendation,
            "verdicts": [v.as_dict() for v in self.verdicts],
            "advisories": [advisory_dict(a) for a in self.advisories],
            "warnings": list(self.warnings),
        }


def advisory_dict(graded: GradedAdvisory) -> dict[str, Any]:
    advisory = graded.advisory
    return {
        "id": advisory.id,
        "aliases": list(advisory.aliases),
        "affected": str(advisory.affected),
        "fixed": advisory.fixed.dotted if advisory.fixed else None,
        "severity": advisory.severity,
        "access": advisory.access,
        "summary": advisory.summary,
        "source": advisory.source,
        "uncertain": list(advisory.uncertain),
        "grade": graded.grade,
        "action": graded.action,
        "mitigation": advisory.mitigation or None,
    }


def brief(text: str, width: int = 60) -> str:
    """The head of a reason for the default table: up to its first ": " or "; " outside brackets,
    cut to ``width`` characters; the whole reason is in ``--sources`` and ``--json``."""
    depth = 0
    for i, char in enumerate(text):
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(char, 0)
        if depth == 0 and text.startswith((": ", "; "), i):
            text = text[:i]
            break
    return clip(text, width)


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)].rstrip() + "…"


def worst(statuses: Iterable[str]) -> str:
    return max(statuses, key=lambda s: _RANK[s], default=OK)


def overall(verdicts: Sequence[Verdict]) -> tuple[str, int]:
    return OVERALL[worst(v.status for v in verdicts)]


# ---------------------------------------------------------------------------------------------
# The platform, found or planned


def platform_of(facts: CheckFacts, targets: Targets = Targets()) -> Platform:
    php = facts.php
    db, web = facts.db, facts.web
    db_kind, db_version = (db.kind, db.version) if db else (None, None)
    if targets.mysql:
        db_kind, db_version = "mysql", targets.mysql
    elif targets.mariadb:
        db_kind, db_version = "mariadb", targets.mariadb
    web_kind, web_version, modules = (web.kind, web.version, web.modules) if web else (None, None, None)
    if targets.apache:
        modules = modules if web_kind == "apache" else None
        web_kind, web_version = "apache", targets.apache
    return Platform(
        php=targets.php or (php.version if php else None),
        php_missing=facts.php_reason,
        extensions=php.extensions if php else None,
        db_kind=db_kind,
        db_version=db_version,
        db_missing=facts.db_reason,
        web_kind=web_kind,
        web_version=web_version,
        web_modules=modules,
        web_missing=facts.web_reason,
        htaccess=facts.htaccess,
    )


def _db_name(kind: str) -> str:
    return "MariaDB" if kind == "mariadb" else "MySQL"


def _parse(text: str) -> Version | None:
    try:
        return parse_version(text)
    except VersionError:
        return None


# ---------------------------------------------------------------------------------------------
# One rule per component


def release_verdict(release: Release) -> Verdict:
    line = release.line
    supported = f"line {line.name}: {line.status}"
    source = line.source
    if release.dev:
        return Verdict(
            "opencart",
            release.name,
            supported,
            WARNING,
            f"development version, not a release: {release.notes or line.eol_reason}",
            release.source,
            uncertain=release.uncertain,
        )
    if line.status == "eol":
        return Verdict(
            "opencart",
            release.name,
            supported,
            UNSUPPORTED,
            f"line {line.name} is end of life: no fixes, security or otherwise ({line.eol_reason})",
            source,
            uncertain=line.uncertain,
        )
    if line.status == "superseded":
        return Verdict(
            "opencart",
            release.name,
            supported,
            WARNING,
            f"line {line.name} is {line.eol_reason}",
            source,
            uncertain=line.uncertain,
        )
    return Verdict(
        "opencart",
        release.name,
        supported,
        OK,
        f"line {line.name} is {line.status}",
        source,
        uncertain=release.uncertain + line.uncertain,
    )


def php_verdict(release: Release, platform: Platform) -> Verdict:
    profile = release.php
    floor = max(release.php_min, release.php_runtime, key=lambda v: v.parts)
    supported = f">= {floor.dotted}, known to work up to {profile.max.dotted}"
    found = platform.php
    if found is None:
        return Verdict("php", "?", supported, UNKNOWN, platform.php_missing, profile.source)
    version = _parse(found)
    if version is None:
        return Verdict("php", found, supported, UNKNOWN, f"unparseable PHP version {found!r}", profile.source)
    if version.compare_to_bound(floor) < 0:
        return Verdict(
            "php",
            found,
            supported,
            UNSUPPORTED,
            f"below PHP {floor.dotted}: the installer refuses it and system/startup.php exits "
            f"with 'PHP{floor.dotted}+ Required'",
            release.source,
        )
    for severity in (UNSUPPORTED, WARNING):
        for issue in profile.issues:
            if issue.severity == severity and version in issue.versions:
                return Verdict(
                    "php", found, supported, severity, issue.reason, issue.source, uncertain=profile.uncertain
                )
    if version.compare_to_bound(profile.max) > 0:
        linted = f"; CI lints {profile.linted}" if profile.linted else ""
        return Verdict(
            "php",
            found,
            supported,
            WARNING,
            f"newer than PHP {profile.max.dotted}, the newest known to work with {release.name}{linted}",
            profile.source,
            uncertain=profile.uncertain,
        )
    if release.measured_on(version):
        # Installed and run on this PHP minor for this project: measured, so nothing here is inferred.
        return Verdict(
            "php",
            found,
            supported,
            OK,
            f"run clean on PHP {version.line()} (supported {floor.dotted}-{profile.max.dotted})",
            f"{profile.source}; {PLATFORM_FACTS} (PHP {version.line()})",
        )
    return Verdict(
        "php",
        found,
        supported,
        OK,
        f"within PHP {floor.dotted}-{profile.max.dotted}",
        profile.source,
        uncertain=profile.uncertain,
    )


def extensions_verdict(release: Release, platform: Platform) -> Verdict:
    ext = release.extensions
    wanted = ", ".join((*ext.required, *("/".join(group) for group in ext.any_of)))
    supported = f"{ext.name}: {wanted}"
    if platform.extensions is None:
        return Verdict("php extensions", "?", supported, UNKNOWN, platform.php_missing, ext.source)
    loaded = platform.extensions
    missing = [name for name in ext.required if name not in loaded]
    missing += ["/".join(group) for group in ext.any_of if not any(name in loaded for name in group)]
    found = f"{len(loaded)} loaded"
    if missing:
        return Verdict(
            "php extensions",
            found,
            supported,
            UNSUPPORTED,
            f"missing {', '.join(missing)}: the installer's requirement check fails without them",
            ext.source,
        )
    return Verdict(
        "php extensions", found, supported, OK, "every extension the installer checks is loaded", ext.source
    )


def ini_verdict(release: Release, php: PhpFacts | None, missing: str) -> Verdict:
    wanted = release.extensions.ini
    supported = ", ".join(f"{k} {v}" for k, v in wanted.items())
    if php is None:
        return Verdict("php settings", "?", supported, UNKNOWN, missing, release.extensions.source)
    shown = ("memory_limit", "max_execution_time", "upload_max_filesize", "post_max_size")
    found = ", ".join(f"{k}={php.ini.get(k)}" for k in shown if php.ini.get(k) is not None) or "?"
    wrong = [
        f"{key} is {'on' if php.ini_on(key) else 'off'}"
        for key, value in wanted.items()
        if php.ini_on(key) is not None and php.ini_on(key) != (value == "on")
    ]
    if wrong:
        return Verdict(
            "php settings",
            found,
            supported,
            WARNING,
            f"{'; '.join(wrong)}: the installer requires {supported}",
            release.extensions.source,
        )
    return Verdict(
        "php settings", found, supported, OK, "as the installer requires", release.extensions.source
    )


def database_verdict(release: Release, platform: Platform) -> Verdict:
    line = release.line
    kind = platform.db_kind
    floor = (line.mysql if kind == "mysql" else line.mariadb) if kind else None
    supported = (
        f"{kind} >= {floor.min.dotted} (practical {floor.recommended.dotted})"
        if floor
        else "no minimum stated"
    )
    source = f"{line.source}; docs requirements.html (no version stated); discussion #10952"
    if kind is None or platform.db_version is None:
        return Verdict("database", "?", supported, UNKNOWN, platform.db_missing, source)
    found = f"{_db_name(kind)} {platform.db_version}"
    version = _parse(platform.db_version)
    if version is None:
        return Verdict(
            "database",
            found,
            supported,
            UNKNOWN,
            f"unparseable server version {platform.db_version!r}",
            source,
        )
    if floor is None:
        return Verdict(
            "database",
            found,
            supported,
            OK,
            f"OpenCart {line.name} codes no database version check and states no minimum",
            source,
            uncertain=line.uncertain,
        )
    if version.compare_to_bound(floor.min) < 0:
        return Verdict(
            "database",
            found,
            supported,
            UNSUPPORTED,
            f"below {floor.min.dotted}: no utf8mb4, which this line's schema uses",
            source,
            uncertain=line.uncertain,
        )
    if version.compare_to_bound(floor.recommended) < 0:
        return Verdict(
            "database",
            found,
            supported,
            WARNING,
            f"below the practical floor {floor.recommended.dotted} (inferred, not coded)",
            source,
            uncertain=line.uncertain,
        )
    return Verdict(
        "database",
        found,
        supported,
        OK,
        f"at or above {floor.recommended.dotted}",
        source,
        uncertain=line.uncertain,
    )


def sql_mode_verdict(release: Release, db: DbServer) -> Verdict:
    line = release.line
    modes = set(db.sql_mode)
    found = ",".join(db.sql_mode) or "(empty)"
    source = f"upload/system/library/db/mysqli.php@3.0.3.8, @4.1.0.4; {PLATFORM_FACTS} (sql_mode)"
    if line.session_sql_mode != "unknown":
        return Verdict(
            "sql_mode",
            found,
            f"driver sets {line.session_sql_mode}",
            OK,
            "OpenCart's driver sets its own session sql_mode",
            source,
        )
    risky = sorted(m for m in modes if m == "NO_ZERO_DATE" or m.startswith("STRICT_"))
    if risky:
        return Verdict(
            "sql_mode",
            found,
            "no session sql_mode set",
            WARNING,
            f"global {', '.join(risky)} and a driver that keeps it: inserts of '0000-00-00' dates fail "
            "(ERROR 1292)",
            source,
            uncertain=("whether this release's driver sets sql_mode was not checked",),
        )
    return Verdict("sql_mode", found, "no session sql_mode set", OK, "no strict or NO_ZERO_DATE mode", source)


def driver_verdict(release: Release, driver: str, extensions: frozenset[str] | None) -> Verdict:
    drivers = release.drivers
    supported = f"{drivers.name}: {', '.join(drivers.shipped)}"
    if driver not in drivers.shipped:
        return Verdict(
            "db driver",
            driver,
            supported,
            UNSUPPORTED,
            f"DB_DRIVER {driver!r} has no driver file in {release.name}",
            drivers.source,
        )
    needed = DRIVER_EXTENSION.get(driver)
    if needed and extensions is not None and needed not in extensions:
        return Verdict(
            "db driver",
            driver,
            supported,
            UNSUPPORTED,
            f"DB_DRIVER {driver!r} needs the PHP extension {needed}, which is not loaded",
            drivers.source,
        )
    return Verdict(
        "db driver", driver, supported, OK, "driver shipped and its PHP extension loaded", drivers.source
    )


def web_verdict(release: Release, platform: Platform) -> Verdict:
    apache = release.line.apache
    syntax, inner = apache.get("htaccess_syntax", "2.4"), apache.get("inner_htaccess_syntax", "")
    supported = f"Apache with {apache.get('rewrite', 'mod_rewrite')}; .htaccess.txt in {syntax} syntax"
    source = f"upload/.htaccess.txt@{release.name}"
    kind, version = platform.web_kind, platform.web_version
    if kind is None:
        return Verdict("web server", "?", supported, UNKNOWN, platform.web_missing, source)
    found = f"{kind} {version or ''}".strip()
    if kind == "php-builtin":
        return Verdict(
            "web server",
            found,
            supported,
            WARNING,
            "PHP's built-in development server: not for production, and .htaccess rules do not apply",
            source,
        )
    if kind != "apache":
        note = "no official nginx support: port the .htaccess rules" if kind == "nginx" else "not Apache"
        return Verdict(
            "web server",
            found,
            supported,
            WARNING,
            f"{note}; OpenCart ships only Apache rules (.htaccess.txt) and its docs recommend Apache",
            source,
            uncertain=("no official statement on servers other than Apache",),
        )
    parsed = _parse(version or "")
    if parsed is None or len(parsed.parts) < 2:
        return Verdict(
            "web server",
            found,
            supported,
            UNKNOWN,
            "Apache hides its version (ServerTokens Prod?): the .htaccess syntax cannot be checked",
            source,
        )
    modules = platform.web_modules
    problems: list[tuple[str, str]] = []
    if syntax == "2.4" and parsed.compare_to_bound(parse_version("2.4")) < 0:
        severity = UNSUPPORTED if platform.htaccess else WARNING
        problems.append(
            (
                severity,
                "`.htaccess` uses Apache 2.4 `Require all denied`, an error on Apache 2.2 "
                "(swap in the Order/Deny lines the file's comment gives)",
            )
        )
    old_style = [name for name, s in ((".htaccess", syntax), ("system/.htaccess", inner)) if s == "2.2"]
    if (
        old_style
        and parsed.compare_to_bound(parse_version("2.4")) >= 0
        and modules is not None
        and "access_compat" not in modules
    ):
        problems.append(
            (
                WARNING,
                f"{' and '.join(old_style)} use Apache 2.2 Order/Deny lines, which need "
                "mod_access_compat on 2.4 (not loaded)",
            )
        )
    if platform.htaccess and modules is not None and "rewrite" not in modules:
        problems.append((WARNING, "mod_rewrite is not loaded: SEO URLs from .htaccess give 404s"))
    if problems:
        status = worst(s for s, _ in problems)
        return Verdict(
            "web server",
            found,
            supported,
            status,
            "; ".join(r for _, r in problems),
            source,
            uncertain=("Apache 2.2/2.4 syntax effects come from Apache's behaviour, not tested here",),
        )
    note = "" if platform.htaccess else " (no .htaccess: SEO URLs off)"
    known = "" if modules is not None else "; modules not listed"
    return Verdict("web server", found, supported, OK, f"Apache {parsed.dotted}{note}{known}", source)


def hygiene_verdicts(facts: CheckFacts) -> list[Verdict]:
    host, php = facts.host, facts.php
    if host is None:
        return [Verdict("host", "?", "", UNKNOWN, facts.host_reason)]
    verdicts = []
    if host.disk is None:
        verdicts.append(Verdict("disk", "?", "", UNKNOWN, "; ".join(host.warnings) or "df gave nothing"))
    else:
        free = (
            f"{host.disk.available / 1024**3:.1f} GiB free ({host.disk.free_ratio:.0%}) on {host.disk.mount}"
        )
        low = host.disk.available < LOW_DISK_BYTES or host.disk.free_ratio < LOW_DISK_RATIO
        verdicts.append(
            Verdict(
                "disk",
                free,
                ">= 1 GiB and 5 %",
                WARNING if low else OK,
                "low on space: caches, sessions and uploads will fail" if low else "enough space",
            )
        )
    open_files = [f for f in host.config_files if f.world_readable or f.world_writable]
    shown = ", ".join(f"{f.relative_to(host.root)} {f.mode:o}" for f in host.config_files) or "?"
    if not host.config_files:
        verdicts.append(Verdict("config files", "?", "not world-readable", UNKNOWN, "; ".join(host.warnings)))
    elif open_files:
        writable = [f for f in open_files if f.world_writable]
        why = (
            "world-writable: any local user can change the store's code path and DB settings"
            if writable
            else "world-readable: any local user can read the database password"
        )
        verdicts.append(Verdict("config files", shown, "mode 640 or 600", WARNING, why))
    else:
        verdicts.append(Verdict("config files", shown, "mode 640 or 600", OK, "not readable by other users"))
    if host.install_present:
        verdicts.append(
            Verdict(
                "install/",
                "present",
                "deleted after install/upgrade",
                WARNING,
                "left on a live store: its installer and upgrader routes need no login",
                f"INSTALL.md; admin/controller/common/security.php@4.1.0.4; {PLATFORM_FACTS} (install/)",
            )
        )
    else:
        verdicts.append(Verdict("install/", "absent", "deleted after install/upgrade", OK, "removed"))
    storage = host.storage_path or "?"
    if host.storage_in_webroot:
        verdicts.append(
            Verdict(
                "storage",
                storage,
                "outside the web root",
                WARNING,
                "storage (logs, sessions, uploads, backups) inside the web root; only .htaccess "
                "rules on Apache keep it private",
                "upload/admin/controller/common/security.php@3.0.3.8, @4.1.0.4",
            )
        )
    else:
        verdicts.append(Verdict("storage", storage, "outside the web root", OK, "outside the web root"))
    shown_errors = []
    # The CLI's php.ini says nothing about what visitors see, so only the web server's value counts.
    if php is not None and php.via == "http" and php.ini_on("display_errors"):
        shown_errors.append(f"php display_errors={php.ini.get('display_errors')}")
    if facts.error_display_setting == "1":
        shown_errors.append("config_error_display=1")
    found = ", ".join(shown_errors) or ("off" if php is not None else "?")
    if shown_errors:
        verdicts.append(
            Verdict(
                "display_errors",
                found,
                "off",
                WARNING,
                "errors are printed into pages, leaking SQL and file paths",
                f"{PLATFORM_FACTS} (error display)",
            )
        )
    elif php is None and facts.error_display_setting is None:
        verdicts.append(Verdict("display_errors", "?", "off", UNKNOWN, facts.php_reason))
    else:
        verdicts.append(Verdict("display_errors", found, "off", OK, "errors are not shown to visitors"))
    return verdicts


def advisories_verdict(release: Release, graded: Sequence[GradedAdvisory]) -> Verdict:
    """Graded by what the agency can do (maint.advisories): one rule shared with ``fab health``."""
    source = "playbooks/advisories.yaml (CVE records, GHSA, issues: see the advisories)"
    if not graded:
        return Verdict("advisories", "none", "", OK, f"no known advisory names {release.name}", source)
    grade = overall_grade(graded)
    status = CRITICAL if grade == "critical" else WARNING
    return Verdict("advisories", f"{len(graded)} apply", "", status, advisory_summary(graded), source)


# ---------------------------------------------------------------------------------------------
# Putting it together


def platform_verdicts(release: Release, platform: Platform) -> list[Verdict]:
    return [
        php_verdict(release, platform),
        extensions_verdict(release, platform),
        database_verdict(release, platform),
        web_verdict(release, platform),
    ]


def _acceptable(release: Release, platform: Platform) -> bool:
    """PHP known to work, and no database or web server break. Missing extensions don't rule a release
    out: installing one is the smaller change, so the recommendation names them instead."""
    php, _, database, web = platform_verdicts(release, platform)
    return php.status == OK and UNSUPPORTED not in (database.status, web.status)


def _php_inferred(release: Release, platform: Platform) -> tuple[str, ...]:
    """Why support of the platform's PHP by ``release`` is only inferred (⚠); empty when measured or coded."""
    return php_verdict(release, platform).uncertain


def _fixed_advisories(release: Release, advisories: Sequence[Advisory]) -> list[Advisory]:
    """Advisories a later release fixes that still apply to ``release``: a target must have none."""
    return [a for a in advisories if a.fixed is not None and a.applies_to(release.version)]


def upgrade_candidates(
    matrix: Matrix, release: Release, platform: Platform, advisories: Sequence[Advisory]
) -> list[Release]:
    """Every proposable release, best first: supports the platform, has no advisory a release fixes;
    support measured or coded before inferred, then the store's own line before newer lines, then the
    newest first ("update to the latest"). Development versions and end-of-life lines never qualify."""
    usable = [
        r
        for r in matrix.newer_than(release)
        if not r.dev
        and r.line.status != "eol"
        and _acceptable(r, platform)
        and not _fixed_advisories(r, advisories)
    ]
    return sorted(usable, key=lambda r: (bool(_php_inferred(r, platform)), *_line_order(release, r)))


def _line_order(release: Release, candidate: Release) -> tuple[Any, ...]:
    """The store's own line first, then the next line up (a superseded one after the rest: nobody
    should move into 4.0 when 4.1 exists), newest release first within a line."""
    line = candidate.version.line()
    return (
        line != release.version.line(),
        candidate.line.status == "superseded",
        candidate.version.parts[:2],
        [-p for p in candidate.version.parts],
    )


def recommend_upgrade(
    matrix: Matrix, release: Release, platform: Platform, advisories: Sequence[Advisory] = ()
) -> Release | None:
    """The newest release of the store's line that supports the platform and fixes the advisories,
    else the newest of a newer line; a release whose support is only inferred comes last."""
    candidates = upgrade_candidates(matrix, release, platform, advisories)
    return candidates[0] if candidates else None


def _upgrade_reasons(release: Release, php_status: str, graded: Sequence[GradedAdvisory]) -> list[str]:
    reasons = []
    if php_status != OK:
        reasons.append("platform")
    if release.line.status == "eol":
        reasons.append("end of life")
    if any(g.advisory.fixed is not None for g in graded):
        reasons.append("advisories")
    return reasons


def _recommendation(
    matrix: Matrix,
    release: Release,
    platform: Platform,
    php_status: str,
    graded: Sequence[GradedAdvisory],
    advisories: Sequence[Advisory],
) -> tuple[str | None, str]:
    """(target release or None, the sentence that explains it)."""
    fixable = [g.advisory for g in graded if g.advisory.fixed is not None]
    if php_status == UNKNOWN:
        fixes = "; ".join(f"{a.id} is fixed in {a.fixed.dotted}" for a in fixable if a.fixed)
        return None, "no recommendation while the PHP version is unknown" + (f" ({fixes})" if fixes else "")
    why = _upgrade_reasons(release, php_status, graded)
    if not why:
        text = (
            f"{release.name} runs on PHP {platform.php} and no advisory for it has a fixed release: "
            "no core upgrade needed"
        )
        newest = recommend_upgrade(matrix, release, platform, advisories)
        if newest is not None and newest.version.line() == release.version.line():
            text += f" (the newest in line {newest.version.line()} is {newest.name}, at the next update)"
        return None, text
    candidates = upgrade_candidates(matrix, release, platform, advisories)
    if not candidates:
        needed = f" and fixes {', '.join(a.id for a in fixable)}" if fixable else ""
        text = f"no release supports {_describe(platform)}{needed}; change the platform instead"
        safe = [
            r
            for r in matrix.newer_than(release)
            if not r.dev and r.line.status != "eol" and not _fixed_advisories(r, advisories)
        ]
        if safe:
            then = min(safe, key=lambda r: _line_order(release, r))
            floor = max(then.php_min, then.php_runtime, key=lambda v: v.parts)
            text += (
                f" (then {then.name}, which needs PHP >= {floor.dotted}, works up to {then.php.max.dotted})"
            )
        return None, text
    target = candidates[0]
    own = release.version.line()
    same_line = target.version.line() == own
    fixes = " and fixes the advisories" if "advisories" in why else ""
    if same_line:
        text = (
            f"upgrade to {target.name}: the newest release in line {own} that supports "
            f"{_describe(platform)}{fixes}"
        )
    else:
        text = (
            f"upgrade to {target.name}: the newest release of a newer line ({target.version.line()}) that "
            f"supports {_describe(platform)}{fixes}; line {own} has none"
        )
    inferred = _php_inferred(target, platform)
    if inferred:
        text += f" (⚠ support inferred: {inferred[0]})"
    else:
        # A release the store could take that is skipped only because its support is inferred.
        skipped = [r for r in candidates if _php_inferred(r, platform) and r.version.line() == own]
        if skipped and not same_line:
            alt = max(skipped, key=lambda r: r.version.parts)
            text += (
                f"; {alt.name} in line {own} might also run it, but that is only inferred "
                f"({_php_inferred(alt, platform)[0]})"
            )
    missing = extensions_verdict(target, platform)
    if missing.status == UNSUPPORTED:
        text += f"; it also needs PHP extensions the host lacks ({missing.reason.split(':')[0]})"
    left = [g.advisory for g in graded if not g.advisory.applies_to(target.version)]
    cleared = [a.id for a in left if a.fixed is not None]
    outside = [a.id for a in left if a.fixed is None]
    if cleared:
        text += f"; also clears {', '.join(cleared)}"
    if outside:
        text += f"; outside the recorded range of {', '.join(outside)} (no fix confirmed)"
    return target.name, text


def _mark_planned(verdicts: list[Verdict], facts: CheckFacts, targets: Targets) -> list[Verdict]:
    found_by_component = {
        "php": (facts.php.version if facts.php else "?", targets.php),
        "database": (
            f"{_db_name(facts.db.kind)} {facts.db.version}" if facts.db else "?",
            targets.mysql or targets.mariadb,
        ),
        "web server": (
            f"{facts.web.kind} {facts.web.version or ''}".strip() if facts.web else "?",
            targets.apache,
        ),
    }
    marked = []
    for verdict in verdicts:
        was, planned = found_by_component.get(verdict.component, ("", ""))
        marked.append(replace(verdict, found=was, planned=verdict.found) if planned else verdict)
    return marked


def plan_check(
    facts: CheckFacts, matrix: Matrix, advisories: Sequence[Advisory], targets: Targets = Targets()
) -> CheckReport:
    """Verdicts for one store; with targets, for the store after the planned host change."""
    warnings = list(facts.warnings) + (list(facts.php.warnings) if facts.php else [])
    release = matrix.find(facts.version) if facts.version else None
    if release is None:
        reason = (
            f"OpenCart {facts.version} is not in the matrix ({matrix.file})"
            if facts.version
            else f"OpenCart version unknown: {facts.version_reason}"
        )
        verdicts = [Verdict("opencart", facts.version or "?", "", UNKNOWN, reason)]
        verdicts += hygiene_verdicts(facts)
        status, code = overall(verdicts)
        return CheckReport(
            facts.store,
            facts.version,
            None,
            verdicts,
            [],
            status,
            code,
            recommendation="no recommendation without a matrix entry for the store's release",
            targets=targets,
            warnings=warnings,
        )

    current = platform_of(facts)
    planned = platform_of(facts, targets)
    verdicts = [release_verdict(release)]
    platform_now = platform_verdicts(release, planned)
    verdicts += platform_now
    verdicts.append(ini_verdict(release, facts.php, facts.php_reason))
    if facts.db is not None and not (targets.mysql or targets.mariadb):
        verdicts.append(sql_mode_verdict(release, facts.db))
    if facts.db_driver:
        verdicts.append(driver_verdict(release, facts.db_driver, planned.extensions))
    verdicts += hygiene_verdicts(facts)
    applying = [a for a in advisories if a.applies_to(release.version)]
    graded = grade_advisories(applying)
    verdicts.append(advisories_verdict(release, graded))

    breaks: list[str] = []
    if targets:
        if targets.php and facts.php is not None:
            warnings.append(
                f"assuming PHP {targets.php} gets the same extensions and settings as today's PHP"
            )
        before = {v.component: v for v in platform_verdicts(release, current)}
        for verdict in platform_now:
            old = before[verdict.component]
            if _RANK[verdict.status] > _RANK[old.status] and verdict.status in (UNSUPPORTED, WARNING):
                breaks.append(f"{verdict.component}: {old.status} -> {verdict.status} ({verdict.reason})")
        verdicts = _mark_planned(verdicts, facts, targets)

    recommended, recommendation = _recommendation(
        matrix, release, planned, platform_now[0].status, graded, advisories
    )
    status, code = overall(verdicts)
    return CheckReport(
        facts.store,
        facts.version,
        release.name,
        verdicts,
        graded,
        status,
        code,
        recommended,
        recommendation,
        breaks,
        targets,
        warnings,
    )


def _describe(platform: Platform) -> str:
    parts = []
    if platform.php:
        parts.append(f"PHP {platform.php}")
    if platform.db_kind and platform.db_version:
        parts.append(f"{_db_name(platform.db_kind)} {platform.db_version}")
    if platform.web_kind == "apache" and platform.web_version:
        parts.append(f"Apache {platform.web_version}")
    return ", ".join(parts) or "this platform"


def unknown_report(store: str, reason: str, targets: Targets = Targets()) -> CheckReport:
    """A store that could not be checked at all (no connection, not OpenCart): status unknown, never a crash."""
    verdict = Verdict("store", "?", "", UNKNOWN, reason)
    return CheckReport(store, None, None, [verdict], [], "unknown", 3, targets=targets)


def combined_exit(reports: Iterable[CheckReport]) -> int:
    """Worst of several stores, in the same order as one store's components."""
    by_code = {0: OK, 1: WARNING, 3: UNKNOWN, 2: UNSUPPORTED}
    return OVERALL[worst(by_code[r.exit_code] for r in reports)][1]


def targets_from(options: Mapping[str, str]) -> Targets:
    return Targets(**{k: v for k, v in options.items() if k in ("php", "mysql", "mariadb", "apache") and v})


def validate_targets(targets: Targets) -> Targets:
    """Reject what-if flags that cannot be evaluated, before any connection opens."""
    if targets.mysql and targets.mariadb:
        raise InputError("--mysql and --mariadb describe the same database server: give one")
    for flag, value in targets.as_dict().items():
        # A plain number such as 8.3 or 10.11.6: a suffix ("8.3-rc1", "2.4.x") would be silently dropped.
        if not re.fullmatch(r"\d+(\.\d+){0,2}", value.strip()):
            raise InputError(f"--{flag} {value!r} is not a version such as 8.3 or 10.11", column=f"--{flag}")
    return targets
