"""maint init and maint doctor wiring: folders and modes, refusing to overwrite, exit codes, fixes named."""

import json
from pathlib import Path

import pytest
from invoke import Config, Context
from invoke.exceptions import Exit

from maint.tasks.doctor import doctor
from maint.tasks.init import init


def test_init_creates_the_agency_folder_private_and_refuses_a_second_time(tmp_path, capsys):
    folder = tmp_path / "agency"
    init(Context(), str(folder))
    for sub in ("", "inventory", "playbooks", "state"):
        assert (folder / sub).stat().st_mode & 0o777 == 0o700
    settings = (folder / "fabric.yaml").read_text()
    assert f"inventory: {folder / 'inventory'}" in settings and "# smtp:" in settings
    assert f"export MAINT_HOME={folder}" in capsys.readouterr().out
    before = settings
    with pytest.raises(Exit) as err:
        init(Context(), str(folder))
    assert err.value.code == 60
    (folder / "inventory" / "example.yaml").unlink()
    init(Context(), str(folder), force=True)
    assert (folder / "inventory" / "example.yaml").exists() and (folder / "fabric.yaml").read_text() == before


def test_the_commented_example_client_is_not_a_client(tmp_path):
    from maint.inventory import load_inventory

    init(Context(), str(tmp_path / "agency"))
    assert load_inventory(tmp_path / "agency" / "inventory").clients == ()


def test_doctor_names_each_missing_tool_with_the_package_that_fixes_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("maint.tasks.doctor.check_tools", _tools_on(tmp_path))
    c = Context(config=Config(overrides={"maint": {"inventory": str(tmp_path / "none")}}))
    with pytest.raises(Exit) as err:
        doctor(c, json=True)
    assert err.value.code == 2
    findings = {f["item"]: f for f in json.loads(capsys.readouterr().out)["stores"][0]["findings"]}
    assert findings["rsync"]["state"] == "warn" and findings["rsync"]["fix"] == "sudo apt-get install -y rsync"
    assert findings["ssh"]["state"] == "error"
    assert findings[str(tmp_path / "none")]["fix"].startswith("maint init")


def _tools_on(folder: Path):
    from maint.doctor import check_tools

    return lambda path=None: check_tools(str(folder))


def _maint(home: Path, *args: str):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("FABRIC_", "MAINT_", "XDG_"))}
    return subprocess.run([sys.executable, "-c", "from maint.tasks.program import main; main()", *args],
                          env={**env, "HOME": str(home)}, capture_output=True, text=True, timeout=120)


def test_the_maint_command_reads_the_agency_folder_and_a_broken_one_is_named_not_a_traceback(tmp_path):
    folder = tmp_path / ".config" / "maint"
    init(Context(), str(folder))
    (folder / "inventory" / "acme.yaml").write_text(
        "name: acme\nplan: starter\nstores: [{name: shop, host: acme-prod, root: /var/www}]\n")
    listed = _maint(tmp_path, "doctor", "--json")
    assert f"{folder / 'inventory'}" in listed.stdout and "1 clients, 1 stores" in listed.stdout
    with (folder / "fabric.yaml").open("a") as handle:
        handle.write("maint: [broken\n")
    broken = _maint(tmp_path, "info", "shop")
    assert broken.returncode == 10 and "Traceback" not in broken.stderr
    assert f"{folder / 'fabric.yaml'}: not valid YAML (line" in broken.stderr
    doctor_run = _maint(tmp_path, "doctor", "--json")
    assert doctor_run.returncode == 2 and "not valid YAML" in doctor_run.stdout
