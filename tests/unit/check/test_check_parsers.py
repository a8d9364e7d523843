"""Every probe parser against captured outputs: fixtures/facts/<probe>/<case>.<raw> paired with <case>.json.

Adding a case is adding two files. An expectation {"error": "..."} means the parser must refuse the
input with a message containing that text (the verdict then says unknown, never a guess).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maint.errors import FactError
from maint.facts.host import parse_df, parse_stat
from maint.facts.mysql import parse_server_version, parse_sql_mode
from maint.facts.php import parse_probe_json, parse_probe_response
from maint.facts.web import parse_apache_modules, parse_apachectl_version, parse_server_banner

FACTS = Path(__file__).resolve().parents[3] / "fixtures" / "facts"
TOKEN = "0123456789abcdef0123456789abcdef"


def cases(probe: str) -> list[tuple[str, Path, object]]:
    found = []
    for expected in sorted((FACTS / probe).glob("*.json")):
        raw = next(p for p in expected.parent.glob(expected.stem + ".*") if p.suffix != ".json")
        found.append(pytest.param(raw, json.loads(expected.read_text()), id=expected.stem))
    assert found, f"no cases in fixtures/facts/{probe}"
    return found


def split_http(text: str) -> tuple[int, dict[str, str], str]:
    head, _, body = text.partition("\n\n")
    status_line, *header_lines = head.splitlines()
    headers = dict(line.split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), headers, body


def check_php(facts, expected: dict) -> None:
    assert facts.version == expected["version"]
    assert facts.sapi == expected["sapi"]
    assert facts.via == expected["via"]
    assert set(expected["extensions_include"]) <= facts.extensions
    for key, value in expected["ini"].items():
        assert facts.ini[key] == value, key
    if "server_software" in expected:
        assert facts.server_software == expected["server_software"]
    if "display_errors_on" in expected:
        assert facts.ini_on("display_errors") is expected["display_errors_on"]


@pytest.mark.parametrize(("raw", "expected"), cases("php-http"))
def test_http_probe_answers_parse_or_say_why_they_are_not_the_probe(raw: Path, expected: dict) -> None:
    status, headers, body = split_http(raw.read_text())
    if "error" in expected:
        with pytest.raises(FactError, match=expected["error"].replace("(", r"\(").replace(".", r"\.")):
            parse_probe_response(status, headers, body, TOKEN)
        return
    check_php(parse_probe_response(status, headers, body, TOKEN), expected)


@pytest.mark.parametrize(("raw", "expected"), cases("php-cli"))
def test_cli_probe_output_parses_even_after_startup_warnings(raw: Path, expected: dict) -> None:
    if "error" in expected:
        with pytest.raises(FactError, match=expected["error"]):
            parse_probe_json(raw.read_text(), TOKEN, via="cli")
        return
    check_php(parse_probe_json(raw.read_text(), TOKEN, via="cli"), expected)


@pytest.mark.parametrize(("raw", "expected"), cases("mysql-version"))
def test_database_server_versions_tell_mysql_from_mariadb(raw: Path, expected: dict) -> None:
    version, _, comment = raw.read_text().rstrip("\n").partition("\t")
    if "error" in expected:
        with pytest.raises(FactError, match=expected["error"]):
            parse_server_version(version, comment)
        return
    assert parse_server_version(version, comment) == (expected["kind"], expected["version"])


@pytest.mark.parametrize(("raw", "expected"), cases("mysql-sql-mode"))
def test_sql_mode_splits_into_upper_case_modes(raw: Path, expected: list) -> None:
    assert list(parse_sql_mode(raw.read_text().strip())) == expected


@pytest.mark.parametrize(("raw", "expected"), cases("web-apachectl"))
def test_apachectl_version_output(raw: Path, expected: dict) -> None:
    if "error" in expected:
        with pytest.raises(FactError, match=expected["error"]):
            parse_apachectl_version(raw.read_text())
        return
    server = parse_apachectl_version(raw.read_text())
    assert (server.kind, server.version) == (expected["kind"], expected["version"])


@pytest.mark.parametrize(("raw", "expected"), cases("web-modules"))
def test_apache_module_listing(raw: Path, expected: dict) -> None:
    modules = parse_apache_modules(raw.read_text())
    assert set(expected["include"]) <= modules
    assert not set(expected["exclude"]) & modules
    assert len(modules) == expected["count"]


@pytest.mark.parametrize(("raw", "expected"), cases("web-banner"))
def test_server_banners_name_the_web_server(raw: Path, expected: dict) -> None:
    server = parse_server_banner(raw.read_text())
    if expected.get("none"):
        assert server is None
        return
    assert server is not None
    assert (server.kind, server.version) == (expected["kind"], expected["version"])


@pytest.mark.parametrize(("raw", "expected"), cases("host-df"))
def test_df_gives_total_and_available_bytes(raw: Path, expected: dict) -> None:
    if "error" in expected:
        with pytest.raises(FactError, match=expected["error"]):
            parse_df(raw.read_text())
        return
    usage = parse_df(raw.read_text())
    assert (usage.total, usage.available, usage.mount) == (
        expected["total"],
        expected["available"],
        expected["mount"],
    )


@pytest.mark.parametrize(("raw", "expected"), cases("host-stat"))
def test_stat_gives_modes_and_world_access(raw: Path, expected: list) -> None:
    modes = parse_stat(raw.read_text())
    assert [
        {
            "path": m.path,
            "mode": f"{m.mode:o}",
            "world_readable": m.world_readable,
            "world_writable": m.world_writable,
        }
        for m in modes
    ] == expected


def test_a_stat_line_with_a_non_octal_mode_is_refused() -> None:
    with pytest.raises(FactError, match="unexpected stat output"):
        parse_stat("rw-r--r-- shop /srv/config.php\n")
