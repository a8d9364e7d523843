"""Planned maintenance: a task that takes a store offline on purpose says so on the store's host.

A task that must close the shop (upgrade, rollback, extension install, restore) wraps that part in
``planned_maintenance()``: maintenance mode on (``oc_setting.config_maintenance``, which OpenCart reads
on the next request) and a record next to the store's lock (``maint.lock``) in the SSH user's home:
who, why, which task, since when, until when. On every way out (done, error, Ctrl-C) the mode goes
back to what it was and the record goes away. ``fab health`` reads the record: while it is live the
store is in planned maintenance (no alert, Nagios OK with a note); a mode left on without a live record
is an outage again.

"Live" is decided on the host, not by trusting the record: a shell of the task's own SSH session
holds it (its pid is in the record, with a random token on its command line). When the task's
process dies, its connection closes, that shell ends, and the record it leaves says who left it.
"""

from __future__ import annotations

import getpass
import json
import os
import secrets
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import paramiko
from fabric import Connection

from maint.config import StoreConfig
from maint.errors import ConnectError, RemoteCommandError
from maint.lock import remote_lock_path
from maint.remote.sql import DbCredentials, connect_db, table
from maint.remote.ssh import quote

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"


def record_path(cfg: StoreConfig) -> str:
    """The record's path, relative to the SSH user's home, beside the store's lock."""
    return remote_lock_path(cfg).replace(".maint-lock-", ".maint-maintenance-", 1) + ".json"


@dataclass(frozen=True)
class MaintenanceRecord:
    user: str
    machine: str
    pid: int
    task: str
    why: str
    started: str
    expected_end: str
    token: str
    host_pid: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "user": self.user, "machine": self.machine, "pid": self.pid, "task": self.task, "why": self.why,
            "started": self.started, "expected_end": self.expected_end, "token": self.token,
            "host_pid": self.host_pid,
        }  # fmt: skip

    def describe(self) -> str:
        return (
            f"planned maintenance by {self.user}@{self.machine} ({self.task}: {self.why}), "
            f"since {self.started}, expected until {self.expected_end}"
        )


@dataclass(frozen=True)
class RecordState:
    """A record read on the host, and whether the shell holding it still runs."""

    record: MaintenanceRecord
    alive: bool

    def overrun(self, now: float | None = None) -> bool:
        try:
            end = time.mktime(time.strptime(self.record.expected_end, TIME_FORMAT))
        except ValueError:
            return False
        return (time.time() if now is None else now) > end


def new_record(
    task: str, why: str, expected_minutes: float, *, now: float | None = None
) -> MaintenanceRecord:
    began = time.time() if now is None else now
    return MaintenanceRecord(
        user=getpass.getuser(),
        machine=socket.gethostname(),
        pid=os.getpid(),
        task=task,
        why=why,
        started=time.strftime(TIME_FORMAT, time.localtime(began)),
        expected_end=time.strftime(TIME_FORMAT, time.localtime(began + expected_minutes * 60)),
        token=secrets.token_hex(8),
    )


def holder_script(cfg: StoreConfig, record: MaintenanceRecord) -> str:
    """Shell that writes the record (0600, with its own pid), says STARTED and waits for `end`.

    On `end` it removes the record; on end of input (the task's connection is gone) it leaves it,
    now held by a dead pid. The token comes first, so it is on the shell's command line for `ps`.
    """
    path = quote(record_path(cfg))
    body = json.dumps(record.as_dict())
    head = quote(body[: body.rindex("0}")])  # ends with '"host_pid": ', the shell adds its pid
    return (
        f": maint-maintenance-{record.token}\n"
        "umask 077\n"
        f"printf '%s%s}}' {head} \"$$\" > {path}.tmp && mv {path}.tmp {path} "
        "|| exit 1\n"
        "echo STARTED\n"
        "IFS= read -r line\n"
        f'[ "$line" = end ] && rm -f {path}\n'
        "exit 0\n"
    )


def read_command(cfg: StoreConfig) -> str:
    """Prints the record and ALIVE/DEAD (is its holder's shell still running?), or NONE."""
    path = quote(record_path(cfg))
    return (
        f'f={path}; [ -f "$f" ] || {{ echo NONE; exit 0; }}; cat "$f"; echo; '
        'pid=$(sed -n \'s/.*"host_pid": *\\([0-9][0-9]*\\).*/\\1/p\' "$f"); '
        'tok=$(sed -n \'s/.*"token": *"\\([0-9a-f]*\\)".*/\\1/p\' "$f"); '
        '{ [ -n "$pid" ] && [ -n "$tok" ] && { tr "\\000" " " < /proc/"$pid"/cmdline 2>/dev/null '
        '|| ps -o args= -p "$pid" 2>/dev/null; } | grep -qF -- "maint-maintenance-$tok"; } '
        "&& echo ALIVE || echo DEAD"
    )


def parse_record(output: str) -> RecordState | None:
    """The read_command() output as data; None when there is no record (or it is unreadable)."""
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines or lines[0].strip() == "NONE":
        return None
    try:
        raw = json.loads(lines[0])
        record = MaintenanceRecord(**{k: raw[k] for k in MaintenanceRecord.__dataclass_fields__ if k in raw})
    except (ValueError, TypeError):
        return None
    return RecordState(record, alive=lines[-1].strip() == "ALIVE")


def _set_maintenance(conn: Connection, creds: DbCredentials, value: str | None, store: str) -> str:
    """Set config_maintenance (None: only read it); returns the value it had."""
    db = connect_db(conn, creds, store=store)
    setting = table(creds.prefix, "setting")
    where = "store_id = 0 AND `code` = 'config' AND `key` = 'config_maintenance'"
    try:
        with db.cursor() as cur:
            cur.execute(f"SELECT `value` FROM {setting} WHERE {where}")  # noqa: S608 - checked prefix
            row = cur.fetchone()
            old = str(row[0]) if row else "0"
            if value is not None and value != old:
                if row:
                    cur.execute(f"UPDATE {setting} SET `value` = %s WHERE {where}", (value,))  # noqa: S608
                else:
                    cur.execute(
                        f"INSERT INTO {setting} (store_id, `code`, `key`, `value`, serialized) "  # noqa: S608
                        "VALUES (0, 'config', 'config_maintenance', %s, 0)",
                        (value,),
                    )
    finally:
        db.close()
    return old


class _Holder:
    """The host session holding the record (see holder_script)."""

    def __init__(self, conn: Connection, cfg: StoreConfig, record: MaintenanceRecord) -> None:
        self._store = cfg.store
        try:
            if not conn.is_connected:
                conn.open()
            self._channel = conn.client.get_transport().open_session()
            self._channel.exec_command(holder_script(cfg, record))
            with self._channel.makefile("rb") as out:
                first = out.readline().decode("utf-8", errors="replace").strip()
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise ConnectError(
                f"SSH connection lost while writing the maintenance record: {exc}", store=cfg.store
            ) from None
        if first != "STARTED":
            self._channel.close()
            raise RemoteCommandError(
                f"could not write the maintenance record ~/{record_path(cfg)} on the host", store=cfg.store
            )

    def end(self) -> None:
        try:
            self._channel.sendall(b"end\n")
            self._channel.shutdown_write()
            self._channel.recv_exit_status()
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise ConnectError(
                f"SSH connection lost while removing the maintenance record: {exc}", store=self._store
            ) from None
        finally:
            self._channel.close()


@contextmanager
def planned_maintenance(
    conn: Connection,
    cfg: StoreConfig,
    creds: DbCredentials,
    *,
    task: str,
    why: str,
    expected_minutes: float = 10.0,
) -> Iterator[MaintenanceRecord]:
    """Hold the store in planned maintenance for the block; back as it was on every way out.

    The record is written before the mode goes on and removed after it goes off, so the store is
    never in maintenance mode without a live record while this runs.
    """
    record = new_record(task, why, expected_minutes)
    holder = _Holder(conn, cfg, record)
    try:
        before = _set_maintenance(conn, creds, "1", cfg.store)
    except BaseException:
        holder.end()
        raise
    try:
        yield record
    finally:
        try:
            _set_maintenance(conn, creds, before, cfg.store)
        finally:
            holder.end()
