"""`maint add-store`: find a store's OpenCart root on its host, and write it into the client's inventory file.

Finding the root is one shell round trip over the usual places hosting panels and distributions
put web roots; a root is a folder with ``config.php``, an ``index.php`` holding the VERSION define,
and an admin ``config.php`` one level down (``admin/``, or a renamed admin folder in 4.x).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from fabric import Connection

from maint.errors import InventoryError, NotOpenCartError
from maint.inventory import NAME_RE, Inventory, load_inventory
from maint.remote.ssh import run

# Relative entries are under the SSH user's home folder.
SEARCH_PLACES = (
    ".", "public_html", "www", "htdocs", "httpdocs", "html", "web", "shop", "store",
    "public_html/*", "domains/*/public_html", "*/public_html", "*/htdocs", "*/www", "*",
    "/var/www/html", "/var/www/*", "/var/www/*/public_html", "/var/www/*/htdocs", "/var/www/*/web",
    "/var/www/*/html", "/var/www/vhosts/*/httpdocs", "/srv/www/*", "/srv/www/*/public_html",
    "/srv/http/*", "/usr/share/nginx/html", "/home/*/public_html", "/home/*/www",
)


def find_roots_script(places: tuple[str, ...] = SEARCH_PLACES) -> str:
    """A POSIX sh script printing ``ROOT <absolute path>`` for every OpenCart root among ``places``."""
    globs = " ".join(p if p.startswith("/") else '"$HOME"/' + p for p in places)
    return (
        f"for d in {globs}; do "
        '[ -f "$d/config.php" ] && [ -f "$d/index.php" ] || continue; '
        "grep -qs \"define('VERSION'\" \"$d/index.php\" || grep -qs 'define(\"VERSION\"' \"$d/index.php\" || continue; "
        'for a in "$d"/*/config.php; do [ -f "$a" ] && { (cd "$d" && pwd -P) | sed "s/^/ROOT /"; break; }; done; '
        "done 2>/dev/null; true"
    )


def parse_roots(output: str) -> list[str]:
    """The distinct roots in the script's output, in the order found."""
    roots: list[str] = []
    for line in output.splitlines():
        if line.startswith("ROOT "):
            root = line[5:].strip()
            if root and root not in roots:
                roots.append(root)
    return roots


def find_root(conn: Connection, host: str, store: str) -> str:
    """The one OpenCart root on the host; several or none is an error saying what to pass."""
    roots = parse_roots(run(conn, find_roots_script(), store=store).stdout)
    if len(roots) == 1:
        return roots[0]
    if not roots:
        raise NotOpenCartError(
            f"no OpenCart root found on {host} (looked for config.php, admin/config.php and index.php with a "
            f"VERSION define under ~, ~/public_html, /var/www/* and other usual places); pass --root PATH",
            store=store,
        )
    raise NotOpenCartError(
        f"{len(roots)} OpenCart roots on {host}: {', '.join(roots)}; pass --root with the one to add", store=store
    )


def store_entry(name: str, host: str, root: str, admin: str, url: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "host": host, "root": root, "admin": admin}
    if url:
        entry["url"] = url
    return entry


def check_new_store(inventory: Inventory | None, client: str, store: str) -> None:
    """Names valid, and the store not in the inventory yet (before any connection opens)."""
    for what, value in (("client", client), ("store", store)):
        if not NAME_RE.match(value):
            raise InventoryError(f"{what} name {value!r}: use lower-case letters, digits, - and _")
    if inventory is None:
        return
    for known in inventory.clients:
        for entry in known.stores:
            if entry.name == store:
                raise InventoryError(f"store {store!r} is already in the inventory ({known.file})")


def read_inventory(folder: Path, plans_file: Path) -> Inventory | None:
    """The inventory, or None for a folder with no client files yet (a fresh `maint init`)."""
    if folder.is_dir() and not any(p for p in [*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        return None
    return load_inventory(folder, plans_file)


def client_file_text(inventory: Inventory | None, folder: Path, client: str, entry: dict[str, Any],
                     plan: str) -> tuple[Path, str]:
    """The client's file with the store added: appended to its ``stores:`` list when that is the last
    key (comments kept), else the YAML rewritten; a new client gets a new file."""
    existing = next((c for c in inventory.clients if c.name == client), None) if inventory else None
    block = yaml.safe_dump([entry], sort_keys=False, default_flow_style=False)
    block = "".join("  " + line if line.strip() else line for line in block.splitlines(keepends=True))
    if existing is None:
        path = folder / f"{client}.yaml"
        if path.exists():
            raise InventoryError(f"{path} exists but does not define client {client!r}")
        text = (
            f"# Client {client}, written by `maint add-store`. Inventory files hold no secrets:\n"
            "# database credentials are read from each store's config.php over SSH.\n"
            f"name: {client}\ntitle: {client}\nplan: {plan}\n"
            "contacts: []                 # - {name: ..., email: ..., role: owner}\n"
            "stores:\n" + block
        )
        return path, text
    path = existing.file
    text = path.read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    last_key = _last_top_level_key(text)
    if last_key == "stores" and isinstance(data.get("stores"), list) and data["stores"]:
        return path, text + ("" if text.endswith("\n") else "\n") + block
    stores = list(data.get("stores") or [])
    stores.append(entry)
    data["stores"] = stores
    return path, yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _last_top_level_key(text: str) -> str | None:
    last = None
    for line in text.splitlines():
        match = re.match(r"^([A-Za-z_][\w-]*)\s*:", line)
        if match:
            last = match.group(1)
    return last


def write_client_file(path: Path, text: str, folder: Path, plans_file: Path) -> None:
    """Write atomically (0600), then re-read the whole inventory; a file that does not load is put back."""
    before = path.read_bytes() if path.exists() else None
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
    try:
        load_inventory(folder, plans_file)
    except InventoryError:
        if before is None:
            path.unlink()
        else:
            path.write_bytes(before)
        raise
