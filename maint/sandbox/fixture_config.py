"""config.php and <admin>/config.php in the exact shape each release's installer writes (facts B3.2).

3.0: absolute paths as literals, DIR_STORAGE-relative storage dirs, HTTPS_* twins, DB_PORT.
4.x: APPLICATION, DIR_OPENCART as the one literal and every other DIR_* an expression over it,
no HTTPS_*; 4.1.0.4 adds the DB_SSL_* keys and the CACHE_ENGINE block.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

OPENCART_SERVER = "https://www.opencart.com/"


@dataclass(frozen=True)
class ConfigValues:
    url: str  # HTTP_SERVER of the storefront, with a trailing slash
    root: Path  # docroot (absolute)
    admin_dir: str
    storage_dir: Path | None  # None = system/storage/ inside the docroot
    db_host: str
    db_port: int
    db_user: str
    db_password: str
    db_database: str
    db_prefix: str


def _q(value: str) -> str:
    """A PHP single-quoted string literal, escaped as addslashes() would."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _define(name: str, expr: str) -> str:
    return f"define('{name}', {expr});"


def _dir(path: Path) -> str:
    return str(path).rstrip("/") + "/"


def _storage_expr(values: ConfigValues) -> str:
    if values.storage_dir is None:
        return "DIR_SYSTEM . 'storage/'"
    return _q(_dir(values.storage_dir))


def _db_lines(values: ConfigValues, *, ssl: bool) -> list[str]:
    lines = [
        "// DB",
        _define("DB_DRIVER", "'mysqli'"),
        _define("DB_HOSTNAME", _q(values.db_host)),
        _define("DB_USERNAME", _q(values.db_user)),
        _define("DB_PASSWORD", _q(values.db_password)),
        _define("DB_DATABASE", _q(values.db_database)),
        _define("DB_PORT", _q(str(values.db_port))),
        _define("DB_PREFIX", _q(values.db_prefix)),
    ]
    if ssl:
        lines += [_define("DB_SSL_KEY", "''"), _define("DB_SSL_CERT", "''"), _define("DB_SSL_CA", "''")]
    return lines


def _storage_subdirs(*, modification: bool) -> list[str]:
    names = ["cache", "download", "logs"]
    if modification:
        names.append("modification")
    names += ["session", "upload"]
    return [_define(f"DIR_{n.upper()}", f"DIR_STORAGE . '{n}/'") for n in names]


def _render(sections: list[list[str]]) -> str:
    return "<?php\n" + "\n\n".join("\n".join(s) for s in sections) + "\n"


def catalog_config_30(v: ConfigValues) -> str:
    root = _dir(v.root)
    return _render([
        ["// HTTP", _define("HTTP_SERVER", _q(v.url))],
        ["// HTTPS", _define("HTTPS_SERVER", _q(v.url))],
        ["// DIR",
         _define("DIR_APPLICATION", _q(root + "catalog/")),
         _define("DIR_SYSTEM", _q(root + "system/")),
         _define("DIR_IMAGE", _q(root + "image/")),
         _define("DIR_STORAGE", _storage_expr(v)),
         _define("DIR_LANGUAGE", "DIR_APPLICATION . 'language/'"),
         _define("DIR_TEMPLATE", "DIR_APPLICATION . 'view/theme/'"),
         _define("DIR_CONFIG", "DIR_SYSTEM . 'config/'"),
         *_storage_subdirs(modification=True)],
        _db_lines(v, ssl=False),
    ])


def admin_config_30(v: ConfigValues) -> str:
    root = _dir(v.root)
    admin_url = v.url + v.admin_dir + "/"
    return _render([
        ["// HTTP", _define("HTTP_SERVER", _q(admin_url)), _define("HTTP_CATALOG", _q(v.url))],
        ["// HTTPS", _define("HTTPS_SERVER", _q(admin_url)), _define("HTTPS_CATALOG", _q(v.url))],
        ["// DIR",
         _define("DIR_APPLICATION", _q(root + v.admin_dir + "/")),
         _define("DIR_SYSTEM", _q(root + "system/")),
         _define("DIR_IMAGE", _q(root + "image/")),
         _define("DIR_STORAGE", _storage_expr(v)),
         _define("DIR_CATALOG", _q(root + "catalog/")),
         _define("DIR_LANGUAGE", "DIR_APPLICATION . 'language/'"),
         _define("DIR_TEMPLATE", "DIR_APPLICATION . 'view/template/'"),
         _define("DIR_CONFIG", "DIR_SYSTEM . 'config/'"),
         *_storage_subdirs(modification=True)],
        _db_lines(v, ssl=False),
        ["// OpenCart API", _define("OPENCART_SERVER", _q(OPENCART_SERVER))],
    ])


def _dirs_4x(v: ConfigValues, application_dir: str, *, admin: bool) -> list[str]:
    lines = [
        "// DIR",
        _define("DIR_OPENCART", _q(_dir(v.root))),
        _define("DIR_APPLICATION", f"DIR_OPENCART . '{application_dir}/'"),
        _define("DIR_EXTENSION", "DIR_OPENCART . 'extension/'"),
        _define("DIR_IMAGE", "DIR_OPENCART . 'image/'"),
        _define("DIR_SYSTEM", "DIR_OPENCART . 'system/'"),
    ]
    if admin:
        lines.append(_define("DIR_CATALOG", "DIR_OPENCART . 'catalog/'"))
    lines += [
        _define("DIR_STORAGE", _storage_expr(v)),
        _define("DIR_LANGUAGE", "DIR_APPLICATION . 'language/'"),
        _define("DIR_TEMPLATE", "DIR_APPLICATION . 'view/template/'"),
        _define("DIR_CONFIG", "DIR_SYSTEM . 'config/'"),
        *_storage_subdirs(modification=False),
    ]
    return lines


_CACHE_BLOCK_41 = [
    "// CACHE",
    "define('CACHE_ENGINE', 'file'); // apc, apcu, file, mem, memcached or redis",
    "// define('CACHE_HOSTNAME', '');",
    "// define('CACHE_PORT', '');",
    "// define('CACHE_PREFIX', '');",
    "// define('CACHE_PASSWORD', '');",
]


def catalog_config_4x(v: ConfigValues, version: str) -> str:
    is_41 = version == "4.1.0.4"
    sections = [
        ["// APPLICATION", _define("APPLICATION", "'Catalog'")],
        ["// HTTP", _define("HTTP_SERVER", _q(v.url))],
        _dirs_4x(v, "catalog", admin=False),
        _db_lines(v, ssl=is_41),
    ]
    if is_41:
        sections.append(_CACHE_BLOCK_41)
    return _render(sections)


def admin_config_4x(v: ConfigValues, version: str) -> str:
    is_41 = version == "4.1.0.4"
    sections = [
        ["// APPLICATION", _define("APPLICATION", "'Admin'")],
        ["// HTTP", _define("HTTP_SERVER", _q(v.url + v.admin_dir + "/")), _define("HTTP_CATALOG", _q(v.url))],
        _dirs_4x(v, v.admin_dir, admin=True),
        _db_lines(v, ssl=is_41),
    ]
    if is_41:
        sections.append(_CACHE_BLOCK_41)
    sections.append(["// OpenCart API", _define("OPENCART_SERVER", _q(OPENCART_SERVER))])
    return _render(sections)


def config_files(v: ConfigValues, version: str) -> dict[str, str]:
    """{path relative to the docroot: content} of both config files."""
    if version.startswith("3."):
        return {"config.php": catalog_config_30(v), f"{v.admin_dir}/config.php": admin_config_30(v)}
    return {"config.php": catalog_config_4x(v, version), f"{v.admin_dir}/config.php": admin_config_4x(v, version)}
