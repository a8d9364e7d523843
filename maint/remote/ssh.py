"""SSH connections with strict host-key checking.

Fabric's ``Connection`` accepts any host key by default (AutoAddPolicy) and never loads
known_hosts; for a client's live shop that is not acceptable, so every connection made here
loads known_hosts explicitly and refuses unknown or changed keys, naming the fingerprint to verify.
"""

from __future__ import annotations

import base64
import hashlib
import shlex
import socket
from pathlib import Path
from typing import Any

import paramiko
from fabric import Config, Connection
from invoke.exceptions import CommandTimedOut
from invoke.runners import Result

from maint.config import StoreConfig
from maint.errors import AuthError, ConnectError, FactError, HostKeyError, RemoteCommandError

DEFAULT_KNOWN_HOSTS = (Path("~/.ssh/known_hosts"), Path("/etc/ssh/ssh_known_hosts"))


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH-style SHA256 fingerprint, as `ssh-keygen -lf` prints it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


class _RefuseUnknownKey(paramiko.MissingHostKeyPolicy):
    """Refuse, and say which key was offered so the maintainer can verify it out of band."""

    def __init__(self, store: str, known_hosts: list[Path]) -> None:
        self.store = store
        self.known_hosts = known_hosts

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        files = ", ".join(str(p) for p in self.known_hosts) or "no known_hosts file"
        raise HostKeyError(
            f"unknown host key for {hostname} ({key.get_name()} {fingerprint(key)}); not in {files}. "
            "Verify the fingerprint with the host's owner, then add it "
            f"(ssh-keyscan -p PORT HOST >> {self.known_hosts[0] if self.known_hosts else '~/.ssh/known_hosts'})",
            store=self.store,
        )


def _known_hosts_files(cfg: StoreConfig, ssh_conf: Any) -> list[Path]:
    if cfg.known_hosts:
        return [Path(cfg.known_hosts).expanduser()]
    configured = ssh_conf.get("userknownhostsfile") if ssh_conf else None
    if configured:
        return [Path(p).expanduser() for p in str(configured).split()]
    return [p.expanduser() for p in DEFAULT_KNOWN_HOSTS]


def _fabric_config(cfg: StoreConfig) -> Config:
    if cfg.ssh_config:
        path = Path(cfg.ssh_config).expanduser()
        if not path.is_file():
            raise ConnectError(f"SSH config file {path} does not exist", store=cfg.store)
        return Config(runtime_ssh_path=str(path))
    return Config()


def connect(cfg: StoreConfig) -> Connection:
    """Open an SSH connection to the store's host alias, verifying its host key."""
    conn = Connection(cfg.host, config=_fabric_config(cfg), connect_timeout=int(cfg.connect_timeout))
    files = _known_hosts_files(cfg, conn.ssh_config)
    loaded = []
    for path in files:
        if path.is_file():
            try:
                conn.client.load_host_keys(str(path))
            except (OSError, paramiko.SSHException) as exc:
                raise HostKeyError(f"cannot read known_hosts file {path}: {exc}", store=cfg.store) from None
            loaded.append(path)
    conn.client.set_missing_host_key_policy(_RefuseUnknownKey(cfg.store, files))
    where = f"{conn.user}@{conn.host}:{conn.port} (host alias {cfg.host!r})"
    try:
        conn.open()
    except HostKeyError:
        raise
    except paramiko.BadHostKeyException as exc:
        raise HostKeyError(
            f"host key for {where} has CHANGED: offered {exc.key.get_name()} {fingerprint(exc.key)}, "
            f"known_hosts has {fingerprint(exc.expected_key)}. Refusing to connect: this can be a "
            "man-in-the-middle attack, or the host was reinstalled; verify with the host's owner",
            store=cfg.store,
        ) from None
    except paramiko.AuthenticationException:
        raise AuthError(f"SSH key refused by {where}", store=cfg.store) from None
    except socket.gaierror:
        raise ConnectError(f"cannot resolve host {conn.host!r} (host alias {cfg.host!r})", store=cfg.store) from None
    except TimeoutError:
        raise ConnectError(f"SSH connection to {where} timed out", store=cfg.store) from None
    except paramiko.ssh_exception.NoValidConnectionsError:
        raise ConnectError(f"SSH connection to {where} refused", store=cfg.store) from None
    except (paramiko.SSHException, OSError) as exc:
        raise ConnectError(f"SSH connection to {where} failed: {exc}", store=cfg.store) from None
    return conn


def run(
    conn: Connection,
    command: str,
    *,
    check: bool = True,
    timeout: float | None = None,
    store: str | None = None,
) -> Result:
    """Run a command on the host, output captured; never blanked by ``fab --dry``."""
    try:
        result: Result = conn.run(command, hide=True, warn=True, dry=False, in_stream=False, timeout=timeout)
    except CommandTimedOut:
        raise RemoteCommandError(f"`{_short(command)}` timed out after {timeout}s", store=store) from None
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise ConnectError(f"SSH connection lost while running `{_short(command)}`: {exc}", store=store) from None
    if check and result.exited != 0:
        last = (result.stderr.strip().splitlines() or result.stdout.strip().splitlines() or [""])[-1]
        raise RemoteCommandError(
            f"`{_short(command)}` failed (exit {result.exited}){': ' + last[:200] if last else ''}", store=store
        )
    return result


def _short(command: str) -> str:
    return command if len(command) <= 80 else command[:77] + "..."


def quote(value: str) -> str:
    return shlex.quote(value)


def read_text(conn: Connection, path: str, *, store: str | None = None, limit: int = 4 * 1024 * 1024) -> str:
    """Read a (small) text file over SFTP."""
    try:
        with conn.sftp().open(path, "r") as handle:
            data: bytes = handle.read(limit)
    except FileNotFoundError:
        raise FactError(f"{path} not found on the host", store=store) from None
    except PermissionError:
        raise FactError(f"{path} is not readable by the SSH user", store=store) from None
    except (OSError, paramiko.SSHException) as exc:
        raise FactError(f"cannot read {path}: {exc}", store=store) from None
    return data.decode("utf-8", errors="replace")


def home_dir(conn: Connection) -> str:
    """The login directory on the host (SFTP starts there), without a shell round trip."""
    return str(conn.sftp().normalize("."))


def resolve_path(conn: Connection, path: str) -> str:
    """Expand a leading ``~/`` in an inventory path against the host's home directory."""
    if path == "~" or path.startswith("~/"):
        return home_dir(conn).rstrip("/") + path[1:]
    return path


def ssh_command_args(cfg: StoreConfig, *, control_path: Path | None = None) -> list[str]:
    """argv of OpenSSH's ``ssh`` with the same strict options, for ``rsync -e`` and pipes.

    The host alias is not included; append it (or let rsync do so).
    """
    args = ["ssh"]
    if cfg.ssh_config:
        args += ["-F", str(Path(cfg.ssh_config).expanduser())]
    args += ["-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={int(cfg.connect_timeout)}"]
    if cfg.known_hosts:
        args += ["-o", f"UserKnownHostsFile={Path(cfg.known_hosts).expanduser()}"]
    if control_path is not None:
        args += ["-o", "ControlMaster=auto", "-o", f"ControlPath={control_path}", "-o", "ControlPersist=60"]
    return args
