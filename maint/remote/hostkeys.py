"""Host keys for a new store: what the host offers, and adding it to known_hosts after the maintainer agreed.

`connect()` never adds a key. `maint add-store` is the one place a key is added, and only after the
maintainer typed yes to the fingerprints shown, or passed the same fingerprint (--accept-fingerprint).
"""

from __future__ import annotations

import hashlib
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import paramiko
from fabric import Connection

from maint.config import StoreConfig
from maint.errors import ConnectError, HostKeyError
from maint.remote.ssh import DEFAULT_KNOWN_HOSTS, _fabric_config, _known_hosts_files, fingerprint


@dataclass(frozen=True)
class OfferedKey:
    """The key a host offered, and where it goes in known_hosts."""

    alias: str
    hostname: str
    port: int
    key: paramiko.PKey
    known_hosts: Path  # the file it would be added to

    @property
    def entry_name(self) -> str:
        """The name paramiko and OpenSSH look the key up by: ``host`` or ``[host]:port``."""
        return self.hostname if self.port == 22 else f"[{self.hostname}]:{self.port}"

    @property
    def sha256(self) -> str:
        return fingerprint(self.key)

    @property
    def md5(self) -> str:
        digest = hashlib.md5(self.key.asbytes(), usedforsecurity=False).hexdigest()
        return "MD5:" + ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))

    def describe(self) -> str:
        return (
            f"{self.alias} ({self.hostname}:{self.port}) offers a {self.key.get_name()} host key:\n"
            f"  {self.sha256}\n  {self.md5}"
        )


class _Capture(paramiko.MissingHostKeyPolicy):
    def __init__(self) -> None:
        self.key: paramiko.PKey | None = None

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        self.key = key
        raise _Unknown()


class _Unknown(Exception):
    pass


def offered_key(cfg: StoreConfig) -> OfferedKey | None:
    """The host's key when known_hosts lacks it; None when it is already known (and matches).

    Only the key exchange runs: the connection is dropped before any authentication, so nothing
    is sent to a host whose key the maintainer has not accepted yet.
    """
    conn = Connection(cfg.host, config=_fabric_config(cfg), connect_timeout=int(cfg.connect_timeout))
    files = _known_hosts_files(cfg, conn.ssh_config)
    for path in files:
        if path.is_file():
            try:
                conn.client.load_host_keys(str(path))
            except (OSError, paramiko.SSHException) as exc:
                raise HostKeyError(f"cannot read known_hosts file {path}: {exc}", store=cfg.store) from None
    policy = _Capture()
    conn.client.set_missing_host_key_policy(policy)
    # paramiko checks the host key before authentication starts: an unknown key stops it there.
    try:
        conn.open()
    except _Unknown:
        assert policy.key is not None
        target = files[0] if files else DEFAULT_KNOWN_HOSTS[0].expanduser()
        return OfferedKey(cfg.host, conn.host, int(conn.port), policy.key, target)
    except paramiko.BadHostKeyException as exc:
        raise HostKeyError(
            f"host key for {cfg.host} has CHANGED: offered {exc.key.get_name()} {fingerprint(exc.key)}, "
            f"known_hosts has {fingerprint(exc.expected_key)}; refusing (verify with the host's owner)",
            store=cfg.store,
        ) from None
    except paramiko.AuthenticationException:
        return None  # the key was known: authentication is the next step, and `connect()` reports it
    except socket.gaierror:
        raise ConnectError(
            f"cannot resolve host {conn.host!r} (host alias {cfg.host!r}): add a `Host {cfg.host}` entry with its "
            f"HostName to {cfg.ssh_config or '~/.ssh/config'}", store=cfg.store) from None
    except (paramiko.SSHException, OSError) as exc:
        raise ConnectError(f"SSH connection to {cfg.host} failed: {exc}", store=cfg.store) from None
    finally:
        conn.close()
    return None


def add_known_host(offered: OfferedKey) -> Path:
    """Append the key to the known_hosts file (created 0600 in a 0700 folder when missing)."""
    path = offered.known_hosts
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    line = f"{offered.entry_name} {offered.key.get_name()} {offered.key.get_base64()}\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="ascii") as handle:
        if path.stat().st_size and not _ends_with_newline(path):
            handle.write("\n")
        handle.write(line)
    return path


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def same_fingerprint(given: str, offered: OfferedKey) -> bool:
    """``SHA256:abc`` as ssh-keygen prints it (padding and the prefix's case do not matter)."""
    text = given.strip()
    if text.upper().startswith("SHA256:"):
        text = text[7:]
    return text.rstrip("=") == offered.sha256[7:]
