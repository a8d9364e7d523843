"""One SSH master connection per run, shared by rsync and the dump stream (ControlMaster).

Each new SSH connection costs about 0.5 s of handshakes; through the master's socket a session
costs about a round trip. The socket lives in a private 0700 folder with a short path (sun_path
holds 108 bytes) and the master is told to exit when the run ends.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from maint.config import StoreConfig
from maint.remote.ssh import ssh_command_args


class SshMux:
    def __init__(self, cfg: StoreConfig) -> None:
        self.cfg = cfg
        self._dir = Path(tempfile.mkdtemp(prefix="maint-ssh-"))
        self.control_path = self._dir / "mux"
        self._starting: subprocess.Popen[bytes] | None = None

    @property
    def ssh_args(self) -> list[str]:
        """`ssh` plus options, without the host: for rsync -e."""
        return ssh_command_args(self.cfg, control_path=self.control_path)

    def argv(self, *remote: str) -> list[str]:
        """A full `ssh host -- command` argv."""
        return [*self.ssh_args, self.cfg.host, "--", *remote]

    def start(self) -> None:
        """Open the master now, in the background (`ssh -f -N`), so that its handshakes overlap the caller's
        other work; `ready()` waits for it. Without this, the first command through the socket opens it."""
        if self._starting is None and not self.control_path.exists():
            self._starting = subprocess.Popen([*self.ssh_args, "-f", "-N", self.cfg.host], stdin=subprocess.DEVNULL,
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def ready(self) -> None:
        """Wait for the master `start()` opens. One that failed is no error here: the next command connects
        on its own (ControlMaster=auto) and reports what went wrong."""
        proc, self._starting = self._starting, None
        if proc is None:
            return
        try:
            proc.wait(timeout=self.cfg.connect_timeout + 5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def close(self) -> None:
        proc, self._starting = self._starting, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        if self.control_path.exists():
            subprocess.run([*self.ssh_args, "-O", "exit", self.cfg.host], capture_output=True, timeout=10, check=False)
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> SshMux:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
