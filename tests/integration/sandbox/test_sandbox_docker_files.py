"""The Docker testbed can't be built here (no engine), so check that its files agree with the project."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[3]
DOCKER = PROJECT / "docker"
REQUIRED_PACKAGES = (
    "mariadb-server mariadb-client openssh-server openssh-client php-cli php-mysql php-mbstring php-curl "
    "php-gd php-zip php-xml rsync zstd sqlite3 python3-venv"
).split()


def compose_service() -> dict[str, object]:
    service: dict[str, object] = yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]["sandbox"]
    return service


def test_compose_shares_host_network_and_pids_and_mounts_the_sandbox_at_the_same_path() -> None:
    service = compose_service()
    assert service["network_mode"] == "host" and service["pid"] == "host"
    build = service["build"]
    assert isinstance(build, dict) and (DOCKER / build["context"] / build["dockerfile"]).resolve() == DOCKER / "Dockerfile"
    volumes = service["volumes"]
    assert isinstance(volumes, list)
    assert volumes[0]["source"] == volumes[0]["target"]


def test_every_variable_compose_passes_is_read_by_the_start_script_or_the_cli() -> None:
    environment = compose_service()["environment"]
    assert isinstance(environment, dict)
    readers = (DOCKER / "start-sandbox").read_text() + "".join(
        path.read_text() for path in (PROJECT / "maint" / "sandbox").glob("*.py")
    )
    for name in environment:
        assert name in readers, f"{name} is set in compose.yaml but nothing reads it"


def test_dockerfile_copies_files_that_exist() -> None:
    for line in (DOCKER / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (PROJECT / source).exists(), f"Dockerfile copies missing {source}"
    assert "install-system-deps" in (DOCKER / "Dockerfile").read_text()


def test_shell_scripts_parse() -> None:
    assert subprocess.run(["sh", "-n", str(DOCKER / "start-sandbox")], check=False).returncode == 0
    assert subprocess.run(["bash", "-n", str(PROJECT / "scripts" / "install-system-deps")], check=False).returncode == 0


def test_install_script_names_every_package_the_project_needs() -> None:
    text = (PROJECT / "scripts" / "install-system-deps").read_text()
    start = text.index("PACKAGES=(")
    array = "\n".join(line.split("#")[0] for line in text[start : text.index("\n)\n", start)].splitlines())
    listed = set(re.findall(r"[a-z0-9][a-z0-9.+-]+", array))
    assert set(REQUIRED_PACKAGES) <= listed


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="not a Debian system")
def test_install_script_finds_nothing_missing_where_the_tests_run() -> None:
    done = subprocess.run([str(PROJECT / "scripts" / "install-system-deps"), "--check"], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout
