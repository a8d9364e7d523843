"""`fab check` against the real sandbox: PHP through an HTTP probe, MariaDB over the SSH tunnel,
host hygiene over SSH, and proof that the probe file never outlives the check."""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path

import requests
import yaml

from maint.facts.php import get_php_facts, probe_over_http
from maint.remote.ssh import connect


def verdict(report: dict, component: str) -> dict:
    return next(v for v in report["verdicts"] if v["component"] == component)


def probe_files(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith("maint-probe-"))


def test_a_3_0_3_8_store_on_php_8_2_is_critical_and_gets_an_upgrade_target(sandbox, run_check):
    code, out = run_check("s3")
    report = out["stores"][0]
    assert code == 2 and report["status"] == "critical"
    assert report["release"] == "3.0.3.8"
    php = verdict(report, "php")
    assert php["status"] == "unsupported" and "PHP 8" in php["reason"] and "#11769" in php["source"]
    assert php["found"].startswith("8.2")
    assert verdict(report, "database")["found"].startswith("MariaDB")
    assert verdict(report, "database")["status"] == "ok"
    assert verdict(report, "php extensions")["status"] == "ok"
    assert verdict(report, "web server")["found"].startswith("php-builtin")
    assert report["recommended_upgrade"] in ("3.0.4.0", "3.0.4.1", "3.0.5.0", "3.0.5.1")
    assert "CVE-2024-21514" in [a["id"] for a in report["advisories"]]
    assert not report["warnings"] or "CLI" not in " ".join(report["warnings"])  # the HTTP probe answered
    assert probe_files(sandbox.store("s3").root) == []
    assert sandbox.store("s3").db_password not in json.dumps(out)


def test_what_if_php_8_3_on_3_0_3_8_names_the_break_and_a_target(sandbox, run_check):
    code, out = run_check("s3", php="8.3")
    report = out["stores"][0]
    assert code == 2
    php = verdict(report, "php")
    assert php["planned"] == "8.3" and php["status"] == "unsupported"
    assert report["what_if"] == {"php": "8.3"}
    assert report["recommended_upgrade"] is not None
    assert "PHP 8.3" in report["recommendation"]


def test_a_4_1_0_4_store_on_php_8_2_is_supported_and_what_if_php_8_0_breaks_it(sandbox, run_check):
    code, out = run_check("s4")
    report = out["stores"][0]
    assert verdict(report, "php")["status"] == "ok"
    assert verdict(report, "php extensions")["status"] == "ok"
    assert report["recommended_upgrade"] is None
    assert code in (0, 1)  # hygiene findings (install/, world-readable config) are warnings
    code, out = run_check("s4", php="8.0")
    report = out["stores"][0]
    assert code == 2
    assert any(b.startswith("php: ok -> unsupported") for b in report["breaks"])


def test_every_store_is_checked_in_parallel_and_the_exit_is_the_worst(sandbox, run_check):
    code, out = run_check(all_=True)
    statuses = {r["store"]: r["status"] for r in out["stores"]}
    assert set(statuses) >= {"s3", "s4", "s30", "s40"}
    assert statuses["s3"] == "critical" and code == 2 == out["exit_code"]


def test_an_unreachable_store_is_unknown_and_the_others_still_get_checked(sandbox, run_check, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    config = tmp_path / "ssh_config"
    config.write_text(
        Path(sandbox.ssh_config).read_text()
        + f"\nHost closed-host\n  HostName 127.0.0.1\n  Port {closed_port}\n"
    )
    s4 = sandbox.store("s4")
    folder = tmp_path / "inventory"
    folder.mkdir()
    stores = [
        {"name": "gone", "host": "closed-host", "root": "/srv/shop"},
        {"name": "s4", "host": "maint-sandbox", "root": str(s4.root), "url": s4.url},
    ]
    (folder / "acme.yaml").write_text(yaml.safe_dump({"name": "acme", "plan": "starter", "stores": stores}))
    code, out = run_check(all_=True, inventory=folder, ssh_config=config)
    by_store = {r["store"]: r for r in out["stores"]}
    assert by_store["gone"]["status"] == "unknown" and "refused" in by_store["gone"]["verdicts"][0]["reason"]
    assert by_store["s4"]["release"] == "4.1.0.4"
    assert code == 3


def _blocked(status: int, location: str = ""):
    def get(url: str, **kwargs):
        response = requests.Response()
        response.status_code = status
        response.headers["Location"] = location
        response.raw = io.BytesIO(b"<html><title>Forbidden</title></html>")
        return response

    return get


def test_a_blocked_probe_falls_back_to_the_cli_and_still_deletes_the_file(sandbox, sandbox_config):
    store = sandbox.store("s3")
    conn = connect(sandbox_config("s3"))
    try:
        facts = get_php_facts(conn, str(store.root), store.url, http_get=_blocked(403))
    finally:
        conn.close()
    assert facts.via == "cli" and facts.sapi == "cli"
    assert "403" in facts.warnings[0] and "may differ" in facts.warnings[0]
    assert probe_files(store.root) == []


def test_the_http_probe_reports_php_as_the_web_server_runs_it_and_leaves_nothing(sandbox, sandbox_config):
    store = sandbox.store("s4")
    before = sorted(p.name for p in store.root.iterdir())
    conn = connect(sandbox_config("s4"))
    try:
        facts = probe_over_http(conn, str(store.root), store.url)
    finally:
        conn.close()
    assert facts.via == "http" and facts.sapi == "cli-server"
    assert "Development Server" in facts.server_software
    assert {"mysqli", "gd", "curl", "zip"} <= facts.extensions
    assert sorted(p.name for p in store.root.iterdir()) == before


def test_with_sources_the_table_shows_every_component_with_reason_and_source_when_piped(sandbox, sandbox_env, capsys):
    from invoke import Config, Context
    from invoke.exceptions import Exit

    from maint.tasks.check import check

    maint = {
        k: sandbox_env[f"FABRIC_MAINT_{k.upper()}"]
        for k in ("inventory", "ssh_config", "known_hosts", "state_dir")
    }
    try:
        check(Context(config=Config(overrides={"maint": maint})), "s3", php="8.3", sources=True)
    except Exit as exc:
        assert exc.code == 2
    out = capsys.readouterr().out
    assert "s3: OpenCart 3.0.3.8  (what if: php 8.3)" in out
    for word in (
        "component",
        "planned",
        "supported",
        "reason",
        "source",
        "unsupported",
        "recommended: upgrade to 3.0.5.1",
    ):
        assert word in out
    assert "\x1b[" not in out  # plain text when piped
    assert "overall: critical (exit 2)" in out
