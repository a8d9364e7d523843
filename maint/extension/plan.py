"""Pure planners for `fab extension install` and `fab extension remove` (facts in, Plan out)."""

from __future__ import annotations

from collections.abc import Collection

from maint.errors import PreconditionError
from maint.extension.facts import ExtensionFacts, Installed
from maint.extension.package import Package, ocmod_targets
from maint.model import Change, Plan


def _owner(path: str, facts: ExtensionFacts) -> str:
    for inst in facts.installs:
        if path in inst.paths:
            return f"the extension {inst.code}"
    return "OpenCart's core (or a file no package claims)"


def plan_install(pkg: Package, facts: ExtensionFacts, existing: Collection[str], *, allow_overwrite: bool = False,
                 admin_dir: str = "admin") -> Plan:
    """existing: the package's destinations (store-relative) that already exist on the store."""
    plan = Plan(store=facts.store, action="extension install")
    installed = facts.install_of(pkg.code, pkg.filename)
    files = [dest(f, admin_dir) for f in pkg.files]
    have = {(e.type, e.code) for e in facts.extensions}
    if installed is not None:
        mods = {m.code for m in facts.modifications if m.install_id == installed.install_id}
        complete = (all(f in existing for f in files) and all(p in have for p in pkg.provides)
                    and all(m.code in mods for m in pkg.modifications))
        if installed.version == pkg.version and complete:
            plan.noop_reason = f"{pkg.code} {pkg.version or ''} is already installed, with its files and extensions"
            return plan
        raise PreconditionError(
            f"{pkg.code} {installed.version or '(no version)'} is already installed"
            + ("" if complete else " but incomplete") + f"; remove it first (fab extension remove {facts.store} "
            f"{installed.code}), then install {pkg.filename}", store=facts.store)
    clash = [f for f in files if f in existing]
    if pkg.line == "4" and f"extension/{pkg.code}" in existing:
        clash.insert(0, f"extension/{pkg.code}/ (the installer refuses an existing folder)")
    if clash and not allow_overwrite:
        owners = sorted({_owner(f, facts) for f in clash})
        raise PreconditionError(
            f"{pkg.filename} would overwrite {len(clash)} existing file(s) of {', '.join(owners)}: "
            f"{', '.join(clash[:8])}{' …' if len(clash) > 8 else ''}; nothing changed "
            "(--allow-overwrite to replace them; the snapshot taken first is the way back)", store=facts.store)
    for path in files:
        replaced = path in existing
        what = "replace " + _owner(path, facts) + "'s file" if replaced else "add"
        if replaced and pkg.line == "4":
            what = "kept as it is (the 4.x installer never overwrites a file)"
        plan.changes.append(Change("file", path, what, destructive=replaced))
    enable = pkg.line == "3" or bool(pkg.modifications)
    for mod in pkg.modifications:
        targets = ", ".join(t for f in mod.files for t in ocmod_targets(f))
        plan.changes.append(Change("modification", mod.code, f"add {mod.name!r} {mod.version} (enabled), changes "
                                   f"{targets}"))
    others = [m for m in facts.modifications if m.enabled]
    for mod in pkg.modifications:
        mine = {t for f in mod.files for t in ocmod_targets(f)}
        for other in others:
            shared = mine & {t for f in other.files for t in ocmod_targets(f)}
            if shared:
                plan.warnings.append(f"modification {other.code} also changes {', '.join(sorted(shared))}")
    for type_, code in pkg.provides:
        state = "already installed" if (type_, code) in have else "install (runs its install(): tables, settings, " \
                                                                   "permissions)"
        plan.changes.append(Change("extension", f"{type_}/{code}", state))
    if pkg.modifications and enable:
        plan.changes.append(Change("refresh", "modifications", "Modifications → Refresh, as the admin's button does"))
    if not pkg.provides:
        plan.warnings.append("the package defines no admin extension controller: only files and modifications")
    return plan


def dest(path: str, admin_dir: str) -> str:
    return admin_dir.strip("/") + path[5:] if path.startswith("admin/") else path


def plan_remove(code: str, facts: ExtensionFacts, provided: list[tuple[str, str]]) -> Plan:
    plan = Plan(store=facts.store, action="extension remove")
    installed: Installed | None = facts.install_of(code)
    if installed is None:
        plan.noop_reason = f"{code} is not installed"
        return plan
    if installed.code == "opencart" and facts.line == "4":
        raise PreconditionError("the 'opencart' package holds OpenCart's own extensions: it is never removed",
                                store=facts.store)
    for type_, ext in provided:
        plan.changes.append(Change("extension", f"{type_}/{ext}", "uninstall (runs its uninstall())", destructive=True))
    for path in sorted(installed.paths, reverse=True):
        plan.changes.append(Change("file", path, "delete", destructive=True))
    for mod in facts.modifications:
        if mod.install_id == installed.install_id:
            plan.changes.append(Change("modification", mod.code, "delete", destructive=True))
    plan.changes.append(Change("package", installed.filename, f"forget {installed.name} {installed.version}".strip(),
                               destructive=True))
    return plan
