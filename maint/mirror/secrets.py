"""The encrypted part of a snapshot's files: config files and personal-data folders, as one tar per tree.

With `mirror.encrypt`, these paths are left out of the plain rsync tree (and so out of its `.current`
base: rsync's --delete-excluded removes them there) and come instead as `tar` streamed from the host
straight into the encrypting tool. Everything else (code, catalogue images) stays a plain,
hard-linked tree. The tar is read as it passes, so its file count is checked like rsync's.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tarfile
import threading
from collections.abc import Sequence
from pathlib import Path

from maint.errors import MaintError, RemoteCommandError, VerificationError
from maint.mirror.crypt import Recipient, open_decrypt
from maint.mirror.manifest import SecretArchive
from maint.mirror.modes import open_private

CONFIG_FILES = ("config.php", "{admin}/config.php")
# DIR_UPLOAD, DIR_DOWNLOAD (customers' files, sold downloads) and 4.x's admin DB backups.
PERSONAL_DIRS = ("upload", "download", "backup")
COUNT_MARK = "maint-files="
CHUNK = 1 << 20


def secret_paths(tree: str, admin_dir: str, storage_rel: str | None) -> list[str]:
    """Paths (relative to the tree) that hold secrets or personal data."""
    if tree == "www":
        paths = [p.format(admin=admin_dir) for p in CONFIG_FILES]
        if storage_rel:
            paths += [f"{storage_rel.strip('/')}/{d}" for d in PERSONAL_DIRS]
        return paths
    return list(PERSONAL_DIRS) if tree == "storage" else []


def excludes_for(paths: Sequence[str]) -> list[str]:
    """rsync rules (anchored) that keep these paths out of the plain tree."""
    return ["/" + p.strip("/") for p in paths]


def archive_name(tree: str, recipient_suffix: str) -> str:
    return f"secrets-{tree}.tar{recipient_suffix}"


def tar_script(remote_dir: str, paths: Sequence[str]) -> str:
    """tar of the paths that exist (none is fine) on stdout; their regular-file count on stderr."""
    names = " ".join(shlex.quote(p) for p in paths)
    return (f"cd {shlex.quote(remote_dir)} || exit 96; set --; for p in {names}; do "
            "[ -e \"$p\" ] && set -- \"$@\" \"$p\"; done; "
            "if [ $# -gt 0 ]; then n=$(find \"$@\" -type f | wc -l); tar -cf - -- \"$@\" || exit 95; "
            "else n=0; tar -cf - -T /dev/null || exit 95; fi; "
            f"echo {COUNT_MARK}$n >&2")


def _read_members(stream: int, out: list[tuple[int, int]], errors: list[BaseException]) -> None:
    try:
        files = size = 0
        with os.fdopen(stream, "rb") as handle, tarfile.open(fileobj=handle, mode="r|") as tar:
            for member in tar:
                if member.isfile():
                    files += 1
                    size += member.size
        out.append((files, size))
    except BaseException as exc:  # noqa: BLE001 - handed to the main thread
        errors.append(exc)


def pull_secrets(ssh_argv: Sequence[str], remote_dir: str, tree: str, paths: Sequence[str], dest: Path,
                 recipient: Recipient, *, store: str | None = None) -> SecretArchive:
    """Stream the tar from the host through the encrypting tool into dest (0600); count what passed."""
    proc = subprocess.Popen([*ssh_argv, tar_script(remote_dir, paths)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    read_end, write_end = os.pipe()
    counted: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    reader = threading.Thread(target=_read_members, args=(read_end, counted, errors), daemon=True)
    reader.start()
    try:
        with open(open_private(dest), "wb") as out, os.fdopen(write_end, "wb") as tee:
            encrypt = subprocess.Popen(recipient.encrypt_argv(), stdin=subprocess.PIPE, stdout=out,
                                       stderr=subprocess.PIPE)
            assert encrypt.stdin is not None
            while chunk := proc.stdout.read(CHUNK):
                encrypt.stdin.write(chunk)
                tee.write(chunk)
            _, enc_err = encrypt.communicate()
    except OSError as exc:
        proc.kill()
        raise MaintError(f"writing {dest.name} failed: {exc.strerror or exc}", store=store) from None
    finally:
        stderr = proc.stderr.read().decode(errors="replace")
        code = proc.wait()
        reader.join()
    if encrypt.returncode != 0:
        raise MaintError(f"{recipient.tool} failed: {enc_err.decode(errors='replace').strip()[-200:]}", store=store)
    if code != 0:
        raise RemoteCommandError(f"tar of {tree}'s secret files failed (exit {code}): {stderr.strip()[-200:]}",
                                 store=store)
    if errors:
        raise VerificationError(f"the tar of {tree}'s secret files could not be read: {errors[0]}", store=store)
    files, size = counted[0]
    expected = next((int(w[len(COUNT_MARK):]) for w in stderr.split() if w.startswith(COUNT_MARK)), -1)
    if files != expected:
        raise VerificationError(f"{dest.name}: {files} files in the tar, {expected} on the host", store=store)
    return SecretArchive(tree=tree, file=dest.name, files=files, bytes=size, paths=list(paths))


def extract_local(archive: Path, tool: str, identity: str, dest: Path, *, store: str | None = None) -> None:
    """Decrypt and unpack into dest (a working copy)."""
    dest.mkdir(parents=True, exist_ok=True)
    decrypt = open_decrypt(tool, identity, archive)
    assert decrypt.stdout is not None and decrypt.stderr is not None
    untar = subprocess.run(["tar", "-xf", "-", "-C", str(dest)], stdin=decrypt.stdout, capture_output=True,
                           check=False)
    decrypt.stdout.close()
    err = decrypt.stderr.read().decode(errors="replace").strip()
    if decrypt.wait() != 0 or untar.returncode != 0:
        reason = err or untar.stderr.decode(errors="replace").strip()
        raise MaintError(f"unpacking {archive.name} failed: {reason[-200:]}", store=store)


def push_secrets(ssh_argv: Sequence[str], archive: Path, tool: str, identity: str, remote_dir: str, *,
                 store: str | None = None) -> None:
    """Decrypt locally and unpack on the host (files keep the modes and times the tar recorded)."""
    decrypt = open_decrypt(tool, identity, archive)
    assert decrypt.stdout is not None and decrypt.stderr is not None
    done = subprocess.run([*ssh_argv, f"tar -xpf - -C {shlex.quote(remote_dir)}"], stdin=decrypt.stdout,
                          capture_output=True, check=False)
    decrypt.stdout.close()
    err = decrypt.stderr.read().decode(errors="replace").strip()
    if decrypt.wait() != 0:
        raise MaintError(f"decrypting {archive.name} failed: {err[-200:]}", store=store)
    if done.returncode != 0:
        raise RemoteCommandError(f"unpacking {archive.name} on the host failed: "
                                 f"{done.stderr.decode(errors='replace').strip()[-200:]}", store=store)
