"""The per-store write lock on the host: a second run is refused, and nothing is left behind."""

from __future__ import annotations

import pytest

from maint.errors import LockError
from maint.lock import remote_lock_path, store_lock, take_store_lock
from maint.remote.ssh import connect, home_dir, run


def lock_exists(conn, cfg) -> bool:
    path = f"{home_dir(conn)}/{remote_lock_path(cfg)}"
    return run(conn, f"test -e {path} && echo yes || echo no").stdout.strip() == "yes"


def test_a_second_run_is_refused_while_the_first_holds_the_lock(sandbox, sandbox_config):
    cfg = sandbox_config("s30")
    first, second = connect(cfg), connect(cfg)
    try:
        with store_lock(first, cfg, "prices"):
            with pytest.raises(LockError) as err:
                with store_lock(second, cfg, "mirror"):
                    pass
            assert "prices" in str(err.value) and "remove ~/" in str(err.value)
            with pytest.raises(LockError):
                take_store_lock(second, cfg, "restore")
        assert not lock_exists(first, cfg)
        with store_lock(second, cfg, "mirror"):  # free again
            assert lock_exists(second, cfg)
        assert not lock_exists(second, cfg)
    finally:
        first.close()
        second.close()


def test_the_lock_is_released_when_the_work_fails(sandbox, sandbox_config):
    cfg = sandbox_config("s30")
    conn = connect(cfg)
    try:
        with pytest.raises(RuntimeError):
            with store_lock(conn, cfg, "prices"):
                raise RuntimeError("boom")
        assert not lock_exists(conn, cfg)
    finally:
        conn.close()
