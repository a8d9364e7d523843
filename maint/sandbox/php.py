"""PHP's built-in web server for one store: `php -S 127.0.0.1:<port> -t <docroot> <docroot>/router.php`."""

from __future__ import annotations

import http.client
import os
from pathlib import Path

from maint.sandbox import ports
from maint.sandbox.process import Daemon, DaemonOwner, ProcessRef, SandboxError

PHP = "php"
WORKERS = "4"  # php -S is single-threaded otherwise; parallel health checks need a few workers


def answers_http(port: int) -> bool:
    """True once the server returns any HTTP status for GET / (a 500 still means PHP is serving)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/", headers={"Host": f"127.0.0.1:{port}"})
        conn.getresponse().read()
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()
    return True


class PhpServer(DaemonOwner):
    """One store's web server; stop()/start() simulate "store down"."""

    def __init__(self, name: str, docroot: Path, logs: Path, *, port: int | None = None) -> None:
        self.name = name
        self.docroot = docroot
        self.log = logs / f"php-{name}.log"
        self.port = port or ports.free_port()
        self._daemon: Daemon | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self, timeout: float = 15.0) -> ProcessRef:
        if self.running and self.ref:
            return self.ref
        router = self.docroot / "router.php"
        argv = [PHP, "-S", f"127.0.0.1:{self.port}", "-t", str(self.docroot)]
        if router.is_file():
            argv.append(str(router))
        elif not self.docroot.is_dir():
            raise SandboxError(f"php {self.name}: no docroot at {self.docroot}")
        env = {**os.environ, "PHP_CLI_SERVER_WORKERS": WORKERS}
        self._daemon = Daemon(f"php ({self.name})", argv, log=self.log, env=env, cwd=self.docroot)
        ref = self._daemon.spawn()
        self._daemon.wait_until(lambda: answers_http(self.port), timeout, "answer HTTP")
        return ref

    def adopt(self, ref: ProcessRef) -> None:
        """Manage a server another process started (the CLI's `up`, the Docker testbed)."""
        self._daemon = Daemon(f"php ({self.name})", [], log=self.log)
        self._daemon.adopt(ref)

    def stop(self) -> None:
        if self._daemon is not None:
            self._daemon.stop()
            self._daemon = None
