"""Reaching the session sandbox the way the toolkit does: SSH with strict host keys, the DB through a tunnel."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paramiko
import pymysql
import pytest
import requests
from fabric import Config, Connection

from maint.sandbox import HOST_ALIAS, Sandbox


def strict_client(known_hosts: Path) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    return client


def fabric_connection(sandbox: Sandbox, known_hosts: Path | None = None) -> Connection:
    conn = Connection(HOST_ALIAS, config=Config(runtime_ssh_path=str(sandbox.ssh_config)))
    conn.client.load_host_keys(str(known_hosts or sandbox.known_hosts))
    conn.client.set_missing_host_key_policy(paramiko.RejectPolicy())
    return conn


def other_host_key(tmp_path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    return (tmp_path / "other.pub").read_text()


def test_ssh_config_alias_logs_in_with_strict_host_keys(sandbox: Sandbox) -> None:
    with fabric_connection(sandbox) as conn:
        result = conn.run("echo hello from $(whoami)", hide=True, in_stream=False)
    assert result.stdout.startswith("hello from ")
    assert conn.port == sandbox.sshd.port and conn.host == "127.0.0.1"


def test_openssh_client_logs_in_with_the_written_config(sandbox: Sandbox) -> None:
    done = subprocess.run(
        ["ssh", "-F", str(sandbox.ssh_config), "-o", "BatchMode=yes", HOST_ALIAS, "test -d", str(sandbox.store("s3").root)],
        capture_output=True, text=True, timeout=30, check=False,
    )
    assert done.returncode == 0, done.stderr


def test_sftp_serves_the_store_files(sandbox: Sandbox) -> None:
    store = sandbox.store("s3")
    with fabric_connection(sandbox) as conn:
        names = conn.sftp().listdir(str(store.root))
    assert "index.php" in names and "config.php" in names


def test_unknown_host_key_is_refused(sandbox: Sandbox, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    client = strict_client(empty)
    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        client.connect("127.0.0.1", port=sandbox.sshd.port, username="nobody", key_filename=str(sandbox.sshd.user_key),
                       look_for_keys=False, allow_agent=False, timeout=10)


def test_changed_host_key_is_refused(sandbox: Sandbox, tmp_path: Path) -> None:
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"[127.0.0.1]:{sandbox.sshd.port} " + " ".join(other_host_key(tmp_path).split()[:2]) + "\n")
    with pytest.raises(paramiko.BadHostKeyException):
        fabric_connection(sandbox, known_hosts=wrong).open()
    done = subprocess.run(
        ["ssh", "-F", str(sandbox.ssh_config), "-o", f"UserKnownHostsFile={wrong}", "-o", "BatchMode=yes",
         HOST_ALIAS, "true"], capture_output=True, text=True, timeout=30, check=False,
    )
    assert done.returncode == 255 and "HOST IDENTIFICATION HAS CHANGED" in done.stderr


def test_password_login_is_not_offered(sandbox: Sandbox) -> None:
    transport = paramiko.Transport(("127.0.0.1", sandbox.sshd.port))
    try:
        transport.start_client(timeout=10)
        with pytest.raises(paramiko.BadAuthenticationType) as refused:
            transport.auth_password(sandbox.sshd.user, "guess")
        assert refused.value.allowed_types == ["publickey"]
    finally:
        transport.close()


def test_store_db_user_connects_through_an_ssh_tunnel(sandbox: Sandbox) -> None:
    store = sandbox.store("s3")
    with fabric_connection(sandbox) as conn:
        conn.open()
        transport = conn.client.get_transport()
        assert transport is not None
        channel = transport.open_channel("direct-tcpip", (store.db_host, store.db_port), ("127.0.0.1", 0))
        db = pymysql.connections.Connection(
            host=store.db_host, port=store.db_port, user=store.db_user, password=store.db_password,
            database=store.db_name, defer_connect=True,
        )
        db.connect(sock=channel)
        with db, db.cursor() as cur:
            cur.execute("SELECT DATABASE(), CURRENT_USER()")
            assert cur.fetchone() == (store.db_name, f"{store.db_user}@127.0.0.1")


def test_toolkit_connects_to_every_store_through_its_inventory(
    sandbox: Sandbox, sandbox_config: Callable[..., Any]
) -> None:
    from maint.remote.sql import DbCredentials, open_db, scalar, table
    from maint.remote.ssh import connect

    for store in sandbox.stores:
        cfg = sandbox_config(store.name)
        assert (cfg.host, cfg.root, cfg.url) == (HOST_ALIAS, str(store.root), store.url)
        creds = DbCredentials(store.db_host, store.db_port, store.db_user, store.db_password, store.db_name,
                              store.prefix)
        with connect(cfg) as conn, open_db(conn, creds) as db:
            assert scalar(db, f"SELECT COUNT(*) FROM {table(creds.prefix, 'product')}") > 0  # noqa: S608


def test_every_store_serves_its_version(sandbox: Sandbox) -> None:
    for store in sandbox.stores:
        index = (store.root / "index.php").read_text()
        assert f"define('VERSION', '{store.version}');" in index
        assert requests.get(store.url, timeout=30).status_code < 500


def test_sandbox_env_points_the_toolkit_at_the_sandbox(
    sandbox_env: dict[str, str], sandbox: Sandbox, isolated_ssh_env: Path
) -> None:
    assert os.environ["FABRIC_MAINT_SSH_CONFIG"] == str(sandbox.ssh_config)
    assert os.environ["FABRIC_MAINT_KNOWN_HOSTS"] == str(sandbox.known_hosts)
    assert os.environ["FABRIC_MAINT_INVENTORY"] == str(sandbox.inventory_dir)
    assert os.environ["HOME"] == str(isolated_ssh_env)


def test_developer_ssh_files_are_kept_out_of_tests(isolated_ssh_env: Path) -> None:
    assert Path("~/.ssh/config").expanduser() == isolated_ssh_env / ".ssh" / "config"
    assert Path(os.environ["FABRIC_MAINT_KNOWN_HOSTS"]).read_text() == ""
    assert "SSH_AUTH_SOCK" not in os.environ
    assert Config().load_ssh_config is not None  # fabric reads ~/.ssh/config from the private HOME
