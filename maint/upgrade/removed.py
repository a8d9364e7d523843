"""Core files of the store's release that the target release no longer has (3.0.3.8 → 3.0.5.1: 485 files,
4.0.2.3 → 4.1.0.4: 2175, most of them old vendor/ libraries). Copying a release only adds and replaces, so
without this step they stay on the store: dead code, some of it with known holes (old payment modules).

Found one of two ways:
- `release`: the store's own release is at hand (`--from-release`): its files minus the target's;
- `list`: it isn't: the store's files under the folders only the core writes to, minus the target's.
  3.0 extensions install into admin/ and catalog/, so on 3.0 only system/ is looked at.
Never listed: protected paths (config files, image/, storage data, the inventory's own), install/ (deleted
anyway), and the files an installed extension recorded (`extension_path`). Removed files are in the
snapshot: a rollback puts them back.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable, Sequence
from pathlib import Path

from maint.remote.sql import table
from maint.upgrade.target import Target

# Folders (release-relative) whose files only the release brings, per line; storage data is protected anyway.
CORE_FOLDERS = {
    "3": ("system/engine", "system/helper", "system/config", "system/storage/vendor"),
    "4": ("admin", "catalog", "system/engine", "system/helper", "system/config", "system/library",
          "system/storage/vendor", "extension/opencart"),
}


def tree_files(tree: Path, *, folders: bool = False) -> set[str]:
    """Every file (or folder) of a release tree, release-relative ('admin/…' for the admin folder)."""
    out: set[str] = set()
    for top, dirs, files in os.walk(tree):  # scandir's entry types: no stat per file (2-3x faster on 4,000)
        rel = os.path.relpath(top, tree)
        base = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        out.update(base + name for name in (dirs if folders else files))
        if not folders:  # a link to a folder is listed by os.walk among the folders
            out.update(base + name for name in dirs if os.path.islink(os.path.join(top, name)))
    return out


def on_store(rel: str, admin_dir: str) -> str:
    """A release-relative path as it is on the store (a renamed admin folder)."""
    admin = admin_dir.strip("/")
    if admin == "admin" or not (rel == "admin" or rel.startswith("admin/")):
        return rel
    return admin + rel[5:]


def is_protected(path: str, rules: Sequence[str]) -> bool:
    """Whether a store-relative path falls under one of the upgrade's rsync exclude rules
    ("/config.php" a file, "/image/" a folder)."""
    full = "/" + path
    for rule in rules:
        if rule.endswith("/"):
            if full.startswith(rule):
                return True
        elif full == rule:
            return True
    return False


_EXTENSION_FILE = re.compile(r"(?:^|/)(\w+)/(\w+)\.\w+$")


def installed_extensions(target: Target) -> set[tuple[str, str]]:
    """(type, code) of every extension installed on the store, the bundled ones included."""
    with target.db() as db, db.cursor() as cur:
        cur.execute(f"SELECT type, code FROM {table(target.prefix, 'extension')}")
        return {(str(t), str(c)) for t, c in cur.fetchall()}


def of_installed(path: str, installed: set[tuple[str, str]]) -> bool:
    """A file of an installed bundled extension: '…/extension/payment/pp_standard.php' (3.0),
    'extension/opencart/admin/controller/payment/cod.php' (4.x), its language and template files too."""
    if "extension/" not in path:
        return False
    match = _EXTENSION_FILE.search(path)
    return bool(match and (match.group(1), match.group(2)) in installed)


def extension_files(target: Target, line: str) -> set[str]:
    """Store-relative files installed extensions recorded (never removed by an upgrade)."""
    from maint.extension.facts import store_path

    with target.db() as db, db.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
                    "AND TABLE_NAME = %s", (target.prefix + "extension_path",))
        if not cur.fetchone()[0]:
            return set()
        cur.execute(f"SELECT path FROM {table(target.prefix, 'extension_path')}")
        return {store_path(line, str(row[0]), target.admin_dir) for row in cur.fetchall()}


def _keep(paths: Iterable[str], rules: Sequence[str], claimed: set[str]) -> list[str]:
    return sorted(p for p in paths if not p.startswith("install/") and not is_protected(p, rules)
                  and p not in claimed)


def _existing(target: Target, paths: Sequence[str]) -> list[str]:
    """Those of `paths` (store-relative) that are files on the store: one command, the list on stdin."""
    if not paths:
        return []
    script = (f"cd {shlex.quote(target.root)} && while IFS= read -r f; do "
              '[ -f "$f" ] || [ -L "$f" ] && printf "%s\\n" "$f"; done; true')
    done = target.sh(script, stdin=("\n".join(paths) + "\n").encode())
    return sorted(line for line in done.stdout.splitlines() if line)


def removed_files(target: Target, release: Path, current: Path | None, line: str, rules: Sequence[str]
                  ) -> tuple[list[str], str, list[str]]:
    """(store-relative files the upgrade removes, how they were found: 'release' or 'list', files kept because
    an installed extension uses them: a bundled payment module the target dropped still takes payments)."""
    wanted = {on_store(p, target.admin_dir) for p in tree_files(release)}
    claimed = extension_files(target, line)
    if current is not None:
        old = {on_store(p, target.admin_dir) for p in tree_files(current)}
        found, how = _existing(target, _keep(old - wanted, rules, claimed)), "release"
    else:
        folders = [on_store(f + "/", target.admin_dir).rstrip("/") for f in CORE_FOLDERS[line]]
        listed = target.sh(f"cd {shlex.quote(target.root)} && for d in {' '.join(shlex.quote(f) for f in folders)}; "
                           'do [ -d "$d" ] && find "$d" \\( -type f -o -type l \\) -print; done; true').stdout.splitlines()
        # A file in a folder the release doesn't have is someone's own (a language pack, a custom controller),
        # except under vendor/, where the release drops whole libraries.
        have = {on_store(d, target.admin_dir) for d in tree_files(release, folders=True)}
        found = _keep((f for f in listed if f and f not in wanted
                       and (f.rsplit("/", 1)[0] in have or f.startswith("system/storage/vendor/"))), rules, claimed)
        how = "list"
    installed = installed_extensions(target) if found else set()
    kept = [f for f in found if of_installed(f, installed)]
    return [f for f in found if f not in set(kept)], how, kept


def remove(target: Target, paths: Sequence[str], release: Path) -> str:
    """Delete the files, then the folders they leave empty that the release doesn't have."""
    if not paths:
        return "no files to remove"
    root = shlex.quote(target.root)
    target.sh(f"cd {root} && xargs -0 rm -f --", stdin="\0".join(paths).encode())
    kept = {on_store(d, target.admin_dir) for d in tree_files(release, folders=True)}
    parents: set[str] = set()
    for path in paths:
        parts = path.split("/")[:-1]
        parents.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
    empty = sorted((d for d in parents if d not in kept), key=lambda d: -d.count("/"))
    if empty:
        target.sh(f"cd {root} && xargs -0 rmdir --ignore-fail-on-non-empty -- 2>/dev/null; true",
                  stdin="\0".join(empty).encode(), check=False)
    return f"{len(paths)} file(s) of the old release removed (the snapshot keeps them)"
