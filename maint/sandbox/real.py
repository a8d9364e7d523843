"""Real OpenCart releases in the sandbox: a store builder that installs a release with its own installer.

The source is a git repository of github.com/opencart/opencart (a clone or a bare mirror; releases are its
tags) or a folder of official release zips (`opencart-4.1.0.4.zip`, whose `upload/` folder is the shop).
Each release's `upload/` tree is extracted once into the user cache (pristine, `install/` included, so an
upgrade can use it as the new release) and copied for every store; the store is then installed by the
release's own `install/cli_install.php` with its sample data, and `install/` is deleted as on a live shop.

Release quirks on PHP 8.2 (how each installs is measured, not guessed):
- 3.0.3.8's git tag lacks its Composer vendor packages (git submodules); `vendor/composer/autoload_files.php`
  requires two of them on every request, so they are taken from clones of their own repositories at the
  commits the tag names (any git directory beside the source, or listed in $MAINT_OPENCART_VENDOR).
- 3.0.3.8's CLI installer has a five-argument error handler that PHP 8 calls with four: the copy in the store
  (deleted afterwards) is patched, and deprecations are kept out of the install. Its storefront then prints
  PHP 8.2 deprecations into every page unless `config_error_display` is 0, which is set, as on a live shop.
- 4.x's CLI installer refuses to run without config.php files: they are made from config-dist.php first.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql

from maint.sandbox.mariadb import user_cache_dir
from maint.sandbox.process import SandboxError

SOURCE_ENV = "MAINT_OPENCART_SOURCE"
VENDOR_ENV = "MAINT_OPENCART_VENDOR"
# Where a source is looked for when $MAINT_OPENCART_SOURCE is unset: the search tool's mirror on the
# development machines, then a clone in the user's cache.
DEFAULT_SOURCES = (
    Path("/work/.mirror/opencart+opencart/repo"),
    Path("~/.cache/maint/opencart.git"),
    Path("~/.cache/maint/opencart"),
)
REAL_VERSIONS = ("3.0.3.8", "3.0.5.1", "4.0.2.3", "4.1.0.4")
ADMIN_USER = "admin"
_VERSION = re.compile(r"^\d+\.\d+\.\d+\.\d+(?:[._-][A-Za-z0-9]+)?$")
_ZIP_VERSION = re.compile(r"(\d+\.\d+\.\d+\.\d+(?:[._-]?(?:rc|b|a)\d*)?)", re.IGNORECASE)
_VERSION_DEFINE = re.compile(r"define\(\s*'VERSION'\s*,\s*'([^']+)'\s*\)")
PHP = "php"


def how_to_enable() -> str:
    return (f"set ${SOURCE_ENV} to a git clone of github.com/opencart/opencart (releases by tag) or to a folder "
            f"of official release zips")


def find_source(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The release source: `explicit`, else $MAINT_OPENCART_SOURCE, else the first default that exists."""
    wanted = explicit or os.environ.get(SOURCE_ENV)
    if wanted:
        path = Path(wanted).expanduser()
        if not path.exists():
            raise SandboxError(f"OpenCart source {path} does not exist ({how_to_enable()})")
        return path
    for candidate in DEFAULT_SOURCES:
        path = candidate.expanduser()
        if path.exists() and ReleaseSource.looks_like_source(path):
            return path
    return None


def _git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=check)


@dataclass(frozen=True)
class ReleaseSource:
    """A git repository of OpenCart, or a folder of release zips."""

    path: Path

    @staticmethod
    def looks_like_source(path: Path) -> bool:
        if path.is_dir() and any(path.glob("*.zip")):
            return True
        return _git(path, "rev-parse", "--git-dir", check=False).returncode == 0

    @property
    def is_git(self) -> bool:
        return not any(self.path.glob("*.zip")) and _git(self.path, "rev-parse", "--git-dir", check=False).returncode == 0

    def versions(self) -> list[str]:
        if self.is_git:
            tags = _git(self.path, "tag", "--list").stdout.decode().split()
            return sorted((t for t in tags if _VERSION.match(t)), key=_version_key)
        return sorted({v for v in (self._zip_version(z) for z in self.path.glob("*.zip")) if v}, key=_version_key)

    @staticmethod
    def _zip_version(path: Path) -> str | None:
        match = _ZIP_VERSION.search(path.name)
        return match.group(1) if match else None

    def identity(self, version: str) -> str:
        """What the cached tree was made from: the tag's tree id or the zip's size and mtime."""
        if self.is_git:
            done = _git(self.path, "rev-parse", f"{version}^{{tree}}", check=False)
            if done.returncode != 0:
                raise SandboxError(f"OpenCart {version}: no such tag in {self.path} (tags: {self._tag_hint()})")
            return done.stdout.decode().strip()[:12]
        zip_path = self._zip_for(version)
        stat = zip_path.stat()
        return f"zip-{stat.st_size}-{int(stat.st_mtime)}"

    def _tag_hint(self) -> str:
        found = self.versions()
        return ", ".join(found[-8:]) if found else "none"

    def _zip_for(self, version: str) -> Path:
        for path in sorted(self.path.glob("*.zip")):
            if self._zip_version(path) == version:
                return path
        raise SandboxError(f"OpenCart {version}: no release zip for it in {self.path}")

    def export(self, version: str, dest: Path, vendor_repos: Sequence[Path] = ()) -> None:
        """Write the release's `upload/` tree into dest (which exists and is empty)."""
        if self.is_git:
            self._export_git(version, dest)
            self._fill_submodules(version, dest, vendor_repos)
        else:
            self._export_zip(version, dest)

    def _export_git(self, version: str, dest: Path) -> None:
        # Only upload/: some tags' other top-level paths hold blobs a mirror may lack (4.1.0.4's tools/).
        archive = subprocess.Popen(["git", "-C", str(self.path), "archive", "--format=tar", version, "upload"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        untar = subprocess.run(["tar", "-x", "-C", str(dest), "--strip-components=1"], stdin=archive.stdout,
                               capture_output=True, check=False)
        assert archive.stdout is not None
        archive.stdout.close()
        err = archive.stderr.read().decode(errors="replace") if archive.stderr else ""
        if archive.wait() != 0 or untar.returncode != 0:
            raise SandboxError(f"OpenCart {version}: git archive failed: {err.strip() or untar.stderr.decode().strip()}")

    def _fill_submodules(self, version: str, dest: Path, vendor_repos: Sequence[Path]) -> None:
        """Fill the tag's git submodules (3.0.3.8's vendor packages) from other local repositories.

        Those Composer loads on every request (autoload_files.php) are required; the rest (payment SDKs)
        may stay empty, as no page of the sample store loads them."""
        listing = _git(self.path, "ls-tree", "-r", version, "upload").stdout.decode()
        gitlinks = [(line.split()[2], line.split("\t", 1)[1]) for line in listing.splitlines()
                    if line.startswith("160000 ")]
        if not gitlinks:
            return
        autoload = dest / "system" / "storage" / "vendor" / "composer" / "autoload_files.php"
        required_text = autoload.read_text(errors="replace") if autoload.is_file() else ""
        missing = []
        for commit, path in gitlinks:
            rel = path.removeprefix("upload/")
            vendor_rel = rel.split("/vendor/", 1)[-1]
            needed = f"/{vendor_rel}/" in required_text
            repo = next((r for r in vendor_repos if _has_commit(r, commit)), None)
            if repo is None:
                if needed:
                    missing.append(f"{vendor_rel} at {commit[:12]}")
                continue
            target = dest / rel
            target.mkdir(parents=True, exist_ok=True)
            archive = subprocess.Popen(["git", "-C", str(repo), "archive", "--format=tar", commit],
                                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            untar = subprocess.run(["tar", "-x", "-C", str(target)], stdin=archive.stdout, capture_output=True,
                                   check=False)
            assert archive.stdout is not None
            archive.stdout.close()
            if archive.wait() != 0 or untar.returncode != 0:
                raise SandboxError(f"OpenCart {version}: could not extract {vendor_rel} from {repo}")
        if missing:
            raise SandboxError(
                f"OpenCart {version}: its git tag lacks the vendor packages every page loads: {', '.join(missing)}. "
                f"Put clones of their repositories (github.com/reactphp/promise, github.com/symfony/polyfill-mbstring) "
                f"beside the source or list their paths in ${VENDOR_ENV}, or use the official release zip")

    def _export_zip(self, version: str, dest: Path) -> None:
        zip_path = self._zip_for(version)
        try:
            with zipfile.ZipFile(zip_path) as archive:
                names = archive.namelist()
                prefix = next((n[: n.index("upload/") + len("upload/")] for n in names
                               if "upload/" in n and n.count("/", 0, n.index("upload/")) <= 1), None)
                if prefix is None:
                    raise SandboxError(f"{zip_path.name}: no upload/ folder in the zip")
                for info in archive.infolist():
                    if not info.filename.startswith(prefix) or info.filename == prefix:
                        continue
                    rel = info.filename[len(prefix):]
                    if rel.startswith("/") or ".." in Path(rel).parts:
                        raise SandboxError(f"{zip_path.name}: unsafe path {info.filename!r}")
                    target = dest / rel
                    if info.is_dir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with archive.open(info) as src, open(target, "wb") as out:
                        shutil.copyfileobj(src, out)
        except zipfile.BadZipFile as exc:
            raise SandboxError(f"{zip_path.name}: not a readable zip ({exc})") from None


def _has_commit(repo: Path, commit: str) -> bool:
    return _git(repo, "cat-file", "-e", f"{commit}^{{commit}}", check=False).returncode == 0


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:4])


def vendor_repositories(source: Path) -> list[Path]:
    """Git directories that may hold the vendor packages 3.0.3.8's tag lacks: $MAINT_OPENCART_VENDOR, then
    every git directory beside the source (a clone folder, or the search tool's `<owner>+<name>/repo`)."""
    listed = [Path(p).expanduser() for p in os.environ.get(VENDOR_ENV, "").split(os.pathsep) if p]
    around: list[Path] = []
    for parent in {source.resolve().parent, source.resolve().parent.parent}:
        if not parent.is_dir():
            continue
        for child in sorted(parent.iterdir()):
            for candidate in (child, child / "repo"):
                if candidate.is_dir() and candidate.resolve() != source.resolve() and (
                        (candidate / "HEAD").is_file() or (candidate / ".git").exists()):
                    around.append(candidate)
    return listed + around


def release_cache() -> Path:
    return user_cache_dir() / "opencart-releases"


def release_tree(source: ReleaseSource, version: str) -> Path:
    """The pristine `upload/` tree of `version`, extracted once into the cache (install/ included)."""
    if not _VERSION.match(version):
        raise SandboxError(f"{version!r} is not an OpenCart version (like 4.1.0.4)")
    cache = release_cache()
    cache.mkdir(parents=True, exist_ok=True)
    tree = cache / f"{version}-{source.identity(version)}"
    if (tree / "index.php").is_file():
        return tree
    with open(cache / ".lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test runs may build the same release at once
        if (tree / "index.php").is_file():
            return tree
        work = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=cache))
        try:
            source.export(version, work, vendor_repositories(source.path) if source.is_git else ())
            found = read_version(work)
            if found != version:
                raise SandboxError(f"OpenCart {version}: its index.php says {found or 'nothing'}")
            work.rename(tree)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
    return tree


def read_version(root: Path) -> str | None:
    try:
        match = _VERSION_DEFINE.search((root / "index.php").read_text(errors="replace"))
    except OSError:
        return None
    return match.group(1) if match else None


# ------------------------------------------------------------------------------------------------
# installing a store


def _patch_303x_installer(cli: Path) -> None:
    """3.0.3.x's installer on PHP 8: a four-argument-safe error handler that honours error_reporting(),
    and no deprecations during the install (PHP 8.2 raises dozens from 3.0.3.x's code)."""
    text = cli.read_text()
    text, handlers = re.subn(r"function handleError\([^)]*\)\s*\{",
                             "function handleError($errno, $errstr, $errfile = '', $errline = 0, $errcontext = []) {",
                             text, count=1)
    text = text.replace("if (0 === error_reporting()) {", "if (!(error_reporting() & $errno)) {", 1)
    text, startups = re.subn(r"(require_once\(DIR_SYSTEM \. 'startup\.php'\);)",
                             r"\1\nerror_reporting(E_ALL & ~E_DEPRECATED);", text, count=1)
    if not handlers or not startups:
        raise SandboxError(f"{cli}: not the 3.0.3.x installer this patch was written for")
    cli.write_text(text)


def _installer_argv(version: str, db: Any, url: str, prefix: str, admin_password: str) -> list[str]:
    common = ["--db_hostname", db.host, "--db_username", db.user, "--db_password", db.password,
              "--db_database", db.database, "--db_driver", "mysqli", "--db_port", str(db.port),
              "--db_prefix", prefix, "--username", ADMIN_USER, "--password", admin_password,
              "--email", "admin@example.com", "--http_server", url]
    if version.startswith("4.") and _version_key(version) >= (4, 1):
        common += ["--language", "en-gb"]
    return [PHP, "cli_install.php", "install", *common]


def _set_setting(db: Any, prefix: str, key: str, value: str) -> None:
    conn = pymysql.connect(host=db.host, port=db.port, user=db.user, password=db.password, database=db.database,
                           autocommit=True)
    try:
        with conn.cursor() as cur:
            # The prefix was validated by the builder; identifiers cannot be parameters.
            cur.execute(f"UPDATE `{prefix}setting` SET `value` = %s WHERE `store_id` = 0 AND `key` = %s", (value, key))
    finally:
        conn.close()


def _move_storage(root: Path, storage_dir: Path) -> None:
    """Storage outside the web root, as the admin's Security dialog leaves it: the folder moved, DIR_STORAGE
    rewritten in both config files to the absolute path."""
    storage_dir.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(root / "system" / "storage"), str(storage_dir))
    define = re.compile(r"define\('DIR_STORAGE',\s*[^;]+\);")
    for config in (root / "config.php", root / "admin" / "config.php"):
        text = config.read_text()
        new, count = define.subn(f"define('DIR_STORAGE', '{storage_dir.as_posix().rstrip('/')}/');", text, count=1)
        if count != 1:
            raise SandboxError(f"{config}: no DIR_STORAGE define to move")
        config.write_text(new)


@dataclass
class RealStoreBuilder:
    """A StoreBuilder (see maint.sandbox.orchestrator) installing real releases from `source`."""

    source: ReleaseSource

    @classmethod
    def find(cls, explicit: str | os.PathLike[str] | None = None) -> RealStoreBuilder | None:
        path = find_source(explicit)
        return cls(ReleaseSource(path)) if path is not None else None

    def __call__(self, version: str, root: Path, db: Any, *, url: str, prefix: str = "oc_", admin_dir: str = "admin",
                 storage_dir: Path | None = None, size: Any = None, seed: int = 1, engine: str | None = None) -> None:
        if admin_dir != "admin":
            raise SandboxError("real stores keep the release's admin/ folder (a renamed admin is a stand-in feature)")
        if engine is not None:
            raise SandboxError("real stores keep their release's table engines")
        if not re.match(r"^[A-Za-z0-9_]*$", prefix):
            raise SandboxError(f"table prefix {prefix!r}: letters, digits and _ only")
        tree = release_tree(self.source, version)
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        if any(root.iterdir()):
            raise SandboxError(f"{root} is not empty")
        subprocess.run(["cp", "-a", f"{tree}/.", str(root)], check=True)
        install = root / "install"
        if version.startswith("4."):
            for folder in (root, root / "admin"):
                shutil.copyfile(folder / "config-dist.php", folder / "config.php")
        elif _version_key(version) < (3, 0, 4):
            _patch_303x_installer(install / "cli_install.php")
        admin_password = secrets.token_urlsafe(12)
        done = subprocess.run(_installer_argv(version, db, url, prefix, admin_password), cwd=install,
                              capture_output=True, text=True, check=False)
        if done.returncode != 0 or "SUCCESS" not in done.stdout.upper():
            output = (done.stdout + done.stderr).replace(db.password, "***")[-2000:]
            raise SandboxError(f"OpenCart {version}: cli_install.php failed: {output}")
        shutil.rmtree(install)  # as on a live shop: its routes have no authentication
        if _version_key(version) < (3, 0, 4):
            _set_setting(db, prefix, "config_error_display", "0")
        if storage_dir is not None:
            _move_storage(root, Path(storage_dir))
        secret = root.parent / "admin-password"
        fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(admin_password + "\n")


def iter_default_versions(source: ReleaseSource) -> Iterator[str]:
    known = set(source.versions())
    yield from (v for v in REAL_VERSIONS if v in known)
