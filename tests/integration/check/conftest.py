"""Run `check` the way fab runs it, against the session sandbox (s3 = 3.0.3.8, s4 = 4.1.0.4 on PHP 8.2)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from invoke import Config, Context
from invoke.exceptions import Exit

from maint.sandbox.orchestrator import maint_config
from maint.tasks.check import check


def context(env: dict[str, str], **overrides: str) -> Context:
    maint = {**maint_config(env), **overrides}
    return Context(config=Config(overrides={"maint": maint}))


@pytest.fixture
def run_check(
    sandbox_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, Any]]:
    """(exit code, parsed --json output) of `fab check ARGS --json`."""

    def run(
        store: str | None = None,
        *,
        inventory: Path | None = None,
        ssh_config: Path | None = None,
        **flags: Any,
    ) -> tuple[int, Any]:
        overrides = {}
        if inventory:
            overrides["inventory"] = str(inventory)
        if ssh_config:
            overrides["ssh_config"] = str(ssh_config)
        capsys.readouterr()
        code = 0
        try:
            check(context(sandbox_env, **overrides), store, json=True, **flags)
        except Exit as exc:
            code = exc.code
        out = capsys.readouterr().out
        return code, json.loads(out)

    return run
