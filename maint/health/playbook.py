"""Load and validate ``playbooks/health.yaml``; apply a store's overrides from the inventory.

Example entry::

    checks:
      home:
        probe: home          # one of PROBES
        title: Home page answers
        level: 1             # support level a failure means (1 = site down … 4 = small bug)
        warn: 2.0            # thresholds on the probe's number, compared per bad_when
        crit: 5.0
        uom: s
        timeout: 15          # seconds for this check (per request / command)

A store narrows or loosens checks in its inventory entry::

    options:
      health:
        disable: [tls]
        home: {warn: 3, crit: 8}
        search: {params: {term: chair}}
        checkout: {product: 40}   # the product the cart and checkout checks buy

Dependencies are data too: ``depends: [home]`` makes a failure of this check, when ``home``
failed as well, show as UNKNOWN caused by home and raise no alert (maint/health/dependencies.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from maint.errors import ConfigError, PlaybookError
from maint.health.dependencies import find_cycle
from maint.health.model import CheckSpec
from maint.playbook_files import read_playbook

# Every probe the runner knows; the playbook may only name these.
PROBES = frozenset(
    {
        "reachable", "host", "home", "page_notices", "product", "search", "cart", "checkout", "admin_login", "tls",
        "maintenance", "install_dir", "php_fatals", "disk_free", "db", "error_display",
        "ocmod_disabled", "versions_changed", "advisories", "mirror_age",
    }
)  # fmt: skip
ENTRY_KEYS = {
    "probe", "title", "level", "warn", "crit", "bad_when", "uom", "timeout", "enabled", "params", "depends",
}  # fmt: skip
# `product` is short for params.product_id (options: {health: {checkout: {product: 40}}}).
OVERRIDE_KEYS = ENTRY_KEYS - {"probe", "title", "uom", "bad_when", "depends"} | {"product"}
ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
NAGIOS_UOMS = {"", "s", "ms", "us", "%", "B", "KB", "MB", "GB", "TB", "c"}


class _Entry:
    """Validates fields of one entry, naming file and entry in every error."""

    def __init__(self, where: str, error: type[ConfigError]) -> None:
        self.where = where
        self.error = error

    def fail(self, key: str, problem: str) -> ConfigError:
        return self.error(f"{self.where}.{key}: {problem}")

    def number(self, raw: Mapping[str, Any], key: str, *, positive: bool = False) -> float | None:
        value = raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"must be a number, not {value!r}")
        if positive and value <= 0:
            raise self.fail(key, f"must be above 0, not {value!r}")
        return float(value)

    def level(self, raw: Mapping[str, Any]) -> int | None:
        value = raw.get("level")
        if value is None:
            return None
        if isinstance(value, bool) or value not in (1, 2, 3, 4):
            raise self.fail("level", f"must be a support level 1-4, not {value!r}")
        return int(value)

    def keys(self, raw: Any, allowed: set[str]) -> Mapping[str, Any]:
        if not isinstance(raw, Mapping):
            raise self.error(f"{self.where}: must be a mapping, not {type(raw).__name__}")
        for key in raw:
            if key not in allowed:
                raise self.fail(str(key), f"unknown key (allowed: {', '.join(sorted(allowed))})")
        return raw

    def params(self, raw: Mapping[str, Any]) -> Mapping[str, Any] | None:
        value = raw.get("params")
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise self.fail("params", "must be a mapping")
        return MappingProxyType(dict(value))


def parse_entry(check_id: str, raw: Any, where: str, default_timeout: float) -> CheckSpec:
    entry = _Entry(where, PlaybookError)
    if not ID_RE.match(str(check_id)):
        raise PlaybookError(f"{where}: id must be lower-case letters, digits and '_'")
    data = entry.keys(raw, ENTRY_KEYS)
    probe = data.get("probe", check_id)
    if probe not in PROBES:
        raise entry.fail("probe", f"unknown probe {probe!r} (known: {', '.join(sorted(PROBES))})")
    level = entry.level(data)
    if level is None:
        raise entry.fail("level", "missing (the support level 1-4 a failure means)")
    bad_when = data.get("bad_when", "above")
    if bad_when not in ("above", "below"):
        raise entry.fail("bad_when", f"must be 'above' or 'below', not {bad_when!r}")
    uom = str(data.get("uom", ""))
    if uom not in NAGIOS_UOMS:
        raise entry.fail(
            "uom", f"{uom!r} is not a monitoring-plugin unit ({', '.join(sorted(NAGIOS_UOMS - {''}))})"
        )
    warn, crit = entry.number(data, "warn"), entry.number(data, "crit")
    _check_order(entry, warn, crit, bad_when)
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise entry.fail("enabled", "must be true or false")
    depends = data.get("depends") or []
    if not isinstance(depends, list | tuple) or not all(isinstance(d, str) for d in depends):
        raise entry.fail("depends", "must be a list of check ids")
    return CheckSpec(
        id=str(check_id),
        probe=str(probe),
        title=str(data.get("title") or check_id),
        level=level,
        warn=warn,
        crit=crit,
        bad_when=bad_when,
        uom=uom,
        timeout=entry.number(data, "timeout", positive=True) or default_timeout,
        enabled=enabled,
        params=entry.params(data) or MappingProxyType({}),
        depends=tuple(depends),
    )


def _check_depends(file: Path, specs: list[CheckSpec]) -> None:
    ids = {s.id for s in specs}
    for spec in specs:
        for parent in spec.depends:
            if parent not in ids:
                raise PlaybookError(f"{file}: checks.{spec.id}.depends: unknown check {parent!r}")
    cycle = find_cycle({s.id: s.depends for s in specs})
    if cycle:
        raise PlaybookError(f"{file}: checks: dependency cycle {' -> '.join(cycle)}")


def _check_order(entry: _Entry, warn: float | None, crit: float | None, bad_when: str) -> None:
    if warn is None or crit is None:
        return
    if (bad_when == "above" and warn > crit) or (bad_when == "below" and warn < crit):
        raise entry.fail("warn", f"warn {warn:g} is past crit {crit:g} (bad_when: {bad_when})")


def load_checks(file: Path) -> list[CheckSpec]:
    """Read health.yaml; a malformed file raises PlaybookError naming the file and entry."""
    data = read_playbook(Path(file))
    if not isinstance(data, Mapping):
        raise PlaybookError(f"{file}: must be a mapping with 'checks'")
    unknown = set(data) - {"defaults", "checks"}
    if unknown:
        raise PlaybookError(f"{file}: {sorted(unknown)[0]}: unknown key (allowed: checks, defaults)")
    defaults = _Entry(f"{file}: defaults", PlaybookError).keys(data.get("defaults") or {}, {"timeout"})
    default_timeout = _Entry(f"{file}: defaults", PlaybookError).number(defaults, "timeout", positive=True)
    checks = data.get("checks")
    if not isinstance(checks, Mapping) or not checks:
        raise PlaybookError(f"{file}: checks: missing or not a mapping of check id to entry")
    specs = [
        parse_entry(str(cid), raw, f"{file}: checks.{cid}", default_timeout or 10.0)
        for cid, raw in checks.items()
    ]
    _check_depends(file, specs)
    return specs


def apply_overrides(store: str, specs: list[CheckSpec], overrides: Any) -> list[CheckSpec]:
    """A store's ``options.health`` from the inventory: ``disable: [ids]`` and per-check settings."""
    if not overrides:
        return specs
    where = f"store {store}: options.health"
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"{where}: must be a mapping")
    by_id = {s.id: s for s in specs}
    disabled = overrides.get("disable") or []
    if not isinstance(disabled, list | tuple):
        raise ConfigError(f"{where}.disable: must be a list of check ids")
    for key in [*disabled, *(k for k in overrides if k != "disable")]:
        if key not in by_id:
            raise ConfigError(f"{where}: unknown check {key!r} (checks: {', '.join(by_id)})")
    result = []
    for spec in specs:
        raw = overrides.get(spec.id)
        if raw is not None:
            spec = _override(spec, _Entry(f"{where}.{spec.id}", ConfigError), raw)
        if spec.id in disabled:
            spec = replace(spec, enabled=False)
        result.append(spec)
    return result


def _override(spec: CheckSpec, entry: _Entry, raw: Any) -> CheckSpec:
    data = entry.keys(raw, OVERRIDE_KEYS)
    changes: dict[str, Any] = {}
    for key in ("warn", "crit"):
        if key in data:
            changes[key] = entry.number(data, key)
    if "timeout" in data:
        changes["timeout"] = entry.number(data, "timeout", positive=True)
    level = entry.level(data)
    if level is not None:
        changes["level"] = level
    if "enabled" in data:
        if not isinstance(data["enabled"], bool):
            raise entry.fail("enabled", "must be true or false")
        changes["enabled"] = data["enabled"]
    params = dict(entry.params(data) or {})
    if "product" in data:
        product = data["product"]
        if isinstance(product, bool) or not isinstance(product, int) or product < 1:
            raise entry.fail("product", f"must be a product_id (a whole number above 0), not {product!r}")
        if "product_id" not in spec.params:
            raise entry.fail("product", "this check adds no product (use it on cart or checkout)")
        params["product_id"] = product
    if params:
        changes["params"] = MappingProxyType({**spec.params, **params})
    merged = replace(spec, **changes)
    _check_order(entry, merged.warn, merged.crit, merged.bad_when)
    return merged
