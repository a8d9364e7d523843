"""The release to upgrade to: an official zip, a `git archive` tarball or an unpacked folder.

Whatever the form, the shop is the folder holding `index.php` with a VERSION define and `install/`
(the `upload/` folder of a release); it is unpacked into a private temporary folder, streaming, with
every entry's path checked, and its version is read from its own `index.php`.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from maint.errors import InputError

_VERSION_DEFINE = re.compile(r"define\(\s*'VERSION'\s*,\s*'([^']+)'\s*\)")


@dataclass(frozen=True)
class Release:
    version: str
    tree: Path  # the shop folder: index.php, admin/, catalog/, install/, system/
    source: Path
    sha256: str = ""

    @property
    def has_installer(self) -> bool:
        return (self.tree / "install" / "index.php").is_file()


def sha256_of(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()  # streamed, never the whole file in memory


def read_version(tree: Path) -> str | None:
    try:
        match = _VERSION_DEFINE.search((tree / "index.php").read_text(errors="replace")[:4096])
    except OSError:
        return None
    return match.group(1) if match else None


def find_shop(folder: Path) -> Path | None:
    """The shop folder inside an unpacked release: itself, upload/, or <top>/upload/ (git archive --prefix)."""
    for candidate in (folder, folder / "upload", *sorted(folder.glob("*/upload")), *sorted(folder.glob("*"))):
        if candidate.is_dir() and read_version(candidate) and (candidate / "system").is_dir():
            return candidate
    return None


def _safe_member(name: str, source: Path) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise InputError(f"{source.name}: unsafe path {name!r} in the archive; refusing it", file=str(source))
    return path


def _unpack_zip(source: Path, dest: Path) -> None:
    try:
        with zipfile.ZipFile(source) as archive:
            bad = archive.testzip()
            if bad is not None:
                raise InputError(f"{source.name}: corrupt archive (bad CRC in {bad})", file=str(source))
            for info in archive.infolist():
                rel = _safe_member(info.filename, source)
                target = dest.joinpath(*rel.parts)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
    except (zipfile.BadZipFile, EOFError) as exc:
        raise InputError(f"{source.name}: not a readable zip archive ({exc}); is it complete?", file=str(source)) from None


def _unpack_tar(source: Path, dest: Path) -> None:
    try:
        with tarfile.open(source, "r|*") as archive:  # streaming: one pass, no index in memory
            for member in archive:
                _safe_member(member.name, source)
                if member.issym() or member.islnk():
                    continue  # no release needs links; a link could point outside the tree
                archive.extract(member, dest, filter="data")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise InputError(f"{source.name}: not a readable tar archive ({exc}); is it complete?", file=str(source)) from None


def open_release(source: Path, *, expect: str = "", sha256: str = "", work: Path | None = None) -> Release:
    """Unpack (when an archive) and identify a release. `work` receives the unpacked files (a temp folder
    by default; the caller removes it). Raises InputError naming the file for every bad input."""
    source = Path(source).expanduser()
    if not source.exists():
        raise InputError(f"{source}: no such release file or folder", file=str(source), column="--release")
    digest = ""
    if sha256:
        if source.is_dir():
            raise InputError("--sha256 checks an archive, not a folder", column="--sha256")
        digest = sha256_of(source)
        if digest.lower() != sha256.strip().lower():
            raise InputError(f"{source.name}: checksum mismatch: sha256 is {digest}, expected {sha256.strip()}",
                             file=str(source), column="--sha256")
    if source.is_dir():
        tree = find_shop(source)
    else:
        folder = Path(tempfile.mkdtemp(prefix="maint-release-", dir=work))
        name = source.name.lower()
        if name.endswith(".zip"):
            _unpack_zip(source, folder)
        elif name.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar.zst")):
            _unpack_tar(source, folder)
        else:
            raise InputError(f"{source.name}: a release is a .zip, a .tar(.gz) or a folder", file=str(source))
        tree = find_shop(folder)
    if tree is None:
        raise InputError(f"{source.name}: no OpenCart shop in it (no index.php with a VERSION define next to "
                         f"system/)", file=str(source))
    version = read_version(tree) or ""
    if expect and version != expect:
        raise InputError(f"{source.name} is OpenCart {version}, not {expect} (its index.php says so)",
                         file=str(source), column="--to")
    release = Release(version, tree, source, digest)
    if not release.has_installer:
        raise InputError(f"{source.name}: OpenCart {version} without its install/ folder (the database upgrade "
                         f"runs from it)", file=str(source))
    return release
