"""A first mirror into borg streams the host's tar into `.current` and the tree archive at once (#20): the copy
is the one rsync makes, a failed or short stream leaves nothing in the repository, and tree archives of the
earlier kind (`.current` as items) still extract. Real tar, rsync and borg; the host's side runs through `sh -c`
here (the sandbox tests in test_borg.py take it over SSH)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from maint.errors import MaintError
from maint.mirror import manifest as manifest_io
from maint.mirror.borg import BorgRepo
from maint.mirror.manifest import Manifest
from maint.mirror.tarstream import remote_command, stream_first_mirror
from maint.ops.mirror import TreeSource

pytestmark = pytest.mark.skipif(shutil.which("borg") is None, reason="borg not installed (Debian borgbackup)")
TS = "20261207T080000Z"
EXCLUDES = ("/image/cache/*", "/system/storage/logs/*", "/odd name/*.tmp")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> BorgRepo:
    monkeypatch.setenv("BORG_PASSPHRASE", "agency passphrase")
    monkeypatch.setenv("BORG_BASE_DIR", str(tmp_path / "borg-home"))
    subprocess.run(["borg", "init", "-e", "repokey", str(tmp_path / "repo")], check=True, capture_output=True)
    return BorgRepo(str(tmp_path / "repo"), "c", "s")


def _archives(repo: BorgRepo) -> list[str]:
    return subprocess.run(["borg", "list", "--short", repo.location], check=True, capture_output=True,
                          text=True).stdout.split()


def _store(root: Path) -> Path:
    """A tree with what trips copies up: odd names, modes, symlinks (one dangling), hard links, empty and
    excluded folders, a file named like an excluded folder elsewhere."""
    files = {"index.php": "<?php echo 1;", "admin/config.php": "<?php define('DB_PASSWORD', 'x');",
             "image/cache/a/thumb.jpg": "cached", "image/catalog/p.jpg": "jpeg" * 300,
             "system/storage/logs/error.log": "log", "system/storage/upload/file.bin": "u",
             "odd name/- dash ü.txt": "odd", "odd name/skip.tmp": "tmp", "deep/image/cache/kept.txt": "kept",
             "cache": "a file named cache"}
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / "empty").mkdir()
    (root / "admin/config.php").chmod(0o640)
    (root / "index.php").chmod(0o755)
    os.symlink("index.php", root / "link.php")
    os.symlink("nowhere", root / "dangling")
    os.link(root / "image/catalog/p.jpg", root / "image/catalog/same.jpg")
    os.utime(root / "index.php", (1_600_000_000, 1_600_000_000))
    return root


def _walk(root: Path) -> dict[str, tuple[object, ...]]:
    out: dict[str, tuple[object, ...]] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        kind = "l" if path.is_symlink() else "d" if path.is_dir() else "f"
        out[str(path.relative_to(root))] = (
            kind, st.st_mode, st.st_uid, st.st_gid, st.st_size if kind == "f" else 0,
            int(st.st_mtime) if kind != "d" else None,  # tar keeps whole seconds; rsync compares only those
            os.readlink(path) if kind == "l" else (path.read_bytes() if kind == "f" else None))
    return out


def test_the_streamed_copy_is_the_one_rsync_makes_and_the_archive_holds_the_same_tree(
    tmp_path: Path, repo: BorgRepo,
) -> None:
    src = _store(tmp_path / "host" / "www")
    tree = TreeSource("www", str(src), EXCLUDES)
    command = remote_command([tree])
    assert command is not None
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    size = stream_first_mirror(["sh", "-c"], command, mirror, repo, TS)
    assert size > 0 and _archives(repo) == [f"c-s-{TS}.files.tar"]

    by_rsync = tmp_path / "rsync"
    subprocess.run(["rsync", "-a", "--numeric-ids", *[f"--exclude={e}" for e in EXCLUDES], f"{src}/",
                    f"{by_rsync}/"], check=True)
    assert _walk(mirror / ".current" / "www") == _walk(by_rsync)
    assert (mirror / ".current/www/deep/image/cache/kept.txt").exists()  # anchored: only the top one goes

    # A no-change rsync over the streamed copy changes nothing: the next run reuses the tree archive.
    before = _walk(mirror / ".current" / "www")
    subprocess.run(["rsync", "-a", "--numeric-ids", "--delete", *[f"--exclude={e}" for e in EXCLUDES],
                    f"{src}/", f"{mirror / '.current/www'}/"], check=True)
    assert _walk(mirror / ".current" / "www") == before

    out = tmp_path / "out"
    out.mkdir()
    repo._extract_tar(f"{TS}.files.tar", out)
    assert _walk(out / ".current" / "www") == before


def test_a_failed_stream_leaves_no_tree_archive_and_says_why(tmp_path: Path, repo: BorgRepo) -> None:
    (tmp_path / "mirror").mkdir()
    with pytest.raises(MaintError, match="could not be archived.*disk on fire"):
        stream_first_mirror(["sh", "-c"], "printf 'half a tar'; echo 'disk on fire' >&2; exit 2",
                            tmp_path / "mirror", repo, TS)
    assert _archives(repo) == []


def test_a_stream_shorter_than_the_host_tar_wrote_is_refused(tmp_path: Path, repo: BorgRepo) -> None:
    src = _store(tmp_path / "host")
    (tmp_path / "mirror").mkdir()
    command = f"tar -C {src} -cf - . && echo 'Total bytes written: 99999999999' >&2"
    with pytest.raises(MaintError, match="the stream held .* bytes, the host's tar wrote 99999999999"):
        stream_first_mirror(["sh", "-c"], command, tmp_path / "mirror", repo, TS)
    assert _archives(repo) == []


def test_a_tree_archive_of_the_earlier_kind_still_extracts(tmp_path: Path, repo: BorgRepo) -> None:
    work = tmp_path / "work"
    (work / ".current" / "www").mkdir(parents=True)
    (work / ".current" / "www" / "index.php").write_text("<?php // old")
    (work / ".partial").mkdir()
    manifest_io.write(work / ".partial", Manifest("c", "s", TS, verified=True, files_archive=f"{TS}.files"))
    for name, path in ((f"{TS}.files", ".current"), (TS, ".partial")):
        subprocess.run(["borg", "create", repo.archive(name), path], cwd=work, check=True, capture_output=True)
    assert repo.trees() == [f"{TS}.files"]
    folder = repo.extract(TS, tmp_path / "extract" / TS)
    assert (folder / "files" / "www" / "index.php").read_text() == "<?php // old"
