"""Admin steps without a stored password: a temporary admin user created over SQL with a random password,
used for one request sequence, and deleted (with its session) on every path."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urljoin

import requests

from maint.errors import RemoteCommandError
from maint.remote.sql import table
from maint.upgrade.target import Target


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 - OpenCart 3.0's own password scheme


@contextmanager
def temporary_admin(target: Target) -> Iterator[tuple[str, str]]:
    """(username, password) of an Administrator that exists only inside the block."""
    p = target.prefix
    username = "maint_" + secrets.token_hex(4)
    password = secrets.token_urlsafe(18)
    salt = secrets.token_hex(4)[:9]
    hashed = _sha1(salt + _sha1(salt + _sha1(password)))
    with target.db() as db, db.cursor() as cur:
        cur.execute(f"SELECT user_group_id FROM {table(p, 'user_group')} WHERE permission LIKE %s "
                    "ORDER BY user_group_id LIMIT 1", ("%marketplace/modification%",))
        row = cur.fetchone()
        group = int(row[0]) if row else 1
        cur.execute(f"INSERT INTO {table(p, 'user')} SET user_group_id = %s, username = %s, password = %s, "
                    "salt = %s, firstname = 'maint', lastname = 'upgrade', email = '', image = '', code = '', "
                    "ip = '', status = 1, date_added = NOW()", (group, username, hashed, salt))
    try:
        yield username, password
    finally:
        with target.db() as db, db.cursor() as cur:
            cur.execute(f"DELETE FROM {table(p, 'user')} WHERE username = %s", (username,))


def refresh_modifications_30(target: Target, *, timeout: float = 120) -> str:
    """Modifications → Refresh of a 3.0 admin: rebuilds storage/modification from the enabled modifications."""
    admin = urljoin(target.url, target.admin_dir.strip("/") + "/")
    http = requests.Session()
    with temporary_admin(target) as (username, password):
        try:
            login = http.post(admin + "index.php?route=common/login", data={"username": username, "password": password},
                              allow_redirects=False, timeout=timeout)
            token = re.search(r"user_token=([A-Za-z0-9]+)", login.headers.get("Location", ""))
            if token is None:
                raise RemoteCommandError(f"{target.label}: the temporary admin could not log in "
                                         f"(HTTP {login.status_code})", store=target.store)
            refresh = http.get(admin + f"index.php?route=marketplace/modification/refresh&user_token={token.group(1)}",
                               allow_redirects=False, timeout=timeout)
            if refresh.status_code not in (200, 302):
                raise RemoteCommandError(f"{target.label}: Modifications → Refresh answered HTTP {refresh.status_code}",
                                         store=target.store)
        finally:
            _forget_sessions(target, http)
    return "modification cache rebuilt (admin Modifications → Refresh, temporary admin user deleted)"


def _forget_sessions(target: Target, http: requests.Session) -> None:
    ids = [c.value for c in http.cookies if c.name == "OCSESSID" and c.value]
    if not ids:
        return
    with target.db() as db, db.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
                    (target.prefix + "session",))
        if cur.fetchone()[0]:
            marks = ", ".join(["%s"] * len(ids))
            cur.execute(f"DELETE FROM {table(target.prefix, 'session')} WHERE session_id IN ({marks})", ids)
    session_dir = target.path("DIR_SESSION")
    if session_dir:
        safe = [i for i in ids if re.fullmatch(r"[A-Za-z0-9,-]+", i)]
        if safe:
            target.sh("rm -f " + " ".join(f"'{session_dir}sess_{i}'" for i in safe), check=False)
