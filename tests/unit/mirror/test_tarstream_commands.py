"""The host's tar command of a streamed first mirror into borg (#20): which excludes translate, and the names."""

from __future__ import annotations

import os
import shlex
import threading

from maint.mirror.tarstream import duplicate, gnu_tar_version, remote_command, tar_excludes
from maint.ops.mirror import TreeSource

WWW = TreeSource("www", "/var/www/shop", ("/image/cache/*", "/system/storage/cache/*"))


def test_gnu_tar_versions_are_read_and_other_tars_are_not() -> None:
    assert gnu_tar_version("tar (GNU tar) 1.34\nCopyright") == (1, 34)
    assert gnu_tar_version("bsdtar 3.6.2 - libarchive 3.6.2") is None
    assert gnu_tar_version("tar (busybox) 1.36") is None


def test_anchored_excludes_become_tar_patterns_on_the_path_from_the_root() -> None:
    assert tar_excludes(WWW) == ["var/www/shop/image/cache/*", "var/www/shop/system/storage/cache/*"]
    assert tar_excludes(TreeSource("www", "/srv/shop/", ("/a?c/*.log",))) == ["srv/shop/a?c/*.log"]


def test_excludes_without_a_sure_tar_meaning_send_the_run_to_rsync() -> None:
    for rule in ("*.log", "cache/", "/cache/", "/a/**", "/[ab]", "- /x", "+ /x", "/a\\*"):
        assert tar_excludes(TreeSource("www", "/var/www", (rule,))) is None, rule
    assert tar_excludes(TreeSource("www", "/var/www[1]", ())) is None  # a wildcard in the tree's own path
    assert remote_command([TreeSource("www", "/var/www", ("*.log",))]) is None


def test_the_stream_names_every_tree_under_current_sorted_by_tree_and_keeps_symlink_targets() -> None:
    storage = TreeSource("storage", "/srv/oc.storage", ("/cache/*",))
    argv = shlex.split(str(remote_command([WWW, storage])))
    assert argv[:3] == ["tar", "-C", "/"] and "--sort=name" in argv and "--numeric-owner" in argv
    assert argv[argv.index("--") + 1:] == ["srv/oc.storage", "var/www/shop"]  # storage < www, as `tar -c .current`
    transforms = [a for a in argv if a.startswith("--transform=")]
    assert transforms == ["--transform=s,^srv/oc\\.storage\\(/\\|$\\),.current/storage\\1,rSh",
                          "--transform=s,^var/www/shop\\(/\\|$\\),.current/www\\1,rSh"]
    assert "--exclude=srv/oc.storage/cache/*" in argv and argv.index("--anchored") < argv.index("--")


def test_duplicate_feeds_both_pipes_and_goes_on_for_the_second_when_the_first_stops_reading() -> None:
    data = os.urandom(3 << 20)
    src_r, src_w = os.pipe()
    a_r, a_w = os.pipe()
    b_r, b_w = os.pipe()
    os.close(a_r)  # tar stopped at the archive's end marker

    def write() -> None:
        for i in range(0, len(data), 65536):
            os.write(src_w, data[i:i + 65536])
        os.close(src_w)

    got = bytearray()

    def read() -> None:
        while chunk := os.read(b_r, 1 << 16):
            got.extend(chunk)

    threads = [threading.Thread(target=write), threading.Thread(target=read)]
    for t in threads:
        t.start()
    seen: list[int] = []
    assert duplicate(src_r, a_w, b_w, seen.append) == len(data)
    os.close(b_w)
    for t in threads:
        t.join()
    assert bytes(got) == data and seen[-1] == len(data)
