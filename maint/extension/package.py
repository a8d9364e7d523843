"""An `.ocmod.zip` read as the store's own installer reads it, and refused where that installer would be unsafe.

3.0 (admin `marketplace/install/move`): the files under `upload/` are moved into the store, each only if it
lies in one of fifteen allowed folders; an optional `install.xml` at the top is the package's OCMOD.
4.x (`marketplace/installer.install`): `install.json` names the package; every other entry becomes
`extension/<code>/<entry>` (code = the file name without `.ocmod.zip`), except `image/…` and
`system/storage/…`, which go to those folders, and 4.1's `ocmod/*.ocmod.xml`, which become modifications.
Both installers skip `..` themselves in different ways; we refuse it, absolute paths and backslashes outright.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from xml.etree import ElementTree

from maint.errors import InputError

ALLOWED_30 = (
    "admin/controller/extension/", "admin/language/", "admin/model/extension/", "admin/view/image/",
    "admin/view/javascript/", "admin/view/stylesheet/", "admin/view/template/extension/",
    "catalog/controller/extension/", "catalog/language/", "catalog/model/extension/", "catalog/view/javascript/",
    "catalog/view/theme/", "system/config/", "system/library/", "image/catalog/",
)
SUFFIX = ".ocmod.zip"
CODE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


class PackageError(InputError):
    """The package is refused: names the file and the entry."""


@dataclass(frozen=True)
class Modification:
    code: str
    name: str
    version: str
    author: str
    files: tuple[str, ...]  # the <file path="..."> patterns it changes, as written
    xml: str = field(repr=False, default="")

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "version": self.version, "author": self.author,
                "files": list(self.files)}


@dataclass(frozen=True)
class Package:
    source: Path
    line: str  # "3" or "4"
    code: str  # 4.x: the extension folder; 3.0: the modification code or the file name
    name: str
    version: str
    author: str
    link: str
    files: tuple[str, ...]  # store-relative destinations ('admin/' = the store's admin folder)
    modifications: tuple[Modification, ...]
    provides: tuple[tuple[str, str], ...]  # (type, code) of the extensions its admin controllers define

    @property
    def filename(self) -> str:
        return self.source.name

    def as_dict(self) -> dict[str, Any]:
        return {"file": str(self.source), "line": self.line + ".x", "code": self.code, "name": self.name,
                "version": self.version, "author": self.author, "files": list(self.files),
                "modifications": [m.as_dict() for m in self.modifications],
                "provides": [f"{t}/{c}" for t, c in self.provides]}


def parse_ocmod(xml: str, *, file: str, entry: str, code: str = "") -> Modification:
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as exc:
        raise PackageError(f"entry {entry!r}: not valid OCMOD XML ({exc})", file=file) from None

    def text(tag: str) -> str:
        node = root.find(tag)
        return (node.text or "").strip() if node is not None else ""

    found = code or text("code")
    if not found:
        raise PackageError(f"entry {entry!r}: the modification has no <code> (the installer refuses it)", file=file)
    files = tuple(str(f.get("path", "")).strip() for f in root.iter("file") if f.get("path"))
    return Modification(found, text("name"), text("version"), text("author"), files, xml)


def ocmod_targets(pattern: str) -> list[str]:
    """The file patterns of one <file path="a.twig|b.twig">: OCMOD separates alternatives with '|'."""
    return [p.strip() for p in pattern.split("|") if p.strip()]


def _entry_problem(name: str) -> str:
    if "\\" in name:
        return "a backslash in the path"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "an absolute path"
    if ".." in PurePosixPath(name).parts:
        return "'..' in the path (zip slip)"
    if "\x00" in name:
        return "a NUL byte in the path"
    return ""


def _provides(files: list[str], line: str, code: str) -> list[tuple[str, str]]:
    found = []
    pattern = (re.compile(r"^admin/controller/extension/([a-z_]+)/([A-Za-z0-9_]+)\.php$") if line == "3"
               else re.compile(rf"^extension/{re.escape(code)}/admin/controller/([a-z_]+)/([A-Za-z0-9_]+)\.php$"))
    for path in files:
        hit = pattern.match(path)
        if hit:
            found.append((hit.group(1), hit.group(2)))
    return sorted(set(found))


def read_package(path: str | Path, *, store_line: str | None = None) -> Package:
    """Read and check a package. `store_line` ('3' or '4') refuses a package for the other release line."""
    source = Path(path).expanduser()
    file = str(source)
    if not source.is_file():
        raise PackageError("no such file", file=file)
    if not source.name.endswith(SUFFIX):
        raise PackageError(f"the store's installer takes only files named *{SUFFIX}", file=file)
    try:
        with zipfile.ZipFile(source) as zf:
            bad = zf.testzip()
            if bad is not None:
                raise PackageError(f"corrupt zip: entry {bad!r} fails its CRC check", file=file)
            infos = zf.infolist()
            for info in infos:
                problem = _entry_problem(info.filename)
                if problem:
                    raise PackageError(f"entry {info.filename!r} refused: {problem}", file=file)
            names = [i.filename for i in infos]
            entries = {n: zf.read(n) for n in names if n in ("install.json", "install.xml")
                       or (n.startswith("ocmod/") and n.endswith(".ocmod.xml"))}
    except zipfile.BadZipFile as exc:
        raise PackageError(f"corrupt zip: {exc}", file=file) from None
    except (OSError, EOFError, zlib_error()) as exc:
        raise PackageError(f"corrupt zip: {exc}", file=file) from None
    is4 = "install.json" in names
    # A 3.0 package may be an OCMOD alone: install.xml and no upload/ folder (many published ones are).
    is3 = any(n.startswith("upload/") for n in names) or "install.xml" in names
    if not is4 and not is3:
        raise PackageError("missing install.json (a 4.x package), and neither an upload/ folder nor an install.xml "
                           "(a 3.0 package): not an OpenCart extension", file=file)
    line = "4" if is4 else "3"
    check_line(source, line, store_line)
    return _read4(source, names, entries) if line == "4" else _read3(source, names, entries)


def check_line(source: Path, line: str, store_line: str | None) -> None:
    """Refuse a package for the other release line (read before the store's release is known, checked after)."""
    if store_line and store_line != line:
        other = "3.0" if line == "3" else "4.x"
        raise PackageError(f"this is a {other} package ({'upload/ folder' if line == '3' else 'install.json'}), "
                           f"the store runs OpenCart {store_line}.x", file=str(source))


def zlib_error() -> type[Exception]:
    import zlib
    return zlib.error


def _read3(source: Path, names: list[str], entries: dict[str, bytes]) -> Package:
    file = str(source)
    files: list[str] = []
    for name in names:
        if name == "install.xml" or name.endswith("/") and not name.startswith("upload/"):
            continue
        if not name.startswith("upload/"):
            if name.endswith("/"):
                continue
            continue  # the 3.0 installer extracts, then moves only upload/ and reads install.xml
        dest = name[len("upload/"):]
        if not dest:
            continue
        check = dest if dest.endswith("/") else dest
        allowed = any(check.startswith(a) or (len(check) < len(a) and a.startswith(check)) for a in ALLOWED_30)
        if not allowed:
            raise PackageError(f"entry {name!r} refused: {dest!r} is outside the folders the 3.0 installer allows "
                               f"({', '.join(ALLOWED_30[:3])}, …)", file=file)
        if not name.endswith("/"):
            files.append(dest)
    mods: list[Modification] = []
    if "install.xml" in entries:
        mods.append(parse_ocmod(entries["install.xml"].decode("utf-8", "replace"), file=file, entry="install.xml"))
    code = mods[0].code if mods else source.name[: -len(SUFFIX)]
    name = mods[0].name if mods else code
    version = mods[0].version if mods else ""
    author = mods[0].author if mods else ""
    return Package(source, "3", code, name, version, author, "", tuple(sorted(files)), tuple(mods),
                   tuple(_provides(files, "3", code)))


def _read4(source: Path, names: list[str], entries: dict[str, bytes]) -> Package:
    file = str(source)
    code = source.name[: -len(SUFFIX)]
    if not CODE_RE.match(code) or code in (".", "..", "opencart", "ocmod"):
        raise PackageError(f"the file name gives the extension folder {code!r}, which the installer refuses", file=file)
    try:
        info = json.loads(entries["install.json"].decode("utf-8"))
        if not isinstance(info, dict):
            raise ValueError("not an object")
    except (ValueError, UnicodeDecodeError) as exc:
        raise PackageError(f"entry 'install.json' is not valid JSON ({exc}): the installer refuses it", file=file) \
            from None
    files: list[str] = []
    for name in names:
        if name.endswith("/") or name.startswith("ocmod/"):
            continue
        if name.startswith("image/"):
            files.append(name)
        elif name.startswith("system/storage/"):
            files.append(name)  # DIR_STORAGE + the rest
        else:
            files.append(f"extension/{code}/{name}")
    mods = []
    for name in sorted(entries):
        if name.startswith("ocmod/"):
            mod_code = PurePosixPath(name).name[: -len(".ocmod.xml")]
            mods.append(parse_ocmod(entries[name].decode("utf-8", "replace"), file=file, entry=name, code=mod_code))
    return Package(source, "4", code, str(info.get("name") or code), str(info.get("version") or ""),
                   str(info.get("author") or ""), str(info.get("link") or ""), tuple(sorted(files)), tuple(mods),
                   tuple(_provides(files, "4", code)))
