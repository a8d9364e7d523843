"""The web server in front of the store: which one, its version and (for Apache) its modules.

Sources in order of trust: ``apache2ctl -v`` / ``apachectl -v`` / ``httpd -v`` on the host (with
``-M`` for modules), then SERVER_SOFTWARE as the PHP probe saw it, then the HTTP ``Server`` header.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from fabric import Connection

from maint.errors import FactError
from maint.remote.http import describe_request_error
from maint.remote.ssh import run

_BANNERS = (
    (re.compile(r"Apache(?:/(\d+(?:\.\d+){0,2}))?", re.I), "apache"),
    (re.compile(r"nginx(?:/(\d+(?:\.\d+){0,2}))?", re.I), "nginx"),
    (re.compile(r"LiteSpeed(?:/(\d+(?:\.\d+){0,2}))?", re.I), "litespeed"),
    (re.compile(r"Microsoft-IIS(?:/(\d+(?:\.\d+){0,2}))?", re.I), "iis"),
    (re.compile(r"PHP (\d+\.\d+\.\d+)\S* Development Server", re.I), "php-builtin"),
    (re.compile(r"openresty(?:/(\d+(?:\.\d+){0,3}))?", re.I), "nginx"),
)
_MODULE = re.compile(r"^\s*(\w+)_module\s+\((?:static|shared)\)", re.M)
APACHE_COMMANDS = ("apache2ctl", "apachectl", "httpd")


@dataclass(frozen=True)
class WebServer:
    kind: str  # apache, nginx, litespeed, iis, php-builtin or other
    version: str | None  # None when the banner hides it (ServerTokens Prod)
    via: str  # which source told us
    raw: str
    modules: frozenset[str] | None = None  # Apache modules without "_module"; None = not known

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "version": self.version,
            "via": self.via,
            "raw": self.raw,
            "modules": None if self.modules is None else sorted(self.modules),
        }


def parse_server_banner(text: str, *, via: str = "Server header") -> WebServer | None:
    """``Apache/2.4.62 (Debian)`` → apache 2.4.62; an unknown non-empty banner is kind "other"."""
    banner = (text or "").strip()
    if not banner:
        return None
    for pattern, kind in _BANNERS:
        match = pattern.search(banner)
        if match:
            return WebServer(kind, match.group(1), via, banner)
    return WebServer("other", None, via, banner)


def parse_apachectl_version(text: str) -> WebServer:
    """``apache2ctl -v`` / ``httpd -v`` output: "Server version: Apache/2.4.62 (Debian)"."""
    match = re.search(r"Server version:\s*(.+)", text or "")
    found = parse_server_banner(match.group(1), via="apachectl -v") if match else None
    if found is None or found.kind != "apache" or not found.version:
        raise FactError(f"unexpected `apachectl -v` output: {(text or '').strip()[:80]!r}")
    return found


def parse_apache_modules(text: str) -> frozenset[str]:
    """``apache2ctl -M``: " rewrite_module (shared)" lines → {"rewrite", ...}."""
    return frozenset(m.lower() for m in _MODULE.findall(text or ""))


def _apache_script() -> str:
    # One round trip: the first apachectl-like command found prints its version, then its modules.
    # PATH for non-login shells often lacks /usr/sbin, where Debian puts apache2ctl.
    names = " ".join(APACHE_COMMANDS)
    return (
        "PATH=$PATH:/usr/sbin:/usr/local/sbin; "
        f"for c in {names}; do if command -v $c >/dev/null 2>&1; then "
        'echo "== $c"; $c -v 2>&1; echo "== modules"; $c -M 2>&1; exit 0; fi; done; echo "== none"'
    )


def parse_apache_probe(text: str) -> WebServer | None:
    """Output of the combined probe: ``== apache2ctl``, its ``-v`` text, ``== modules``, its ``-M`` text."""
    head, _, modules_text = (text or "").partition("\n== modules\n")
    first, _, version_text = head.partition("\n")
    if not first.startswith("== ") or first == "== none" or "Server version" not in version_text:
        return None
    command = first[3:].strip()
    server = parse_apachectl_version(version_text)
    modules = parse_apache_modules(modules_text) or None
    return WebServer(server.kind, server.version, f"{command} -v", server.raw, modules)


def _apache_on_host(conn: Connection, store: str | None) -> WebServer | None:
    return parse_apache_probe(run(conn, _apache_script(), check=False, store=store).stdout)


def get_web_server(
    conn: Connection,
    url: str,
    *,
    server_software: str = "",
    http_get: Callable[..., requests.Response] = requests.get,
    store: str | None = None,
) -> WebServer:
    """Best available identification; FactError when nothing names the server."""
    on_host = _apache_on_host(conn, store)
    if on_host is not None:
        return on_host
    from_php = parse_server_banner(server_software, via="SERVER_SOFTWARE")
    if from_php is not None:
        return from_php
    try:
        response = http_get(url, timeout=20, allow_redirects=False, stream=True)
        response.close()
    except requests.RequestException as exc:
        raise FactError(
            f"no apachectl/httpd on the host and {url} did not answer: {describe_request_error(exc, 20)}"
        ) from None
    from_header = parse_server_banner(response.headers.get("Server", ""))
    if from_header is None:
        raise FactError(
            "no apachectl/httpd on the host, and neither SERVER_SOFTWARE nor a Server header names the web server"
        )
    return from_header
