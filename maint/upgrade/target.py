"""Where an upgrade runs: the live store over SSH, or the local working copy of a snapshot (the rehearsal).

The procedure (maint.upgrade.procedure) is written once against this small interface: run a shell
command in the store's folder, copy a local tree into it with rsync, open its database, and its
paths and URL. A rehearsal thus runs the very steps the live upgrade will run.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql

from maint.errors import ConnectError, RemoteCommandError

DbOpener = Callable[[], AbstractContextManager[pymysql.connections.Connection]]


@dataclass
class Target:
    label: str  # "live store" / "working copy": said in every step and error
    store: str
    url: str  # storefront base URL, with a trailing slash
    root: str  # web root, trailing slash
    admin_dir: str
    prefix: str
    paths: dict[str, str]  # DIR_CACHE, DIR_LOGS, DIR_STORAGE, DIR_IMAGE, DIR_MODIFICATION (3.0), ... trailing /
    open_db: DbOpener = field(repr=False)
    shell_argv: Callable[[str], list[str]] = field(repr=False)  # command -> argv that runs it there
    rsync_dest: Callable[[str], str] = field(repr=False)  # absolute path there -> rsync destination
    rsync_rsh: Sequence[str] = ()  # ["-e", "ssh ..."] for a remote target
    # why -> context holding the store in planned maintenance (the live store: maint.maintenance, so
    # fab health reports it as planned); None: plain maintenance mode on and back (a working copy)
    maintenance: Callable[[str], AbstractContextManager[Any]] | None = field(default=None, repr=False)
    served_in: float = 0.0  # a working copy: seconds `fab serve` took to stand it up (reported by the rehearsal)

    def sh(self, command: str, *, check: bool = True, timeout: float = 600, stdin: bytes | None = None
           ) -> subprocess.CompletedProcess[str]:
        try:
            done = subprocess.run(self.shell_argv(command), input=stdin.decode() if stdin else None,
                                  capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise RemoteCommandError(f"{self.label}: `{command[:80]}` timed out", store=self.store) from None
        if check and done.returncode != 0:
            if done.returncode == 255 and self.rsync_rsh:
                raise ConnectError(f"{self.label}: SSH connection lost ({done.stderr.strip()[-200:]})",
                                   store=self.store)
            raise RemoteCommandError(f"{self.label}: `{command[:80]}` failed (exit {done.returncode}): "
                                     f"{done.stderr.strip()[-200:]}", store=self.store)
        return done

    def path(self, key: str) -> str:
        return self.paths.get(key, "")

    def read_text(self, rel: str) -> str:
        return self.sh(f"cat {shlex.quote(self.root + rel)}", check=False).stdout

    @contextmanager
    def db(self) -> Iterator[pymysql.connections.Connection]:
        with self.open_db() as conn:
            yield conn


def live_target(conn: Any, cfg: Any, facts: Any, mux: Any, task: str = "upgrade") -> Target:
    """The live store: commands over the multiplexed SSH connection, SQL through the SSH tunnel, and
    maintenance mode held as planned maintenance (who, why) so monitoring knows it is no outage."""
    from maint.maintenance import planned_maintenance
    from maint.remote.sql import open_db

    def opener() -> AbstractContextManager[pymysql.connections.Connection]:
        return open_db(conn, facts.db, store=cfg.store)

    return Target(
        label="live store", store=cfg.store, url=facts.url if facts.url.endswith("/") else facts.url + "/",
        root=facts.root.rstrip("/") + "/", admin_dir=facts.admin_dir, prefix=facts.db.prefix,
        paths={k: v for k, v in facts.catalog_config.items() if k.startswith("DIR_")},
        open_db=opener, shell_argv=lambda command: mux.argv(command),
        rsync_dest=lambda path: f"{cfg.host}:{path}", rsync_rsh=["-e", shlex.join(mux.ssh_args)],
        maintenance=lambda why: planned_maintenance(conn, cfg, facts.db, task=task, why=why, expected_minutes=15),
    )


def local_target(label: str, store: str, url: str, root: Path, admin_dir: str, consts: dict[str, str]) -> Target:
    """A store on this machine (the working copy): config constants read from its own config.php."""
    from maint.remote.sql import DbCredentials, connect_db  # noqa: F401 - same credentials type

    def opener() -> AbstractContextManager[pymysql.connections.Connection]:
        @contextmanager
        def _open() -> Iterator[pymysql.connections.Connection]:
            db = pymysql.connect(host=consts.get("DB_HOSTNAME", "127.0.0.1"), port=int(consts.get("DB_PORT") or 3306),
                                 user=consts["DB_USERNAME"], password=consts["DB_PASSWORD"],
                                 database=consts["DB_DATABASE"], autocommit=True, charset="utf8mb4",
                                 init_command="SET SESSION sql_mode='NO_ZERO_IN_DATE,NO_ENGINE_SUBSTITUTION'")
            try:
                yield db
            finally:
                db.close()
        return _open()

    return Target(
        label=label, store=store, url=url, root=str(root).rstrip("/") + "/", admin_dir=admin_dir,
        prefix=consts.get("DB_PREFIX", "oc_"),
        paths={k: v for k, v in consts.items() if k.startswith("DIR_")},
        open_db=opener, shell_argv=lambda command: ["bash", "-c", command], rsync_dest=lambda path: path,
    )
