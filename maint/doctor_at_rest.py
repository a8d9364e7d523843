"""`maint doctor`'s checks of what the stores' data-at-rest settings need on this machine.

`age`, `gpg`, `borg` and `restic` are needed only where a store sets `mirror.encrypt` or
`mirror.repository` (its own, its client's, or fabric.yaml's `maint.options.mirror` for every store), so
they are checked only then, once per distinct setting, naming the stores that use it. Nothing is run
when no store sets either: doctor stays fast.

Read-only: a trial encryption of nothing to the recipient (output thrown away), `borg list` (the
repository's manifest; a shared lock, waited for at most LOCK_WAIT seconds) and `restic cat config`
(`--no-lock`). None writes to a repository. Passphrases and passwords stay in the tools' own variables
and files: only where they come from is said, never what they are.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from maint.config import Settings, store_config
from maint.doctor import ERROR, OK, WARN, Finding
from maint.errors import MaintError
from maint.inventory import Inventory

LOCK_WAIT = 5  # seconds `borg list` waits for a mirror run's lock before doctor says "busy"
TIMEOUT = 60  # seconds any one tool may take (a borg repository over SSH included)
AGENCY = "every store (maint.options.mirror)"
BORG_SOURCES = ("BORG_PASSPHRASE", "BORG_PASSCOMMAND", "BORG_PASSPHRASE_FD")
RESTIC_SOURCES = ("RESTIC_PASSWORD", "RESTIC_PASSWORD_FILE", "RESTIC_PASSWORD_COMMAND")


@dataclass(frozen=True)
class Need:
    """One distinct data-at-rest setting and the stores that use it."""

    setting: str  # "mirror.encrypt" | "mirror.repository"
    value: str
    password_file: str = ""  # restic: mirror.password_file
    users: tuple[str, ...] = ()

    def who(self) -> str:
        names = ", ".join(self.users[:5]) + (f" and {len(self.users) - 5} more" if len(self.users) > 5 else "")
        return names if self.users == (AGENCY,) else f"store{'s' if len(self.users) > 1 else ''} {names}"


def needs(settings: Settings, inventory: Inventory | None) -> list[Need]:
    """Every store's `mirror.encrypt` and `mirror.repository` (merged as the tasks merge them), one Need per
    distinct value; fabric.yaml's defaults too when no store uses them (e.g. no store yet)."""
    found: dict[tuple[str, str, str], list[str]] = {}
    for _, entry in inventory.stores() if inventory is not None else ():
        try:
            cfg = store_config(settings, inventory, entry.name)  # type: ignore[arg-type]
        except MaintError:
            continue  # check_inventory names it
        _collect(found, cfg.options.get("mirror"), entry.name)
    agency = settings.raw.get("options")
    defaults: dict[tuple[str, str, str], list[str]] = {}
    _collect(defaults, agency.get("mirror") if isinstance(agency, Mapping) else None, AGENCY)
    for key, users in defaults.items():  # named only where no store uses the same setting (e.g. no store yet)
        found.setdefault(key, users)
    return [Need(setting, value, password_file, tuple(users)) for (setting, value, password_file), users in found.items()]


def _collect(found: dict[tuple[str, str, str], list[str]], section: object, user: str) -> None:
    if not isinstance(section, Mapping):
        return
    for setting in ("encrypt", "repository"):
        value = str(section.get(setting) or "").strip()
        if not value:
            continue
        password_file = str(section.get("password_file") or "") if value.startswith("restic:") else ""
        users = found.setdefault((f"mirror.{setting}", value, password_file), [])
        if user not in users:
            users.append(user)


def check_at_rest(settings: Settings, inventory: Inventory | None, path: str | None = None,
                  env: Mapping[str, str] | None = None) -> list[Finding]:
    """The findings of every data-at-rest setting in use (none, and no tool run, when none is set).
    `path` overrides $PATH and `env` the environment, for tests."""
    env = dict(os.environ if env is None else env)
    if path is not None:
        env["PATH"] = path
    findings: list[Finding] = []
    for need in needs(settings, inventory):
        if need.setting == "mirror.encrypt":
            findings.append(check_encrypt(need, env))
        elif need.value.startswith("restic:"):
            findings.append(check_restic(need, env))
        else:
            findings.append(check_borg(need, env))
    return findings


def _tool(name: str, env: Mapping[str, str]) -> str | None:
    return shutil.which(name, path=env.get("PATH"))


def _run(argv: Sequence[str], env: Mapping[str, str], stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """A tool with no terminal to prompt on (a new session; stdin empty): a missing passphrase fails, never
    waits for someone to type it. Output is read as text (a trial encryption's bytes are thrown away)."""
    try:
        done = subprocess.run(list(argv), input=stdin, env=dict(env), capture_output=True, timeout=TIMEOUT,
                              check=False, start_new_session=True,
                              stdin=subprocess.DEVNULL if stdin is None else None)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(list(argv), 124, "", f"no answer within {TIMEOUT} s")
    out = "" if stdin is not None else done.stdout.decode(errors="replace")
    return subprocess.CompletedProcess(list(argv), done.returncode, out, done.stderr.decode(errors="replace"))


def _version(argv: Sequence[str], env: Mapping[str, str]) -> str:
    """`age 1.1.1`, `gpg (GnuPG) 2.2.40`, `borg 1.2.4`, `restic 0.14.0`: the tool's first line, named."""
    done = _run(argv, env)
    first = (done.stdout.strip().splitlines() or ["version unknown"])[0].split(" compiled ")[0]
    return first if first.startswith(argv[0]) else f"{argv[0]} {first}"


def _last_line(text: str, env: Mapping[str, str]) -> str:
    # borg's prompt, answered by nobody, precedes its reason on the same line: the reason is kept.
    lines = [re.sub(r"^Enter passphrase for key [^:]*: ", "", ln.strip()) for ln in text.strip().splitlines()
             if ln.strip() and "GetPassWarning" not in ln and not ln.startswith("Warning: Password input")]
    line = (lines or ["no message"])[-1][:300]
    for name in ("BORG_PASSPHRASE", "RESTIC_PASSWORD"):  # the tools never print them; be sure
        secret = env.get(name)
        if secret:
            line = line.replace(secret, "***")
    return line


def check_encrypt(need: Need, env: Mapping[str, str]) -> Finding:
    """The recipient's tool is here, and encrypting to the recipient works (a bad age key, a GnuPG key
    missing from the keyring, expired or without an encryption subkey all fail now, not at the next mirror)."""
    from maint.mirror import crypt

    setting = f"{need.who()} ({need.setting})"
    try:
        recipient = crypt.read_recipient(need.value)
    except MaintError as exc:
        return Finding("at rest", need.setting, ERROR, f"{exc.message}; used by {need.who()}",
                       "fix mirror.encrypt in the inventory or fabric.yaml")
    where = _tool(recipient.tool, env)
    package = crypt.PACKAGES[recipient.tool]
    if where is None:
        return Finding("at rest", recipient.tool, ERROR, f"not found on PATH; needed by {setting}: encrypting "
                       f"{'its' if len(need.users) == 1 else 'their'} snapshots", f"sudo apt-get install -y {package}")
    version = _version([recipient.tool, "--version"], env)
    argv = recipient.encrypt_argv()
    if recipient.tool == "gpg":  # a key not in the keyring is an error here, never looked up on the network
        argv[1:1] = ["--auto-key-locate", "local", "--no-auto-key-retrieve"]
    done = _run(argv, env, stdin=b"")
    if done.returncode != 0:
        fix = (f"gpg --import the agency's public key (gpg --list-keys {recipient.value} must show it, with an "
               "encryption subkey), or fix mirror.encrypt" if recipient.tool == "gpg"
               else "fix mirror.encrypt: an age public key (age1…), an SSH public key or a file of them")
        return Finding("at rest", recipient.tool, ERROR, f"{version}; cannot encrypt ({recipient.describe()}): "
                       f"{_last_line(done.stderr, env)}; needed by {setting}", fix)
    return Finding("at rest", recipient.tool, OK, f"{version} at {where}; encrypts ({recipient.describe()}); "
                   f"needed by {setting}")


def _bad_repository(need: Need, exc: MaintError) -> Finding:
    """A mirror.repository value that names no repository (the message `fab mirror` would stop with)."""
    return Finding("at rest", need.value, ERROR, f"{exc.message}; used by {need.who()}",
                   "fix mirror.repository in the inventory or fabric.yaml")


def check_borg(need: Need, env: Mapping[str, str]) -> Finding:
    """borg is here, the repository opens with the passphrase at hand: `borg list` reads its manifest."""
    from maint.mirror.borg import repository_location

    setting = f"{need.who()} ({need.setting})"
    try:
        location = repository_location(need.value)
    except MaintError as exc:
        return _bad_repository(need, exc)
    if _tool("borg", env) is None:
        return Finding("at rest", need.value, ERROR, f"`borg` not found on PATH; needed by {setting}",
                       "sudo apt-get install -y borgbackup")
    # --show-version: the version from the same run (each borg start costs ~0.4 s of Python imports)
    done = _run(["borg", "list", "--show-version", "--json", "--lock-wait", str(LOCK_WAIT), location], env)
    said = re.search(r"borgbackup version (\S+)", done.stderr)
    version = f"borg {said.group(1)}" if said else "borg"
    if done.returncode != 0:
        reason = _last_line(done.stderr, env)
        state, fix = ERROR, "see borg's message"
        if "passphrase" in reason.lower():
            fix = ("export BORG_PASSCOMMAND='…' (a command printing it) or BORG_PASSPHRASE where maint runs; "
                   "never in fabric.yaml or the inventory")
        elif "does not exist" in reason or "not a valid repository" in reason:
            fix = f"borg init --encryption=repokey {location}   # or fix mirror.repository"
        elif "key file" in reason.lower():
            fix = "copy the repository's key file to ~/.config/borg/keys/, or set BORG_KEY_FILE"
        elif "lock" in reason.lower():
            state, fix = WARN, "another borg run holds the repository: run maint doctor again when it is done"
        return Finding("at rest", need.value, state, f"{version}; {reason}; needed by {setting}", fix)
    try:
        data = json.loads(done.stdout or "{}")
    except ValueError:
        data = {}
    mode = str((data.get("encryption") or {}).get("mode") or "?")
    archives = len(data.get("archives") or [])
    source = next((name for name in BORG_SOURCES if env.get(name)), "")
    passphrase = ("no passphrase (not encrypted)" if mode in ("none", "authenticated", "authenticated-blake2")
                  else f"passphrase from {source}" if source else "key without a passphrase")
    return Finding("at rest", need.value, OK, f"{version}; opens ({mode}, {passphrase}, {archives} archives); "
                   f"needed by {setting}")


def check_restic(need: Need, env: Mapping[str, str]) -> Finding:
    """restic is here, a password is given, and the repository opens with it (`restic cat config`, no lock)."""
    from maint.mirror.restic import repository_path

    setting = f"{need.who()} ({need.setting})"
    try:
        location = repository_path(need.value)
    except MaintError as exc:
        return _bad_repository(need, exc)
    if _tool("restic", env) is None:
        return Finding("at rest", need.value, ERROR, f"`restic` not found on PATH; needed by {setting}",
                       "sudo apt-get install -y restic")
    version = _version(["restic", "version"], env)
    password_file = Path(need.password_file).expanduser() if need.password_file else None
    source = f"mirror.password_file {need.password_file}" if password_file else next(
        (name for name in RESTIC_SOURCES if env.get(name)), "")
    if not source:
        return Finding("at rest", need.value, ERROR, f"{version}; no password: neither mirror.password_file nor "
                       f"RESTIC_PASSWORD_FILE / RESTIC_PASSWORD_COMMAND is set; needed by {setting}",
                       "set mirror.password_file: /path/to/file (0600) beside mirror.repository")
    if password_file is not None and not password_file.is_file():
        return Finding("at rest", need.value, ERROR, f"{version}; mirror.password_file {password_file} not found; "
                       f"needed by {setting}", f"create {password_file} (0600) holding the repository's password")
    run_env = dict(env, TZ="UTC")
    if password_file is not None:
        run_env["RESTIC_PASSWORD_FILE"] = str(password_file)
    done = _run(["restic", "--repo", location, "--quiet", "--no-lock", "cat", "config"], run_env)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        reason = _last_line(next((ln for ln in lines if ln.startswith("Fatal:")), done.stderr), env)
        missing = "does not exist" in reason or "unable to open config" in reason
        return Finding("at rest", need.value, ERROR, f"{version}; {reason}; needed by {setting}",
                       f"restic init --repo {location}   # a new repository; else fix mirror.repository" if missing
                       else "fix the password (mirror.password_file or RESTIC_PASSWORD_*)")
    if password_file is not None and password_file.stat().st_mode & 0o077:
        return Finding("at rest", need.value, WARN, f"{version}; opens (password from {source}), but the password "
                       f"file is readable by others; needed by {setting}", f"chmod 600 {password_file}")
    return Finding("at rest", need.value, OK, f"{version}; opens (password from {source}); needed by {setting}")

