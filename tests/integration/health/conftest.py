"""Helpers for health checks against the sandbox: run chosen checks, break a store and mend it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from maint.health.model import CheckResult
from maint.health.playbook import load_checks
from maint.health.runner import StoreJob, run_health

PROJECT = Path(__file__).resolve().parents[3]
SPECS = load_checks(PROJECT / "maint" / "playbooks" / "health.yaml")


@pytest.fixture
def check(sandbox_config: Callable[..., Any]) -> Callable[..., dict[str, CheckResult]]:
    """check("s4", "home", "db", memos={...}, url=..., **params) → {check id: result}."""

    def run(
        store: str,
        *ids: str,
        memos: dict[str, Any] | None = None,
        cfg_changes: dict[str, Any] | None = None,
        spec_changes: dict[str, dict[str, Any]] | None = None,
    ) -> dict[str, CheckResult]:
        cfg = sandbox_config(store)
        if cfg_changes:
            cfg = replace(cfg, **cfg_changes)
        specs = [s for s in SPECS if not ids or s.id in ids]
        specs = [replace(s, **(spec_changes or {}).get(s.id, {})) for s in specs]
        outcome = run_health([StoreJob(cfg, specs, memos or {})])
        run.memos = outcome.memos.get(store, {})  # type: ignore[attr-defined]
        return {r.check: r for r in outcome.results}

    return run


@pytest.fixture
def setting(sandbox: Any) -> Iterator[Callable[[str, str, str], None]]:
    """setting(store, key, value) for store_id 0; every change is undone after the test."""
    undo: list[tuple[str, str, str]] = []

    def write(store: str, key: str, value: str) -> str:
        s = sandbox.store(store)
        db = sandbox.db_admin(s.db_name)
        try:
            with db.cursor() as cur:
                cur.execute(
                    f"SELECT `value` FROM `{s.prefix}setting` WHERE store_id = 0 AND `key` = %s", (key,)
                )
                old = cur.fetchone()[0]
                cur.execute(
                    f"UPDATE `{s.prefix}setting` SET `value` = %s WHERE store_id = 0 AND `key` = %s",
                    (value, key),
                )
            db.commit()
        finally:
            db.close()
        return str(old)

    def change(store: str, key: str, value: str) -> None:
        undo.append((store, key, write(store, key, value)))

    yield change
    for store, key, old in reversed(undo):
        write(store, key, old)


@pytest.fixture
def page_server() -> Callable[..., Any]:
    return serve_page


@contextmanager
def serve_page(body: str, *, status: int = 200, delay: float = 0.0) -> Iterator[str]:
    """A local HTTP server on 127.0.0.1 answering every GET with one page (after `delay` seconds)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            time.sleep(delay)
            data = body.encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (timeout test)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
