"""`maint doctor` checks what the stores' data-at-rest settings need (#20): age or gpg for `mirror.encrypt`,
borg or restic for `mirror.repository`, with the real tools, keys and repositories; only for the stores
that set them, naming the store and the setting, never printing a passphrase, never writing to a
repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from invoke import Config, Context
from invoke.exceptions import Exit

from maint.tasks.doctor import doctor

PASSPHRASE = "doctor-pass-Kx9-never-shown"
TOOLS = ("age", "gpg", "borg", "restic")


def _inventory(folder: Path, stores: dict[str, dict[str, Any]]) -> Path:
    """One client with these stores (name → their `mirror` options) in a fresh inventory folder."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = [{"name": name, "host": f"{name}-host", "root": "/var/www",
                **({"options": {"mirror": mirror}} if mirror else {})} for name, mirror in stores.items()]
    (folder / "acme.yaml").write_text(json.dumps({"name": "acme", "plan": "starter", "stores": entries}))
    return folder


def _doctor(tmp_path: Path, stores: dict[str, dict[str, Any]], capsys: pytest.CaptureFixture[str],
            **maint: Any) -> tuple[int, list[dict[str, str]], str]:
    """`maint doctor --json` over that inventory: exit code, the data-at-rest findings, everything printed."""
    inventory = _inventory(tmp_path / f"inv-{len(list(tmp_path.glob('inv-*')))}", stores)
    c = Context(config=Config(overrides={"maint": {"inventory": str(inventory), "known_hosts": str(tmp_path / "kh"),
                                                   "state_dir": str(tmp_path / "state"), **maint}}))
    code = 0
    try:
        doctor(c, json=True)
    except Exit as exc:
        code = exc.code
    out = capsys.readouterr()
    findings = json.loads(out.out)["stores"][0]["findings"]
    return code, [f for f in findings if f["area"] == "at rest"], out.out + out.err


def _path_without(tmp_path: Path, *missing: str) -> str:
    """A PATH folder of links to the system's tools, minus `missing`."""
    folder = tmp_path / ("bin-without-" + "-".join(missing))
    folder.mkdir()
    for entry in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(entry):
            continue
        for name in os.listdir(entry):
            target = folder / name
            if name not in missing and not target.exists():
                target.symlink_to(Path(entry) / name)
    return str(folder)


@pytest.fixture
def age_key(tmp_path: Path) -> str:
    identity = tmp_path / "agency.key"
    subprocess.run(["age-keygen", "-o", str(identity)], check=True, capture_output=True)
    return subprocess.run(["age-keygen", "-y", str(identity)], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def gpg_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    subprocess.run(["gpg", "--batch", "--homedir", str(home), "--passphrase", "", "--quick-gen-key",
                    "Agency <agency@example.invalid>", "future-default", "default", "never"], check=True,
                   capture_output=True)
    monkeypatch.setenv("GNUPGHOME", str(home))
    yield home
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True, check=False)


@pytest.fixture
def borg_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BORG_BASE_DIR", str(tmp_path / "borg-home"))
    path = tmp_path / "borg-repo"
    subprocess.run(["borg", "init", "-e", "repokey", str(path)], check=True, capture_output=True,
                   env={**os.environ, "BORG_PASSPHRASE": PASSPHRASE})
    return path


@pytest.fixture
def restic_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("RESTIC_CACHE_DIR", str(tmp_path / "restic-cache"))
    for name in ("RESTIC_PASSWORD", "RESTIC_PASSWORD_FILE", "RESTIC_PASSWORD_COMMAND"):
        monkeypatch.delenv(name, raising=False)
    secret = tmp_path / "restic.pw"
    secret.write_text(PASSPHRASE + "\n")
    secret.chmod(0o600)
    path = tmp_path / "restic-repo"
    subprocess.run(["restic", "init", "--repo", str(path), "--password-file", str(secret)], check=True,
                   capture_output=True)
    return path, secret


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_doctor_checks_no_encryption_or_repository_tool_when_no_store_sets_one(tmp_path, capsys) -> None:
    code, findings, text = _doctor(tmp_path, {"plain": {}, "other": {"root": str(tmp_path / "m")}}, capsys)
    assert findings == []
    assert not any(tool in text for tool in ("borg", "restic", "age ", "gpg"))


@pytest.mark.skipif(shutil.which("age") is None, reason="age not installed")
def test_an_age_recipient_needs_age_and_a_missing_age_is_an_error_for_that_store_only(
        tmp_path, capsys, monkeypatch, age_key) -> None:
    stores = {"secret": {"encrypt": age_key}, "plain": {}}
    code, findings, _ = _doctor(tmp_path, stores, capsys)
    version = subprocess.run(["age", "--version"], capture_output=True, text=True).stdout.strip()
    [age] = findings
    assert age["item"] == "age" and age["state"] == "ok"
    assert version in age["detail"] and "store secret (mirror.encrypt)" in age["detail"] and "plain" not in age["detail"]

    monkeypatch.setenv("PATH", _path_without(tmp_path, "age"))
    code, findings, _ = _doctor(tmp_path, stores, capsys)
    [age] = findings
    assert code == 2 and age["state"] == "error" and age["fix"] == "sudo apt-get install -y age"
    assert "not found on PATH" in age["detail"] and "store secret (mirror.encrypt)" in age["detail"]
    assert "plain" not in age["detail"]


@pytest.mark.skipif(shutil.which("age") is None, reason="age not installed")
def test_a_malformed_age_recipient_is_an_error_before_any_mirror_runs(tmp_path, capsys, age_key) -> None:
    code, [age], _ = _doctor(tmp_path, {"typo": {"encrypt": age_key[:-3] + "qqq"}}, capsys)
    assert code == 2 and age["state"] == "error" and "cannot encrypt (age to" in age["detail"]
    assert "typo" in age["detail"] and "mirror.encrypt" in age["fix"]


def test_a_repository_value_naming_no_repository_is_the_error_fab_mirror_would_stop_with(tmp_path, capsys) -> None:
    code, found, _ = _doctor(tmp_path, {"nokind": {"repository": "/srv/backups"},
                                        "relative": {"repository": "restic:backups"}}, capsys)
    by_value = {f["item"]: f for f in found}
    assert code == 2 and set(by_value) == {"/srv/backups", "restic:backups"}
    assert "must be borg:/path/to/repo or restic:/path/to/repo" in by_value["/srv/backups"]["detail"]
    assert "must be restic:/absolute/path/to/repo" in by_value["restic:backups"]["detail"]
    for store, finding in (("nokind", by_value["/srv/backups"]), ("relative", by_value["restic:backups"])):
        assert finding["state"] == "error" and store in finding["detail"] and "mirror.repository" in finding["fix"]


@pytest.mark.skipif(shutil.which("gpg") is None, reason="gpg not installed")
def test_an_openpgp_recipient_needs_its_key_in_the_keyring_usable_for_encryption(tmp_path, capsys, gpg_home) -> None:
    code, [gpg], _ = _doctor(tmp_path, {"shop": {}}, capsys,
                             options={"mirror": {"encrypt": "agency@example.invalid"}})
    assert gpg["item"] == "gpg" and gpg["state"] == "ok", gpg
    assert "gpg (GnuPG)" in gpg["detail"] and "store shop (mirror.encrypt)" in gpg["detail"]

    code, [gpg], _ = _doctor(tmp_path, {"shop": {"encrypt": "nobody@example.invalid"}}, capsys)
    assert code == 2 and gpg["state"] == "error" and "cannot encrypt (gpg to nobody@example.invalid)" in gpg["detail"]
    assert gpg["fix"].startswith("gpg --import")

    public = tmp_path / "agency.asc"  # an armoured public key file needs no keyring
    public.write_bytes(subprocess.run(["gpg", "--batch", "--armor", "--export", "agency@example.invalid"],
                                      check=True, capture_output=True).stdout)
    code, [gpg], _ = _doctor(tmp_path, {"shop": {"encrypt": str(public)}}, capsys)
    assert gpg["state"] == "ok" and f"gpg to {str(public)[:20]}" in gpg["detail"], gpg


def test_fabric_yaml_defaults_are_checked_with_no_store_using_them_yet(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("PATH", _path_without(tmp_path, "borg"))
    code, [borg], _ = _doctor(tmp_path, {}, capsys, options={"mirror": {"repository": "borg:/srv/borg"}})
    assert code == 2 and borg["item"] == "borg:/srv/borg" and borg["state"] == "error"
    assert "every store (maint.options.mirror)" in borg["detail"] and borg["fix"] == "sudo apt-get install -y borgbackup"


@pytest.mark.skipif(shutil.which("borg") is None, reason="borg not installed")
def test_a_borg_repository_opens_with_the_passphrase_at_hand_and_doctor_writes_nothing_to_it(
        tmp_path, capsys, monkeypatch, borg_repo) -> None:
    stores = {"one": {"repository": f"borg:{borg_repo}"}, "two": {"repository": f"borg:{borg_repo}"}}
    before = _tree(borg_repo)
    monkeypatch.setenv("BORG_PASSPHRASE", PASSPHRASE)
    code, [borg], text = _doctor(tmp_path, stores, capsys)
    assert borg["state"] == "ok", borg
    assert "borg 1." in borg["detail"] and "repokey, passphrase from BORG_PASSPHRASE, 0 archives" in borg["detail"]
    assert "stores one, two (mirror.repository)" in borg["detail"]

    monkeypatch.setenv("BORG_PASSPHRASE", "wrong")
    code, [borg], text2 = _doctor(tmp_path, stores, capsys)
    assert code == 2 and borg["state"] == "error" and "passphrase" in borg["detail"] and "BORG_PASSCOMMAND" in borg["fix"]
    monkeypatch.delenv("BORG_PASSPHRASE")
    code, [borg], text3 = _doctor(tmp_path, stores, capsys)  # no terminal to ask on: an error, not a prompt
    assert code == 2 and borg["state"] == "error" and "BORG_PASSPHRASE is not set" in borg["detail"]
    assert PASSPHRASE not in text + text2 + text3

    code, [borg], _ = _doctor(tmp_path, {"one": {"repository": f"borg:{tmp_path / 'nowhere'}"}}, capsys)
    assert borg["state"] == "error" and "does not exist" in borg["detail"] and borg["fix"].startswith("borg init")
    assert _tree(borg_repo) == before


@pytest.mark.skipif(shutil.which("restic") is None, reason="restic not installed")
def test_a_restic_repository_opens_with_its_password_file_and_a_missing_or_wrong_one_is_named(
        tmp_path, capsys, restic_repo) -> None:
    repo, secret = restic_repo
    before = _tree(repo)
    setting = {"repository": f"restic:{repo}"}
    code, [restic], text = _doctor(tmp_path, {"shop": {}}, capsys, options={"mirror": {**setting,
                                                                                        "password_file": str(secret)}})
    assert restic["state"] == "ok", restic
    assert "restic 0." in restic["detail"] and f"password from mirror.password_file {secret}" in restic["detail"]

    code, [restic], text2 = _doctor(tmp_path, {"shop": setting}, capsys)
    assert code == 2 and restic["state"] == "error" and "no password" in restic["detail"]
    assert "mirror.password_file" in restic["fix"] and "store shop" in restic["detail"]

    wrong = tmp_path / "wrong.pw"
    wrong.write_text("not it\n")
    wrong.chmod(0o600)
    code, [restic], text3 = _doctor(tmp_path, {"shop": {}}, capsys, options={"mirror": {**setting,
                                                                                        "password_file": str(wrong)}})
    assert code == 2 and restic["state"] == "error" and "wrong password" in restic["detail"], restic
    secret.chmod(0o644)
    code, [restic], _ = _doctor(tmp_path, {"shop": {}}, capsys, options={"mirror": {**setting,
                                                                                   "password_file": str(secret)}})
    assert restic["state"] == "warn" and restic["fix"] == f"chmod 600 {secret}"
    assert PASSPHRASE not in text + text2 + text3
    assert _tree(repo) == before
