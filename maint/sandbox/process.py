"""Start and stop the sandbox's daemons, always by PID.

Each daemon gets its own session (process group = its PID), so stopping it also stops any worker it
forked (php -S with PHP_CLI_SERVER_WORKERS) without touching anything else on the machine. A PID read
back from state.json is only signalled when the process's start time still matches, so a recycled PID
is never killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from maint.errors import MaintError


class SandboxError(MaintError):
    """A sandbox service could not be set up, started or stopped."""


@dataclass(frozen=True)
class ProcessRef:
    """What state.json keeps about a running daemon."""

    pid: int
    start_ticks: int

    def as_dict(self) -> dict[str, int]:
        return {"pid": self.pid, "start_ticks": self.start_ticks}

    @classmethod
    def from_dict(cls, data: Mapping[str, int]) -> ProcessRef:
        return cls(int(data["pid"]), int(data["start_ticks"]))


def process_start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (start time since boot), or None if the PID is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":
        return None
    return int(fields[19])


def is_running(ref: ProcessRef) -> bool:
    return process_start_ticks(ref.pid) == ref.start_ticks


def tail(path: Path, lines: int = 15) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 4000))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class Daemon:
    """One long-running child process with its log file."""

    def __init__(self, name: str, argv: Sequence[str], *, log: Path, env: Mapping[str, str] | None = None,
                 cwd: Path | None = None) -> None:
        self.name = name
        self.argv = list(argv)
        self.log = log
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self._proc: subprocess.Popen[bytes] | None = None
        self.ref: ProcessRef | None = None

    def spawn(self) -> ProcessRef:
        # Private: a working copy's PHP and MariaDB logs may quote a client's data.
        self.log.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(os.open(self.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as log:
            try:
                self._proc = subprocess.Popen(
                    self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    env=self.env, cwd=self.cwd, start_new_session=True,
                )
            except OSError as exc:
                raise SandboxError(f"{self.name}: cannot run {self.argv[0]}: {exc}") from exc
        ticks = process_start_ticks(self._proc.pid)
        self.ref = ProcessRef(self._proc.pid, ticks if ticks is not None else -1)
        return self.ref

    def adopt(self, ref: ProcessRef) -> None:
        """Take over a daemon another process started (known from state.json); stop() still works."""
        self._proc = None
        self.ref = ref

    def exited(self) -> bool:
        if self._proc is None:
            return self.ref is not None and not is_running(self.ref)
        return self._proc.poll() is not None

    def failure(self, what: str) -> SandboxError:
        return SandboxError(f"{self.name} {what}; last lines of {self.log}:\n{tail(self.log)}")

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll `ready` until it is true; fail early, with the log's tail, if the process died."""
        deadline = time.monotonic() + timeout
        while True:
            if self.exited():
                raise self.failure(f"exited with code {self._proc.returncode if self._proc else '?'}")
            if ready():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise self.failure(f"did not {what} within {timeout:.0f}s")
            time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        if self.ref is not None:
            stop_process(self.ref, timeout=timeout)
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=1)  # reap, so no zombie is left behind
        self._proc = None
        self.ref = None


def stop_process(ref: ProcessRef, *, timeout: float = 10.0) -> bool:
    """SIGTERM the daemon's process group, SIGKILL it after `timeout`. False if it was not running."""
    if ref.start_ticks < 0 or not is_running(ref):
        return False
    _signal_group(ref.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_running(ref):
            _signal_group(ref.pid, signal.SIGKILL)  # workers the leader left behind
            return True
        time.sleep(0.02)
    _signal_group(ref.pid, signal.SIGKILL)
    while is_running(ref) and time.monotonic() < deadline + 5:
        time.sleep(0.02)
    return True


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def port_accepts(port: int, host: str = "127.0.0.1", *, banner: bytes | None = None) -> bool:
    """True when something accepts TCP connections on the port (and greets with `banner`, if given)."""
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            if banner is None:
                return True
            sock.settimeout(2)
            return sock.recv(len(banner)) == banner
    except OSError:
        return False


class DaemonOwner:
    """What MariaDB, Sshd and PhpServer share: the one daemon each started or adopted."""

    _daemon: Daemon | None = None

    @property
    def ref(self) -> ProcessRef | None:
        return self._daemon.ref if self._daemon else None

    @property
    def running(self) -> bool:
        return self._daemon is not None and self._daemon.ref is not None and not self._daemon.exited()
