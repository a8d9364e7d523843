"""A first mirror into borg in one pass: the host's GNU tar stream goes, as it arrives, both to this machine's
`tar -x` (the rsync base `.current`) and to `borg create` (the tree archive `<ts>.files.tar`).

Why: borg is single-threaded and takes about as long to archive the benchmark store as rsync takes to fetch it
(3.5 s and 3.4 s), so fetching first and archiving after costs the sum; streaming costs about the slower of
the two. Only for a first mirror (no `.current` yet, so rsync would have nothing to skip), from a host with
GNU tar 1.28 or later (`--sort`), and with excludes that mean the same to tar as to rsync: anchored (`/…`)
patterns with `*` and `?` at most. Anything else takes rsync, then `BorgRepo.create_tree`.

The stream's names are `.current/<tree>/…`, sorted, with numeric owners: the bytes `create_tree` makes of the
same tree later, so borg stores the unchanged stretches of the next tree archive once. The next run's rsync
checks the copy: what tar did otherwise than rsync would (a file changed while it was read) shows there as a
changed tree, and that run makes a new tree archive.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import re
import shlex
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

from maint.mirror.borg import TAR_CREATE, BorgRepo
from maint.mirror.layout import CURRENT
from maint.ops.mirror import TreeSource

MIN_GNU_TAR = (1, 28)  # --sort=name
_PLAIN_PATTERN = re.compile(r"/[^\[\]\\]*")  # anchored; `*` and `?` mean the same to tar (no slash) as to rsync
_CHUNK = 1 << 20


def gnu_tar_version(text: str) -> tuple[int, ...] | None:
    """(1, 34) from `tar --version`'s first line `tar (GNU tar) 1.34`; None for another tar."""
    m = re.match(r"tar \(GNU tar\) (\d+)\.(\d+)", text.strip())
    return (int(m.group(1)), int(m.group(2))) if m else None


def tar_excludes(tree: TreeSource) -> list[str] | None:
    """The tree's rsync excludes as anchored tar patterns on `-C /` names; None when one has no sure equivalent
    (unanchored, `**`, a class, a directory-only rule, a filter prefix) or the tree's path holds a wildcard."""
    base = tree.remote.strip("/")
    if not base or any(ch in base for ch in "*?[]\\"):
        return None
    out = []
    for rule in tree.excludes:
        if not _PLAIN_PATTERN.fullmatch(rule) or "**" in rule or rule.endswith("/") or rule == "/":
            return None
        out.append(base + rule)
    return out


def _bre(text: str) -> str:
    """text as a literal in a POSIX basic regex delimited by commas (tar's --transform)."""
    return re.sub(r"([\\.*\[\]^$,])", r"\\\1", text)


def remote_command(trees: Sequence[TreeSource]) -> str | None:
    """The host's tar of every tree as one stream named `.current/<tree>/…`; None when the excludes don't
    translate (see tar_excludes)."""
    excludes: list[str] = []
    transforms: list[str] = []
    paths: list[str] = []
    for tree in sorted(trees, key=lambda t: t.name):  # `tar -c .current` here lists them by name too
        rules = tar_excludes(tree)
        if rules is None:
            return None
        base = tree.remote.strip("/")
        excludes += [f"--exclude={rule}" for rule in rules]
        # r: member names, h: hard link targets; S: not symlink targets, which stay as the store wrote them
        transforms.append(f"--transform=s,^{_bre(base)}\\(/\\|$\\),{CURRENT}/{tree.name}\\1,rSh")
        paths.append(base)
    argv = [TAR_CREATE[0], "-C", "/", "--totals", *TAR_CREATE[1:], "--anchored", "--no-wildcards-match-slash", *excludes,
            *transforms, "--", *paths]
    return shlex.join(argv)


def _grow_pipe(fd: int) -> None:
    """A 1 MiB pipe (Linux; 64 KiB otherwise) so tar and borg each read on while the other is written to."""
    try:
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), _CHUNK)
    except OSError:
        pass


def _drain(stream: object, into: list[bytes]) -> threading.Thread:
    def read() -> None:
        into.append(stream.read())  # type: ignore[attr-defined]

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def _libc_tee() -> Callable[[int, int, int, int], int] | None:
    """tee(2) (Linux): duplicates a pipe's pages into another pipe without copying them through this process."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        tee = libc.tee
    except (OSError, AttributeError):
        return None
    tee.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_size_t, ctypes.c_uint]
    tee.restype = ctypes.c_ssize_t
    return cast(Callable[[int, int, int, int], int], tee)


def duplicate(src: int, first: int, second: int, on_bytes: Callable[[int], None] | None = None) -> int:
    """Everything from the pipe `src` into the pipes `first` (tar, which may stop reading at the archive's end
    marker: its EPIPE ends only its share) and `second` (borg); the bytes passed. With tee(2) and splice(2)
    the kernel passes the pages: a read and two writes of 300 MB through Python cost ~1 s of CPU, which on a
    two-core machine comes out of borg's time."""
    tee = _libc_tee() if hasattr(os, "splice") else None
    total, first_open = 0, True
    while True:
        if tee is not None:
            if first_open:
                n = tee(src, first, _CHUNK, 0)
                if n < 0:
                    err = ctypes.get_errno()
                    if err == errno.EINTR:
                        continue
                    if err != errno.EPIPE:
                        raise OSError(err, os.strerror(err))
                    first_open = False
                    continue
                moved = 0
                while moved < n:
                    moved += os.splice(src, second, n - moved)
            else:
                n = os.splice(src, second, _CHUNK)
        else:
            chunk = os.read(src, _CHUNK)
            n = len(chunk)
            if first_open:
                try:
                    _write_all(first, chunk)
                except BrokenPipeError:
                    first_open = False
            _write_all(second, chunk)
        if n == 0:
            return total
        total += n
        if on_bytes is not None:
            on_bytes(total)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def stream_first_mirror(ssh_argv: Sequence[str], command: str, store_dir: Path, repo: BorgRepo, ts: str,
                        on_bytes: Callable[[int], None] | None = None) -> int:
    """The host's tar (`command`, on `ssh_argv`) into `store_dir/.current` and the tree archive `<ts>.files.tar`
    at once; the stream's size. Raises MaintError when any of the three fails (borg then commits nothing), and
    when the stream is not as long as the host's tar says it wrote."""
    source = subprocess.Popen([*ssh_argv, command], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL)
    untar = subprocess.Popen(["tar", "--numeric-owner", "-p", "-xf", "-"], cwd=store_dir, stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    borg = repo.tree_writer(store_dir, ts)
    assert source.stdout and source.stderr and untar.stdin and untar.stderr and borg.stdin
    source_err: list[bytes] = []
    untar_err: list[bytes] = []
    drains = [_drain(source.stderr, source_err), _drain(untar.stderr, untar_err)]
    for pipe in (source.stdout, untar.stdin, borg.stdin):
        _grow_pipe(pipe.fileno())
    why, size = "", 0
    try:
        size = duplicate(source.stdout.fileno(), untar.stdin.fileno(), borg.stdin.fileno(), on_bytes)
    except OSError as exc:
        why = f"the stream stopped: {exc.strerror or exc}"
        source.kill()
    finally:
        for pipe in (untar.stdin, borg.stdin):
            try:
                pipe.close()
            except BrokenPipeError:
                pass
    source_code, untar_code = source.wait(), untar.wait()
    for thread in drains:
        thread.join()
    said = b"".join(source_err).decode(errors="replace")
    written = re.search(r"Total bytes written: (\d+)", said)
    # ssh passes the host tar's status: 1 = a file changed while it was read (rsync's 24 on a live shop).
    if not why and source_code not in (0, 1):
        why = _last(said) or f"the host's tar or ssh failed (exit {source_code})"
    elif not why and untar_code != 0:
        why = "tar here: " + (_last(b"".join(untar_err).decode(errors="replace")) or f"exit {untar_code}")
    elif not why and (written is None or int(written.group(1)) != size):
        why = (f"the stream held {size} bytes, the host's tar wrote "
               f"{written.group(1) if written else 'an unknown number of'}")
    repo.finish_tree(borg, ok=not why, why=why)
    return size


def _last(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if not line.startswith("Total bytes written")]
    return lines[-1][:300] if lines else ""


def check_copy(size: int, counted: Sequence[tuple[int, int]]) -> str:
    """The verification line of a streamed first mirror."""
    files, total = sum(c[0] for c in counted), sum(c[1] for c in counted)
    return (f"files: the host's tar stream arrived whole ({size} bytes, as many as it wrote) and was archived as "
            f"it came; {files} files, {total} bytes on disk")
