"""What a store has installed: packages and the files each brought, extensions per type, OCMOD
modifications, vQmod scripts, and files under the extension folders no package claims. Read over a
`Target` (the live store or a working copy), read-only.

Tables (opencart-facts B3.3): 3.0 `extension_install` (filename) and `extension_path` (paths as in the
package: 'admin/…' is the admin folder); 4.x `extension_install` (name, code, version, author, status) and
`extension_path` (relative to DIR_EXTENSION, or 'image/…', 'system/storage/…'); `extension` (type, code,
4.x also the folder `extension`); `modification` (3.0 and 4.1; absent in 4.0).
"""

from __future__ import annotations

import shlex
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from maint.errors import ConnectError
from maint.extension.package import SUFFIX, ocmod_targets, parse_ocmod
from maint.remote.sql import table
from maint.upgrade.target import Target


@dataclass
class Installed:
    install_id: int
    code: str  # 4.x: the folder; 3.0: the file name without .ocmod.zip
    filename: str
    name: str
    version: str
    author: str
    date: str
    status: bool | None
    paths: list[str] = field(default_factory=list)  # store-relative, as the plan shows files

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.install_id, "code": self.code, "file": self.filename, "name": self.name,
                "version": self.version, "author": self.author, "date": self.date, "status": self.status,
                "files": self.paths}


@dataclass
class ExtensionRow:
    type: str
    code: str
    folder: str  # 4.x `extension` column ('opencart' for the bundled ones); '' on 3.0
    enabled: bool | None

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "code": self.code, "folder": self.folder, "enabled": self.enabled}


@dataclass
class ModificationRow:
    modification_id: int
    install_id: int
    code: str
    name: str
    version: str
    author: str
    enabled: bool
    files: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.modification_id, "install_id": self.install_id, "code": self.code, "name": self.name,
                "version": self.version, "author": self.author, "enabled": self.enabled, "files": self.files}


@dataclass
class ExtensionFacts:
    store: str
    version: str
    line: str
    installs: list[Installed]
    extensions: list[ExtensionRow]
    modifications: list[ModificationRow]
    vqmod: list[str]
    unclaimed: list[str]
    flags: list[str]

    def install_of(self, code: str, filename: str = "") -> Installed | None:
        for inst in self.installs:
            if inst.code == code or inst.filename == code + SUFFIX or (filename and inst.filename == filename):
                return inst
        return None

    def as_dict(self) -> dict[str, Any]:
        return {"store": self.store, "version": self.version, "installs": [i.as_dict() for i in self.installs],
                "extensions": [e.as_dict() for e in self.extensions],
                "modifications": [m.as_dict() for m in self.modifications], "vqmod": self.vqmod,
                "unclaimed": self.unclaimed, "flags": self.flags}


def _has_table(cur: Any, prefix: str, name: str) -> bool:
    cur.execute("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
                (prefix + name,))
    return bool(cur.fetchone()[0])


def _columns(cur: Any, prefix: str, name: str) -> set[str]:
    cur.execute("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
                (prefix + name,))
    return {str(r[0]) for r in cur.fetchall()}


def store_path(line: str, recorded: str, admin_dir: str) -> str:
    """An extension_path row as a path relative to the store root."""
    if line == "3":
        return admin_dir.strip("/") + recorded[5:] if recorded.startswith("admin/") else recorded
    if recorded.startswith(("image/", "system/storage/")):
        return recorded
    return "extension/" + recorded


def _status(settings: dict[str, str], modules: dict[str, list[bool]], type_: str, code: str, folder: str
            ) -> bool | None:
    key = f"{type_}_{code}_status"
    if key in settings:
        return settings[key] == "1"
    instances = modules.get(code) or modules.get(f"{folder}.{code}")
    if instances:
        return any(instances)
    return None


def read_extensions(target: Target, version: str, *, core_files: set[str] | None = None) -> ExtensionFacts:
    import json

    line = "3" if version.startswith("3") else "4"
    p = target.prefix
    installs: list[Installed] = []
    extensions: list[ExtensionRow] = []
    mods: list[ModificationRow] = []
    with target.db() as db, db.cursor() as cur:
        cols = _columns(cur, p, "extension_install")
        select = ", ".join(c if c in cols else "''" for c in
                           ("extension_install_id", "filename", "code", "name", "version", "author", "status",
                            "date_added"))
        cur.execute(f"SELECT {select} FROM {table(p, 'extension_install')} ORDER BY extension_install_id")
        for iid, filename, code, name, ver, author, status, date in cur.fetchall():
            filename = str(filename or (f"{code}{SUFFIX}" if code else ""))
            code = str(code or filename.removesuffix(SUFFIX))
            installs.append(Installed(int(iid), code, filename, str(name or code), str(ver or ""), str(author or ""),
                                      str(date or ""), None if status == "" else bool(status)))
        by_id = {i.install_id: i for i in installs}
        cur.execute(f"SELECT extension_install_id, path FROM {table(p, 'extension_path')} ORDER BY path")
        for iid, path in cur.fetchall():
            if int(iid) in by_id:
                by_id[int(iid)].paths.append(store_path(line, str(path), target.admin_dir))
        cur.execute(f"SELECT store_id, `key`, `value` FROM {table(p, 'setting')} WHERE `key` LIKE %s AND store_id = 0",
                    ("%\\_status",))
        settings = {str(k): str(v) for _, k, v in cur.fetchall()}
        modules: dict[str, list[bool]] = defaultdict(list)
        cur.execute(f"SELECT code, setting FROM {table(p, 'module')}" if _has_table(cur, p, "module")
                    else "SELECT '', '' FROM DUAL WHERE FALSE")
        for code, setting in cur.fetchall():
            try:
                enabled = bool(int(json.loads(setting or "{}").get("status") or 0))
            except (ValueError, AttributeError, TypeError):
                enabled = False
            modules[str(code)].append(enabled)
        ecols = _columns(cur, p, "extension")
        folder_col = "extension" if "extension" in ecols else "''"
        cur.execute(f"SELECT type, code, {folder_col} FROM {table(p, 'extension')} ORDER BY type, code")
        for type_, code, folder in cur.fetchall():
            extensions.append(ExtensionRow(str(type_), str(code), str(folder or ""),
                                           _status(settings, modules, str(type_), str(code), str(folder or ""))))
        if _has_table(cur, p, "modification"):
            cur.execute(f"SELECT modification_id, extension_install_id, code, name, version, author, status, xml "
                        f"FROM {table(p, 'modification')} ORDER BY modification_id")
            for mid, iid, code, name, ver, author, status, xml in cur.fetchall():
                try:
                    files = list(parse_ocmod(str(xml or ""), file="modification", entry=str(code),
                                             code=str(code) or "?").files)
                except Exception:  # noqa: BLE001 - a broken stored XML is listed, not fatal
                    files = ["(unreadable XML)"]
                mods.append(ModificationRow(int(mid), int(iid or 0), str(code), str(name), str(ver or ""),
                                            str(author or ""), bool(status), files))
    for inst in installs:  # 3.0 keeps no name or version for a package: its modification has them
        mod = next((m for m in mods if m.install_id == inst.install_id), None)
        if mod is not None and not inst.version:
            inst.name, inst.version, inst.author = mod.name or inst.name, mod.version, mod.author
            inst.code = mod.code or inst.code
    vqmod = _ls(target, "vqmod/xml", "-name '*.xml*'")
    unclaimed, flags = _unclaimed(target, line, installs, core_files)
    flags += conflicts(mods) + _wrong_line_mods(line, mods)
    return ExtensionFacts(target.store, version, line, installs, extensions, mods, vqmod, unclaimed, flags)


def read_sh(target: Target, command: str, *, stdin: bytes | None = None, tries: int = 3) -> str:
    """A read-only command's output; a dropped SSH connection (exit 255, seen on a loaded host) is retried."""
    for attempt in range(tries):
        done = target.sh(command, check=False, stdin=stdin)
        if done.returncode != 255 or not target.rsync_rsh or attempt == tries - 1:
            break
        time.sleep(1 + attempt)
    if done.returncode == 255 and target.rsync_rsh:
        raise ConnectError(f"{target.label}: SSH connection lost ({done.stderr.strip()[-200:]})", store=target.store)
    return done.stdout


def _ls(target: Target, rel: str, find_args: str = "-type f") -> list[str]:
    root = target.root.rstrip("/") + "/"
    out = read_sh(target, f"cd {shlex.quote(root)} && test -d {shlex.quote(rel)} && find {shlex.quote(rel)} "
                  f"{find_args} -print 2>/dev/null | sort")
    return [line for line in out.splitlines() if line.strip()]


def _unclaimed(target: Target, line: str, installs: list[Installed], core_files: set[str] | None
               ) -> tuple[list[str], list[str]]:
    claimed = {path for inst in installs for path in inst.paths}
    flags: list[str] = []
    admin = target.admin_dir.strip("/")
    if line == "4":
        folders = _ls(target, "extension", "-mindepth 1 -maxdepth 1 -type d")
        codes = {i.code for i in installs}
        unclaimed = [f + "/" for f in folders if f.split("/")[1] not in ("opencart", "ocmod", *codes)]
        old = (_ls(target, f"{admin}/controller/extension", "-mindepth 2 -type f")
               + _ls(target, "catalog/controller/extension", "-mindepth 2 -type f"))
        if old:
            flags.append(f"3.0-style extension files on a 4.x store (they never run): {', '.join(old[:5])}"
                         + (" …" if len(old) > 5 else ""))
        return unclaimed, flags
    if _ls(target, "extension", "-maxdepth 1 -name install.json"):
        flags.append("a 4.x extension folder (extension/…/install.json) on a 3.0 store: it never runs")
    if core_files is None:
        return [], flags
    found = _ls(target, f"{admin}/controller/extension") + _ls(target, "catalog/controller/extension")
    core = {f.replace("admin/", admin + "/", 1) if f.startswith("admin/") else f for f in core_files}
    return [f for f in found if f not in claimed and f not in core], flags


def conflicts(mods: list[ModificationRow]) -> list[str]:
    """Two enabled modifications changing the same file (same path pattern)."""
    users: dict[str, list[str]] = defaultdict(list)
    for mod in mods:
        if mod.enabled:
            for pattern in {t for f in mod.files for t in ocmod_targets(f)}:
                users[pattern].append(mod.code or mod.name)
    return [f"modifications {', '.join(sorted(codes))} all change {pattern}"
            for pattern, codes in sorted(users.items()) if len(codes) > 1]


def _wrong_line_mods(line: str, mods: list[ModificationRow]) -> list[str]:
    out = []
    for mod in mods:
        for pattern in mod.files:
            if (line == "4" and "catalog/view/theme/" in pattern) or (line == "3" and pattern.startswith("extension/")):
                out.append(f"modification {mod.code} changes {pattern}, a {'3.0' if line == '4' else '4.x'} path "
                           f"that doesn't exist on this release line")
                break
    return out
