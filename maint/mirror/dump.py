"""The database part of a snapshot: a mysqldump run on the host, compressed there, streamed over SSH.

The password reaches mysqldump through a defaults file the remote shell creates with mktemp (0600),
fills from our stdin (never from its command line) and removes in an EXIT trap, so it is gone after a
normal end, an error, or a dropped connection (mysqldump then dies of SIGPIPE and the shell exits).
Locally the compressed stream goes to disk as it arrives and, through a local decompressor, to a
row counter, so verification costs no second pass over the file.
"""

from __future__ import annotations

import hashlib
import shlex
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from maint.errors import MaintError, PreconditionError, RemoteCommandError, VerificationError
from maint.mirror.crypt import Recipient
from maint.mirror.dumpfile import DumpCount, RowCounter
from maint.mirror.modes import open_private
from maint.remote.sql import DbCredentials

FAILED_MARK = "maint-dump-failed"
CHUNK = 1 << 20
COMPRESSORS = {"zstd": ("zstd -3 -q -c", ["zstd", "-d", "-q", "-c"], "db.sql.zst"),
               "gzip": ("gzip -1 -c", ["gzip", "-d", "-c"], "db.sql.gz")}


def consistency_for(engines: dict[str, str]) -> str:
    """`single-transaction` when every table is InnoDB, else `lock-tables` (MyISAM has no snapshot)."""
    return "single-transaction" if engines and all(e == "InnoDB" for e in engines.values()) else "lock-tables"


def _option_value(value: str) -> str:
    """A value for a MySQL option file, double-quoted with its escapes."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def defaults_file(creds: DbCredentials) -> bytes:
    """The [client] section mysqldump reads; written to the host's 0600 temp file through stdin."""
    lines = ["[client]", f"user={_option_value(creds.user)}", f"password={_option_value(creds.password)}"]
    if creds.host and creds.host != "localhost":
        lines += [f"host={_option_value(creds.host)}", f"port={int(creds.port)}"]
    elif creds.port != 3306:
        lines.append(f"port={int(creds.port)}")
    return ("\n".join(lines) + "\n").encode()


@dataclass(frozen=True)
class DumpCommand:
    script: str  # remote shell script (no secrets)
    stdin: bytes  # the defaults file content
    compression: str
    filename: str


def build_dump_command(
    creds: DbCredentials,
    *,
    consistency: str,
    stripped: Sequence[str] = (),
    compression: str = "zstd",
    dump_binary: str = "mysqldump",
) -> DumpCommand:
    """The remote script: one mysqldump for the structure of stripped tables, one for everything else."""
    compress, _, filename = COMPRESSORS[compression]
    db = shlex.quote(creds.database)
    common = ["--defaults-extra-file=\"$f\"", "--quick", "--routines", "--triggers", "--hex-blob",
              "--no-tablespaces", "--default-character-set=utf8mb4", "--max-allowed-packet=512M"]
    common.append("--single-transaction" if consistency == "single-transaction" else "--lock-tables")
    opts = " ".join(common)
    parts = []
    if stripped:
        names = " ".join(shlex.quote(t) for t in stripped)
        ignore = " ".join(shlex.quote(f"--ignore-table={creds.database}.{t}") for t in stripped)
        parts.append(f"{dump_binary} {opts} --no-data --skip-comments {db} {names}")
        parts.append(f"{dump_binary} {opts} {ignore} {db}")
    else:
        parts.append(f"{dump_binary} {opts} {db}")
    dumps = " && ".join(parts)
    size = len(defaults_file(creds))
    script = (
        "umask 077; f=$(mktemp \"${TMPDIR:-/tmp}/maint-dump.XXXXXXXX\") || exit 97; "
        "trap 'rm -f \"$f\"' EXIT; trap 'exit 98' HUP INT TERM PIPE; "
        f"head -c {size} > \"$f\" || exit 97; "
        f"{{ {dumps} || echo {FAILED_MARK} >&2; }} | {compress}"
    )
    return DumpCommand(script, defaults_file(creds), compression, filename)


@dataclass
class DumpResult:
    path: Path
    bytes: int
    sha256: str
    count: DumpCount
    stderr: str


def _count_stream(stream: IO[bytes], counter: RowCounter, errors: list[BaseException]) -> None:
    try:
        while chunk := stream.read(CHUNK):
            counter.feed(chunk)
    except BaseException as exc:  # noqa: BLE001 - handed to the main thread
        errors.append(exc)


def stream_dump(
    ssh_argv: Sequence[str],
    command: DumpCommand,
    dest: Path,
    *,
    on_bytes: Callable[[int], None] | None = None,
    store: str | None = None,
    recipient: Recipient | None = None,
) -> DumpResult:
    """Run the dump on the host, write it to dest (0600) as it arrives, count its rows on the way.

    With a recipient the compressed stream goes through the encrypting tool on its way to dest; the
    row count and sha256 are of the compressed clear stream.
    """
    _, decompress, _ = COMPRESSORS[command.compression]
    proc = subprocess.Popen([*ssh_argv, command.script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    unpack = subprocess.Popen(decompress, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdin and proc.stdout and proc.stderr and unpack.stdin and unpack.stdout
    counter, errors = RowCounter(), list[BaseException]()
    reader = threading.Thread(target=_count_stream, args=(unpack.stdout, counter, errors), daemon=True)
    reader.start()
    stderr_chunks: list[bytes] = []
    err_reader = threading.Thread(target=lambda: stderr_chunks.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
    err_reader.start()
    digest, total = hashlib.sha256(), 0
    try:
        proc.stdin.write(command.stdin)
        proc.stdin.close()
        with open(open_private(dest), "wb") as out:
            encrypt = None if recipient is None else subprocess.Popen(
                recipient.encrypt_argv(), stdin=subprocess.PIPE, stdout=out, stderr=subprocess.PIPE)
            sink = out if encrypt is None else encrypt.stdin
            assert sink is not None
            while chunk := proc.stdout.read1(CHUNK):  # type: ignore[attr-defined]
                sink.write(chunk)
                digest.update(chunk)
                unpack.stdin.write(chunk)
                total += len(chunk)
                if on_bytes:
                    on_bytes(total)
            if encrypt is not None:
                _, enc_err = encrypt.communicate()
                if encrypt.returncode != 0:
                    raise OSError(f"{recipient.tool if recipient else ''} failed: "
                                  f"{enc_err.decode(errors='replace').strip()[-200:]}")
    except OSError as exc:
        proc.kill()
        unpack.kill()
        raise MaintError(f"writing the dump to {dest} failed: {exc.strerror or exc}", store=store) from None
    finally:
        try:
            unpack.stdin.close()
        except OSError:
            pass
        code = proc.wait()
        unpack.wait()
        reader.join()
        err_reader.join()
    stderr = b"".join(stderr_chunks).decode(errors="replace")
    if errors:
        raise VerificationError(f"the dump could not be read back: {errors[0]}", store=store)
    _raise_for_dump_errors(code, stderr, store)
    return DumpResult(dest, total, digest.hexdigest(), counter.finish(), stderr)


def explain_dump_error(stderr: str) -> str:
    """A one-line cause from mysqldump's messages, with what to do for known privilege errors."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and FAILED_MARK not in ln]
    text = " ".join(lines)
    if "LOCK TABLES" in text:
        return ("the database user may not LOCK TABLES, which a consistent dump of MyISAM tables needs; "
                "grant it (GRANT LOCK TABLES ON db.* TO user) or move the tables to InnoDB")
    if "PROCESS privilege" in text:
        return "the database user lacks the PROCESS privilege mysqldump asked for: grant PROCESS"
    if "command not found" in text or "not found" in text.lower() and "mysqldump" in text:
        return "mysqldump is not installed on the host"
    return lines[-1][:300] if lines else "no message"


def _raise_for_dump_errors(code: int, stderr: str, store: str | None) -> None:
    if code == 255:
        raise RemoteCommandError(f"SSH connection dropped during the dump: {stderr.strip()[-200:]}", store=store)
    if FAILED_MARK in stderr:
        reason = explain_dump_error(stderr)
        cls = PreconditionError if "privilege" in reason or "LOCK TABLES" in reason else RemoteCommandError
        raise cls(f"mysqldump failed on the host: {reason}", store=store)
    if code != 0:
        raise RemoteCommandError(f"dump command exited {code}: {explain_dump_error(stderr)}", store=store)
