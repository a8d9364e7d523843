"""Options and isolation shared by every test.

`--testbed=local` (default) runs the integration tests against services started as local processes;
`--testbed=docker` starts them in the container described by docker/compose.yaml (pytest-docker).
Every test runs with a HOME, SSH config and known_hosts of its own, so nothing on the developer's
machine (~/.ssh/config, known_hosts, an agent's keys, FABRIC_* variables) can change what a test sees.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--testbed",
        choices=("local", "docker"),
        default="local",
        help="where the integration tests' MariaDB, sshd and PHP run (default: local processes)",
    )


@pytest.fixture(scope="session")
def testbed(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--testbed"))


@pytest.fixture(scope="session")
def docker_compose_file() -> str:
    """pytest-docker's compose file: the sandbox container."""
    return str(PROJECT_DIR / "docker" / "compose.yaml")


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    return f"maint-tests-{os.getpid()}"


@pytest.fixture(autouse=True)
def isolated_ssh_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private HOME with an empty ~/.ssh, and empty SSH config / known_hosts files for maint."""
    home = tmp_path_factory.mktemp("home")
    ssh_dir = home / ".ssh"
    ssh_dir.mkdir(mode=0o700)
    (ssh_dir / "config").write_text("")
    (ssh_dir / "known_hosts").write_text("")
    for name in list(os.environ):
        if name.startswith(("FABRIC_", "INVOKE_", "MAINT_")) and name != "MAINT_SANDBOX_CACHE":
            monkeypatch.delenv(name)
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)  # the developer's agent would offer its keys
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("FABRIC_MAINT_SSH_CONFIG", str(ssh_dir / "config"))
    monkeypatch.setenv("FABRIC_MAINT_KNOWN_HOSTS", str(ssh_dir / "known_hosts"))
    monkeypatch.setenv("FABRIC_MAINT_STATE_DIR", str(home / ".local" / "state" / "maint"))
    return home


# -- the --json contract (docs/output.schema.json) ------------------------------------------------
TIME_KEYS = {"at", "started", "ended", "finished", "when", "since_time"}
OBSERVED_TEXT = {"value", "evidence", "found"}  # what a page or probe showed, quoted as it was
MONEY_TEXT = r"^[^\d\s-]{1,3}\s?-?\d{1,3}(,\d{3})*\.\d{2}$"  # "R32,400.00": an amount made for people


def _walk(value: object, path: str = "$"):
    if isinstance(value, dict):
        for key, item in value.items():
            yield f"{path}.{key}", key, item
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")


@pytest.fixture(scope="session")
def envelope_schema() -> dict:
    import json

    return json.loads((PROJECT_DIR / "docs" / "output.schema.json").read_text())


@pytest.fixture(scope="session")
def assert_envelope(envelope_schema: dict):
    """text -> the parsed envelope, after checking it against the schema and the rules a schema can't
    say: one JSON document, times as ISO 8601 strings, amounts as numbers."""
    import json
    import re

    import jsonschema

    validator = jsonschema.Draft202012Validator(envelope_schema)

    def check(text: str, task: str | None = None) -> dict:
        data = json.loads(text)  # exactly one document: a second one would fail here
        errors = sorted(validator.iter_errors(data), key=lambda e: list(e.path))
        assert not errors, "; ".join(f"{list(e.path)}: {e.message}" for e in errors)
        if task is not None:
            assert data["task"] == task
        assert data["ok"] == (data["exit_code"] == 0)
        for where, key, value in _walk(data):
            if key in TIME_KEYS and value is not None:
                assert isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}", value), f"{where}: {value!r}"
            if isinstance(value, str) and key not in OBSERVED_TEXT:
                assert not re.match(MONEY_TEXT, value), f"{where}: {value!r} is an amount as text"
        return data

    return check
