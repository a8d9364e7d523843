"""The real-release tier: the toolkit against real OpenCart releases, each installed by its own installer.

Runs whenever a release source is found (maint.sandbox.real.find_source: $MAINT_OPENCART_SOURCE, a git
clone of github.com/opencart/opencart or a folder of release zips) and is skipped with one line otherwise.
`pytest -m "not real"` leaves it out; `pytest tests/real` runs only it.

    def test_x(real, real_env):                 # real: the session's Sandbox; real_env: FABRIC_MAINT_* set
        store = real.store(REAL["4.1.0.4"])     # r4104; REAL maps each release to its store
        run = fab("info", store.name, "--json")

The session's stores keep the stock sample data: a test that changes one must put it back (prices are
undone, rows deleted) or build stores of its own with `real_sandbox_factory`.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from invoke import Config, Context
from realtier import REAL

from maint.sandbox import Sandbox, StoreSpec
from maint.sandbox.real import RealStoreBuilder, how_to_enable

REAL_DIR = Path(__file__).resolve().parent

_builder: RealStoreBuilder | None = None
_looked = False


def real_builder() -> RealStoreBuilder | None:
    global _builder, _looked
    if not _looked:
        _builder, _looked = RealStoreBuilder.find(), True
    return _builder


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip = None if real_builder() is not None else pytest.mark.skip(reason=f"real-release tier: {how_to_enable()}")
    for item in items:
        if REAL_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.real)
            item.add_marker(pytest.mark.integration)
            if skip is not None:
                item.add_marker(skip)


def _services_missing() -> list[str]:
    return [t for t in ("/usr/sbin/mariadbd", "/usr/sbin/sshd", "php", "git", "rsync") if shutil.which(t) is None]


@pytest.fixture(scope="session")
def real_sandbox_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Sandbox]]:
    """(name, *StoreSpec) -> a started Sandbox of real stores of its own, stopped at the end of the session."""
    builder = real_builder()
    if builder is None:
        pytest.skip(f"real-release tier: {how_to_enable()}")
    missing = _services_missing()
    if missing:
        pytest.skip(f"sandbox services not installed: {', '.join(missing)} (run scripts/install-system-deps)")
    started: list[Sandbox] = []

    def make(name: str, *specs: StoreSpec, client: str = "real") -> Sandbox:
        sandbox = Sandbox(tmp_path_factory.mktemp(name), specs, builder=builder, client=client)
        started.append(sandbox.start())
        return sandbox

    yield make
    for sandbox in started:
        sandbox.stop()


@pytest.fixture(scope="session")
def real(real_sandbox_factory: Callable[..., Sandbox]) -> Sandbox:
    """One store per release in REAL_VERSIONS, stock sample data, install/ deleted."""
    began = time.monotonic()
    sandbox = real_sandbox_factory("real", *(StoreSpec(name, version) for version, name in REAL.items()))
    print(f"\nreal tier: {len(REAL)} releases installed in {time.monotonic() - began:.1f}s at {sandbox.base}")
    return sandbox


@pytest.fixture
def real_env(real: Sandbox, isolated_ssh_env: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = real.env()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def real_context(real: Sandbox, real_env: dict[str, str]) -> Context:
    """An invoke Context configured as `fab` configures it for the real sandbox (for calling task functions)."""
    return Context(Config(overrides={"maint": real.maint_config()}))
