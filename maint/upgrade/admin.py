"""Admin steps without a stored password: a temporary admin user created over SQL with a random password,
used for one request sequence, and deleted (with its session) on every path.

3.0 stores sha1(salt + sha1(salt + sha1(password))) with a `salt` column; 4.1 has no salt column and
checks `password_verify` (bcrypt, PHP's PASSWORD_DEFAULT). Logging in: 3.0 POSTs the form to
`common/login` and answers 302 to the dashboard with `user_token`; 4.x reads a `login_token` from the
login page (kept in the session, so cookies matter), POSTs to `common/login.login` and answers JSON
`{"redirect": "…user_token=…"}` (opencart-facts B3.6).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin

import bcrypt
import requests

from maint.errors import RemoteCommandError
from maint.remote.sql import table
from maint.upgrade.target import Target


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 - OpenCart 3.0's own password scheme


def _columns(target: Target, name: str) -> set[str]:
    with target.db() as db, db.cursor() as cur:
        cur.execute("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
                    "AND TABLE_NAME = %s", (target.prefix + name,))
        return {str(r[0]) for r in cur.fetchall()}


@contextmanager
def temporary_admin(target: Target) -> Iterator[tuple[str, str]]:
    """(username, password) of an Administrator that exists only inside the block."""
    p = target.prefix
    username = "maint_" + secrets.token_hex(4)
    password = secrets.token_urlsafe(18)
    columns = _columns(target, "user")
    fields: dict[str, Any] = {"username": username, "firstname": "maint", "lastname": "maint", "email": "",
                              "image": "", "code": "", "ip": "", "status": 1}
    if "salt" in columns:
        salt = secrets.token_hex(4)[:9]
        fields.update(password=_sha1(salt + _sha1(salt + _sha1(password))), salt=salt)
    else:
        # PHP's password_verify reads $2b$ as well, but PASSWORD_DEFAULT writes $2y$: same algorithm.
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()
        fields["password"] = "$2y$" + hashed[4:]
    fields = {k: v for k, v in fields.items() if k in columns}
    with target.db() as db, db.cursor() as cur:
        cur.execute(f"SELECT user_group_id FROM {table(p, 'user_group')} WHERE permission LIKE %s "
                    "ORDER BY user_group_id LIMIT 1", ("%marketplace%modification%",))
        row = cur.fetchone()
        fields["user_group_id"] = int(row[0]) if row else 1
        names = ", ".join(f"`{k}` = %s" for k in fields)
        cur.execute(f"INSERT INTO {table(p, 'user')} SET {names}, date_added = NOW()", list(fields.values()))
    try:
        yield username, password
    finally:
        with target.db() as db, db.cursor() as cur:
            cur.execute(f"SELECT user_id FROM {table(p, 'user')} WHERE username = %s", (username,))
            ids = [int(r[0]) for r in cur.fetchall()]
            cur.execute(f"DELETE FROM {table(p, 'user')} WHERE username = %s", (username,))
            for name in ("user_login", "user_authorize", "user_token"):
                if ids and "user_id" in _columns(target, name):
                    cur.execute(f"DELETE FROM {table(p, name)} WHERE user_id IN ({', '.join(['%s'] * len(ids))})",
                                ids)


class AdminSession:
    """A logged-in admin of one store (3.0 or 4.x), with the route helpers the installers need.
    Routes are written with '/' throughout; on 4.x the last '/' before a method becomes '.'."""

    def __init__(self, target: Target, line: str, http: requests.Session, token: str, timeout: float) -> None:
        self.target, self.line, self.http, self.token, self.timeout = target, line, http, token, timeout
        self.base = urljoin(target.url, target.admin_dir.strip("/") + "/")

    def url(self, route: str, **query: Any) -> str:
        params = {"route": route, "user_token": self.token, **{k: str(v) for k, v in query.items()}}
        return self.base + "index.php?" + urlencode(params, safe="/.")

    def get(self, route: str, **query: Any) -> requests.Response:
        return self.http.get(self.url(route, **query), timeout=self.timeout, allow_redirects=False)

    def json(self, response: requests.Response, what: str) -> dict[str, Any]:
        try:
            data = json.loads(response.text)
            if not isinstance(data, dict):
                raise ValueError
        except ValueError:
            text = " ".join(re.sub(r"<[^>]+>", " ", response.text).split())[:240]
            raise RemoteCommandError(f"{self.target.label}: {what} answered HTTP {response.status_code} without "
                                     f"JSON: {text or '(empty body)'}", store=self.target.store) from None
        if data.get("error"):
            error = data["error"]
            words = "; ".join(f"{k}: {v}" for k, v in error.items()) if isinstance(error, dict) else str(error)
            raise RemoteCommandError(f"{self.target.label}: {what} refused: {re.sub(r'<[^>]+>', '', words)[:300]}",
                                     store=self.target.store)
        return data

    def get_json(self, route: str, what: str, **query: Any) -> dict[str, Any]:
        return self.json(self.get(route, **query), what)

    def follow(self, data: dict[str, Any], what: str, limit: int = 50) -> list[dict[str, Any]]:
        """Follow the `next` URLs an installer answers with until it stops (JSON all the way)."""
        answers = [data]
        while data.get("next") and len(answers) < limit:
            url = str(data["next"]).replace("&amp;", "&")
            data = self.json(self.http.get(urljoin(self.base, url), timeout=self.timeout, allow_redirects=False),
                             f"{what} ({_route_of(url)})")
            answers.append(data)
        return answers

    def upload(self, route: str, path: Path, what: str) -> dict[str, Any]:
        with path.open("rb") as handle:
            response = self.http.post(self.url(route), files={"file": (path.name, handle, "application/zip")},
                                      timeout=self.timeout, allow_redirects=False)
        return self.json(response, what)


def _route_of(url: str) -> str:
    hit = re.search(r"route=([^&]+)", url)
    return hit.group(1) if hit else url[:60]


def _login(target: Target, line: str, http: requests.Session, username: str, password: str, timeout: float) -> str:
    admin = urljoin(target.url, target.admin_dir.strip("/") + "/")
    if line == "3":
        login = http.post(admin + "index.php?route=common/login", data={"username": username, "password": password},
                          allow_redirects=False, timeout=timeout)
        token = re.search(r"user_token=([A-Za-z0-9]+)", login.headers.get("Location", ""))
    else:
        page = http.get(admin + "index.php?route=common/login", timeout=timeout)
        action = re.search(r"login_token=([A-Za-z0-9]+)", page.text)
        login = http.post(admin + f"index.php?route=common/login.login&login_token={action.group(1) if action else ''}",
                          data={"username": username, "password": password}, allow_redirects=False, timeout=timeout)
        token = re.search(r"user_token=([A-Za-z0-9]+)", login.text)
    if token is None:
        raise RemoteCommandError(f"{target.label}: the temporary admin could not log in (HTTP {login.status_code})",
                                 store=target.store)
    return token.group(1)


@contextmanager
def admin_session(target: Target, line: str, *, timeout: float = 120) -> Iterator[AdminSession]:
    """A temporary admin, logged in; user, its session and login records gone afterwards on every path."""
    http = requests.Session()
    http.headers["User-Agent"] = "maint-admin"
    with temporary_admin(target) as (username, password):
        try:
            yield AdminSession(target, line, http, _login(target, line, http, username, password, timeout), timeout)
        finally:
            _forget_sessions(target, http)


def refresh_modifications_30(target: Target, *, timeout: float = 120) -> str:
    """Modifications → Refresh of a 3.0 admin: rebuilds storage/modification from the enabled modifications."""
    with admin_session(target, "3", timeout=timeout) as admin:
        refresh = admin.get("marketplace/modification/refresh")
        if refresh.status_code not in (200, 302):
            raise RemoteCommandError(f"{target.label}: Modifications → Refresh answered HTTP {refresh.status_code}",
                                     store=target.store)
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
