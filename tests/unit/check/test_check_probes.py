"""Probe orchestration with a stand-in connection: the probe file is deleted on every path (and proven
gone), a blocked probe falls back to the CLI with a warning, and when nothing answers the error says why."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field

import pytest
import requests

from maint.errors import FactError
from maint.facts import php as php_facts
from maint.facts.host import get_host_facts
from maint.facts.php import get_php_facts, probe_over_http
from maint.facts.web import get_web_server

DOCROOT = "/var/www/shop"


@dataclass
class Result:
    stdout: str = ""
    stderr: str = ""
    exited: int = 0


class FakeSftp:
    def __init__(self, conn: FakeConn) -> None:
        self.conn = conn

    def open(self, path: str, mode: str = "r"):
        if self.conn.fail_upload:
            raise PermissionError(13, "Permission denied")
        sftp = self

        class Handle(io.BytesIO):
            def close(self) -> None:
                sftp.conn.files[path] = self.getvalue()
                super().close()

        return Handle()

    def chmod(self, path: str, mode: int) -> None:
        self.conn.modes[path] = mode

    def remove(self, path: str) -> None:
        self.conn.removed.append(path)
        if self.conn.fail_remove:
            raise PermissionError(13, "Permission denied")
        if not self.conn.sticky:
            self.conn.files.pop(path, None)

    def stat(self, path: str):
        if path not in self.conn.files:
            raise FileNotFoundError(path)
        return object()


@dataclass
class FakeConn:
    commands: dict[str, Result] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    modes: dict[str, int] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)
    fail_upload: bool = False
    fail_remove: bool = False
    sticky: bool = False  # remove() "succeeds" but the file stays

    def sftp(self) -> FakeSftp:
        return FakeSftp(self)

    def run(self, command: str, **kwargs) -> Result:
        self.ran.append(command)
        for prefix, result in self.commands.items():
            if prefix in command:
                return result
        return Result(stderr="bash: line 1: thing: command not found", exited=127)


def answer(status: int, body: str, headers: dict | None = None):
    """A stand-in for requests.get that also answers with the probe's own token when asked to."""

    def get(url: str, **kwargs) -> requests.Response:
        get.urls.append(url)
        response = requests.Response()
        response.status_code = status
        response.headers.update(headers or {})
        response.raw = io.BytesIO(body.encode())
        return response

    get.urls = []
    return get


def echoing_probe(conn: FakeConn, version: str = "8.2.26"):
    """requests.get that answers as PHP would: with the token written into the uploaded file."""

    def get(url: str, **kwargs) -> requests.Response:
        uploaded = next(iter(conn.files.values())).decode()
        token = uploaded.split("'probe' => '")[1].split("'")[0]
        body = json.dumps(
            {
                "probe": token,
                "version": version,
                "sapi": "fpm-fcgi",
                "extensions": ["Core", "mysqli"],
                "ini": {"display_errors": "0"},
                "server_software": "Apache/2.4.62 (Debian)",
            }
        )
        response = requests.Response()
        response.status_code = 200
        response.headers["Content-Type"] = "application/json"
        response.raw = io.BytesIO(body.encode())
        return response

    return get


def test_the_probe_runs_over_http_and_is_deleted_and_proven_gone() -> None:
    conn = FakeConn()
    facts = probe_over_http(conn, DOCROOT, "http://127.0.0.1:8080/", http_get=echoing_probe(conn))
    assert facts.via == "http" and facts.version == "8.2.26" and "mysqli" in facts.extensions
    assert conn.files == {}
    (path,) = conn.removed
    assert path.startswith(f"{DOCROOT}/maint-probe-") and path.endswith(".php")
    assert conn.modes[path] == 0o644


def test_probe_names_are_random_each_time() -> None:
    conn = FakeConn()
    for _ in range(2):
        probe_over_http(conn, DOCROOT, "http://127.0.0.1:8080", http_get=echoing_probe(conn))
    assert len(set(conn.removed)) == 2


@pytest.mark.parametrize(
    ("http_get", "message"),
    [
        (answer(403, "<html>Forbidden</html>"), "HTTP 403"),
        (answer(302, "", {"Location": "/login"}), "redirect to /login"),
        (answer(200, "<html><title>Attention Required! | Cloudflare</title></html>"), "HTML instead"),
        (answer(200, '{"probe": "someone-else"}'), "token does not match"),
    ],
)
def test_a_blocked_probe_is_still_deleted(http_get, message: str) -> None:
    conn = FakeConn()
    with pytest.raises(php_facts.ProbeBlockedError, match=message):
        probe_over_http(conn, DOCROOT, "http://127.0.0.1:8080/", http_get=http_get)
    assert conn.files == {} and len(conn.removed) == 1


def test_a_store_url_that_does_not_answer_still_deletes_the_probe() -> None:
    conn = FakeConn()

    def refuse(url: str, **kwargs):
        raise requests.ConnectionError("refused")

    with pytest.raises(php_facts.ProbeBlockedError, match="did not answer"):
        probe_over_http(conn, DOCROOT, "http://127.0.0.1:1/", http_get=refuse)
    assert conn.files == {} and conn.removed


def test_a_docroot_that_refuses_the_upload_is_a_blocked_probe() -> None:
    conn = FakeConn(fail_upload=True)
    with pytest.raises(php_facts.ProbeBlockedError, match="cannot write the probe"):
        probe_over_http(conn, DOCROOT, "http://127.0.0.1:8080/", http_get=answer(200, "{}"))


def test_a_probe_that_cannot_be_deleted_is_an_error_naming_the_file() -> None:
    conn = FakeConn(fail_remove=True)
    with pytest.raises(FactError, match="delete it by hand") as err:
        probe_over_http(conn, DOCROOT, "http://127.0.0.1:8080/", http_get=echoing_probe(conn))
    assert "maint-probe-" in str(err.value)


def test_a_probe_still_there_after_deleting_is_an_error() -> None:
    conn = FakeConn(sticky=True)
    with pytest.raises(FactError, match="still there"):
        probe_over_http(conn, DOCROOT, "http://127.0.0.1:8080/", http_get=echoing_probe(conn))


class CliConn(FakeConn):
    """Answers `php -r` with JSON carrying the token from the command line."""

    def run(self, command: str, **kwargs) -> Result:
        self.ran.append(command)
        if command.startswith("php -r"):
            token = re.search(r"[0-9a-f]{32}", command).group(0)
            return Result(
                stdout=json.dumps(
                    {"probe": token, "version": "8.1.2", "sapi": "cli", "extensions": ["core"], "ini": {}}
                )
                + "\n"
            )
        return super().run(command, **kwargs)


def test_a_blocked_probe_falls_back_to_the_cli_with_a_warning() -> None:
    conn = CliConn()
    facts = get_php_facts(conn, DOCROOT, "http://127.0.0.1:8080/", http_get=answer(403, "no"))
    assert facts.via == "cli" and facts.version == "8.1.2"
    assert "HTTP 403" in facts.warnings[0] and "may differ" in facts.warnings[0]
    assert conn.files == {}


def test_no_cli_php_either_is_an_error_with_both_reasons() -> None:
    conn = FakeConn(commands={"php -r": Result(stderr="bash: line 1: php: command not found", exited=127)})
    with pytest.raises(FactError) as err:
        get_php_facts(conn, DOCROOT, "http://127.0.0.1:8080/", http_get=answer(403, "no"))
    assert "HTTP 403" in err.value.message and "not installed as a CLI" in err.value.message


def test_a_cli_php_that_prints_garbage_is_an_error_not_a_guess() -> None:
    conn = FakeConn(commands={"php -r": Result(stdout="Segmentation fault\n", exited=0)})
    with pytest.raises(FactError, match="CLI php answered something unexpected"):
        get_php_facts(conn, DOCROOT, "http://127.0.0.1:8080/", http_get=answer(500, ""))


def test_apache_on_the_host_wins_and_lists_its_modules() -> None:
    listing = (
        "== apache2ctl\nServer version: Apache/2.4.62 (Debian)\nServer built: 2024\n"
        "== modules\nLoaded Modules:\n core_module (static)\n rewrite_module (shared)\n"
    )
    conn = FakeConn(commands={"for c in apache2ctl": Result(stdout=listing)})
    server = get_web_server(
        conn, "http://127.0.0.1:8080/", server_software="nginx/1.24.0", http_get=answer(200, "")
    )
    assert (server.kind, server.version, server.via) == ("apache", "2.4.62", "apache2ctl -v")
    assert server.modules == frozenset({"core", "rewrite"})


def test_without_apachectl_the_probe_s_server_software_names_the_server() -> None:
    server = get_web_server(
        FakeConn(), "http://127.0.0.1:8080/", server_software="PHP 8.2.26 Development Server"
    )
    assert (server.kind, server.version, server.via) == ("php-builtin", "8.2.26", "SERVER_SOFTWARE")


def test_then_the_server_header() -> None:
    server = get_web_server(
        FakeConn(), "http://127.0.0.1:8080/", http_get=answer(200, "", {"Server": "nginx/1.24.0"})
    )
    assert (server.kind, server.version, server.via) == ("nginx", "1.24.0", "Server header")


def test_a_web_server_nothing_names_is_an_error() -> None:
    with pytest.raises(FactError, match="names the web server"):
        get_web_server(FakeConn(), "http://127.0.0.1:8080/", http_get=answer(200, ""))


def test_host_facts_keep_going_when_df_fails() -> None:
    out = f"df: /srv: No such file\n== stat\n640 shop {DOCROOT}/config.php\n"
    conn = FakeConn(
        commands={"df -Pk": Result(stdout=out, stderr="stat: cannot stat 'admin/config.php'", exited=1)}
    )
    facts = get_host_facts(
        conn,
        DOCROOT,
        [f"{DOCROOT}/config.php", f"{DOCROOT}/admin/config.php"],
        install_present=True,
        storage_in_webroot=False,
        storage_path="/srv/storage/",
    )
    assert facts.disk is None and facts.install_present
    assert len(facts.config_files) == 1
    assert any("disk space unknown" in w for w in facts.warnings)
    assert any("could not stat every config file" in w for w in facts.warnings)


def test_no_apache_command_on_the_host_means_ask_the_probe_then_the_header() -> None:
    conn = FakeConn(commands={"for c in apache2ctl": Result(stdout="== none\n")})
    server = get_web_server(
        conn, "http://127.0.0.1:8080/", http_get=answer(200, "", {"Server": "Apache/2.4.58"})
    )
    assert (server.kind, server.version, server.via) == ("apache", "2.4.58", "Server header")


def test_apachectl_modules_that_need_root_leave_modules_unknown() -> None:
    listing = "== httpd\nServer version: Apache/2.4.37 (centos)\n== modules\nAH00526: Permission denied\n"
    server = get_web_server(FakeConn(commands={"for c in apache2ctl": Result(stdout=listing)}), "http://x/")
    assert (server.version, server.via, server.modules) == ("2.4.37", "httpd -v", None)
