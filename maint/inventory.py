"""Clients and their stores, one YAML file per client.

The demo client ships in ``maint/playbooks/clients/``; an agency keeps its own folder elsewhere and
points ``maint.inventory`` at it. Errors name the file, the key and what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from maint.errors import InventoryError, PlaybookError
from maint.playbook_files import read_playbook

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# Keys that would mean somebody put a secret in a file that gets copied around and committed.
SECRET_KEY_RE = re.compile(r"pass(word)?|secret|token|private_key|api_key", re.IGNORECASE)

CLIENT_KEYS = {"name", "title", "plan", "contacts", "stores", "notes", "options", "locale"}
STORE_KEYS = {"name", "host", "root", "admin", "url", "mirror", "store_id", "options", "notes"}
CONTACT_KEYS = {"name", "email", "phone", "role"}


@dataclass(frozen=True)
class Contact:
    name: str
    email: str = ""
    phone: str = ""
    role: str = ""


@dataclass(frozen=True)
class StoreEntry:
    name: str
    host: str
    root: str
    admin_dir: str = "admin"
    url: str = ""
    mirror: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    store_id: int = 0  # which store of a multi-store install (oc_store.store_id; 0 = the default store)


@dataclass(frozen=True)
class Client:
    name: str
    plan: str
    file: Path
    title: str = ""
    contacts: tuple[Contact, ...] = ()
    stores: tuple[StoreEntry, ...] = ()
    locale: str = ""  # how the client reads numbers and dates (en_ZA, de_DE): `fab report`
    options: Mapping[str, Any] = field(default_factory=dict)  # per-task settings for all its stores


@dataclass(frozen=True)
class Inventory:
    folder: Path
    clients: tuple[Client, ...]

    def stores(self) -> Iterator[tuple[Client, StoreEntry]]:
        for client in self.clients:
            for store in client.stores:
                yield client, store

    def store_names(self) -> list[str]:
        return [store.name for _, store in self.stores()]

    def find_store(self, name: str) -> tuple[Client, StoreEntry]:
        for client, store in self.stores():
            if store.name == name:
                return client, store
        known = ", ".join(self.store_names()) or "none"
        raise InventoryError(f"no store named {name!r} in {self.folder} (known stores: {known})")

    def find_client(self, name: str) -> Client:
        for client in self.clients:
            if client.name == name:
                return client
        known = ", ".join(c.name for c in self.clients) or "none"
        raise InventoryError(f"no client named {name!r} in {self.folder} (known clients: {known})")


class _Checker:
    """Validates one parsed file, collecting the file name into every message."""

    def __init__(self, file: Path) -> None:
        self.file = file

    def fail(self, key: str, problem: str) -> InventoryError:
        return InventoryError(f"{self.file}: {key}: {problem}")

    def mapping(self, value: Any, key: str, allowed: set[str]) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(key, f"must be a mapping, not {type(value).__name__}")
        for k in value:
            if not isinstance(k, str):
                raise self.fail(key, f"key {k!r} must be text")
            if SECRET_KEY_RE.search(k):
                raise self.fail(
                    f"{key}.{k}" if key else k,
                    "secrets do not belong in inventory files "
                    "(database credentials are read from the store's config.php)",
                )
            if k not in allowed:
                raise self.fail(f"{key}.{k}" if key else k, f"unknown key (allowed: {', '.join(sorted(allowed))})")
        return value

    def text(self, data: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str:
        value = data.get(key)
        label = f"{where}.{key}" if where else key
        if value is None or value == "":
            if required:
                raise self.fail(label, "missing")
            return ""
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise self.fail(label, f"must be text, not {type(value).__name__}")
        return str(value)

    def name(self, data: Mapping[str, Any], where: str) -> str:
        value = self.text(data, "name", where)
        if not NAME_RE.match(value):
            raise self.fail(
                f"{where}.name" if where else "name",
                f"{value!r} must be lower-case letters, digits, '-' or '_' (it is used on the command line)",
            )
        return value

    def no_secrets(self, value: Any, key: str) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                if SECRET_KEY_RE.search(str(k)):
                    raise self.fail(f"{key}.{k}", "secrets do not belong in inventory files")
                self.no_secrets(v, f"{key}.{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                self.no_secrets(v, f"{key}[{i}]")


def parse_client(data: Any, file: Path, plan_names: set[str] | None = None) -> Client:
    check = _Checker(file)
    top = check.mapping(data, "", CLIENT_KEYS)
    name = check.name(top, "")
    plan = check.text(top, "plan", "")
    if plan_names is not None and plan not in plan_names:
        raise check.fail("plan", f"unknown plan {plan!r} (plans: {', '.join(sorted(plan_names))})")
    contacts_raw = top.get("contacts") or []
    if not isinstance(contacts_raw, list):
        raise check.fail("contacts", "must be a list")
    contacts = []
    for i, raw in enumerate(contacts_raw):
        where = f"contacts[{i}]"
        item = check.mapping(raw, where, CONTACT_KEYS)
        contacts.append(
            Contact(
                name=check.text(item, "name", where),
                email=check.text(item, "email", where, required=False),
                phone=check.text(item, "phone", where, required=False),
                role=check.text(item, "role", where, required=False),
            )
        )
    stores_raw = top.get("stores")
    if not isinstance(stores_raw, list) or not stores_raw:
        raise check.fail("stores", "must be a non-empty list of stores")
    stores = []
    for i, raw in enumerate(stores_raw):
        where = f"stores[{i}]"
        item = check.mapping(raw, where, STORE_KEYS)
        options = item.get("options") or {}
        if not isinstance(options, Mapping):
            raise check.fail(f"{where}.options", "must be a mapping of task name to settings")
        check.no_secrets(options, f"{where}.options")
        url = check.text(item, "url", where, required=False)
        if url and not re.match(r"^https?://", url):
            raise check.fail(f"{where}.url", f"{url!r} must start with http:// or https://")
        store_id = item.get("store_id", 0)
        if isinstance(store_id, bool) or not isinstance(store_id, int) or store_id < 0:
            raise check.fail(f"{where}.store_id", f"{store_id!r} must be a whole number from 0 (oc_store.store_id)")
        admin = check.text(item, "admin", where, required=False) or "admin"
        if "/" in admin or admin in (".", ".."):
            raise check.fail(f"{where}.admin", f"{admin!r} must be a folder name under the store root")
        stores.append(
            StoreEntry(
                name=check.name(item, where),
                host=check.text(item, "host", where),
                root=check.text(item, "root", where).rstrip("/") or "/",
                admin_dir=admin,
                url=url,
                mirror=check.text(item, "mirror", where, required=False),
                options=dict(options),
                store_id=store_id,
            )
        )
    client_options = top.get("options") or {}
    if not isinstance(client_options, Mapping):
        raise check.fail("options", "must be a mapping of task name to settings")
    check.no_secrets(client_options, "options")
    return Client(
        name=name,
        plan=plan,
        file=file,
        title=check.text(top, "title", "", required=False) or name,
        contacts=tuple(contacts),
        stores=tuple(stores),
        locale=check.text(top, "locale", "", required=False),
        options=dict(client_options),
    )


def load_plan_names(plans_file: Path) -> set[str] | None:
    """Names under ``plans:`` in plans.yaml, or None when there is no such file to check against."""
    if not plans_file.is_file():
        return None
    try:
        data = read_playbook(plans_file) or {}
    except PlaybookError as exc:
        raise InventoryError(str(exc)) from None
    plans = data.get("plans") if isinstance(data, Mapping) else None
    if not isinstance(plans, Mapping):
        raise InventoryError(f"{plans_file}: plans: missing or not a mapping")
    return {str(k) for k in plans}


def load_inventory(folder: Path, plans_file: Path | None = None) -> Inventory:
    """Read every ``*.yaml``/``*.yml`` client file in ``folder``."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise InventoryError(
            f"inventory folder {folder} does not exist (set maint.inventory in fabric.yaml "
            "or FABRIC_MAINT_INVENTORY)"
        )
    plan_names = load_plan_names(plans_file) if plans_file else None
    files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    if not files:
        raise InventoryError(f"inventory folder {folder} holds no client files (*.yaml)")
    clients: list[Client] = []
    seen_stores: dict[str, Path] = {}
    for file in files:
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            raise InventoryError(f"{file}:{where} not valid YAML ({getattr(exc, 'problem', exc)})") from None
        if data is None:  # all comments (the example `maint init` writes): not a client
            continue
        client = parse_client(data, file, plan_names)
        for other in clients:
            if other.name == client.name:
                raise InventoryError(f"{file}: name: client {client.name!r} is also defined in {other.file}")
        for store in client.stores:
            if store.name in seen_stores:
                raise InventoryError(
                    f"{file}: stores: store {store.name!r} is also defined in {seen_stores[store.name]}"
                )
            seen_stores[store.name] = file
        clients.append(client)
    return Inventory(folder=folder, clients=tuple(clients))
