"""Pure parts of the host and local probes: df, the error-log scan, versions, TLS days, mirror age."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import requests

from maint.errors import FactError
from maint.facts.host import parse_df
from maint.health.local import days_left, probe_mirror_age, probe_tls
from maint.health.model import State
from maint.health.remote import compare_versions, log_scan_command, parse_log_scan
from maint.health.web import describe_request_error
from maint.mirror.listing import SnapshotPlace

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "health"

DF = """Filesystem     1024-blocks      Used Available Capacity Mounted on
/dev/sda1         41152736  36000000   3058736      93% /
"""


def test_df_percent_free() -> None:
    assert parse_df(DF).percent_free == 7.8


def test_df_garbage_is_a_fact_error() -> None:
    with pytest.raises(FactError, match="unexpected df output"):
        parse_df("df: /nope: No such file or directory\n")


def run_scan(path: Path, offset: int, inode: str) -> str:
    return subprocess.run(
        ["sh", "-c", log_scan_command(str(path), offset, inode)], capture_output=True, text=True
    ).stdout


def test_log_scan_counts_only_fatals_after_the_offset_and_restarts_after_rotation(tmp_path: Path) -> None:
    log = tmp_path / "error.log"
    log.write_text("2026-11-26 1:00:00 - PHP Fatal error:  old\n")
    first = parse_log_scan(run_scan(log, 0, ""))
    assert first is not None and first.fatals == 1
    with log.open("a") as f:
        f.write("2026-11-26 1:05:00 - PHP Notice:  Undefined index\n")
        f.write("2026-11-26 1:06:00 - PHP Fatal Error:  Uncaught Error: Call to undefined function x()\n")
    second = parse_log_scan(run_scan(log, first.size, first.inode))
    assert second is not None and (second.start, second.fatals) == (first.size, 1)
    assert "undefined function x()" in second.last
    log.write_text("short\n")  # rotated/truncated: smaller than the offset → start again at 0
    third = parse_log_scan(run_scan(log, second.size, second.inode))
    assert third is not None and (third.start, third.fatals) == (0, 0)


def test_log_scan_of_a_missing_log() -> None:
    assert parse_log_scan("missing\n") is None


def test_versions_first_run_then_change() -> None:
    assert compare_versions(None, {"opencart": "3.0.3.8"}).state is None
    same = compare_versions({"opencart": "3.0.3.8", "php": "8.2.1"}, {"opencart": "3.0.3.8", "php": "8.2.1"})
    assert same.state is None
    changed = compare_versions(
        {"opencart": "3.0.3.8", "php": "8.1.2"}, {"opencart": "3.0.3.8", "php": "8.2.1"}
    )
    assert (
        changed.state is State.WARNING
        and "php 8.1.2 → 8.2.1" in changed.evidence
        and "fab check" in changed.evidence
    )


def test_tls_days_left() -> None:
    now = time.mktime(time.strptime("2026-01-01", "%Y-%m-%d")) - time.timezone
    assert days_left("Jan 11 00:00:00 2026 GMT", now) == 10.0


def test_tls_is_not_applicable_for_http() -> None:
    obs = probe_tls("http://127.0.0.1:8080/", 1.0)
    assert (obs.state, obs.value) == (State.SKIPPED, "n/a")


def test_tls_refused_is_critical() -> None:
    obs = probe_tls("https://127.0.0.1:1/", 1.0)
    assert obs.state is State.CRITICAL and "TLS handshake" in obs.evidence


def place(root: str, repository: str = "") -> SnapshotPlace:
    return SnapshotPlace(root, repository, "acme", "shop")


def manifest(root: Path, **fields) -> None:
    folder = root / "acme" / "shop" / "latest"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"client": "acme", "store": "shop", **fields}))


def test_mirror_age_of_a_verified_snapshot(tmp_path: Path) -> None:
    manifest(tmp_path, timestamp="20261126T000000Z", verified=True)
    now = time.mktime(time.strptime("2026-11-26 12:00", "%Y-%m-%d %H:%M")) - time.timezone
    obs = probe_mirror_age(place(str(tmp_path)), now=now)
    assert (obs.value, obs.state) == (12.0, None)


def test_mirror_age_unverified_is_a_warning(tmp_path: Path) -> None:
    manifest(tmp_path, timestamp="20261126T000000Z", verified=False)
    assert probe_mirror_age(place(str(tmp_path))).state is State.WARNING


@pytest.mark.parametrize("root", ["", "/nonexistent-mirror"])
def test_mirror_age_without_snapshot_is_unknown(root: str) -> None:
    obs = probe_mirror_age(place(root))
    assert (obs.state, obs.value) == (State.UNKNOWN, "unknown")


@pytest.mark.parametrize(
    "exc, text",
    [
        (requests.ConnectTimeout("x"), "timed out"),
        (
            requests.ConnectionError("Failed to resolve 'shop.test' ([Errno -2] Name or service not known)"),
            "DNS",
        ),
        (requests.ConnectionError("[Errno 111] Connection refused"), "connection refused"),
        (requests.exceptions.MissingSchema("Invalid URL 'shop.example': No scheme supplied"), "no scheme"),
        (requests.exceptions.InvalidSchema("No connection adapters were found for 'ftp://x'"), "http://"),
        (requests.ConnectionError("Connection aborted."), "the connection failed"),
    ],
)
def test_request_errors_are_described_without_python_names(exc, text) -> None:
    described = describe_request_error(exc, 5.0)
    assert text in described
    assert type(exc).__name__ not in described and "Error" not in described


def make_cert(folder: Path, days: int) -> tuple[Path, Path]:
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


def test_tls_days_left_from_a_local_tls_server(tmp_path: Path) -> None:
    import socket
    import ssl
    import threading

    cert_file, key_file = make_cert(tmp_path, days=5)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    trusted = probe_tls(f"https://127.0.0.1:{port}/", 2.0, cafile=str(cert_file))
    untrusted = probe_tls(f"https://127.0.0.1:{port}/", 2.0)
    thread.join(2)
    listener.close()
    assert trusted.state is None and 4.0 <= float(trusted.value) <= 5.0
    assert untrusted.state is State.CRITICAL and "not accepted" in untrusted.evidence


def test_ssh_connect_retries_transient_errors_only(monkeypatch) -> None:
    from maint.config import StoreConfig
    from maint.errors import ConnectError, HostKeyError
    from maint.health import remote

    cfg = StoreConfig(client="c", store="s", host="h", root="/r")
    calls: list[str] = []

    def flaky(c):
        calls.append("x")
        if len(calls) == 1:
            raise ConnectError("refused")
        return "conn"

    monkeypatch.setattr(remote, "connect", flaky)
    assert remote.connect_with_retry(cfg) == "conn" and len(calls) == 2

    def bad_key(c):
        calls.append("k")
        raise HostKeyError("changed")

    calls.clear()
    monkeypatch.setattr(remote, "connect", bad_key)
    with pytest.raises(HostKeyError):
        remote.connect_with_retry(cfg)
    assert calls == ["k"]


def test_log_scan_reads_every_format_opencart_and_php_write_and_counts_errors_only(tmp_path: Path) -> None:
    # 4.0's handler (with and without ": in"), 3.0's "PHP Fatal error:"/"PHP Warning:"/"PHP Notice:"/
    # "PHP Unknown:" (deprecations), PHP's own lines (bare and "[date] PHP Parse error:"), 4.1's
    # "Error:" block, an extension's own line.
    log = tmp_path / "error.log"
    log.write_bytes((FIXTURES / "logs" / "error_log_formats.log").read_bytes())
    scan = parse_log_scan(run_scan(log, 0, ""))
    assert scan is not None
    assert (scan.fatals, scan.warnings, scan.notices, scan.deprecations) == (6, 1, 1, 2)
    assert scan.last.endswith('Error: syntax error, unexpected identifier "error" (/srv/stores/s4/home.php)')
