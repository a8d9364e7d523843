"""A private sshd on 127.0.0.1 that lets the current user in with one generated key.

Besides the daemon's own files it writes the client side the toolkit reads: an ssh_config with the
host alias `maint-sandbox` and a known_hosts file holding the sandbox's host key, so every test
connects with strict host-key checking.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from pathlib import Path

from maint.sandbox import ports
from maint.sandbox.process import Daemon, DaemonOwner, ProcessRef, SandboxError, port_accepts

SSHD = "/usr/sbin/sshd"
HOST_ALIAS = "maint-sandbox"
_PRIVSEP_DIR = Path("/run/sshd")


def generate_key(path: Path, comment: str) -> None:
    """An ed25519 key pair without a passphrase (path and path.pub); kept if it already exists."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise SandboxError(f"ssh-keygen failed: {done.stderr.strip()}")


def sshd_config_text(*, port: int, host_key: Path, authorized_keys: Path, pid_file: Path, as_root: bool,
                     host_tmp: Path | None = None) -> str:
    lines = [
        f"ListenAddress 127.0.0.1:{port}",
        f"HostKey {host_key}",
        f"PidFile {pid_file}",
        f"AuthorizedKeysFile {authorized_keys}",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        # The sandbox's files live in test folders whose modes sshd's checks would reject.
        "StrictModes no",
        f"PermitRootLogin {'prohibit-password' if as_root else 'no'}",
        "AllowTcpForwarding yes",
        "X11Forwarding no",
        "PrintMotd no",
        "UseDNS no",
        "MaxStartups 50:30:100",
        "MaxSessions 50",
        "LogLevel INFO",
        "Subsystem sftp internal-sftp",
    ]
    if host_tmp is not None:
        # The sandbox host gets its own temp folder, as a real host has its own /tmp: what a run leaves
        # behind there (dump defaults files) is then this sandbox's, not another test run's on the machine.
        lines.append(f"SetEnv TMPDIR={host_tmp}")
    return "\n".join(lines) + "\n"


def ssh_config_text(*, port: int, user: str, identity: Path, known_hosts: Path) -> str:
    return (
        f"Host {HOST_ALIAS}\n"
        "  HostName 127.0.0.1\n"
        f"  Port {port}\n"
        f"  User {user}\n"
        f"  IdentityFile {identity}\n"
        "  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {known_hosts}\n"
        "  StrictHostKeyChecking yes\n"
    )


def known_hosts_line(port: int, host_public_key: str) -> str:
    key_type, key_data = host_public_key.split()[:2]
    return f"[127.0.0.1]:{port} {key_type} {key_data}\n"


class Sshd(DaemonOwner):
    """The sandbox's sshd and its client-side files under `base` (usually <sandbox>/ssh)."""

    def __init__(self, base: Path, *, port: int | None = None) -> None:
        self.base = base
        self.port = port or ports.free_port()
        self.user = pwd.getpwuid(os.geteuid()).pw_name  # not $USER: sudo and su keep the caller's
        self.host_key = base / "ssh_host_ed25519_key"
        self.user_key = base / "id_ed25519"
        self.authorized_keys = base / "authorized_keys"
        self.sshd_config = base / "sshd_config"
        self.ssh_config = base / "ssh_config"
        self.known_hosts = base / "known_hosts"
        self.pid_file = base / "sshd.pid"
        self.log = base / "sshd.log"
        self.host_tmp = base / "host-tmp"
        self._daemon: Daemon | None = None

    def write_files(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        self.base.chmod(0o700)
        self.host_tmp.mkdir(mode=0o700, exist_ok=True)
        generate_key(self.host_key, "maint-sandbox host")
        generate_key(self.user_key, f"maint-sandbox {self.user}")
        self.authorized_keys.write_text(Path(f"{self.user_key}.pub").read_text())
        self.sshd_config.write_text(sshd_config_text(
            port=self.port, host_key=self.host_key, authorized_keys=self.authorized_keys,
            pid_file=self.pid_file, as_root=os.geteuid() == 0, host_tmp=self.host_tmp,
        ))
        self.ssh_config.write_text(ssh_config_text(
            port=self.port, user=self.user, identity=self.user_key, known_hosts=self.known_hosts,
        ))
        host_public = Path(f"{self.host_key}.pub").read_text()
        self.known_hosts.write_text(known_hosts_line(self.port, host_public))

    def start(self, timeout: float = 15.0) -> ProcessRef:
        self.write_files()
        if os.geteuid() == 0 and not _PRIVSEP_DIR.is_dir():
            _PRIVSEP_DIR.mkdir(mode=0o755, parents=True)
        check = subprocess.run([SSHD, "-t", "-f", str(self.sshd_config)], capture_output=True, text=True,
                               check=False)
        if check.returncode != 0:
            raise SandboxError(f"sshd rejects {self.sshd_config}: {check.stderr.strip()}")
        self._daemon = Daemon("sshd", [SSHD, "-D", "-f", str(self.sshd_config), "-E", str(self.log)],
                              log=self.base / "sshd.out")
        ref = self._daemon.spawn()
        self._daemon.wait_until(lambda: port_accepts(self.port, banner=b"SSH-2.0-"), timeout, "answer with an SSH banner")
        return ref

    def adopt(self, ref: ProcessRef) -> None:
        """Manage a server another process started (the CLI's `up`, the Docker testbed)."""
        self._daemon = Daemon("sshd", [], log=self.log)
        self._daemon.adopt(ref)

    def stop(self) -> None:
        if self._daemon is not None:
            self._daemon.stop()
            self._daemon = None
