"""Fixtures shared by the extension stand-in tests."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import pytest
from standin import PROJECT


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], str]:
    """(line "3"|"4", kind) → the path of a test package built by fixtures/extensions/build.py."""
    spec = importlib.util.spec_from_file_location("ext_build", PROJECT / "fixtures" / "extensions" / "build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp("packages")
    return lambda line, kind: str(module.build(out, line, kind))
