"""`fab info` against the real sandbox: SSH with strict host keys, SQL through the tunnel, and
every bad-input case ending in a one-line error with its own exit code and no secret."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import paramiko
import yaml

PROJECT = Path(__file__).resolve().parents[3]
FAB = PROJECT / ".venv" / "bin" / "fab"


def fab(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FAB), "-r", str(PROJECT), *args],
        capture_output=True, text=True, timeout=120, env=env or dict(os.environ), check=False,
    )


def secrets_of(sandbox) -> list[str]:
    return [s.db_password for s in sandbox.stores]


def assert_no_secret(sandbox, *texts: str) -> None:
    for secret in secrets_of(sandbox):
        for text in texts:
            assert secret not in text


def write_inventory(tmp_path: Path, stores: list[dict]) -> Path:
    folder = tmp_path / "inventory"
    folder.mkdir()
    (folder / "acme.yaml").write_text(yaml.safe_dump({"name": "acme", "plan": "starter", "stores": stores}))
    return folder


def test_info_reads_a_3_0_store_over_ssh_and_sql(sandbox, sandbox_env):
    result = fab("info", "s3", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)["stores"][0]
    assert info["version"] == "3.0.3.8"
    assert info["branch"] == "3.0"
    assert info["table_prefix"] == "oc_"
    assert info["counts"]["product"] > 0 and info["counts"]["customer_group"] >= 3
    assert info["engines"].get("MyISAM", 0) > 0
    assert info["files"]["count"] > 0
    assert info["maintenance"] is False
    assert info["server_version"].split(".")[0].isdigit()
    assert_no_secret(sandbox, result.stdout, result.stderr)


def test_info_reads_a_4_0_store_with_storage_outside_the_web_root(sandbox, sandbox_env):
    result = fab("info", "s40", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)["stores"][0]
    assert info["version"] == "4.0.2.3"
    assert info["storage_in_webroot"] is False
    assert set(info["engines"]) == {"InnoDB"}


def test_info_shows_a_readable_table_when_piped(sandbox, sandbox_env):
    result = fab("info", "s4")
    assert result.returncode == 0, result.stderr
    assert "OpenCart" in result.stdout and "4.1.0.4" in result.stdout
    assert "\x1b[" not in result.stdout  # no colour codes when not on a terminal
    assert_no_secret(sandbox, result.stdout, result.stderr)


def test_info_all_keeps_going_past_a_broken_store(sandbox, sandbox_env, tmp_path):
    s3 = sandbox.store("s3")
    folder = write_inventory(tmp_path, [
        {"name": "good", "host": "maint-sandbox", "root": str(s3.root)},
        {"name": "broken", "host": "maint-sandbox", "root": str(tmp_path / "no-such-shop")},
    ])
    env = {**os.environ, "FABRIC_MAINT_INVENTORY": str(folder)}
    result = fab("info", "--all", "--json", env=env)
    assert result.returncode == 31
    stores = {s["store"]: s for s in json.loads(result.stdout)["stores"]}
    assert stores["good"]["version"] == "3.0.3.8"
    assert "does not exist" in stores["broken"]["error"]
    assert "broken:" in result.stderr


def test_ledger_records_the_info_run_without_secrets(sandbox, sandbox_env):
    assert fab("info", "s3").returncode == 0
    state = Path(sandbox_env["FABRIC_MAINT_STATE_DIR"])
    files = [p for p in state.rglob("*") if p.is_file()]
    assert files, "the run was not recorded"
    for path in files:
        data = path.read_bytes()
        for secret in secrets_of(sandbox):
            assert secret.encode() not in data


# --- refusals -------------------------------------------------------------------------------------


def known_hosts_line(sandbox) -> str:
    return Path(sandbox.known_hosts).read_text().strip().splitlines()[0]


def test_an_unknown_host_key_is_refused_with_its_fingerprint(sandbox, sandbox_env, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    result = fab("info", "s3", env={**os.environ, "FABRIC_MAINT_KNOWN_HOSTS": str(empty)})
    assert result.returncode == 21
    assert "unknown host key" in result.stderr and "SHA256:" in result.stderr
    assert empty.read_text() == ""  # never auto-added
    assert "Traceback" not in result.stderr


def test_a_changed_host_key_is_refused(sandbox, sandbox_env, tmp_path):
    host = known_hosts_line(sandbox).split()[0]
    other = paramiko.Ed25519Key.generate() if hasattr(paramiko.Ed25519Key, "generate") else None
    if other is None:
        keyfile = tmp_path / "k"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keyfile)], check=True)
        fake = (keyfile.with_suffix(".pub")).read_text().split()[:2]
    else:
        fake = [other.get_name(), other.get_base64()]
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"{host} {fake[0]} {fake[1]}\n")
    result = fab("info", "s3", env={**os.environ, "FABRIC_MAINT_KNOWN_HOSTS": str(wrong)})
    assert result.returncode == 21
    assert "CHANGED" in result.stderr


def ssh_config_with(sandbox, tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "ssh_config"
    path.write_text(Path(sandbox.ssh_config).read_text() + "\n" + extra)
    return path


def test_an_unreachable_host_is_a_connect_error(sandbox, sandbox_env, tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    config = ssh_config_with(sandbox, tmp_path, f"Host closed-host\n  HostName 127.0.0.1\n  Port {closed_port}\n")
    folder = write_inventory(tmp_path, [{"name": "gone", "host": "closed-host", "root": "/srv/shop"}])
    env = {**os.environ, "FABRIC_MAINT_INVENTORY": str(folder), "FABRIC_MAINT_SSH_CONFIG": str(config)}
    result = fab("info", "gone", env=env)
    assert result.returncode == 20
    assert "gone:" in result.stderr and "refused" in result.stderr


def test_a_refused_user_key_is_an_auth_error(sandbox, sandbox_env, tmp_path):
    key = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    port = next(line.split()[1] for line in Path(sandbox.ssh_config).read_text().splitlines() if "Port" in line)
    config = ssh_config_with(
        sandbox, tmp_path,
        f"Host stranger\n  HostName 127.0.0.1\n  Port {port}\n  IdentityFile {key}\n  IdentitiesOnly yes\n",
    )
    folder = write_inventory(tmp_path, [{"name": "shop", "host": "stranger", "root": str(sandbox.store("s3").root)}])
    env = {**os.environ, "FABRIC_MAINT_INVENTORY": str(folder), "FABRIC_MAINT_SSH_CONFIG": str(config)}
    result = fab("info", "shop", env=env)
    assert result.returncode == 22, result.stderr
    assert "key refused" in result.stderr


def fake_store(tmp_path: Path, config_php: str) -> Path:
    root = tmp_path / "shop"
    (root / "admin").mkdir(parents=True)
    (root / "index.php").write_text("<?php\n// Version\ndefine('VERSION', '3.0.3.8');\n")
    (root / "config.php").write_text(config_php)
    (root / "admin" / "config.php").write_text(config_php.replace("/catalog/", "/admin/"))
    return root


def run_on_fake(sandbox, tmp_path: Path, root: Path) -> subprocess.CompletedProcess[str]:
    folder = write_inventory(tmp_path, [{"name": "fake", "host": "maint-sandbox", "root": str(root)}])
    return fab("info", "fake", env={**os.environ, "FABRIC_MAINT_INVENTORY": str(folder)})


def test_a_config_php_that_cannot_be_read_is_a_config_file_error(sandbox, sandbox_env, tmp_path):
    root = fake_store(tmp_path, "<?php\n$config = include 'elsewhere.php';\n")
    result = run_on_fake(sandbox, tmp_path, root)
    assert result.returncode == 32
    assert "config.php" in result.stderr


def test_a_wrong_database_password_is_refused_without_showing_it(sandbox, sandbox_env, tmp_path):
    s3 = sandbox.store("s3")
    wrong = "Wr0ng-Pa55word-xyz"
    text = (
        "<?php\ndefine('DIR_APPLICATION', '/x/catalog/');\ndefine('DIR_STORAGE', '/x/s/');\n"
        "define('DIR_MODIFICATION', '/x/m/');\ndefine('DB_DRIVER', 'mysqli');\n"
        f"define('DB_HOSTNAME', '127.0.0.1');\ndefine('DB_USERNAME', '{s3.db_user}');\n"
        f"define('DB_PASSWORD', '{wrong}');\ndefine('DB_DATABASE', '{s3.db_name}');\n"
        f"define('DB_PORT', '{s3.db_port}');\ndefine('DB_PREFIX', 'oc_');\n"
    )
    result = run_on_fake(sandbox, tmp_path, fake_store(tmp_path, text))
    assert result.returncode == 42, result.stderr
    assert "database login refused" in result.stderr
    assert wrong not in result.stdout + result.stderr


def test_a_docroot_that_is_not_opencart_is_refused(sandbox, sandbox_env, tmp_path):
    root = tmp_path / "blog"
    root.mkdir()
    (root / "index.php").write_text("<?php echo 'a blog';\n")
    result = run_on_fake(sandbox, tmp_path, root)
    assert result.returncode == 31
    assert "not an OpenCart root" in result.stderr


def test_a_missing_inventory_is_an_inventory_error(sandbox, sandbox_env, tmp_path):
    result = fab("info", "s3", env={**os.environ, "FABRIC_MAINT_INVENTORY": str(tmp_path / "none")})
    assert result.returncode == 11
    assert "does not exist" in result.stderr
