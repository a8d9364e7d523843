"""Sandboxes of the sandbox tests' own, built from the tiny stub store so they start in about a second."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from maint.sandbox import Sandbox, StoreSpec

HERE = Path(__file__).resolve().parent


def _stub_builder() -> Callable[..., None]:
    spec = importlib.util.spec_from_file_location("sandbox_stub_store", HERE / "stub_store.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    builder: Callable[..., None] = module.build_stub_store
    return builder


@pytest.fixture(scope="session")
def stub_builder() -> Callable[..., None]:
    return _stub_builder()


@pytest.fixture
def make_sandbox(tmp_path: Path, stub_builder: Callable[..., None]) -> Iterator[Callable[..., Sandbox]]:
    """make_sandbox(name, stores=...) -> a started Sandbox in tmp_path/name, stopped after the test."""
    started: list[Sandbox] = []

    missing = [tool for tool in ("/usr/sbin/mariadbd", "/usr/sbin/sshd", "php") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"sandbox services not installed: {', '.join(missing)} (run scripts/install-system-deps)")

    def make(name: str = "sb", stores: Sequence[StoreSpec] = (StoreSpec("one", "3.0.3.8"),), **kwargs: Any) -> Sandbox:
        sandbox = Sandbox(tmp_path / name, stores, builder=stub_builder, **kwargs)
        started.append(sandbox)
        return sandbox.start()

    yield make
    for sandbox in started:
        sandbox.stop()
