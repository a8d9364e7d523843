"""Locks so two runs can't collide on one store.

``store_lock`` lives on the client host (an atomic ``mkdir`` in the SSH user's home), so it also
stops two maintainers on different machines. ``local_lock`` guards local work such as a mirror
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

from fabric import Connection
from invoke.runners import Result

from maint.config import StoreConfig
from maint.errors import LockError
from maint.remote.ssh import quote, run


def _holder(task: str) -> str:
    return json.dumps(
        {"user": getpass.getuser(), "machine": socket.gethostname(), "pid": os.getpid(), "task": task,
         "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    )


def remote_lock_path(cfg: StoreConfig) -> str:
    digest = hashlib.sha256(f"{cfg.store}:{cfg.root}".encode()).hexdigest()[:12]
    return f".maint-lock-{cfg.store}-{digest}"


def acquire_store_lock(conn: Connection, cfg: StoreConfig, task: str) -> str:
    """Take the store's write lock on its host (one SSH command); returns its path for the release.

    Raises LockError naming the holder when another run has it."""
    path = remote_lock_path(cfg)
    holder = _holder(task)
    got = run(
        conn,
        f"mkdir {quote(path)} 2>/dev/null && printf %s {quote(holder)} > {quote(path)}/holder && echo LOCKED "
        f"|| cat {quote(path)}/holder 2>/dev/null",
        check=False,
        store=cfg.store,
    ).stdout.strip()
    if not got.endswith("LOCKED"):
        try:
            info = json.loads(got)
            who = f"{info.get('user')}@{info.get('machine')} (pid {info.get('pid')}, {info.get('task')}, since {info.get('since')})"
        except ValueError:
            who = "another run"
        raise LockError(
            f"store is locked by {who}; if that run is dead, remove ~/{path} on the host",
            store=cfg.store,
        )
    return path


def release_store_lock(conn: Connection, cfg: StoreConfig, path: str, *, first: str = "") -> Result:
    """Remove the lock. `first` is a shell command run, still under the lock, in the same SSH command:
    each SSH command costs a session on the host (~0.1 s), so callers fold their last step into the
    release. The result's exit status is `first`'s (0 without one)."""
    if first:
        command = f"{{ {first} ; }}; status=$?; rm -rf {quote(path)}; exit $status"
    else:
        command = f"rm -rf {quote(path)}"
    return run(conn, command, check=False, store=cfg.store)


@contextmanager
def store_lock(conn: Connection, cfg: StoreConfig, task: str) -> Iterator[None]:
    """Hold the store's write lock on its host for the duration of the block."""
    path = acquire_store_lock(conn, cfg, task)
    try:
        yield
    finally:
        release_store_lock(conn, cfg, path)


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
