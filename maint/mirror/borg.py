"""A borg repository as a store's mirror target (`mirror.repository: borg:/path` or `borg:ssh://…`).

Each verified snapshot goes in as one archive named `<client>-<store>-<timestamp>` (deduplicated,
compressed and encrypted by borg; several stores may share a repository), instead of being published
as a folder. The rsync base `.current` and the partial folder stay in the mirror folder (0700) so a
no-change run transfers nothing; put that folder on the maintainer's disk and the repository on the
drive. Serve and restore extract an archive into a private folder of the state directory first.
borg reads its passphrase itself (BORG_PASSPHRASE, BORG_PASSCOMMAND or its key file).

The store's files go in as a tree archive of their own, `<client>-<store>-<timestamp>.files.tar`, made only
when the tree changed since the last one (`TreeState`). It holds one item, a GNU tar stream of `.current`
(names sorted, numeric owners), not 20,000 items: borg's cost is per item (~160 µs each, ~5 s for the benchmark
store's first archive, where the stream takes ~3.5 s) and a tar stream is chunked by content, so an archive
after a few changed files stores a few chunks. Extraction pipes `borg extract --stdout` into `tar -x`, twice
as fast as extracting the items. Tree archives of earlier versions (`<ts>.files`, `.current` as items) are
still read. A first mirror streams the host's tar into the tree archive while it arrives (`tarstream`).
The snapshot's manifest names its tree archive (`files_archive`), and so does the
archive's comment, a small JSON summary that lets `summaries()` list every snapshot in one `borg list`.
A tree archive goes when no snapshot archive names it any more (`drop_unused_trees`). An unchanged
database is not dumped again either: see `dbstate` (the kept dump goes into each snapshot's archive).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maint.errors import ConfigError, MaintError, PreconditionError
from maint.mirror import manifest as manifest_io
from maint.mirror.layout import CURRENT, MANIFEST, PARTIAL, is_timestamp
from maint.mirror.manifest import Manifest
from maint.mirror.modes import open_private, private_dirs
from maint.mirror.repository import as_snapshot_folder, summary_of

TREE_SUFFIX = ".files"  # `<prefix><ts>.files`: an earlier version's tree archive, `.current` as items
TAR_SUFFIX = ".files.tar"  # `<prefix><ts>.files.tar`: the store's files of that run and the unchanged runs after
TREE_TAR = ".current.tar"  # the one item of a tar tree archive
# GNU tar for a tree archive, here and (tarstream) on the host: the same bytes for the same tree, so borg
# stores an unchanged stretch once; file contents of hard links in full, as rsync -a copies them.
TAR_CREATE = ("tar", "--sort=name", "--numeric-owner", "--hard-dereference", "--format=gnu", "-cf", "-")


def tree_stamp(name: str) -> str | None:
    """The timestamp of a tree archive's name (after the store's prefix), None for any other archive."""
    for suffix in (TAR_SUFFIX, TREE_SUFFIX):
        if name.endswith(suffix) and is_timestamp(name[:-len(suffix)]):
            return name[:-len(suffix)]
    return None
TREE_STATE = ".borg-tree.json"  # in the store's mirror folder: the last tree archive and its tree's fingerprint

# One borg process for a run's borg commands (`Warm`): it imports borg (~0.3 s of CPU per process) and runs
# borg's self-test once, while the caller still waits on other work, then forks a child per command that
# runs borg's own entry point with the command's arguments, output to the caller's files, and reports
# the child's exit code on a line of its own. Each command is run exactly as `borg` would run it.
_WARM = """\
import sys
if sys.path[:1] == [""]:
    del sys.path[0]  # `-c` puts the caller's folder first (a `borg` script has its own folder there)
import json, logging, os
import borg.archiver
from borg.selftest import selftest
selftest(logging.getLogger("borg.selftest"))  # exits 2 with borg's message when it fails
os.environ["BORG_SELFTEST"] = "disabled"  # done just above, for every command below
for line in sys.stdin:
    cwd, args, out, err = json.loads(line)
    pid = os.fork()
    if pid == 0:
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(os.open(out, os.O_WRONLY), 1)
        os.dup2(os.open(err, os.O_WRONLY), 2)
        if cwd:
            os.chdir(cwd)
        sys.argv = ["borg", *args]
        borg.archiver.main()
        os._exit(0)
    print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
"""


def parse_repository(text: str) -> str:
    """The borg location of `mirror.repository: borg:LOCATION`, with borg on this machine."""
    location = repository_location(text)
    if shutil.which("borg") is None:
        raise PreconditionError("mirror.repository needs `borg` on this machine (Debian package borgbackup)")
    return location


def repository_location(text: str) -> str:
    """The borg location of `mirror.repository: borg:LOCATION`, from the value alone (`maint doctor` looks for
    borg itself)."""
    kind, sep, location = str(text).partition(":")
    if kind != "borg" or not sep or not location:
        raise ConfigError(f"mirror.repository must be borg:/path/to/repo or restic:/path/to/repo, not {text!r}")
    return location


@dataclass(frozen=True)
class BorgRepo:
    location: str
    client: str
    store: str

    @property
    def kind(self) -> str:
        return "borg"

    @property
    def prefix(self) -> str:
        return f"{self.client}-{self.store}-"

    def archive(self, ts: str) -> str:
        return f"{self.location}::{self.prefix}{ts}"

    def describe(self, ts: str) -> str:
        return f"borg:{self.archive(ts)}"

    def _borg(self, *args: str, cwd: Path | None = None, text: bool = True,
              warm: Warm | None = None) -> subprocess.CompletedProcess[str]:
        done = warm.run(args, cwd) if warm is not None and text else None
        if done is None:
            done = subprocess.run(["borg", *args], cwd=cwd, capture_output=True, text=text, check=False,
                                  stdin=subprocess.DEVNULL)
        if done.returncode not in (0, 1):  # 1: warnings (e.g. a file changed while read)
            last = (done.stderr.strip().splitlines() or ["no message"])[-1][:300]
            raise MaintError(f"borg {args[0]} failed (exit {done.returncode}): {last}", store=self.store)
        return done

    def create(self, store_dir: Path, ts: str, comment: dict[str, Any], *, tree: bool,
               warm: Warm | None = None) -> None:
        """The snapshot's archive of `.partial` (dump, manifest, secrets), and first, when `tree`, the tree
        archive of the rsync base `.current` (`apply_mirror` makes that one itself, while it dumps). `warm`:
        the run's borg process started ahead (`warm_borg`).

        Both archived in place, not from a hard-linked copy: linking changes every inode's ctime, and
        borg's files cache (ctime, size, inode) would then read every unchanged file again.
        """
        if tree:
            self.create_tree(store_dir, ts)
        text = json.dumps(comment, sort_keys=True).replace("{", "{{").replace("}", "}}")  # borg's placeholders
        # No files cache for `.partial`: its dump is new on most runs, and a run that uses the cache ages the
        # tree's entries (borg drops them after 20 runs unseen, and the next tree archive would read every
        # file again). A reused dump is read again (borg stores no new chunk of it).
        self._borg(*self._create_args(), "--files-cache=disabled", "--comment", text, self.archive(ts), PARTIAL,
                   cwd=store_dir, warm=warm)

    def create_tree(self, store_dir: Path, ts: str) -> str:
        """The tree archive `<ts>.files.tar` of the rsync base `.current` (before the snapshot's own archive);
        its name after the prefix."""
        name = ts + TAR_SUFFIX
        tar = subprocess.Popen([*TAR_CREATE, CURRENT], cwd=store_dir, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        assert tar.stdout is not None and tar.stderr is not None
        borg = self.tree_writer(store_dir, ts, stdin=tar.stdout)
        tar.stdout.close()  # borg holds the pipe now: tar sees EPIPE if borg dies
        tar_err = tar.stderr.read().decode(errors="replace")
        self.finish_tree(borg, ok=tar.wait() == 0, why=tar_err)
        return name

    def tree_writer(self, store_dir: Path, ts: str, stdin: Any = subprocess.PIPE) -> subprocess.Popen[bytes]:
        """`borg create` of the tree archive `<ts>.files.tar` from a tar stream on its stdin."""
        return subprocess.Popen(["borg", *self._create_args(), "--stdin-name", TREE_TAR, "--stdin-mode", "0600",
                                 self.archive(ts + TAR_SUFFIX), "-"], cwd=store_dir, stdin=stdin,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def finish_tree(self, borg: subprocess.Popen[bytes], *, ok: bool, why: str = "") -> None:
        """Wait for a `tree_writer`; when the stream feeding it failed (`ok` false) stop it first, so borg
        rolls the archive back instead of committing a part of the tree."""
        if not ok:
            borg.terminate()
        assert borg.stderr is not None
        err = borg.stderr.read().decode(errors="replace")
        code = borg.wait()
        if not ok:
            last = (why.strip().splitlines() or ["no message"])[-1][:300]
            raise MaintError(f"the store's files could not be archived ({last}); borg kept nothing of them",
                             store=self.store)
        if code not in (0, 1):
            last = (err.strip().splitlines() or ["no message"])[-1][:300]
            raise MaintError(f"borg create failed (exit {code}): {last}", store=self.store)

    @staticmethod
    def _create_args() -> tuple[str, ...]:
        return ("create", "--compression", "auto,zstd,3", "--noacls", "--noxattrs", "--noflags")

    def _list(self, *fmt: str, warm: Warm | None = None) -> list[dict[str, Any]]:
        out = self._borg("list", "--json", *fmt, "--glob-archives", f"{self.prefix}*", self.location,
                         warm=warm).stdout
        found = json.loads(out or "{}").get("archives", [])
        return [a for a in found if isinstance(a, dict) and str(a.get("name", "")).startswith(self.prefix)]

    def archives(self) -> list[dict[str, Any]]:
        """This store's archives (snapshots and trees) as `borg list --json` gives them, with comments (borg
        reads each archive for its comment; names alone come from the repository's manifest)."""
        return self._list("--format", "{comment}")

    def trees(self, archives: list[dict[str, Any]] | None = None, *, warm: Warm | None = None) -> list[str]:
        """This store's tree archives, their names after the prefix (`<ts>.files.tar`, `<ts>.files`), oldest
        first: from `archives` when given, else from a listing of names alone."""
        names = [str(a["name"])[len(self.prefix):]
                 for a in (archives if archives is not None else self._list(warm=warm))]
        return sorted((n for n in names if tree_stamp(n) is not None), key=lambda n: str(tree_stamp(n)))

    def summaries(self, newest_only: bool = False, *,
                  archives: list[dict[str, Any]] | None = None) -> list[tuple[str, dict[str, Any]]]:
        """(timestamp, summary) of each snapshot archive (or the newest), oldest first, from one `borg list`
        (or `archives`, as `archives()` gave them): the summary is the archive's comment; an archive made
        before maint wrote one is read from its manifest."""
        out = []
        entries = [(str(e["name"])[len(self.prefix):], e) for e in (archives if archives is not None
                                                                    else self.archives())]
        entries = sorted(((ts, e) for ts, e in entries if is_timestamp(ts)), key=lambda pair: pair[0])
        for ts, entry in entries[-1:] if newest_only else entries:
            try:
                summary = json.loads(str(entry.get("comment") or ""))
            except ValueError:
                summary = None
            if not isinstance(summary, dict) or "verified" not in summary:
                summary = summary_of(self.manifest(ts))
            out.append((ts, summary))
        return sorted(out, key=lambda pair: pair[0])

    def drop_unused_trees(self) -> list[str]:
        """Delete the tree archives no snapshot archive names any more (after a prune); their names. One
        `borg list` serves both sides."""
        archives = self.archives()
        used = {str(s.get("files_archive") or "") for _, s in self.summaries(archives=archives)}
        dropped = []
        for name in self.trees(archives):
            if name not in used:
                self._borg("delete", self.archive(name))
                dropped.append(name)
        return dropped

    def snapshots(self) -> list[str]:
        """Timestamps of this store's archives, oldest first."""
        names = [str(a["name"])[len(self.prefix):] for a in self._list()]
        return sorted(n for n in names if is_timestamp(n))

    def latest(self) -> str | None:
        found = self.snapshots()
        return found[-1] if found else None

    def delete(self, ts: str) -> None:
        self._borg("delete", self.archive(ts))

    def manifest(self, ts: str) -> Manifest:
        data = self._borg("extract", "--stdout", self.archive(ts), f"{PARTIAL}/{MANIFEST}").stdout
        return Manifest.from_dict(json.loads(data))

    def extract(self, ts: str, dest: Path) -> Path:
        """The archive as a snapshot folder at dest (0700; an earlier extraction is replaced)."""
        if dest.exists():
            shutil.rmtree(dest)
        private_dirs(dest, top=dest.parent)
        self._borg("extract", self.archive(ts), cwd=dest)
        tree = manifest_io.read(dest / PARTIAL).files_archive
        if tree:  # the files are in the tree archive of the run that last saw them change
            if tree not in self.trees():
                raise MaintError(f"the files of snapshot {ts} are in the archive {self.prefix}{tree}, which is "
                                 f"missing from {self.location}", store=self.store)
            if tree.endswith(TAR_SUFFIX):
                self._extract_tar(tree, dest)
            else:
                self._borg("extract", self.archive(tree), CURRENT, cwd=dest)
        return as_snapshot_folder(dest)

    def _extract_tar(self, tree: str, dest: Path) -> None:
        """A tar tree archive's stream into `tar -x` at dest (`.current/...`)."""
        borg = subprocess.Popen(["borg", "extract", "--stdout", self.archive(tree)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        assert borg.stdout is not None and borg.stderr is not None
        tar = subprocess.run(["tar", "--numeric-owner", "-p", "-xf", "-"], cwd=dest, stdin=borg.stdout,
                             capture_output=True, check=False)
        borg.stdout.close()
        err = borg.stderr.read().decode(errors="replace")
        code = borg.wait()
        if code not in (0, 1) or tar.returncode != 0:
            why = err if code not in (0, 1) else tar.stderr.decode(errors="replace")
            last = (why.strip().splitlines() or ["no message"])[-1][:300]
            raise MaintError(f"extracting {self.prefix}{tree} failed: {last}", store=self.store)


class Warm:
    """A borg process that serves a run's borg commands (`_WARM`), started before they are known. When it
    cannot (no borg module for its interpreter, or it is gone), a command runs as its own `borg`, which
    then says what is wrong."""

    def __init__(self, interpreter: list[str]) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="maint-borg-"))  # 0700: the commands' output
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = subprocess.Popen(
            [*interpreter, "-c", _WARM], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True)

    def run(self, args: tuple[str, ...], cwd: Path | None) -> subprocess.CompletedProcess[str] | None:
        """borg ARGS in cwd, run by the waiting process; None when it cannot."""
        with self._lock:
            proc = self._proc
            if proc is None or proc.stdin is None or proc.stdout is None:
                return None
            out, err = self._dir / "out", self._dir / "err"
            for path in (out, err):
                open(open_private(path), "w").close()  # noqa: SIM115 - emptied for this command
            try:
                proc.stdin.write(json.dumps([str(cwd or ""), list(args), str(out), str(err)]) + "\n")
                proc.stdin.flush()
                code = proc.stdout.readline().strip()
            except OSError:
                code = ""
            if not code.lstrip("-").isdigit():
                self._stop()
                return None
            return subprocess.CompletedProcess(["borg", *args], int(code), out.read_text(errors="replace"),
                                               err.read_text(errors="replace"))

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()  # between commands: no repository is open in it
            proc.communicate()

    def close(self) -> None:
        with self._lock:
            self._stop()
        shutil.rmtree(self._dir, ignore_errors=True)


def borg_interpreter() -> list[str] | None:
    """The Python that runs `borg` (its script's #! line), or None when borg is not a Python script (a
    standalone binary)."""
    path = shutil.which("borg")
    if path is None:
        return None
    try:
        with open(path, "rb") as handle:
            first = handle.readline(256)
    except OSError:
        return None
    if not first.startswith(b"#!") or b"python" not in first:
        return None
    return shlex.split(first[2:].decode(errors="replace").strip())


@contextmanager
def warm_borg(repo: object) -> Iterator[Warm | None]:
    """With a borg target, a borg process started ahead for the run's borg commands."""
    interpreter = borg_interpreter() if isinstance(repo, BorgRepo) else None
    warm = Warm(interpreter) if interpreter is not None else None
    try:
        yield warm
    finally:
        if warm is not None:
            warm.close()


@dataclass(frozen=True)
class TreeState:
    """The last tree archive of a store and the fingerprint of the `.current` tree it holds, kept in the
    store's mirror folder (0600): an equal fingerprint means the tree archive holds this run's files."""

    archive: str
    fingerprint: str

    @classmethod
    def read(cls, store_dir: Path) -> TreeState | None:
        try:
            data = json.loads((store_dir / TREE_STATE).read_text(encoding="utf-8"))
            return cls(str(data["archive"]), str(data["fingerprint"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write(self, store_dir: Path) -> None:
        tmp = store_dir / (TREE_STATE + ".tmp")
        with open(open_private(tmp), "w", encoding="utf-8") as handle:
            json.dump({"archive": self.archive, "fingerprint": self.fingerprint}, handle)
        os.replace(tmp, store_dir / TREE_STATE)
