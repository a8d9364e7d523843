"""Locks so two runs can't collide on one store.

``store_lock`` lives on the client host (an atomic ``mkdir`` in the SSH user's home), so it also
stops two maintainers on different machines; ``take_store_lock`` is the same lock, taken and released
in one SSH session. ``local_lock`` guards local work such as a mirror
folder with ``flock``. Both are removed on every exit path.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import paramiko
from fabric import Connection

from maint.config import StoreConfig
from maint.errors import ConnectError, LockError
from maint.remote.ssh import quote, run


def _holder(task: str) -> str:
    return json.dumps(
        {"user": getpass.getuser(), "machine": socket.gethostname(), "pid": os.getpid(), "task": task,
         "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    )


def remote_lock_path(cfg: StoreConfig) -> str:
    digest = hashlib.sha256(f"{cfg.store}:{cfg.root}".encode()).hexdigest()[:12]
    return f".maint-lock-{cfg.store}-{digest}"


def _take_command(cfg: StoreConfig, task: str) -> str:
    """Shell that prints LOCKED when it created the lock; on failure the caller shows the holder."""
    path = quote(remote_lock_path(cfg))
    return f"mkdir {path} 2>/dev/null && printf %s {quote(_holder(task))} > {path}/holder && echo LOCKED"


def _locked_error(cfg: StoreConfig, holder: str) -> LockError:
    return LockError(
        f"store is locked by {_who(holder)}; if that run is dead, remove ~/{remote_lock_path(cfg)} on the host",
        store=cfg.store,
    )


class HeldStoreLock:
    """A store lock taken and released in one SSH session (see take_store_lock)."""

    def __init__(self, channel: paramiko.Channel, store: str) -> None:
        self._channel = channel
        self._store = store

    def release(self, *, finish: bool = False) -> tuple[int, str]:
        """Remove the lock; with `finish`, run the command given to take_store_lock() first, still under
        the lock. Returns (exit status, stderr): the command's status with `finish`, else 0."""
        channel = self._channel
        try:
            channel.sendall(b"finish\n" if finish else b"release\n")
            channel.shutdown_write()
            status = channel.recv_exit_status()
            with channel.makefile_stderr("rb") as err:
                stderr = err.read().decode("utf-8", errors="replace")
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise ConnectError(
                f"SSH connection lost while releasing the store lock: {exc}", store=self._store
            ) from None
        finally:
            channel.close()
        return status, stderr


def take_store_lock(conn: Connection, cfg: StoreConfig, task: str, *, finish: str = "") -> HeldStoreLock:
    """Take the store's lock like store_lock(), in a session that stays open for the release.

    Each SSH command costs a session on the host (~0.1 s), so the session that takes the lock waits for
    one line: `finish` runs the `finish` shell command (e.g. a cache clear), then removes the lock;
    `release` only removes it. Should the connection drop before either, the lock stays, like the lock
    of a run that died: a run that broke off mid-change must not look finished.
    """
    path = quote(remote_lock_path(cfg))
    script = (
        f"{_take_command(cfg, task)} || {{ cat {path}/holder 2>/dev/null; exit 1; }}\n"
        "IFS= read -r line\n"
        'case "$line" in\n'
        f"  finish) {{ {finish or 'true'} ; }}; status=$?; rm -rf {path}; exit $status ;;\n"
        f"  release) rm -rf {path}; exit 0 ;;\n"
        "esac\n"
        "exit 3\n"
    )
    try:
        if not conn.is_connected:
            conn.open()
        channel = conn.client.get_transport().open_session()
        channel.exec_command(script)
        with channel.makefile("rb") as out:
            first = out.readline().decode("utf-8", errors="replace")
            if first.strip() == "LOCKED":
                return HeldStoreLock(channel, cfg.store)
            got = (first + out.read().decode("utf-8", errors="replace")).strip()
        channel.close()
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise ConnectError(
            f"SSH connection lost while taking the store lock: {exc}", store=cfg.store
        ) from None
    raise _locked_error(cfg, got)


def _who(holder: str) -> str:
    try:
        info = json.loads(holder)
        return (
            f"{info.get('user')}@{info.get('machine')} (pid {info.get('pid')}, {info.get('task')}, "
            f"since {info.get('since')})"
        )
    except (ValueError, AttributeError):
        return "another run"


@contextmanager
def store_lock(conn: Connection, cfg: StoreConfig, task: str) -> Iterator[None]:
    """Hold the store's write lock on its host for the duration of the block."""
    path = remote_lock_path(cfg)
    got = run(
        conn, f"{_take_command(cfg, task)} || cat {quote(path)}/holder 2>/dev/null", check=False, store=cfg.store
    ).stdout.strip()
    if not got.endswith("LOCKED"):
        raise _locked_error(cfg, got)
    try:
        yield
    finally:
        run(conn, f"rm -rf {quote(path)}", check=False, store=cfg.store)


@contextmanager
def local_lock(path: Path, task: str, *, store: str | None = None) -> Iterator[None]:
    """An exclusive flock on a local file; released when the process dies, so never stale."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # noqa: SIM115 - kept open for the lock's lifetime
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise LockError(f"another run holds {path}: {handle.read().strip() or 'unknown'}", store=store) from None
        handle.seek(0)
        handle.truncate()
        handle.write(_holder(task))
        handle.flush()
        yield
    finally:
        handle.close()
