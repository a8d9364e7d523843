"""What an OpenCart install is: version, paths, admin folder, table prefix, database credentials.

Version detection follows section 6 of the facts: the VERSION define first, cross-checked with
the config constants and tree markers, because the define lags the tag in some releases.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fabric import Connection

from maint.config import StoreConfig
from maint.errors import ConfigFileError, FactError, NotOpenCartError
from maint.facts.phpconfig import parse_config_php, parse_version_define
from maint.remote.sql import DbCredentials
from maint.remote.ssh import quote, read_text, resolve_path, run

# Relative paths whose presence tells releases apart (facts §6.3-6.4).
TREE_MARKERS = (
    "system/database",
    "system/library/db/pdo.php",
    "system/library/db/pgsql.php",
    "system/library/db/postgre.php",
    "system/modification.xml",
    "system/storage",
    "catalog/language/english",
    "catalog/language/en-gb",
    "catalog/language/fr-fr",
    "catalog/view/theme/default/template",
    "catalog/view/template",
    "catalog/controller/extension/payment",
    "extension/opencart",
    "extension/ocmod",
    "install",
    ".htaccess",
)
# Twig in the vendored composer metadata pins 3.0.x tags whose VERSION define lags (facts §6.5).
TWIG_TO_RELEASE = {"v2.13.0": "3.0.3.8", "v3.6.1": "3.0.3.9", "v3.8.0": "3.0.4.1", "v3.24.0": "3.0.5.1"}
# Known lags of the define behind the tag (facts §6): define → candidates.
DEFINE_LAGS = {
    "2.1.0.0_rc1": "2.1.0.0",
    "3.0.3.1_rc": "3.0.3.1",
}


@dataclass(frozen=True)
class VersionEvidence:
    define: str | None
    config_line: str | None
    tree_line: str | None
    twig: str | None
    markers: Mapping[str, bool]


@dataclass(frozen=True)
class StoreFacts:
    store: str
    root: str
    admin_dir: str
    version: str
    version_define: str | None
    branch: str
    http_server: str
    url: str
    catalog_config: Mapping[str, str] = field(repr=False)
    admin_config: Mapping[str, str] = field(repr=False)
    db: DbCredentials = field(repr=False)
    dir_storage: str = ""
    storage_in_webroot: bool = True
    markers: Mapping[str, bool] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def path(self, key: str) -> str:
        """A DIR_* path from the catalog config (absolute, with a trailing slash)."""
        return self.catalog_config.get(key, "")

    def public(self) -> dict[str, Any]:
        """Facts safe to show or store: no credentials."""
        return {
            "store": self.store,
            "root": self.root,
            "admin_dir": self.admin_dir,
            "version": self.version,
            "version_define": self.version_define,
            "branch": self.branch,
            "url": self.url,
            "table_prefix": self.db.prefix,
            "db_driver": self.db.driver,
            "database": self.db.database,
            "dir_storage": self.dir_storage,
            "storage_in_webroot": self.storage_in_webroot,
            "paths": {k: v for k, v in self.catalog_config.items() if k.startswith("DIR_")},
            "warnings": list(self.warnings),
        }


SECRET_KEYS = frozenset({"DB_PASSWORD", "CACHE_PASSWORD", "DB_SSL_KEY"})


def config_line(consts: Mapping[str, str]) -> str | None:
    """Release line from which constants config.php defines (facts §6.2)."""
    if "APPLICATION" in consts or "DIR_OPENCART" in consts:
        return "4.1" if "DB_SSL_KEY" in consts else "4.x"
    if "DIR_STORAGE" in consts and "DIR_MODIFICATION" in consts:
        return "3.0"
    if "DIR_MODIFICATION" in consts:
        return "2.1" if "DB_PORT" in consts else "2.0"
    if "DIR_DATABASE" in consts:
        return "1.5"
    return None


def tree_line(markers: Mapping[str, bool]) -> str | None:
    if markers.get("extension/opencart") and markers.get("catalog/view/template"):
        return "4.1" if markers.get("catalog/language/fr-fr") else "4.x"
    if markers.get("catalog/view/theme/default/template") and markers.get("system/storage") and not markers.get(
        "catalog/language/english"
    ):
        return "3.0" if not markers.get("catalog/controller/extension/payment") or markers.get(
            "system/library/db/pdo.php"
        ) or markers.get("system/library/db/pgsql.php") else "2.3"
    if markers.get("system/database") and markers.get("catalog/language/english"):
        return "1.5"
    if markers.get("catalog/language/english"):
        return "2.1" if markers.get("system/storage") else "2.0"
    return None


def _branch(version: str) -> str:
    parts = re.findall(r"\d+", version)
    return ".".join(parts[:2]) if len(parts) >= 2 else version


def decide_version(evidence: VersionEvidence) -> tuple[str, list[str]]:
    """The best version string and warnings where the signals disagree."""
    warnings: list[str] = []
    define = evidence.define
    version = DEFINE_LAGS.get(define or "", define or "")
    if evidence.twig and evidence.twig in TWIG_TO_RELEASE and version.startswith("3.0"):
        by_twig = TWIG_TO_RELEASE[evidence.twig]
        if by_twig != version:
            warnings.append(
                f"VERSION define says {define} but the vendored Twig {evidence.twig} ships with {by_twig}; "
                f"taking {by_twig}"
            )
            version = by_twig
    if version == "3.0.3.6" and evidence.markers.get("system/library/db/pgsql.php") and not evidence.markers.get(
        "system/library/db/postgre.php"
    ):
        warnings.append("VERSION define says 3.0.3.6 but pgsql.php replaced postgre.php: this is 3.0.3.7")
        version = "3.0.3.7"
    structural = evidence.config_line or evidence.tree_line
    if not version:
        if not structural:
            raise FactError("no VERSION define and no structural marker: cannot tell the OpenCart version")
        warnings.append(f"no VERSION define in index.php; structure says OpenCart {structural}")
        return structural, warnings
    if structural and not (
        version.startswith(structural.replace(".x", ""))
        or (structural == "4.x" and version.startswith("4."))
        or (structural == "2.1" and version.startswith(("2.1", "2.2", "2.3")))
    ):
        warnings.append(
            f"VERSION define says {define} but the config/tree structure looks like OpenCart {structural}"
        )
    return version, warnings


def _marker_script(root: str, admin_dir: str, extra: list[str]) -> str:
    names = " ".join(quote(m) for m in (*TREE_MARKERS, f"{admin_dir}/controller/marketplace", *extra))
    # One round trip: which markers exist, and which */config.php files could be the admin's.
    return (
        f"cd {quote(root)} 2>/dev/null || {{ echo NOROOT; exit 0; }}; "
        f"for p in {names}; do [ -e \"$p\" ] && printf 'M %s\\n' \"$p\"; done; "
        "for f in */config.php; do [ -f \"$f\" ] && printf 'C %s\\n' \"$f\"; done; true"
    )


def _read_config(conn: Connection, path: str, store: str) -> dict[str, str]:
    text = read_text(conn, path, store=store)
    if not text.strip():
        raise NotOpenCartError(f"{path} is empty (an OpenCart that was never installed?)", store=store)
    consts = parse_config_php(text, file=path)
    if not consts:
        raise ConfigFileError(f"{path}: no define() lines could be read", store=store)
    return consts


def credentials_from_config(consts: Mapping[str, str], *, file: str, store: str) -> DbCredentials:
    missing = [k for k in ("DB_HOSTNAME", "DB_USERNAME", "DB_DATABASE") if k not in consts]
    if "DB_PASSWORD" not in consts:
        missing.append("DB_PASSWORD")
    if missing:
        raise ConfigFileError(f"{file}: cannot read {', '.join(missing)}", store=store)
    host = consts["DB_HOSTNAME"]
    port_text = consts.get("DB_PORT", "3306") or "3306"
    if ":" in host and not host.startswith("["):
        host, _, port_text = host.partition(":")
    try:
        port = int(port_text)
    except ValueError:
        raise ConfigFileError(f"{file}: DB_PORT {port_text!r} is not a number", store=store) from None
    return DbCredentials(
        host=host,
        port=port,
        user=consts["DB_USERNAME"],
        password=consts["DB_PASSWORD"],
        database=consts["DB_DATABASE"],
        prefix=consts.get("DB_PREFIX", ""),
        driver=consts.get("DB_DRIVER", "mysqli"),
    )


def get_store_facts(conn: Connection, cfg: StoreConfig) -> StoreFacts:
    """Read index.php, both config files and the tree markers of the store at ``cfg.root``."""
    store = cfg.store
    root = resolve_path(conn, cfg.root).rstrip("/")
    listing = run(conn, _marker_script(root, cfg.admin_dir, []), store=store).stdout
    if listing.startswith("NOROOT"):
        raise NotOpenCartError(f"store root {root} does not exist on {cfg.host}", store=store)
    markers = {m: False for m in (*TREE_MARKERS, f"{cfg.admin_dir}/controller/marketplace")}
    candidates: list[str] = []
    for line in listing.splitlines():
        kind, _, rel = line.partition(" ")
        if kind == "M":
            markers[rel] = True
        elif kind == "C":
            candidates.append(rel.split("/", 1)[0])
    warnings: list[str] = []
    try:
        define = parse_version_define(read_text(conn, f"{root}/index.php", store=store, limit=8192))
    except FactError:
        raise NotOpenCartError(f"{root} is not an OpenCart root: no index.php", store=store) from None
    try:
        catalog = _read_config(conn, f"{root}/config.php", store)
    except FactError as exc:
        if "not found" in exc.message:
            raise NotOpenCartError(f"{root} is not an OpenCart root: no config.php", store=store) from None
        raise
    if define is None and config_line(catalog) is None:
        raise NotOpenCartError(f"{root} is not an OpenCart root: no VERSION define, no OpenCart config", store=store)

    admin_dir = cfg.admin_dir
    if admin_dir not in candidates:
        # A renamed admin folder (4.x security dialog): its config's DIR_APPLICATION is not catalog/.
        found = None
        for cand in candidates:
            consts = parse_config_php(read_text(conn, f"{root}/{cand}/config.php", store=store), file=cand)
            app = consts.get("DIR_APPLICATION", "").rstrip("/")
            if consts.get("APPLICATION") == "Admin" or (app and not app.endswith("catalog") and "DB_DATABASE" in consts):
                found = cand
                break
        if found is None:
            raise NotOpenCartError(f"no admin folder with a config.php under {root}", store=store)
        warnings.append(f"inventory says the admin folder is {admin_dir!r}, found {found!r}")
        admin_dir = found
    admin = _read_config(conn, f"{root}/{admin_dir}/config.php", store)

    db = credentials_from_config(catalog, file=f"{root}/config.php", store=store)
    dir_storage = catalog.get("DIR_STORAGE", "")
    twig = None
    if dir_storage:
        try:
            installed = read_text(conn, posixpath.join(dir_storage, "vendor/composer/installed.json"), store=store)
            twig = _twig_version(installed)
        except FactError:
            pass
    evidence = VersionEvidence(define, config_line(catalog), tree_line(markers), twig, markers)
    version, version_warnings = decide_version(evidence)
    warnings.extend(version_warnings)
    http_server = catalog.get("HTTP_SERVER", "")
    storage_real = dir_storage.rstrip("/")
    return StoreFacts(
        store=store,
        root=root,
        admin_dir=admin_dir,
        version=version,
        version_define=define,
        branch=_branch(version),
        http_server=http_server,
        url=(cfg.url or http_server).rstrip("/") + "/",
        catalog_config={k: v for k, v in catalog.items() if k not in SECRET_KEYS},
        admin_config={k: v for k, v in admin.items() if k not in SECRET_KEYS},
        db=db,
        dir_storage=dir_storage,
        storage_in_webroot=bool(storage_real) and (storage_real + "/").startswith(root + "/"),
        markers=markers,
        warnings=tuple(warnings),
    )


def _twig_version(installed_json: str) -> str | None:
    try:
        data = json.loads(installed_json)
    except ValueError:
        return None
    packages = data.get("packages", data) if isinstance(data, dict) else data
    if not isinstance(packages, list):
        return None
    for pkg in packages:
        if isinstance(pkg, dict) and pkg.get("name") == "twig/twig":
            version = pkg.get("version")
            return str(version) if version else None
    return None
