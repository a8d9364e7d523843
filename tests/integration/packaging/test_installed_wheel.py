"""maint as an agency uses it: a wheel installed into a fresh virtualenv outside the repository, run from
another folder, set up with `maint init` and `maint add-store` against the sandbox host.

The fresh virtualenv gets maint from the wheel only; its dependencies come from the test run's own
site-packages through a .pth file (a path line there does not run the editable install's hooks), so
nothing is downloaded.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

from maint import __version__
from maint.onboard import find_roots_script, parse_roots

pytestmark = pytest.mark.integration
PROJECT = Path(__file__).resolve().parents[3]
ALIAS = "shop-prod"
AGENCY_ADVISORY = """\
extends: builtin
advisories:
  - id: AGENCY-2026-7
    affected: "<=3.0.3.8"
    fixed: "3.0.4.0"
    severity: high
    access: unauthenticated
    summary: "the agency's own finding on old 3.0 shops"
    source: "agency ticket 7"
"""


@pytest.fixture(scope="module")
def maint_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`maint` from a wheel built from the repository, installed into a virtualenv of its own."""
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-q",
                    "-w", str(dist), str(PROJECT)], check=True, cwd=dist)
    wheel = next(dist.glob("maint-*.whl"))
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    site = Path(subprocess.run([venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-index", str(wheel)], check=True)
    return venv / "bin" / "maint"


@pytest.fixture
def agency(sandbox, tmp_path: Path, maint_bin: Path):
    """A maintainer's machine: a HOME with the sandbox host as an SSH alias (key unknown), a work folder."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    lines = [line for line in Path(sandbox.ssh_config).read_text().splitlines() if "UserKnownHostsFile" not in line]
    text = "\n".join(lines).replace(f"Host {sandbox.host}", f"Host {ALIAS}") + "\n"
    (home / ".ssh" / "config").write_text(text)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {"HOME": str(home), "PATH": os.environ["PATH"], "LANG": "C.UTF-8"}

    def maint(*args: str, env_extra: dict[str, str] | None = None, **kw) -> subprocess.CompletedProcess[str]:
        kw.setdefault("stdin", subprocess.DEVNULL)
        return subprocess.run([str(maint_bin), *args], cwd=work, env={**env, **(env_extra or {})},
                              capture_output=True, text=True, timeout=300, **kw)

    return maint, home


def host_fingerprint(sandbox) -> str:
    pub = Path(sandbox.base) / "ssh" / "ssh_host_ed25519_key.pub"
    out = subprocess.run(["ssh-keygen", "-lf", str(pub)], check=True, capture_output=True, text=True).stdout
    return out.split()[1]


def test_the_installed_command_sets_up_an_agency_and_works_from_any_folder(agency, sandbox):
    maint, home = agency
    assert maint("--version").stdout.startswith(f"maint {__version__}\n")

    # init: the agency folder, refusing a second time, --force only fills in
    first = maint("init")
    assert first.returncode == 0, first.stderr
    folder = home / ".config" / "maint"
    for path in (folder, folder / "inventory", folder / "playbooks", home / ".local" / "state" / "maint"):
        assert path.stat().st_mode & 0o777 == 0o700, path
    assert (folder / "fabric.yaml").stat().st_mode & 0o777 == 0o600
    assert "maint add-store" in first.stdout
    again = maint("init")
    assert again.returncode == 60 and "--force" in again.stderr
    (folder / "playbooks" / "README.txt").unlink()
    forced = maint("init", "--force")
    assert forced.returncode == 0 and f"created {folder / 'playbooks' / 'README.txt'}" in forced.stdout

    # add-store: an unknown host key is shown and refused without a yes, and with another fingerprint
    store = next(s for s in sandbox.stores if s.version == "3.0.3.8")
    fingerprint = host_fingerprint(sandbox)
    known_hosts = home / ".ssh" / "known_hosts"
    refused = maint("add-store", "acme", "shop", "--host", ALIAS, "--root", str(store.root))
    assert refused.returncode == 21, refused.stderr
    assert fingerprint in refused.stderr and "--accept-fingerprint" in refused.stderr
    wrong = maint("add-store", "acme", "shop", "--host", ALIAS, "--accept-fingerprint", "SHA256:" + "A" * 43)
    assert wrong.returncode == 21 and "does not match" in wrong.stderr
    assert not known_hosts.exists() or not known_hosts.read_text().strip()
    assert not (folder / "inventory" / "acme.yaml").exists()

    added = maint("add-store", "acme", "shop", "--host", ALIAS, "--root", str(store.root),
                  "--accept-fingerprint", fingerprint)
    assert added.returncode == 0, added.stderr
    assert "ssh-ed25519" in known_hosts.read_text()
    assert "3.0.3.8" in added.stdout  # the info report that follows
    client = yaml.safe_load((folder / "inventory" / "acme.yaml").read_text())
    assert client["stores"] == [{"name": "shop", "host": ALIAS, "root": str(store.root), "admin": store.admin_dir,
                                 "url": store.url}]
    # a second store of the same client is appended to its file; the key is known now, nothing is asked
    store4 = next(s for s in sandbox.stores if s.version.startswith("4.1"))
    second = maint("add-store", "acme", "shop4", "--host", ALIAS, "--root", str(store4.root), "--json")
    assert second.returncode == 0, second.stderr
    assert [s["name"] for s in yaml.safe_load((folder / "inventory" / "acme.yaml").read_text())["stores"]] == [
        "shop", "shop4"]
    assert maint("add-store", "acme", "shop", "--host", ALIAS).returncode == 11  # already in the inventory

    # every task from another folder, with the installed playbooks
    info = maint("info", "shop", "--json")
    assert info.returncode == 0, info.stderr
    check = maint("check", "shop")
    assert check.returncode in (0, 1, 2), check.stderr
    assert "CVE-" in check.stdout and "AGENCY-2026-7" not in check.stdout
    health = maint("health", "shop", "--json")
    assert health.returncode in (0, 1, 2), health.stderr
    assert '"home"' in health.stdout
    hours = maint("hours", "acme")
    assert hours.returncode == 0, hours.stderr
    assert "check" in hours.stdout  # the runs above are in the ledger

    # the agency's own advisories extend the built-in ones (maint.playbooks from init's fabric.yaml)
    (folder / "playbooks" / "advisories.yaml").write_text(AGENCY_ADVISORY)
    extended = maint("check", "shop")
    assert "AGENCY-2026-7" in extended.stdout and "CVE-" in extended.stdout
    graded = {r["check"]: r for r in _health_rows(maint("health", "shop", "--json").stdout)}
    assert "AGENCY-2026-7" in graded["advisories"]["evidence"]  # health grades the same advisories
    # ... and FABRIC_MAINT_PLAYBOOKS points at another folder: a health.yaml there replaces the built-in one
    other = home / "other-playbooks"
    other.mkdir()
    (other / "health.yaml").write_text("checks:\n  home: {title: Home page, level: 1, warn: 2, crit: 8}\n")
    only_home = maint("health", "shop", "--json", env_extra={"FABRIC_MAINT_PLAYBOOKS": str(other)})
    assert {r["check"] for r in _health_rows(only_home.stdout)} == {"home"}
    doctor = maint("doctor", "--json")
    assert "extends the built-in one" in doctor.stdout
    assert f"{folder / 'playbooks' / 'advisories.yaml'}" in doctor.stdout


def _health_rows(text: str) -> list[dict]:
    import json

    data = json.loads(text)
    stores = data.get("stores", [data])
    return [row for s in stores for row in s.get("results", s.get("checks", []))]


def test_doctor_names_a_missing_tool_with_its_fix_and_exits_0_when_all_is_well(agency, sandbox):
    maint, home = agency
    assert maint("init").returncode == 0
    store = next(s for s in sandbox.stores if s.version == "3.0.3.8")
    assert maint("add-store", "acme", "shop", "--host", ALIAS, "--root", str(store.root),
                 "--accept-fingerprint", host_fingerprint(sandbox), "--json").returncode == 0
    config = home / ".config" / "maint" / "fabric.yaml"
    config.write_text(config.read_text() + "  smtp: {host: 127.0.0.1, port: 2525, from: maint@a.invalid, to: ops@a.invalid}\n")

    well = maint("doctor")
    assert well.returncode == 0, well.stdout
    assert "all well" in well.stdout

    # a PATH with every tool but rsync
    bin_dir = home / "bin"
    bin_dir.mkdir()
    for tool in ("ssh", "zstd", "gzip", "mariadb", "php"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    no_rsync = maint("doctor", env_extra={"PATH": str(bin_dir)})
    assert no_rsync.returncode != 0
    row = next(line for line in no_rsync.stdout.splitlines() if re.match(r"tools\s+rsync\s", line))
    assert "not found on PATH" in row and "sudo apt-get install -y rsync" in row

    # a store whose host key is not in known_hosts: named, with the command that adds it after a check
    (home / ".ssh" / "known_hosts").write_text("")
    missing = maint("doctor")
    assert missing.returncode == 2
    assert re.search(rf"known_hosts\s+{ALIAS}\s+error .*StrictHostKeyChecking=ask {ALIAS}", missing.stdout)


def test_the_root_finder_script_finds_a_store_under_the_home_folder(sandbox, tmp_path):
    store = next(s for s in sandbox.stores if s.version == "3.0.3.8")
    home = tmp_path / "home"
    shutil.copytree(store.root, home / "public_html", symlinks=True)
    (home / "notes").mkdir()
    out = subprocess.run(["sh", "-c", find_roots_script()], env={"HOME": str(home), "PATH": os.environ["PATH"]},
                         capture_output=True, text=True, check=True).stdout
    assert parse_roots(out) == [str((home / "public_html").resolve())]


def test_in_a_terminal_only_a_typed_yes_adds_the_host_key(agency, sandbox):
    maint, home = agency
    assert maint("init").returncode == 0
    store = next(s for s in sandbox.stores if s.version == "3.0.3.8")
    known_hosts = home / ".ssh" / "known_hosts"

    def answer(text: str) -> subprocess.CompletedProcess[str]:
        import pty

        leader, follower = pty.openpty()  # stdin is a terminal, so add-store asks
        os.write(leader, text.encode() + b"\n")
        try:
            return maint("add-store", "acme", "shop", "--host", ALIAS, "--root", str(store.root), stdin=follower)
        finally:
            os.close(leader)
            os.close(follower)

    declined = answer("y")  # only the whole word counts
    assert declined.returncode == 21 and "Type yes" in declined.stdout and "not accepted" in declined.stderr
    assert not known_hosts.exists() or not known_hosts.read_text().strip()
    accepted = answer("yes")
    assert accepted.returncode == 0, accepted.stderr
    assert host_fingerprint(sandbox) in accepted.stderr and "ssh-ed25519" in known_hosts.read_text()
