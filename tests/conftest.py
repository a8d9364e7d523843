"""Options and isolation shared by every test.

`--testbed=local` (default) runs the integration tests against services started as local processes;
`--testbed=docker` starts them in the container described by docker/compose.yaml (pytest-docker).
Every test runs with a HOME, SSH config and known_hosts of its own, so nothing on the developer's
machine (~/.ssh/config, known_hosts, an agent's keys, FABRIC_* variables) can change what a test sees.
"""

from __future__ import annotations

import email.message
import os
import subprocess
from collections.abc import Callable, Iterator
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
class SmtpServer:
    """A running tests/smtp_capture.py: its port, and the messages it accepted so far."""

    def __init__(self, port: int, out: Path, process: subprocess.Popen[bytes]) -> None:
        self.host, self.port, self.out, self.process = "127.0.0.1", port, out, process

    def messages(self) -> list[email.message.EmailMessage]:
        """Every accepted message, in arrival order, parsed."""
        import email
        import email.policy

        return [
            email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
            for p in sorted(self.out.glob("*.eml"))
        ]

    def recipients(self) -> list[str]:
        """The envelope recipients of every accepted message, in arrival order."""
        import json

        return [to for p in sorted(self.out.glob("*.json")) for to in json.loads(p.read_text())["to"]]

    def config(self, **extra: object) -> dict[str, object]:
        """A `maint.smtp` mapping pointing at this server."""
        return {"host": self.host, "port": self.port, "from": "agency@example.test", **extra}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def smtp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., SmtpServer]]:
    """Start real SMTP servers (aiosmtpd, own process, 127.0.0.1) capturing messages to files.

        server = smtp_server()                      # accepts everything
        server = smtp_server(refuse=["bad"], drop_at=3, auth="user:secret")
        server.messages(), server.recipients(), server.config()

    Every server started by a test is stopped after it, by its PID."""
    from maint.sandbox.ports import free_port

    started: list[SmtpServer] = []

    def start(*, refuse: list[str] = (), defer: list[str] = (), drop_at: int = 0, auth: str = "") -> SmtpServer:  # type: ignore[assignment]
        import sys
        import time

        out = tmp_path_factory.mktemp("smtp")
        port = free_port()
        argv = [sys.executable, str(PROJECT_DIR / "tests" / "smtp_capture.py"), "--port", str(port), "--out", str(out)]
        argv += [a for s in refuse for a in ("--refuse", s)] + [a for s in defer for a in ("--defer", s)]
        argv += ["--drop-at", str(drop_at)] + (["--auth", auth] if auth else [])
        server = SmtpServer(port, out, subprocess.Popen(argv))
        started.append(server)
        deadline = time.monotonic() + 15
        while not (out / "ready").exists():
            if server.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the test SMTP server did not start (exit {server.process.poll()})")
            time.sleep(0.02)
        return server

    yield start
    for server in started:
        server.stop()
