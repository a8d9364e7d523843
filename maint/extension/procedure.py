"""Install and remove an extension through the store's own admin routes, the same steps on the working copy
(the rehearsal) and on the live store, then verify like a customer.

3.0: `marketplace/installer/upload` answers with `next` → `marketplace/install/install` → unzip → move → xml
→ remove; each extension type's `extension/extension/<type>/install&extension=<code>` runs the extension's
own install() and grants permissions; Modifications → Refresh rebuilds storage/modification.
Removal: `extension/extension/<type>/uninstall`, `marketplace/install/uninstall&extension_install_id=N`
(files, paths and modifications), Refresh.
4.x: `marketplace/installer.upload` (zip to storage/marketplace, extension_install row) →
`marketplace/installer.install&extension_install_id=N` (paged, then `.xml` for 4.1's OCMOD, added disabled)
→ `extension/<type>.install&extension=<folder>&code=<code>`; the package's modifications are enabled
(`marketplace/modification.enable`) and `marketplace/modification.refresh` writes extension/ocmod/.
Removal: `extension/<type>.uninstall`, `marketplace/installer.uninstall` (files, paths, modifications),
`marketplace/installer.delete` (the zip and the row), Refresh; the permissions 4.x's install granted are
taken back (3.0's uninstall does that itself).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from maint.errors import MaintError
from maint.extension.facts import ExtensionFacts, Installed, read_extensions
from maint.extension.package import Package
from maint.remote.sql import table
from maint.upgrade import storefront
from maint.upgrade.admin import AdminSession, admin_session
from maint.upgrade.procedure import ProcedureResult, Step, UpgradeStepError
from maint.upgrade.target import Target

ExtensionStepError = UpgradeStepError  # same contract: message + the steps so far as evidence


def _route(line: str, route: str) -> str:
    """Routes are written 3.0-style ('a/b/method'); 4.x separates the method with '.'."""
    if line == "3":
        return route
    head, _, method = route.rpartition("/")
    return f"{head}.{method}"


class _Runner:
    def __init__(self, target: Target, version: str, on_step: Callable[[Step], None] | None) -> None:
        self.target, self.version, self.on_step = target, version, on_step
        self.line = "3" if version.startswith("3") else "4"
        self.result = ProcedureResult(target.label, version, version)

    def step(self, name: str, action: Callable[[], str]) -> None:
        began = time.monotonic()
        try:
            detail = action()
        except MaintError as exc:
            failed = Step(name, False, exc.message, time.monotonic() - began)
            self.result.steps.append(failed)
            if self.on_step:
                self.on_step(failed)
            raise ExtensionStepError(f"{self.target.label}: {name} failed: {exc.message}", self.result,
                                     store=self.target.store) from None
        done = Step(name, True, detail, time.monotonic() - began)
        self.result.steps.append(done)
        if self.on_step:
            self.on_step(done)

    def baseline(self) -> None:
        """Pages already failing before the change are reported, not held against it (as upgrades do)."""
        with storefront.StorefrontReader(self.target) as reader:
            _, problems = storefront.check_pages(reader)
        self.result.baseline_failing = sorted(storefront.failing_pages(problems))
        if problems:
            self.result.notes.append(f"already failing before: {'; '.join(problems)}")

    def verify(self, log_from: int, expect: Callable[[ExtensionFacts], list[str]]) -> None:
        def check() -> str:
            with storefront.StorefrontReader(self.target) as reader:
                passed, found = storefront.check_pages(reader)
            problems, known = storefront.new_problems(found, set(self.result.baseline_failing))
            self.result.notes += [f"already before: {p}" for p in known]
            problems += [f"new PHP error: {line}" for line in storefront.new_log_errors(self.target, log_from)[:5]]
            problems += expect(read_extensions(self.target, self.version))
            self.result.verified, self.result.problems = passed, problems
            if problems:
                raise MaintError("; ".join(problems))
            return ", ".join(passed) + " work; no new PHP errors"
        self.step("verify", check)


def _refresh(admin: AdminSession) -> str:
    if admin.line == "3":
        answer = admin.get("marketplace/modification/refresh")
        if answer.status_code not in (200, 302):
            raise MaintError(f"Modifications → Refresh answered HTTP {answer.status_code}")
        return "Modifications → Refresh (storage/modification rebuilt)"
    admin.get_json("marketplace/modification.refresh", "Modifications → Refresh")
    return "Modifications → Refresh (extension/ocmod rebuilt)"


def _has_modifications(target: Target) -> bool:
    with target.db() as db, db.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
                    (target.prefix + "modification",))
        return bool(cur.fetchone()[0])


def install_on(target: Target, version: str, pkg: Package, *, on_step: Callable[[Step], None] | None = None
               ) -> ProcedureResult:
    """Upload, install, install each extension it provides, enable its modifications, refresh, verify."""
    run = _Runner(target, version, on_step)
    line = run.line
    log_from = storefront.log_size(target)
    run.baseline()
    with admin_session(target, line) as admin:
        if line == "3":
            def upload3() -> str:
                first = admin.upload("marketplace/installer/upload", pkg.source, "the installer's upload")
                answers = admin.follow(first, "the installer")
                return f"{len(answers)} installer steps: {answers[-1].get('success') or answers[-1].get('text', '')}"
            run.step("upload and install the package", upload3)
        else:
            def upload4() -> str:
                admin.upload("marketplace/installer.upload", pkg.source, "the installer's upload")
                iid = _install_id(target, pkg.code)
                first = admin.get_json("marketplace/installer.install", "the installer", extension_install_id=iid)
                answers = admin.follow(first, "the installer")
                return f"extension_install_id {iid}, {len(answers)} installer steps"
            run.step("upload and install the package", upload4)
        for type_, code in pkg.provides:
            run.step(f"install {type_} {code}", partial(_install_extension, admin, pkg, type_, code))
        if pkg.modifications and _has_modifications(target):
            if line == "4":
                run.step("enable its modifications", lambda: _enable_mods(admin, pkg))
            run.step("refresh modifications", lambda: _refresh(admin))

    def expect(facts: ExtensionFacts) -> list[str]:
        problems = []
        if facts.install_of(pkg.code, pkg.filename) is None:
            problems.append(f"{pkg.code} is not listed as installed")
        have = {(e.type, e.code) for e in facts.extensions}
        problems += [f"{t} {c} is not installed" for t, c in pkg.provides if (t, c) not in have]
        return problems
    run.verify(log_from, expect)
    return run.result


def _install_id(target: Target, code: str) -> int:
    with target.db() as db, db.cursor() as cur:
        cur.execute(f"SELECT MAX(extension_install_id) FROM {table(target.prefix, 'extension_install')} WHERE code = %s",
                    (code,))
        row = cur.fetchone()
    if not row or row[0] is None:
        raise MaintError(f"the installer took the upload but recorded no install for {code}")
    return int(row[0])


def _install_extension(admin: AdminSession, pkg: Package, type_: str, code: str) -> str:
    if admin.line == "3":
        answer = admin.get(f"extension/extension/{type_}/install", extension=code)
        if answer.status_code not in (200, 302):
            raise MaintError(f"extension/extension/{type_}/install answered HTTP {answer.status_code}")
        return "its install() ran, permissions granted"
    admin.get_json(f"extension/{type_}.install", f"extension/{type_}.install", extension=pkg.code, code=code)
    return "its install() ran, permissions granted"


def _enable_mods(admin: AdminSession, pkg: Package) -> str:
    codes = [m.code for m in pkg.modifications]
    with admin.target.db() as db, db.cursor() as cur:
        marks = ", ".join(["%s"] * len(codes))
        cur.execute(f"SELECT modification_id, code FROM {table(admin.target.prefix, 'modification')} "
                    f"WHERE code IN ({marks})", codes)
        rows = cur.fetchall()
    for mid, _code in rows:
        admin.get_json("marketplace/modification.enable", "Modifications → Enable", modification_id=int(mid))
    return ", ".join(str(code) for _, code in rows) or "none found"


def provided_by(installed: Installed, facts: ExtensionFacts) -> list[tuple[str, str]]:
    """The (type, code) extensions an installed package's files define and the store has installed."""
    pattern = (re.compile(r"/controller/extension/([a-z_]+)/([A-Za-z0-9_]+)\.php$") if facts.line == "3"
               else re.compile(rf"^extension/{re.escape(installed.code)}/admin/controller/([a-z_]+)/([A-Za-z0-9_]+)\.php$"))
    admin_paths = [p for p in installed.paths if facts.line == "4" or not p.startswith("catalog/")]
    found = {(m.group(1), m.group(2)) for p in admin_paths if (m := pattern.search(p))}
    have = {(e.type, e.code) for e in facts.extensions}
    return sorted(found & have)


def remove_on(target: Target, version: str, code: str, *, on_step: Callable[[Step], None] | None = None
              ) -> ProcedureResult:
    """Uninstall the extensions, then the package (files, paths, modifications), refresh, verify."""
    run = _Runner(target, version, on_step)
    line = run.line
    facts = read_extensions(target, version)
    installed = facts.install_of(code)
    if installed is None:
        raise MaintError(f"{code} is not installed on {target.label}")
    provided = provided_by(installed, facts)
    had_mods = any(m.install_id == installed.install_id for m in facts.modifications)
    log_from = storefront.log_size(target)
    run.baseline()
    with admin_session(target, line) as admin:
        for type_, ext_code in provided:
            run.step(f"uninstall {type_} {ext_code}", partial(_uninstall_extension, admin, installed, type_, ext_code))
        if line == "3":
            run.step("remove the package's files", lambda: str(admin.get_json(
                "marketplace/install/uninstall", "the installer's uninstall",
                extension_install_id=installed.install_id).get("success", "")))
        else:
            run.step("remove the package's files", lambda: str(admin.get_json(
                "marketplace/installer.uninstall", "the installer's uninstall",
                extension_install_id=installed.install_id).get("success", "")))
            run.step("delete the package", lambda: str(admin.get_json(
                "marketplace/installer.delete", "the installer's delete",
                extension_install_id=installed.install_id).get("success", "")))
            if provided:
                run.step("take back its permissions", lambda: _drop_permissions(target, installed.code, provided))
        if had_mods:
            run.step("refresh modifications", lambda: _refresh(admin))

    def expect(after: ExtensionFacts) -> list[str]:
        problems = []
        if after.install_of(code) is not None:
            problems.append(f"{code} is still listed as installed")
        left = [p for p in installed.paths if target.sh(f"test -e '{target.root}{p}'", check=False).returncode == 0]
        problems += [f"file left behind: {p}" for p in left[:5]]
        return problems
    run.verify(log_from, expect)
    return run.result


def _uninstall_extension(admin: AdminSession, installed: Installed, type_: str, code: str) -> str:
    if admin.line == "3":
        answer = admin.get(f"extension/extension/{type_}/uninstall", extension=code)
        if answer.status_code not in (200, 302):
            raise MaintError(f"extension/extension/{type_}/uninstall answered HTTP {answer.status_code}")
    else:
        admin.get_json(f"extension/{type_}.uninstall", f"extension/{type_}.uninstall", extension=installed.code,
                       code=code)
    return "its uninstall() ran"


def php_json(data: Any) -> str:
    """json_encode()'s output: no spaces, '/' escaped, non-ASCII as \\uXXXX (what OpenCart stores)."""
    return json.dumps(data, separators=(",", ":")).replace("/", "\\/")


def _drop_permissions(target: Target, folder: str, provided: list[tuple[str, str]]) -> str:
    # 4.x routes are extension/<folder>/<type>/<code>; many published extensions' install() also grants the
    # 3.0-style extension/<type>/<code>, which names no 4.x controller: both go.
    routes = {f"extension/{folder}/{t}/{c}" for t, c in provided} | {f"extension/{t}/{c}" for t, c in provided}
    changed = 0
    with target.db() as db, db.cursor() as cur:
        cur.execute(f"SELECT user_group_id, permission FROM {table(target.prefix, 'user_group')}")
        for gid, text in cur.fetchall():
            try:
                perms = json.loads(text or "{}")
            except ValueError:
                continue
            if not isinstance(perms, dict):
                continue
            new = {k: [r for r in v if r not in routes] if isinstance(v, list) else v for k, v in perms.items()}
            if new != perms:
                cur.execute(f"UPDATE {table(target.prefix, 'user_group')} SET permission = %s WHERE user_group_id = %s",
                            (php_json(new), gid))
                changed += 1
    return f"{len(routes)} routes taken out of {changed} user group(s)"
