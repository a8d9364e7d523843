"""A private MariaDB server on 127.0.0.1: own datadir, socket, port and logs.

`mariadb-install-db` runs once per user and MariaDB version into a template datadir in the cache
(~0.5 s); every sandbox then copies that template, so a start costs about a second.
The admin account is root@localhost without a password, reachable only through the unix socket,
which lives in a directory only the owner can enter.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql

from maint.sandbox import ports
from maint.sandbox.process import Daemon, DaemonOwner, ProcessRef, SandboxError, port_accepts

MARIADBD = "/usr/sbin/mariadbd"
INSTALL_DB = "mariadb-install-db"
_SOCKET_PATH_MAX = 100  # sun_path holds 108 bytes; keep a margin
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,30}$")

# Small buffers: a sandbox serves a few test stores on a 2-core machine, several side by side.
_SERVER_SETTINGS = (
    "--skip-log-bin",
    "--skip-name-resolve",
    "--local-infile=1",
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_general_ci",
    "--innodb-buffer-pool-size=64M",
    "--innodb-log-file-size=16M",
    "--innodb-flush-log-at-trx-commit=2",
    "--key-buffer-size=8M",
    "--max-connections=60",
    "--performance-schema=OFF",
    "--table-open-cache=400",
)
# What a production server does by default and the sandbox relaxes for test speed: every commit is
# flushed to disk. Benchmarks that compare against row-by-row commits run with it.
PRODUCTION_DURABILITY = ("--innodb-flush-log-at-trx-commit=1", "--innodb-buffer-pool-size=256M")

# mariadb-install-db also creates password-less root accounts for TCP (127.0.0.1, ::1, the hostname);
# keep only the socket one.
_TEMPLATE_SQL = "DELETE FROM mysql.global_priv WHERE User = 'root' AND Host <> 'localhost';\n"


@dataclass(frozen=True)
class StoreDatabase:
    name: str
    user: str
    password: str

    def __repr__(self) -> str:
        return f"StoreDatabase(name={self.name!r}, user={self.user!r}, password='***')"


def mariadb_version() -> str:
    out = subprocess.run([MARIADBD, "--version"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"Ver (\S+)", out)
    return match.group(1) if match else "unknown"


def user_cache_dir() -> Path:
    """The per-user cache, from the password database so a test's fake HOME doesn't defeat it."""
    override = os.environ.get("MAINT_SANDBOX_CACHE")
    if override:
        return Path(override)
    return Path(pwd.getpwuid(os.getuid()).pw_dir) / ".cache" / "maint-sandbox"


def _run_as_root() -> bool:
    return os.geteuid() == 0


def build_template(cache_dir: Path) -> Path:
    """Return the initialised template datadir for this MariaDB version, creating it if needed."""
    template = cache_dir / f"mariadb-{mariadb_version()}-datadir"
    if (template / "mysql").is_dir():
        return template
    cache_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="template-", dir=cache_dir))
    try:
        sql = work / "extra.sql"
        sql.write_text(_TEMPLATE_SQL)
        argv = [
            INSTALL_DB, "--no-defaults", f"--datadir={work / 'data'}", "--auth-root-authentication-method=normal",
            "--skip-test-db", "--skip-name-resolve", f"--extra-file={sql}", "--innodb-log-file-size=16M",
        ]
        if _run_as_root():
            argv.append("--user=root")
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SandboxError(f"mariadb-install-db failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        try:
            os.rename(work / "data", template)
        except OSError:
            if not (template / "mysql").is_dir():  # another process won the race: use its template
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return template


class MariaDB(DaemonOwner):
    """The sandbox's database server. start()/stop() may be called repeatedly (fault tests)."""

    def __init__(self, base: Path, *, port: int | None = None, cache_dir: Path | None = None,
                 socket: Path | None = None, options: Sequence[str] = ()) -> None:
        self.base = base
        # Extra server options, after the sandbox's own so they win (benchmarks ask for production durability).
        self.options = tuple(options)
        self.datadir = base / "data"
        self.log = base / "mariadb.log"
        self.pid_file = base / "mariadb.pid"
        self.tmpdir = base / "tmp"
        self.port = port or ports.free_port()
        self.cache_dir = cache_dir or user_cache_dir()
        self.socket = socket or self._socket_path()
        self._daemon: Daemon | None = None

    def _socket_path(self) -> Path:
        candidate = self.base / "mariadb.sock"
        if len(str(candidate)) <= _SOCKET_PATH_MAX:
            return candidate
        # A deep base would overflow sun_path: use a private short directory instead.
        return Path(tempfile.mkdtemp(prefix="maint-db-")) / "mariadb.sock"

    def start(self, timeout: float = 30.0) -> ProcessRef:
        if self.running and self.ref:
            return self.ref
        self.base.mkdir(parents=True, exist_ok=True)
        self.base.chmod(0o700)
        self.socket.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # a /tmp one may have been cleaned
        self.socket.parent.chmod(0o700)
        self.tmpdir.mkdir(mode=0o700, exist_ok=True)
        if not (self.datadir / "mysql").is_dir():
            shutil.copytree(build_template(self.cache_dir), self.datadir, symlinks=True)
        argv = [
            MARIADBD, "--no-defaults", f"--datadir={self.datadir}", f"--socket={self.socket}",
            f"--port={self.port}", "--bind-address=127.0.0.1", f"--pid-file={self.pid_file}",
            f"--log-error={self.log}", f"--tmpdir={self.tmpdir}", *_SERVER_SETTINGS, *self.options,
        ]
        if _run_as_root():
            argv.append("--user=root")
        # Its own files (pid, data, logs) private like everything else of a working copy (mysqld's UMASK).
        env = {**os.environ, "UMASK": "0600", "UMASK_DIR": "0700"}
        self._daemon = Daemon("mariadb", argv, log=self.log, env=env)
        ref = self._daemon.spawn()
        self._daemon.wait_until(self._answers, timeout, "accept connections")
        return ref

    def _answers(self) -> bool:
        if not self.socket.exists() or not port_accepts(self.port):
            return False
        try:
            self.connect().close()
        except pymysql.MySQLError:
            return False
        return True

    def adopt(self, ref: ProcessRef) -> None:
        """Manage a server another process started (the CLI's `up`, the Docker testbed)."""
        self._daemon = Daemon("mariadb", [], log=self.log)
        self._daemon.adopt(ref)

    def stop(self) -> None:
        if self._daemon is not None:
            self._daemon.stop(timeout=30)
            self._daemon = None

    def connect(self, database: str | None = None, **kwargs: Any) -> pymysql.connections.Connection[Any]:
        """An admin connection (root over the unix socket)."""
        return pymysql.connect(
            unix_socket=str(self.socket), user="root", password="", database=database,
            charset="utf8mb4", autocommit=True, connect_timeout=5, **kwargs,
        )

    def create_store_database(self, store: str) -> StoreDatabase:
        """A database and a user oc_<store> with ALL on that database only, and a random password."""
        if not _NAME.match(store):
            raise SandboxError(f"store name {store!r} must match {_NAME.pattern}")
        db = StoreDatabase(name=f"oc_{store}", user=f"oc_{store}", password=secrets.token_urlsafe(18))
        with self.connect() as conn, conn.cursor() as cur:
            # Identifiers cannot be parameters; the name was validated against _NAME above.
            cur.execute(f"CREATE DATABASE IF NOT EXISTS `{db.name}`")
            for host in ("127.0.0.1", "localhost"):
                cur.execute("CREATE OR REPLACE USER %s@%s IDENTIFIED BY %s", (db.user, host, db.password))
                cur.execute(f"GRANT ALL ON `{db.name}`.* TO %s@%s", (db.user, host))
        return db
