"""Encryption at rest (`mirror.encrypt: <recipient>`): the `age` tool or GnuPG, never our own cryptography.

Only the public key is needed to mirror; the agency's private key (an age identity file, or GnuPG's
keyring and agent) is needed only by `fab serve` and `fab restore`. Both tools stream, so the dump and
the secrets tar are encrypted as they arrive and never touch the mirror disk in clear.

Recipients: `age1…` or an SSH public key line (`ssh-ed25519 …`) → age; a file of age recipients or an
armoured OpenPGP public key → age -R / gpg --recipient-file; anything else (fingerprint, e-mail) names
a key in GnuPG's keyring.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from maint.errors import ConfigError, PreconditionError

PGP_ARMOUR = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
PACKAGES = {"age": "age", "gpg": "gnupg"}  # the Debian package of each tool


@dataclass(frozen=True)
class Recipient:
    tool: str  # age | gpg
    value: str  # the key, a file of keys, or a GnuPG key id
    from_file: bool = False

    @property
    def suffix(self) -> str:
        return ".age" if self.tool == "age" else ".gpg"

    def encrypt_argv(self) -> list[str]:
        """Reads clear bytes on stdin, writes the encrypted stream to stdout."""
        if self.tool == "age":
            return ["age", "-R" if self.from_file else "-r", self.value]
        return ["gpg", "--batch", "--quiet", "--no-tty", "--trust-model", "always", "--compress-algo", "none",
                "--encrypt", "--recipient-file" if self.from_file else "--recipient", self.value]

    def describe(self) -> str:
        return f"{self.tool} to {self.value if len(self.value) < 40 else self.value[:20] + '…' + self.value[-8:]}"


def parse_recipient(text: str) -> Recipient:
    """The recipient `mirror.encrypt` names, its tool on this machine (else PreconditionError)."""
    recipient = read_recipient(text)
    if shutil.which(recipient.tool) is None:
        raise PreconditionError(f"mirror.encrypt needs the `{recipient.tool}` tool on this machine "
                                f"(Debian package {PACKAGES[recipient.tool]})")
    return recipient


def read_recipient(text: str) -> Recipient:
    """The recipient and its tool, from the value alone (`maint doctor` asks for the tool itself)."""
    value = str(text or "").strip()
    if not value:
        raise ConfigError("mirror.encrypt is empty: give an age public key (age1…), a key file or an OpenPGP key id")
    if value.startswith("age1") or value.startswith(("ssh-ed25519 ", "ssh-rsa ")):
        recipient = Recipient("age", value)
    elif Path(value).expanduser().is_file():
        path = Path(value).expanduser()
        head = path.read_text(encoding="utf-8", errors="replace")[:200]
        recipient = Recipient("gpg" if PGP_ARMOUR in head else "age", str(path), from_file=True)
    elif "/" in value:
        raise ConfigError(f"mirror.encrypt: no key file {value}")
    else:
        recipient = Recipient("gpg", value)
    return recipient


def decrypt_argv(tool: str, identity: str) -> list[str]:
    """Reads the encrypted stream on stdin, writes clear bytes to stdout."""
    if tool == "age":
        if not identity:
            raise ConfigError("the snapshot is encrypted with age: give the private key with --identity FILE "
                              "(or mirror.identity in the inventory or fabric.yaml)")
        path = Path(identity).expanduser()
        if not path.is_file():
            raise ConfigError(f"identity file {path} not found")
        return ["age", "-d", "-i", str(path)]
    argv = ["gpg", "--batch", "--quiet", "--no-tty", "--decrypt"]
    if identity:  # a GnuPG home holding the secret key; otherwise the default keyring and its agent
        argv[1:1] = ["--homedir", str(Path(identity).expanduser())]
    return argv


def open_decrypt(tool: str, identity: str, source: Path) -> subprocess.Popen[bytes]:
    """The decrypting process, reading source, clear bytes on its stdout."""
    handle = open(source, "rb")
    try:
        return subprocess.Popen(decrypt_argv(tool, identity), stdin=handle, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    finally:
        handle.close()


def check_key(tool: str, identity: str, source: Path, *, store: str | None = None) -> None:
    """Decrypt the first bytes of source, so a wrong or missing key stops a run before it changes anything."""
    argv = decrypt_argv(tool, identity)
    if shutil.which(argv[0]) is None:
        raise PreconditionError(f"the snapshot is encrypted with {tool}, and `{argv[0]}` is not installed here",
                                store=store)
    proc = open_decrypt(tool, identity, source)
    assert proc.stdout is not None and proc.stderr is not None
    got = proc.stdout.read(1)
    proc.stdout.close()
    if got:
        proc.kill()
        proc.wait()
        proc.stderr.close()
        return
    err = proc.stderr.read().decode(errors="replace").strip()
    proc.wait()
    reason = err.splitlines()[-1] if err else "no output"
    raise PreconditionError(f"cannot decrypt {source.name} with {identity or 'the default GnuPG keyring'}: "
                            f"{reason.removeprefix('age: error: ')}", store=store)
