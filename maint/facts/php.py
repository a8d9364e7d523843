"""PHP as the web server runs it: version, SAPI, loaded extensions and the ini values that matter.

The reliable source is the web server itself, so :func:`get_php_facts` uploads a one-shot probe
file with a random name into the docroot, requests it over HTTP and deletes it on every path
(then checks that it is gone). When the probe is blocked (403, a redirect to a login page, a WAF
page, anything that is not our JSON) it falls back to the CLI ``php`` over SSH, with a warning,
because the CLI often has another version, php.ini and extension set than the web server.
"""

from __future__ import annotations

import json
import posixpath
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import paramiko
import requests
from fabric import Connection

from maint.errors import FactError
from maint.remote.http import describe_request_error
from maint.remote.ssh import quote, run

INI_KEYS = (
    "memory_limit",
    "max_execution_time",
    "upload_max_filesize",
    "post_max_size",
    "display_errors",
    "file_uploads",
    "session.auto_start",
    "open_basedir",
)
_TRUE_INI = {"1", "on", "yes", "true", "stderr", "stdout"}
MAX_BODY = 256 * 1024


class ProbeBlockedError(FactError):
    """The HTTP probe did not run or its answer was not ours; the message says what came back."""


@dataclass(frozen=True)
class PhpFacts:
    version: str
    sapi: str
    extensions: frozenset[str]
    ini: Mapping[str, str | None]
    server_software: str = ""
    via: str = "http"  # "http" (as the web server runs it) or "cli" (may differ)
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def ini_on(self, key: str) -> bool | None:
        value = self.ini.get(key)
        return None if value is None else value.strip().lower() in _TRUE_INI

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "sapi": self.sapi,
            "via": self.via,
            "extensions": sorted(self.extensions),
            "ini": dict(self.ini),
            "server_software": self.server_software,
            "warnings": list(self.warnings),
        }


def probe_code(token: str) -> str:
    """PHP (without the open tag) that prints the facts as JSON; written for PHP 5.2+ so old stores answer too."""
    keys = ", ".join(f"'{k}'" for k in INI_KEYS)
    return (
        "$ini = array(); "
        f"foreach (array({keys}) as $k) {{ $v = ini_get($k); $ini[$k] = ($v === false) ? null : (string) $v; }} "
        "echo json_encode(array("
        f"'probe' => '{token}', 'version' => PHP_VERSION, 'sapi' => PHP_SAPI, "
        "'extensions' => array_map('strtolower', get_loaded_extensions()), 'ini' => $ini, "
        "'server_software' => isset($_SERVER['SERVER_SOFTWARE']) ? (string) $_SERVER['SERVER_SOFTWARE'] : ''"
        ')), "\\n";'
    )


def probe_file(token: str) -> str:
    return (
        "<?php\n// maint check probe: deleted right after one request\n"
        "header('Content-Type: application/json'); header('Cache-Control: no-store');\n"
        f"{probe_code(token)}\n"
    )


def parse_probe_json(text: str, token: str, *, via: str) -> PhpFacts:
    """The probe's JSON (the last JSON line, so CLI start-up warnings before it don't matter)."""
    candidates = [line for line in text.splitlines() if line.lstrip().startswith("{")]
    if not candidates:
        raise ProbeBlockedError(f"no JSON in the answer: {_snippet(text)}")
    try:
        data = json.loads(candidates[-1])
    except ValueError:
        raise ProbeBlockedError(f"not valid JSON: {_snippet(candidates[-1])}") from None
    if not isinstance(data, dict) or data.get("probe") != token:
        raise ProbeBlockedError("JSON from something other than our probe (the token does not match)")
    version, sapi, extensions, ini = (
        data.get("version"),
        data.get("sapi"),
        data.get("extensions"),
        data.get("ini"),
    )
    if not isinstance(version, str) or not isinstance(sapi, str) or not isinstance(extensions, list):
        raise ProbeBlockedError("the probe's JSON lacks version, SAPI or extensions")
    if not isinstance(ini, dict):
        ini = {}
    return PhpFacts(
        version=version,
        sapi=sapi,
        extensions=frozenset(str(e).lower() for e in extensions),
        ini={k: (None if ini.get(k) is None else str(ini.get(k))) for k in INI_KEYS},
        server_software=str(data.get("server_software") or ""),
        via=via,
    )


def parse_probe_response(status: int, headers: Mapping[str, str], body: str, token: str) -> PhpFacts:
    """Turn one HTTP answer to the probe into facts, or say why it is not the probe's answer."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if 300 <= status < 400:
        where = lowered.get("location", "?")
        raise ProbeBlockedError(f"HTTP {status} redirect to {where} (a login page, HTTPS or WAF redirect?)")
    if status in (401, 403):
        raise ProbeBlockedError(f"HTTP {status}: the web server or a WAF refuses the probe file")
    if status == 404:
        raise ProbeBlockedError(
            "HTTP 404: the probe file is not served (is the store URL's docroot the store root?)"
        )
    if status != 200:
        raise ProbeBlockedError(f"HTTP {status} from the probe: {_snippet(body)}")
    if "<?php" in body[:200] or "maint check probe" in body:
        raise ProbeBlockedError(
            "the web server returned the probe's source: PHP does not run .php files there"
        )
    stripped = body.lstrip()
    if stripped.startswith("<") or "html" in lowered.get("content-type", "").lower():
        raise ProbeBlockedError(
            f"HTML instead of the probe's JSON (a WAF, challenge or error page?): {_snippet(body)}"
        )
    return parse_probe_json(body, token, via="http")


def _snippet(text: str, limit: int = 100) -> str:
    flat = " ".join(text.split())
    return repr(flat[:limit] + ("..." if len(flat) > limit else ""))


# requests.get or a stand-in with its signature (tests, a shared Session's .get).
HttpGet = Callable[..., requests.Response]


def _read_limited(response: requests.Response) -> bytes:
    """At most MAX_BODY bytes: a WAF page or a runaway script must not fill memory."""
    chunks, size = [], 0
    for chunk in response.iter_content(16384):
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_BODY:
            break
    return b"".join(chunks)[:MAX_BODY]


def _remove_probe(sftp: paramiko.SFTPClient, path: str, store: str | None) -> None:
    """Delete the probe and prove it is gone; a probe left in a docroot is an error worth stopping for."""
    try:
        sftp.remove(path)
    except FileNotFoundError:
        pass
    except (OSError, paramiko.SSHException) as exc:
        raise FactError(
            f"could not delete the probe file {path}: {exc}; delete it by hand", store=store
        ) from None
    try:
        sftp.stat(path)
    except FileNotFoundError:
        return
    except (OSError, paramiko.SSHException) as exc:
        raise FactError(f"could not confirm that the probe {path} is gone: {exc}", store=store) from None
    raise FactError(f"the probe file {path} is still there after deleting it; delete it by hand", store=store)


def probe_over_http(
    conn: Connection,
    docroot: str,
    url: str,
    *,
    http_get: HttpGet = requests.get,
    timeout: float = 20.0,
    store: str | None = None,
) -> PhpFacts:
    """Upload the probe as ``maint-probe-<random>.php``, GET it once, delete it whatever happens."""
    token = secrets.token_hex(16)
    name = f"maint-probe-{secrets.token_hex(12)}.php"
    path = posixpath.join(docroot, name)
    sftp = conn.sftp()
    try:
        try:
            with sftp.open(path, "w") as handle:
                handle.write(probe_file(token).encode())
            sftp.chmod(path, 0o644)
        except (OSError, paramiko.SSHException) as exc:
            raise ProbeBlockedError(f"cannot write the probe into {docroot}: {exc}", store=store) from None
        try:
            response = http_get(
                urljoin(url if url.endswith("/") else url + "/", name),
                timeout=timeout,
                allow_redirects=False,
                headers={"Cache-Control": "no-cache", "User-Agent": "maint-check/1"},
                stream=True,
            )
            try:
                raw = _read_limited(response)
            finally:
                response.close()
        except requests.RequestException as exc:
            raise ProbeBlockedError(
                f"the store URL {url} did not answer: {describe_request_error(exc, 20)}", store=store
            ) from None
        body = raw.decode("utf-8", errors="replace")
        return parse_probe_response(response.status_code, dict(response.headers), body, token)
    finally:
        _remove_probe(sftp, path, store)


def probe_over_cli(conn: Connection, *, store: str | None = None) -> PhpFacts:
    token = secrets.token_hex(16)
    result = run(conn, f"php -r {quote(probe_code(token))}", check=False, timeout=60, store=store)
    if result.exited == 127 or re.search(r"php: (command )?not found", result.stderr):
        raise FactError("PHP is not installed as a CLI on the host (`php` not found)", store=store)
    if result.exited != 0:
        raise FactError(
            f"`php -r` failed (exit {result.exited}): {_snippet(result.stderr or result.stdout)}", store=store
        )
    try:
        return parse_probe_json(result.stdout, token, via="cli")
    except ProbeBlockedError as exc:
        raise FactError(f"the CLI php answered something unexpected: {exc.message}", store=store) from None


def get_php_facts(
    conn: Connection, docroot: str, url: str, *, http_get: HttpGet = requests.get, store: str | None = None
) -> PhpFacts:
    """PHP as the web server runs it, else the CLI with a warning; FactError when neither answers."""
    try:
        return probe_over_http(conn, docroot, url, http_get=http_get, store=store)
    except ProbeBlockedError as blocked:
        reason = blocked.message
    try:
        cli = probe_over_cli(conn, store=store)
    except FactError as exc:
        raise FactError(
            f"HTTP probe blocked ({reason}) and CLI fallback failed ({exc.message})", store=store
        ) from None
    warning = (
        f"HTTP probe blocked ({reason}); PHP facts come from the CLI, which may differ from the web server"
    )
    return PhpFacts(cli.version, cli.sapi, cli.extensions, cli.ini, cli.server_software, "cli", (warning,))
