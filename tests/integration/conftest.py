"""The real services for integration tests: one sandbox for the whole run.

    def test_something(sandbox, sandbox_env):      # sandbox_env: FABRIC_MAINT_* point at the sandbox
        store = sandbox.store("s3")                 # SandboxStore: root, url, db_*, php_port, ...
        cfg = sandbox_config("s3")                  # maint.config.StoreConfig, as a task would build it

Stores: s3 = 3.0.3.8, s4 = 4.1.0.4 (the two ends of the matrix), s30 = 3.0.5.1 and s40 = 4.0.2.3
with its storage outside the web root. Tests that change a store must leave it as they found it
(or use a store of their own, started with maint.sandbox.Sandbox in a tmp_path).
Every test below tests/integration/ is marked `integration`: `pytest -m "not integration"` skips them.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from maint.sandbox import Sandbox, StoreSpec
from maint.sandbox.orchestrator import StoreBuilder, stop_orphans

INTEGRATION_DIR = Path(__file__).resolve().parent

SESSION_STORES = (
    StoreSpec("s3", "3.0.3.8"),
    StoreSpec("s4", "4.1.0.4"),
    StoreSpec("s30", "3.0.5.1"),
    StoreSpec("s40", "4.0.2.3", storage_outside=True),
)


_timings: list[str] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in _timings:
        terminalreporter.write_line(line)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


def load_stub_builder() -> StoreBuilder:
    """tests/integration/sandbox/stub_store.py, loaded by path (tests/ is not a package)."""
    spec = importlib.util.spec_from_file_location("sandbox_stub_store", INTEGRATION_DIR / "sandbox" / "stub_store.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    builder: StoreBuilder = module.build_stub_store
    return builder


def store_builder() -> StoreBuilder | None:
    """The real fixture-store builder, or the sandbox tests' stub while maint.sandbox.fixture is missing."""
    try:
        import maint.sandbox.fixture  # noqa: F401
    except ImportError:
        return load_stub_builder()
    return None  # Sandbox's default: maint.sandbox.fixture.build_store


def _services_missing() -> list[str]:
    tools = ("/usr/sbin/mariadbd", "mariadb-install-db", "/usr/sbin/sshd", "php", "ssh-keygen")
    return [tool for tool in tools if shutil.which(tool) is None]


def _stop_on_sigterm() -> None:
    """Turn SIGTERM into KeyboardInterrupt so pytest's teardown stops the services (Ctrl-C already does)."""
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


def _docker_problem() -> str:
    """Why the Docker testbed cannot run here, or "" when an engine and Compose v2 answer."""
    if shutil.which("docker") is None:
        return "no docker command"
    for argv, what in ((["docker", "info"], "no Docker engine answers `docker info`"),
                       (["docker", "compose", "version"], "Docker Compose v2 (`docker compose`) is missing")):
        try:
            if subprocess.run(argv, capture_output=True, timeout=15, check=False).returncode != 0:
                return what
        except (OSError, subprocess.TimeoutExpired):
            return what
    return ""


@pytest.fixture(scope="session")
def sandbox(testbed: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    if testbed == "docker":
        yield from _docker_sandbox(tmp_path_factory, request)
        return
    missing = _services_missing()
    if missing:
        pytest.skip(f"sandbox services not installed: {', '.join(missing)} (run scripts/install-system-deps)")
    _stop_on_sigterm()
    # Sandboxes of earlier runs that were killed outright (their pytest can no longer stop them).
    runs = tmp_path_factory.getbasetemp().parent
    for orphan in stop_orphans(runs.glob("pytest-*/*/state.json")):
        print(f"\nstopped the orphaned sandbox in {orphan}")
    base = tmp_path_factory.mktemp("sandbox")
    began = time.monotonic()
    with Sandbox(base, SESSION_STORES, builder=store_builder()) as sb:
        _timings.append(f"sandbox: {len(SESSION_STORES)} stores started in {time.monotonic() - began:.1f}s at {base}")
        yield sb


def _docker_sandbox(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """The same stores, started by `python -m maint.sandbox up` in the container.

    The container shares the host's network and PID namespaces and mounts the sandbox folder at the
    same path, so ports, paths and PIDs in its state.json mean the same thing out here.
    """
    problem = _docker_problem()
    if problem:
        pytest.skip(f"--testbed=docker: {problem}")
    base = tmp_path_factory.mktemp("sandbox")
    os.environ["MAINT_SANDBOX_BASE"] = str(base)
    os.environ["MAINT_SANDBOX_STORES"] = " ".join(
        f"{s.name}={s.version}{':outside' if s.storage_outside else ''}" for s in SESSION_STORES
    )
    # The client-side files (key, ssh_config, state.json) must be readable by this test run's user.
    os.environ["MAINT_HOST_UID"], os.environ["MAINT_HOST_GID"] = str(os.getuid()), str(os.getgid())
    services: Any = request.getfixturevalue("docker_services")
    services.wait_until_responsive(timeout=600, pause=1, check=lambda: Sandbox.is_up(base))
    yield Sandbox.attach(base)


@pytest.fixture
def sandbox_env(sandbox: Sandbox, isolated_ssh_env: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point FABRIC_MAINT_* at the sandbox (SSH config, known_hosts, inventory, state dir)."""
    env = sandbox.env()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def sandbox_config(sandbox: Sandbox, sandbox_env: dict[str, str]) -> Callable[..., Any]:
    """name -> maint.config.StoreConfig for a sandbox store, merged the way a task merges it."""
    from maint.config import load_settings, store_config
    from maint.inventory import load_inventory
    from maint.sandbox.orchestrator import maint_config

    def make(name: str, **flags: Any) -> Any:
        settings = load_settings(maint_config(sandbox_env))
        return store_config(settings, load_inventory(settings.inventory), name, flags)

    return make
