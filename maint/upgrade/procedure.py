"""The upgrade procedure, run the same way on the working copy (the rehearsal) and on the live store.

    capture (traps, counts, storefront prices, error-log size) → maintenance on → copy the release over
    the store, protected paths kept → the release's own upgrader, step by step → repair the pair's data
    traps → clear caches → delete install/ → maintenance back as it was → verify like a customer.

Every step is recorded with its time. A failure raises UpgradeStepError carrying the steps so far and
the evidence; the caller (the task) rolls the live store back to the snapshot.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from maint.errors import MaintError, VerificationError
from maint.mirror.rsync import parse_itemized
from maint.remote.sql import table
from maint.upgrade import codecache, removed, storefront, traps
from maint.upgrade.admin import refresh_modifications_30
from maint.upgrade.release import Release
from maint.upgrade.routes import run_upgrader
from maint.upgrade.target import Target

STORAGE_DATA = ("backup", "cache", "download", "logs", "marketplace", "modification", "session", "upload")


@dataclass
class Step:
    name: str
    ok: bool
    detail: str
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.name, "ok": self.ok, "detail": self.detail, "seconds": round(self.seconds, 3)}


@dataclass
class ProcedureResult:
    target: str
    from_version: str
    to_version: str
    steps: list[Step] = field(default_factory=list)
    window_seconds: float = 0.0
    verified: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    prices_compared: int = 0
    baseline_failing: list[str] = field(default_factory=list)  # pages already failing before the upgrade
    notes: list[str] = field(default_factory=list)
    snapshot: str = ""  # the live store: the snapshot a rollback of this run restores

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "from": self.from_version, "to": self.to_version,
                "maintenance_window_seconds": round(self.window_seconds, 3),
                "verified": self.verified, "problems": self.problems, "prices_compared": self.prices_compared,
                "baseline_failing": self.baseline_failing, "notes": self.notes, "snapshot": self.snapshot,
                "steps": [s.as_dict() for s in self.steps]}


class UpgradeStepError(MaintError):
    """A step of the procedure failed or verification found a problem; `result` holds the evidence."""

    exit_code = 70

    def __init__(self, message: str, result: ProcedureResult, *, store: str | None = None) -> None:
        super().__init__(message, store=store)
        self.result = result
        self.rolled_back = False
        self.rollback_steps: list[str] = []


def protected_excludes(admin_dir: str, storage_rel: str | None, extra: Sequence[str] = ()) -> list[str]:
    """rsync rules for what an upgrade never touches: both config files, image/ (uploads and the thumbnail
    cache), the storage folder's data (its vendor/ libraries are code and are updated), custom folders."""
    rules = ["/config.php", f"/{admin_dir.strip('/')}/config.php", "/image/", "/.htaccess", "/php.ini", "/.user.ini"]
    if storage_rel is not None:
        base = "/" + storage_rel.strip("/")
        rules += [f"{base}/{name}/" for name in STORAGE_DATA]
    for path in extra:
        rules.append("/" + path.strip("/") + ("/" if not path.endswith((".php", ".txt")) else ""))
    return rules


def _rsync_argv(target: Target, release: Release, excludes: Sequence[str], *, dry_run: bool) -> list[list[str]]:
    base = ["rsync", "-rlt", "--chmod=D755,F644", *target.rsync_rsh]
    if dry_run:
        base += ["--dry-run", "--checksum", "--out-format=%i %n"]
    admin = target.admin_dir.strip("/")
    rules = list(excludes)
    argvs = []
    if admin != "admin":  # a renamed admin folder gets the release's admin/
        argvs.append([*base, "--exclude=/config.php", f"{release.tree}/admin/", target.rsync_dest(target.root + admin + "/")])
        rules.append("/admin/")
    argvs.insert(0, [*base, *[f"--exclude={r}" for r in rules], f"{release.tree}/", target.rsync_dest(target.root)])
    return argvs


RSYNC_CONNECTION_CODES = (10, 12, 30, 35, 255)  # socket, protocol stream, timeouts, ssh: a dropped connection


def _rsync(argv: list[str], attempts: int = 3, dropped: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    """rsync, tried again when the connection drops: copying a release is idempotent, so a retry resumes it
    (files already there match by size and time). `dropped` collects each lost attempt's reason."""
    for attempt in range(1, attempts + 1):
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode not in RSYNC_CONNECTION_CODES or attempt == attempts:
            return done
        if dropped is not None:
            dropped.append(f"rsync exit {done.returncode}: {done.stderr.strip().splitlines()[-1][:120] if done.stderr.strip() else 'connection lost'}")
        time.sleep(attempt)
    return done


def file_changes(target: Target, release: Release, excludes: Sequence[str]) -> dict[str, list[str]]:
    """What copying the release would add and replace (rsync dry run comparing checksums)."""
    out: dict[str, list[str]] = {"new": [], "changed": []}
    for argv in _rsync_argv(target, release, excludes, dry_run=True):
        done = _rsync(argv)
        if done.returncode != 0:
            raise MaintError(f"{target.label}: comparing the release with the store failed: "
                             f"{done.stderr.strip()[-200:]}", store=target.store)
        items = parse_itemized(done.stdout.splitlines())
        out["new"] += items["new"]
        out["changed"] += items["changed"]
    return out


def set_maintenance(target: Target, on: bool) -> bool:
    """Switch config_maintenance; returns what it was."""
    p = target.prefix
    with target.db() as db, db.cursor() as cur:
        cur.execute(f"SELECT `value` FROM {table(p, 'setting')} WHERE store_id = 0 AND `key` = 'config_maintenance'")
        row = cur.fetchone()
        was = bool(row and str(row[0]) == "1")
        if row is None:
            cur.execute(f"INSERT INTO {table(p, 'setting')} (store_id, `code`, `key`, `value`, serialized) "
                        "VALUES (0, 'config', 'config_maintenance', %s, 0)", ("1" if on else "0",))
        else:
            cur.execute(f"UPDATE {table(p, 'setting')} SET `value` = %s WHERE store_id = 0 "
                        "AND `key` = 'config_maintenance'", ("1" if on else "0",))
    return was


def clear_caches(target: Target) -> str:
    """Data cache, compiled templates, thumbnails and install/ (its routes have no authentication): one command."""
    cache, image = target.path("DIR_CACHE"), target.path("DIR_IMAGE") or target.root + "image/"
    commands = []
    if cache:
        commands += [f"rm -f {shlex.quote(cache)}cache.*", f"rm -rf {shlex.quote(cache + 'template/')}*"]
    commands.append(f"rm -rf {shlex.quote(image + 'cache/')}*")
    # One round trip; only install/'s removal must succeed (the caches are rebuilt on demand anyway).
    target.sh("{ " + "; ".join(commands) + f"; }} 2>/dev/null; rm -rf {shlex.quote(target.root + 'install')}")
    return "data cache, compiled templates and image thumbnails cleared; install/ removed (no authentication)"


@dataclass
class StorefrontBefore:
    """The storefront before anything changes: what the verification compares with."""

    prices: dict[int, list[str]]  # product id -> the money amounts of its page's price area
    baseline: list[str]  # pages already failing (not held against the upgrade)
    seconds: float


def read_storefront(target: Target) -> StorefrontBefore:
    began = time.monotonic()
    with storefront.StorefrontReader(target) as reader:
        prices = reader.prices(storefront.priced_products(target))
        _, baseline = storefront.check_pages(reader)
    return StorefrontBefore(prices, baseline, time.monotonic() - began)


def run_procedure(target: Target, release: Release, from_version: str, excludes: Sequence[str], *,
                  on_step: Callable[[Step], None] | None = None,
                  rollback: Callable[[], list[str]] | None = None, remove: Sequence[str] = (),
                  way_back: Callable[[], str] | None = None, before: StorefrontBefore | None = None
                  ) -> ProcedureResult:
    """before: the storefront as customers see it now, when it was read already (the live store's, read while
    the rehearsal ran: its seconds are off the whole run).
    way_back: the first step inside the window, before anything changes (the live store: make sure the
    snapshot holds every order placed until now).
    remove: store files of the old release the new one doesn't have (maint.upgrade.removed), deleted after
    the copy.
    rollback: called inside the maintenance window when a step fails there (the live store's snapshot);
    a failed verification (after the window) is rolled back by the caller."""
    result = ProcedureResult(target.label, from_version, release.version)

    def step(name: str, action: Callable[[], str]) -> str:
        began = time.monotonic()
        try:
            detail = action()
        except MaintError as exc:
            result.steps.append(Step(name, False, exc.message, time.monotonic() - began))
            if on_step:
                on_step(result.steps[-1])
            raise UpgradeStepError(f"{target.label}: {name} failed: {exc.message}", result, store=target.store) from exc
        result.steps.append(Step(name, True, detail, time.monotonic() - began))
        if on_step:
            on_step(result.steps[-1])
        return detail

    # Before anything changes: what must be true afterwards.
    state = traps.capture(target, from_version, release.version)
    seen = before or read_storefront(target)
    prices_before, baseline = seen.prices, seen.baseline
    result.baseline_failing = sorted(storefront.failing_pages(baseline))
    already = f"; already failing before: {', '.join(baseline)}" if baseline else ""
    ahead = " (read during the rehearsal)" if before is not None else ""
    result.steps.append(Step("storefront read", True, f"{len(prices_before)} product pages' prices recorded{ahead}"
                             f"{already}", seen.seconds))

    window = time.monotonic()
    why = f"OpenCart {from_version} → {release.version}"
    hold = target.maintenance(why) if target.maintenance is not None else _toggled_maintenance(target)
    try:
        with hold:
            result.steps.append(Step("maintenance mode on", True, f"planned maintenance ({why}): customers see the "
                                     "maintenance page, fab health raises no alert", 0.0))
            # Counted once nobody can order: an order placed just before the window is no "changed count",
            # nor a customer's PHP warning a "new error" of the upgrade.
            counts_before = storefront.counts(target)
            log_before = storefront.log_size(target)
            try:
                if way_back is not None:
                    step("way back", way_back)
                step("copy release", lambda: _copy(target, release, excludes))
                copied_at = time.monotonic()
                step("code cache", lambda: codecache.settle(target, copied_at))
                answers: list[Any] = []
                step("database upgrade", lambda: _upgrade_db(target, release, answers))
                if state.needs_repair:  # no database round trip for a pair (or store) without traps
                    step("data traps", lambda: "; ".join(traps.repair(target, state)) or "none for this pair")
                if state.enabled_modifications:
                    step("modification refresh", lambda: refresh_modifications_30(target))
                step("clear caches, delete install/", lambda: clear_caches(target))
            except UpgradeStepError as exc:
                if rollback is not None:  # still inside the window: customers never see the half-done store
                    exc.rollback_steps = rollback()
                    exc.rolled_back = True
                raise
    finally:
        result.window_seconds = time.monotonic() - window
    result.steps.append(Step("maintenance mode off", True, f"maintenance window {result.window_seconds:.1f}s", 0.0))
    step("verify", lambda: _verify(target, release, counts_before, prices_before, log_before, result))
    if remove:
        # Dead code for the new release, so outside the window (2,000 unlinks took 3-8 s on a busy host)
        # and after the verification: a rollback never has to put them back. Failing here leaves only dead
        # files: said, not rolled back.
        began = time.monotonic()
        try:
            result.steps.append(Step("remove old files", True, removed.remove(target, remove, release.tree),
                                     time.monotonic() - began))
        except MaintError as exc:
            result.steps.append(Step("remove old files", False, exc.message, time.monotonic() - began))
            result.notes.append(f"the old release's files were not all removed ({exc.message}); they are dead "
                                f"code for {release.version}: delete them by hand (listed in the plan)")
        if on_step:
            on_step(result.steps[-1])
    return result


@contextmanager
def _toggled_maintenance(target: Target) -> Iterator[None]:
    """Maintenance mode on for the block and back as it was (a working copy: nobody to tell)."""
    was_on = set_maintenance(target, True)
    try:
        yield
    finally:
        if not was_on:
            set_maintenance(target, False)


def _copy(target: Target, release: Release, excludes: Sequence[str]) -> str:
    """One rsync pass (inside the maintenance window: no second comparison), counting what it wrote."""
    added = replaced = 0
    dropped: list[str] = []
    for argv in _rsync_argv(target, release, excludes, dry_run=False):
        done = _rsync([*argv[:1], "--out-format=%i %n", *argv[1:]], dropped=dropped)
        if done.returncode != 0:
            lost = f" after {len(dropped)} dropped connection(s)" if dropped else ""
            raise MaintError(f"rsync exit {done.returncode}{lost}: {done.stderr.strip()[-200:]}", store=target.store)
        items = parse_itemized(done.stdout.splitlines())
        added, replaced = added + len(items["new"]), replaced + len(items["changed"])
    resumed = ""
    if dropped:
        left = _remove_partials(target, release)
        resumed = (f"; resumed after {len(dropped)} dropped connection(s) ({dropped[0]}; counts are the last "
                   f"attempt's{f'; {left} partial file(s) of the cut attempt removed' if left else ''})")
    return f"{added} file(s) added, {replaced} replaced; protected paths kept{resumed}"


_PARTIAL = re.compile(r"^\.(.+)\.[A-Za-z0-9]{6}$")  # rsync's temporary name for a file being received


def _remove_partials(target: Target, release: Release) -> int:
    """A cut rsync leaves the file it was receiving as `.name.XXXXXX` beside it; the retry doesn't remove it.
    Those named after a release file, written in the last hour, are deleted."""
    names = {p.name for p in release.tree.rglob("*") if p.is_file()}
    found = target.sh(f"find {shlex.quote(target.root)} -type f -name '.*' -mmin -60 -print", check=False).stdout
    partials = [line for line in found.splitlines()
                if (m := _PARTIAL.match(line.rsplit("/", 1)[-1])) and m.group(1) in names]
    if partials:
        target.sh("xargs -0 rm -f --", stdin="\0".join(partials).encode(), check=False)
    return len(partials)


def _upgrade_db(target: Target, release: Release, answers: list[Any]) -> str:
    line = traps.line_of(release.version)
    got = run_upgrader(target.url, line, target.admin_dir, label=target.label, store=target.store)
    answers.extend(got)
    return f"{len(got)} upgrade step(s): {got[-1].message[:120] if got else 'none'}"


def _verify(target: Target, release: Release, counts_before: storefront.Counts, prices_before: dict[int, list[str]],
            log_before: int, result: ProcedureResult) -> str:
    problems: list[str] = []
    found = _version_there(target)
    if found != release.version:
        problems.append(f"version: index.php says {found or 'nothing'}, expected {release.version}")
    with storefront.StorefrontReader(target) as reader:
        passed, page_problems = storefront.check_pages(reader)
        prices_after = reader.prices(sorted(prices_before))
    fresh, known = storefront.new_problems(page_problems, set(result.baseline_failing))
    problems += fresh
    result.notes += [f"already before the upgrade: {p}" for p in known]
    result.verified = passed
    changed = [f"product {pid}: {' / '.join(prices_before[pid]) or '-'} → {' / '.join(prices_after.get(pid, [])) or '-'}"
               for pid in sorted(prices_before) if prices_before[pid] != prices_after.get(pid)]
    if changed:
        problems.append(f"prices changed on {len(changed)} product page(s): " + "; ".join(changed[:4]))
    result.prices_compared = len(prices_before)
    after = storefront.counts(target)
    if after != counts_before:
        problems.append(f"counts changed: {counts_before.as_dict()} → {after.as_dict()}")
    errors = storefront.new_log_errors(target, log_before)
    if errors:
        problems.append(f"{len(errors)} new error(s) in the error log: {errors[0]}")
    result.problems = problems
    if problems:
        raise VerificationError("; ".join(problems), store=target.store)
    return (f"OpenCart {release.version}; {', '.join(passed)} work; {len(prices_before)} products' prices unchanged; "
            f"counts unchanged; no new errors in the log")


def _version_there(target: Target) -> str | None:
    import re

    match = re.search(r"define\(\s*'VERSION'\s*,\s*'([^']+)'", target.read_text("index.php")[:4096])
    return match.group(1) if match else None
