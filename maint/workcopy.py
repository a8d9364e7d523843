"""A working copy of a snapshot on this machine: a private MariaDB, the files, PHP on 127.0.0.1.

The copy lives under `state_dir/workcopy/<client>-<store>/`. Files are copied, not hard-linked:
PHP writes caches, sessions and logs, and a write through a hard link would change the snapshot.
The configs and the store URL settings are rewritten for the local address, so no page or
redirect of the copy points at the live shop.
"""

from __future__ import annotations

import http.client
import json
import re
import secrets
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maint.errors import MaintError, PreconditionError, VerificationError
from maint.mirror.crypt import check_key, open_decrypt
from maint.mirror.dump import COMPRESSORS
from maint.mirror.layout import FILES, count_tree
from maint.mirror.manifest import Manifest
from maint.mirror.modes import open_private, private_dirs, private_file
from maint.mirror.secrets import extract_local
from maint.remote.sql import table

COMPOSE_FILE = Path(__file__).resolve().parent.parent / "docker" / "workcopy" / "compose.yaml"
_DEFINE = r"(define\(\s*'{name}'\s*,\s*)(?:'(?:[^'\\]|\\.)*'|[^)]*?)(\s*\);)"
_NAME = re.compile(r"[^a-z0-9_]")


def php_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def set_define(text: str, name: str, value: str) -> str:
    """Replace the value of `define('NAME', ...)`; a define that is absent stays absent."""
    pattern = re.compile(_DEFINE.format(name=re.escape(name)))
    return pattern.sub(lambda m: m.group(1) + php_quote(value) + m.group(2), text)


def rewrite_config(text: str, *, old_paths: dict[str, str], urls: dict[str, str], db: dict[str, str]) -> str:
    """Move every path of the live store to the working copy, then set URL and DB defines.

    `old_paths` maps absolute live paths (with trailing /) to local ones; longest first, so a storage
    folder inside the web root is moved with its own mapping.
    """
    for old in sorted(old_paths, key=len, reverse=True):
        text = text.replace(php_quote(old)[:-1], php_quote(old_paths[old])[:-1])
    for name, value in {**urls, **db}.items():
        text = set_define(text, name, value)
    return text


def db_name_for(store: str) -> str:
    name = _NAME.sub("_", store.lower())[:24]
    return name if name[:1].isalpha() else "s" + name[:23]


@dataclass
class PageCheck:
    name: str
    url: str
    status: int
    ok: bool
    deprecations: int
    detail: str = ""


@dataclass
class ServeResult:
    store: str
    snapshot: str
    url: str
    root: str
    database: str
    import_seconds: float
    checks: list[PageCheck] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"store": self.store, "snapshot": self.snapshot, "url": self.url, "root": self.root,
                "database": self.database, "import_seconds": self.import_seconds, "warnings": self.warnings,
                "checks": [c.__dict__ for c in self.checks]}


class WorkCopy:
    def __init__(self, state_dir: Path, client: str, store: str) -> None:
        self.store = store
        self.base = Path(state_dir).expanduser() / "workcopy" / f"{client}-{store}"
        self.files = self.base / FILES
        self.logs = self.base / "logs"
        self.state_file = self.base / "state.json"

    # -- processes -------------------------------------------------------------------------------
    def stop(self) -> list[str]:
        """Stop the copy's PHP and MariaDB (by the PIDs recorded when they started)."""
        from maint.sandbox.process import ProcessRef, stop_process

        stopped = []
        state = self._state()
        if state.get("docker_project"):
            subprocess.run(["docker", "compose", "-f", str(COMPOSE_FILE), "-p", state["docker_project"], "down"],
                           capture_output=True, check=False, timeout=120)
            stopped.append("docker")
        for key in ("php", "mariadb"):
            ref = state.get(key)
            if ref and stop_process(ProcessRef.from_dict(ref)):
                stopped.append(key)
        if self.state_file.exists():
            self.state_file.unlink()
        return stopped

    def _state(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.state_file.read_text())
            return data
        except (OSError, ValueError):
            return {}

    def _save(self, **data: Any) -> None:
        private_dirs(self.base, top=self.base.parent)
        text = json.dumps({**self._state(), **data}, indent=2)
        with open(open_private(self.state_file), "w", encoding="utf-8") as handle:
            handle.write(text)

    # -- the steps -------------------------------------------------------------------------------
    def copy_files(self, snapshot: Path, manifest: Manifest, identity: str = "") -> None:
        """rsync the snapshot's trees into the copy (fast, and deletes what an older copy had extra);
        an encrypted snapshot's secrets tar is decrypted into it. The copy is 0700: it holds client data."""
        private_dirs(self.files, top=self.base.parent)
        for root in manifest.roots:
            src, dest = snapshot / FILES / root.name, self.files / root.name
            done = subprocess.run(["rsync", "-a", "--delete", f"{src}/", f"{dest}/"], capture_output=True, text=True,
                                  check=False)
            if done.returncode != 0:
                raise MaintError(f"copying {src} failed: {done.stderr.strip()[-300:]}", store=self.store)
        for archive in manifest.secrets:
            tree = self.files / archive.tree
            extract_local(snapshot / archive.file, manifest.encryption, identity, tree, store=self.store)
            got = sum(count_tree(tree / p)[0] if (tree / p).is_dir() else int((tree / p).is_file())
                      for p in archive.paths)
            if got != archive.files:
                raise VerificationError(f"{archive.file}: {got} files after decryption, the manifest says "
                                        f"{archive.files}", store=self.store)
        for rel in ("image/cache", *(f"{manifest.storage_rel}/{d}" for d in ("cache", "logs", "session")
                                     if manifest.storage_rel)):
            (self.files / "www" / rel).mkdir(parents=True, exist_ok=True)
        if manifest.storage_root:
            for d in ("cache", "logs", "session"):
                (self.files / manifest.storage_root / d).mkdir(parents=True, exist_ok=True)

    def start_database(self) -> Any:
        from maint.sandbox.mariadb import MariaDB

        server = MariaDB(self.base / "mariadb")
        ref = server.start()
        self._save(mariadb=ref.as_dict(), mariadb_port=server.port, socket=str(server.socket))
        return server

    def import_dump(self, server: Any, dump: Path, database: str, password: str, encryption: str = "",
                    identity: str = "") -> float:
        """Stream the dump through the local decompressor into the `mariadb` client (as fast as the tool)."""
        started = time.monotonic()
        with server.connect() as admin, admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
            cur.execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
            for host in ("127.0.0.1", "localhost"):
                cur.execute("CREATE OR REPLACE USER %s@%s IDENTIFIED BY %s", (database, host, password))
                cur.execute(f"GRANT ALL ON `{database}`.* TO %s@%s", (database, host))
        compression = "zstd" if ".zst" in dump.name else "gzip"
        decrypt = open_decrypt(encryption, identity, dump) if encryption else None
        unpack = subprocess.Popen([*COMPRESSORS[compression][1], *([] if decrypt else [str(dump)])],
                                  stdin=decrypt.stdout if decrypt else None, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        if decrypt is not None and decrypt.stdout is not None:
            decrypt.stdout.close()
        client = subprocess.Popen(["mariadb", "--no-defaults", f"--socket={server.socket}", "--user=root",
                                   "--max-allowed-packet=512M", database], stdin=unpack.stdout,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert unpack.stdout is not None
        unpack.stdout.close()
        _, err = client.communicate()
        unpack.wait()
        if decrypt is not None and decrypt.wait() != 0:
            reason = decrypt.stderr.read().decode(errors="replace").strip() if decrypt.stderr else ""
            raise MaintError(f"decrypting {dump.name} failed: {reason[-200:]}", store=self.store)
        if client.returncode != 0 or unpack.returncode != 0:
            raise MaintError(f"importing {dump.name} failed: {err.decode(errors='replace').strip()[-300:]}",
                             store=self.store)
        return time.monotonic() - started

    def check_rows(self, server: Any, database: str, manifest: Manifest) -> None:
        """Every table's row count as the manifest recorded it (after decryption, for an encrypted dump)."""
        with server.connect(database) as conn, conn.cursor() as cur:
            wrong = []
            for name, rows in manifest.dump.tables.items():
                cur.execute(f"SELECT COUNT(*) FROM {table('', name)}")  # noqa: S608 - name checked by table()
                if int(cur.fetchone()[0]) != rows:
                    wrong.append(name)
        if wrong:
            raise VerificationError(f"the imported {manifest.dump.file} differs from the manifest in {len(wrong)} "
                                    f"table(s): {', '.join(wrong[:5])}", store=self.store)

    def rewrite(self, manifest: Manifest, url: str, db: dict[str, str], server: Any, database: str) -> None:
        """Both config files, and the URL settings in the database, for the local address."""
        www_remote = next(r.remote for r in manifest.roots if r.name == "www").rstrip("/") + "/"
        paths = {www_remote: str(self.files / "www") + "/"}
        for root in manifest.roots:
            if root.name != "www":
                paths[root.remote.rstrip("/") + "/"] = str(self.files / root.name) + "/"
        admin_url = url + manifest.admin_dir + "/"
        for rel, urls in (("config.php", {"HTTP_SERVER": url, "HTTPS_SERVER": url}),
                          (f"{manifest.admin_dir}/config.php", {"HTTP_SERVER": admin_url, "HTTPS_SERVER": admin_url,
                                                                "HTTP_CATALOG": url, "HTTPS_CATALOG": url})):
            path = self.files / "www" / rel
            if not path.is_file():
                raise PreconditionError(f"the snapshot has no {rel}", store=self.store)
            text = path.read_text(encoding="utf-8", errors="surrogateescape")
            path.write_text(rewrite_config(text, old_paths=paths, urls=urls, db=db), encoding="utf-8",
                            errors="surrogateescape")
            private_file(path)  # it now holds the working copy's DB password
        prefix = manifest.db_prefix
        with server.connect(database) as conn, conn.cursor() as cur:
            cur.execute(f"UPDATE {table(prefix, 'setting')} SET `value` = %s "  # noqa: S608 - prefix checked
                        "WHERE store_id = 0 AND `key` IN ('config_url', 'config_ssl')", (url,))
            cur.execute(f"UPDATE {table(prefix, 'store')} SET url = %s", (url,))  # noqa: S608 - prefix checked

    def start_php(self, port: int | None = None) -> str:
        from maint.sandbox.php import PhpServer

        php = PhpServer(self.store, self.files / "www", self.logs, port=port)
        ref = php.start()
        self._save(php=ref.as_dict(), url=php.url)
        return php.url

    def start_php_docker(self, php_version: str, port: int, storage: Path | None) -> str:
        """The store's own PHP in the official image (docker/workcopy/compose.yaml), on 127.0.0.1:port."""
        major_minor = ".".join(php_version.split(".")[:2]) or "7.4"
        project = f"maint-wc-{db_name_for(self.store)}"
        env = {"PHP_VERSION": major_minor, "DOCROOT": str(self.files / "www"), "PORT": str(port),
               "STORAGE": str(storage) if storage else "/nonexistent"}
        import os

        done = subprocess.run(["docker", "compose", "-f", str(COMPOSE_FILE), "-p", project, "up", "-d", "--build"],
                              capture_output=True, text=True, check=False, env={**os.environ, **env}, timeout=900)
        if done.returncode != 0:
            raise MaintError(f"docker compose failed: {done.stderr.strip()[-300:]}", store=self.store)
        self._save(docker_project=project, url=f"http://127.0.0.1:{port}/")
        from maint.sandbox.php import answers_http

        deadline = time.monotonic() + 60
        while not answers_http(port):
            if time.monotonic() > deadline:
                raise MaintError(f"the PHP {major_minor} container does not answer on port {port}", store=self.store)
            time.sleep(0.2)
        return f"http://127.0.0.1:{port}/"

    def check_pages(self, server: Any, database: str, prefix: str, url: str) -> list[PageCheck]:
        """Home, the first enabled product, and a search for a word of its name must render."""
        with server.connect(database) as conn, conn.cursor() as cur:
            cur.execute(
                f"SELECT p.product_id, d.name FROM {table(prefix, 'product')} p "  # noqa: S608 - prefix checked
                f"JOIN {table(prefix, 'product_description')} d ON d.product_id = p.product_id "
                "WHERE p.status = 1 ORDER BY p.product_id LIMIT 1")
            row = cur.fetchone()
        pages = [("home", "index.php?route=common/home")]
        if row:
            word = (str(row[1]).split() or ["a"])[0]
            pages.append(("product", f"index.php?route=product/product&product_id={int(row[0])}"))
            pages.append(("search", f"index.php?route=product/search&search={_urlquote(word)}"))
        return [_fetch(name, url + path) for name, path in pages]


def _urlquote(text: str) -> str:
    from urllib.parse import quote

    return quote(text)


def _fetch(name: str, url: str) -> PageCheck:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=30)
    try:
        conn.request("GET", f"{parts.path}?{parts.query}" if parts.query else parts.path or "/")
        response = conn.getresponse()
        body = response.read().decode("utf-8", "replace")
        status = response.status
    except (OSError, http.client.HTTPException) as exc:
        return PageCheck(name, url, 0, False, 0, f"no answer: {exc}")
    finally:
        conn.close()
    deprecations = body.count("Deprecated:")
    fatal = re.search(r"(Fatal error|Parse error|Error: |Warning: )[^<\n]{0,160}", body)
    ok = status == 200 and fatal is None
    return PageCheck(name, url, status, ok, deprecations, fatal.group(0) if fatal else "")


def serve(
    state_dir: Path, manifest: Manifest, snapshot: Path, *, port: int | None = None, docker: bool = False,
    identity: str = "", check_pages: bool = True,
) -> ServeResult:
    """Import, copy, rewrite, start PHP, check pages (`check_pages=False`: the caller checks them itself, as
    the upgrade's rehearsal does). Stops an earlier copy of the same store first."""
    if not manifest.verified:
        raise VerificationError(f"snapshot {snapshot.name} did not pass verification; refusing to import it",
                                store=manifest.store)
    dump = snapshot / manifest.dump.file
    if not dump.is_file():
        raise VerificationError(f"snapshot {snapshot.name} has no {manifest.dump.file}", store=manifest.store)
    if manifest.encryption:  # a wrong or missing key stops here, before an earlier copy is touched
        check_key(manifest.encryption, identity, dump, store=manifest.store)
    wc = WorkCopy(state_dir, manifest.client, manifest.store)
    wc.stop()
    if not shutil.which("mariadb") or not shutil.which("php"):
        raise PreconditionError("a working copy needs the `mariadb` client and `php` on this machine",
                                store=manifest.store)
    with ThreadPoolExecutor(max_workers=1) as pool:
        starting = pool.submit(wc.start_database)  # MariaDB starts while the files are copied
        try:
            wc.copy_files(snapshot, manifest, identity)
        except BaseException:
            with suppress(Exception):
                starting.result()
            wc.stop()  # nothing half-up left behind
            raise
        server = starting.result()
    database = db_name_for(manifest.store)
    password = secrets.token_urlsafe(18)
    seconds = wc.import_dump(server, dump, database, password, manifest.encryption, identity)
    wc.check_rows(server, database, manifest)
    from maint.sandbox import ports

    port = port or ports.free_port()
    url = f"http://127.0.0.1:{port}/"
    db = {"DB_HOSTNAME": "127.0.0.1", "DB_PORT": str(server.port), "DB_USERNAME": database, "DB_PASSWORD": password,
          "DB_DATABASE": database}
    wc.rewrite(manifest, url, db, server, database)
    if docker:
        storage = wc.files / manifest.storage_root if manifest.storage_root else None
        wc.start_php_docker(manifest.php_version, port, storage)
    else:
        wc.start_php(port)
    result = ServeResult(manifest.store, manifest.timestamp, url, str(wc.files / "www"), database, round(seconds, 3))
    if check_pages:
        result.checks = wc.check_pages(server, database, manifest.db_prefix, url)
    wc._save(snapshot=manifest.timestamp, url=url, database=database)
    return result
