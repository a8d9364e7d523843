"""The only place configuration is merged.

Lowest to highest: dataclass defaults → the store's inventory entry → ``c.config.maint``
(invoke already merged fabric.yaml, ``FABRIC_MAINT_*`` env vars and ``-f``) → task flags.
The result is frozen: library code receives it as an argument and never reads globals.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from maint.errors import ConfigError
from maint.inventory import Inventory
from maint.playbook_files import BUILTIN_DIR, playbook_path

# The built-in playbooks inside the package; maint.playbooks names the agency's own folder.
PLAYBOOKS_DIR = BUILTIN_DIR


def _frozen(value: Any) -> Any:
    """Deep read-only copy of nested mappings, so a StoreConfig cannot be mutated by a task."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


def _path(value: Any) -> Path:
    return Path(str(value)).expanduser()


@dataclass(frozen=True)
class Settings:
    """Agency-wide settings, independent of any one store."""

    inventory: Path = PLAYBOOKS_DIR / "clients"
    playbooks: Path = PLAYBOOKS_DIR
    state_dir: Path = Path("~/.local/state/maint").expanduser()
    ssh_config: Path | None = None
    known_hosts: Path | None = None
    connect_timeout: float = 15.0
    block_over_budget: bool = False
    parallel: int = 8
    smtp: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    webhook: str = ""
    raw: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def playbook(self, name: str) -> Path:
        """The file for ``name`` (matrix.yaml, ...): the agency's own when it has one, else the built-in one."""
        return playbook_path(name, self.playbooks)

    @property
    def plans_file(self) -> Path:
        return self.playbook("plans.yaml")


_PATH_KEYS = {"inventory", "playbooks", "state_dir", "ssh_config", "known_hosts"}


def load_settings(maint_config: Mapping[str, Any] | None) -> Settings:
    """Build Settings from the ``maint`` section of invoke's merged config."""
    data = dict(maint_config or {})
    known = {f.name for f in dataclasses.fields(Settings)} - {"raw"}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        key = key.replace("-", "_")
        if key not in known or value in (None, ""):
            continue
        if key in _PATH_KEYS:
            kwargs[key] = _path(value)
        elif key in ("connect_timeout",):
            kwargs[key] = float(value)
        elif key == "parallel":
            kwargs[key] = int(value)
        elif key == "block_over_budget":
            kwargs[key] = value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
        elif key == "smtp":
            if not isinstance(value, Mapping):
                raise ConfigError("maint.smtp must be a mapping (host, port, from, to, ...)")
            kwargs[key] = _frozen(value)
        else:
            kwargs[key] = value
    return Settings(**kwargs, raw=_frozen(data))


@dataclass(frozen=True)
class StoreConfig:
    """Everything a task needs to know about one store, merged once."""

    client: str
    store: str
    host: str
    root: str
    admin_dir: str = "admin"
    url: str = ""
    mirror_root: str = ""
    plan: str = ""
    ssh_config: Path | None = None
    known_hosts: Path | None = None
    connect_timeout: float = 15.0
    state_dir: Path = Path("~/.local/state/maint").expanduser()
    dry_run: bool = False
    yes: bool = False
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    store_id: int = 0  # the store of a multi-store install (oc_store.store_id)

    def option(self, section: str, key: str, default: Any = None) -> Any:
        """A per-task override (``options: {mirror: {exclude: [...]}}``): the store's own, else its client's,
        else the agency's (fabric.yaml ``maint.options``)."""
        part = self.options.get(section, {})
        return part.get(key, default) if isinstance(part, Mapping) else default


def store_config(
    settings: Settings, inventory: Inventory, store: str, flags: Mapping[str, Any] | None = None
) -> StoreConfig:
    """Merge defaults, the inventory entry, settings and task flags for one store."""
    client, entry = inventory.find_store(store)
    merged: dict[str, Any] = {
        "client": client.name,
        "store": entry.name,
        "host": entry.host,
        "root": entry.root,
        "admin_dir": entry.admin_dir,
        "url": entry.url,
        "mirror_root": entry.mirror,
        "plan": client.plan,
        "ssh_config": settings.ssh_config,
        "known_hosts": settings.known_hosts,
        "connect_timeout": settings.connect_timeout,
        "state_dir": settings.state_dir,
        "options": _frozen(entry.options),
        "store_id": entry.store_id,
    }
    # Agency-wide per-task defaults (fabric.yaml maint.options.mirror...) sit under the client's own
    # (the inventory file's top-level options), which sit under the store's.
    agency_options = settings.raw.get("options")
    client_options = client.options
    if isinstance(agency_options, Mapping) or client_options:
        layers = [agency_options if isinstance(agency_options, Mapping) else {}, client_options, entry.options]
        combined: dict[str, Any] = {}
        for layer in layers:
            for section, values in layer.items():
                if isinstance(values, Mapping) and isinstance(combined.get(section), dict):
                    combined[section].update(values)
                else:
                    combined[section] = dict(values) if isinstance(values, Mapping) else values
        merged["options"] = _frozen(combined)
    known = {f.name for f in dataclasses.fields(StoreConfig)}
    for key, value in (flags or {}).items():
        if key not in known:
            raise ConfigError(f"unknown setting {key!r} for store {store}")
        merged[key] = value
    return StoreConfig(**merged)
