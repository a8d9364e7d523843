"""Plan an OpenCart core upgrade: (facts about the store and the release) -> Plan. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from maint.errors import PreconditionError
from maint.matrix import parse_version
from maint.model import Change, Plan

ROUTE_SECONDS = {"3": 0.8, "4": 1.1}  # measured per upgrader step on two cores (3.0: 11 steps, 4.x: 12)
COPY_FILES_PER_SECOND = 2500.0


@dataclass(frozen=True)
class Touching:
    """A modification, extension or theme that changes core files the upgrade replaces."""

    kind: str  # ocmod, vqmod, extension, theme
    name: str
    files: tuple[str, ...] = ()
    enabled: bool = True


@dataclass(frozen=True)
class UpgradeFacts:
    store: str
    current: str
    target: str
    admin_dir: str
    added: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    protected: tuple[str, ...] = ()
    modified_core: tuple[str, ...] | None = None  # None: the current release is not at hand
    removed: tuple[str, ...] = ()  # store files of the current release the target doesn't have
    removed_by: str = ""  # release: the current release compared; list: store files against the target's list
    removed_kept: tuple[str, ...] = ()  # dropped by the target but used by an installed extension: kept
    touching: tuple[Touching, ...] = ()
    traps: tuple[str, ...] = ()
    platform_problems: tuple[str, ...] = ()
    snapshot: str = ""  # a fresh verified snapshot to use, or "" to take one now
    disk_free: int | None = None
    disk_needed: int = 0
    rehearse: bool = True
    upgrade_steps: int = 0
    warnings: tuple[str, ...] = field(default_factory=tuple)


def _line(version: str) -> str:
    return ".".join(version.split(".")[:2])


def plan_upgrade(f: UpgradeFacts) -> Plan:
    """The steps of the upgrade, or a no-op; refuses a downgrade, an unsupported platform, a full disk."""
    plan = Plan(f.store, "upgrade", warnings=list(f.warnings))
    current, target = parse_version(f.current), parse_version(f.target)
    if current == target:
        plan.noop_reason = f"the store already runs OpenCart {f.current}"
        return plan
    if target < current:
        raise PreconditionError(f"OpenCart {f.target} is older than the store's {f.current}: a downgrade is not "
                                f"an upgrade (restore a snapshot instead)", store=f.store)
    if f.platform_problems:
        raise PreconditionError(f"OpenCart {f.target} does not support this store's platform: "
                                + "; ".join(f.platform_problems), store=f.store)
    if f.disk_free is not None and f.disk_free < f.disk_needed:
        raise PreconditionError(f"not enough disk space on the host: {f.disk_free // 2**20} MB free, "
                                f"{f.disk_needed // 2**20} MB needed for the release and the upgrade", store=f.store)
    add = plan.changes.append
    add(Change("snapshot", f.snapshot or "now", f"use the verified snapshot {f.snapshot} (fresh)" if f.snapshot
               else "take a verified snapshot of files and database now (the way back)"))
    if f.rehearse:
        add(Change("rehearse", "working copy", "run every step below on a local working copy of that snapshot "
                   "first, with the same verification; stop here if it fails"))
    add(Change("maintenance", "on", "maintenance mode on: customers see the maintenance page"))
    add(Change("files", f"{len(f.added)} added, {len(f.replaced)} replaced",
               f"copy OpenCart {f.target} over the store; never touched: {', '.join(f.protected)}", destructive=True,
               data={"added": list(f.added), "replaced": list(f.replaced)}))
    if f.modified_core:
        add(Change("customised", f"{len(f.modified_core)} core file(s)",
                   "modified against OpenCart " + f.current + " and replaced by the release (customisations lost): "
                   + ", ".join(f.modified_core[:8]) + (" …" if len(f.modified_core) > 8 else ""), destructive=True,
                   data={"files": list(f.modified_core)}))
    elif f.modified_core is None:
        plan.warnings.append(f"core files modified against {f.current} are unknown: pass --from-release with "
                             f"OpenCart {f.current} to find customisations before they are replaced")
    if f.removed:
        how = (f"OpenCart {f.current}'s files that {f.target} doesn't have" if f.removed_by == "release" else
               f"files in core folders that OpenCart {f.target} doesn't have (without --from-release, only folders "
               "the release alone writes to)")
        add(Change("remove", f"{len(f.removed)} old core file(s)",
                   f"delete {how}: " + ", ".join(_folders(f.removed)) + "; the snapshot keeps them; protected paths "
                   "and files of installed extensions are never removed", destructive=True,
                   data={"files": list(f.removed), "found_by": f.removed_by}))
    if f.removed_kept:
        plan.warnings.append(f"{len(f.removed_kept)} file(s) of installed extensions that OpenCart {f.target} no "
                             "longer ships are kept (check they still work, or uninstall them): "
                             + ", ".join(f.removed_kept[:5]) + (" …" if len(f.removed_kept) > 5 else ""))
    for t in f.touching:
        state = "" if t.enabled else " (disabled)"
        files = ", ".join(t.files[:5]) + (" …" if len(t.files) > 5 else "")
        plan.warnings.append(f"{t.kind} {t.name}{state} changes replaced core files: {files}" if t.files
                             else f"{t.kind} {t.name}{state}: check it works with {f.target}")
    steps = f.upgrade_steps or (11 if f.target.startswith("3") else 12)
    add(Change("database", f"{steps} upgrade steps", f"run OpenCart {f.target}'s own upgrader "
               f"({'upgrade/upgrade/next&step=N' if f.target.startswith('3') else 'upgrade/upgrade_1…12'}), "
               "stopping at the first error", destructive=True))
    for trap in f.traps:
        add(Change("trap", _line(f.current) + " → " + _line(f.target), trap))
    add(Change("caches", "data, templates, images", "clear the data cache, compiled templates and thumbnails"))
    add(Change("install", "install/", "delete install/ (its routes have no authentication)"))
    add(Change("maintenance", "off", "maintenance mode off"))
    add(Change("verify", "storefront", "version, home, product, search, add to cart, checkout, admin login, "
               "no new PHP errors, counts and storefront prices unchanged; any failure rolls back to the snapshot"))
    window = (len(f.added) + len(f.replaced) + len(f.removed)) / COPY_FILES_PER_SECOND + steps * ROUTE_SECONDS[f.target[0]] + 2
    plan.warnings.append(f"estimated maintenance window: about {window:.0f}s")
    return plan


def _folders(paths: Sequence[str], shown: int = 6) -> list[str]:
    """'system/storage/vendor/twig (212)' per top folders, the biggest first: a plan line, not 2,000 paths."""
    from collections import Counter

    counts = Counter("/".join(p.split("/")[:-1][:4 if p.startswith("system/storage/vendor/") else 3]) or p
                     for p in paths)
    out = [f"{folder} ({n})" for folder, n in counts.most_common(shown)]
    return out + [f"… {len(counts) - shown} more folder(s)"] if len(counts) > shown else out


def ocmod_files(xml: str) -> tuple[str, ...]:
    """The files an OCMOD modification changes (the path attributes of its <file> elements)."""
    import re

    paths: list[str] = []
    for match in re.finditer(r"<file\s+[^>]*path=\"([^\"]+)\"", xml):
        paths += [p.strip() for p in match.group(1).split("|") if p.strip()]
    return tuple(dict.fromkeys(paths))


def touching_changed(name: str, paths: Sequence[str], replaced: Sequence[str]) -> tuple[str, ...]:
    """Those of an OCMOD's paths (globs allowed) that the upgrade replaces."""
    from fnmatch import fnmatch

    return tuple(r for r in replaced if any(fnmatch(r, p) for p in paths))
