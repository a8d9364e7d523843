"""`fab extension` below the task layer: facts, plans, and the change road shared with `fab upgrade`
(snapshot → rehearsal on the working copy → the store's own routes on the live store → verify →
roll back to the snapshot by itself on failure)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from fabric import Connection

from maint.config import StoreConfig
from maint.errors import MaintError
from maint.extension.facts import ExtensionFacts, read_extensions, read_sh
from maint.extension.plan import dest
from maint.facts.opencart import StoreFacts
from maint.mirror.sshmux import SshMux
from maint.runner import Guarded
from maint.upgrade import service as upgrade_service
from maint.upgrade.procedure import ProcedureResult, Step
from maint.upgrade.target import Target, live_target


def line_of(version: str) -> str:
    return "3" if version.startswith("3") else "4"


def store_facts(conn: Connection, cfg: StoreConfig, facts: StoreFacts, mux: SshMux, *,
                core_files: set[str] | None = None) -> tuple[Target, ExtensionFacts]:
    target = live_target(conn, cfg, facts, mux)
    return target, read_extensions(target, facts.version, core_files=core_files)


def existing_paths(target: Target, paths: Iterable[str]) -> set[str]:
    """Which of these store-relative paths exist there (one command, names on stdin)."""
    wanted = sorted(set(paths))
    if not wanted:
        return set()
    script = 'while IFS= read -r f; do [ -e "$f" ] && printf "%s\\n" "$f"; done; true'
    out = read_sh(target, f"cd '{target.root}' && {script}", stdin="\n".join(wanted).encode() + b"\n")
    return {line for line in out.splitlines() if line}


def package_existing(target: Target, files: Iterable[str], code: str, line: str) -> set[str]:
    paths = [dest(f, target.admin_dir) for f in files]
    if line == "4":
        paths.append(f"extension/{code}")
    return existing_paths(target, paths)


# The runner's record of a guarded change, as `fab upgrade` returns it too: Guarded(store, action, subject).
ChangeOutcome = Guarded


def snapshot_rehearse_apply(conn: Connection, cfg: StoreConfig, facts: StoreFacts, mux: SshMux, outcome: ChangeOutcome,
               procedure: Callable[[Target, Callable[[Step], None] | None], ProcedureResult], *,
               rehearse: bool = True, say: Callable[[str], None] | None = None,
               printer: Callable[[str], Callable[[Step], None] | None] = lambda _label: None) -> ChangeOutcome:
    """Snapshot, rehearse, apply live, roll back on failure. The caller holds the store's lock."""
    began = time.monotonic()
    tell = say or (lambda _m: None)
    outcome.snapshot = upgrade_service.take_snapshot(conn, cfg, facts, mux)
    tell(f"  snapshot {outcome.snapshot} verified (the way back)")
    if rehearse:
        try:
            outcome.rehearsal = upgrade_service.rehearse_with(
                cfg, outcome.snapshot, facts.admin_dir, lambda target: procedure(target, printer("rehearsal")))
        except MaintError as exc:
            outcome.rehearsal = getattr(exc, "result", None)
            outcome.failure = f"the rehearsal failed, the live store was not touched: {exc.message}"
    if not outcome.failure:
        try:
            outcome.live = procedure(live_target(conn, cfg, facts, mux), printer("live"))
        except MaintError as exc:
            outcome.live = getattr(exc, "result", None)
            outcome.failure = exc.message
            tell(f"  live: {exc.message}; rolling back to {outcome.snapshot}")
            tolerate = outcome.live.baseline_failing if outcome.live else []
            try:
                # Customers may have ordered since the snapshot: their rows are carried over the rollback.
                outcome.rollback_steps = upgrade_service.rollback_to(conn, cfg, facts, outcome.snapshot, mux,
                                                                     tolerate, carry_newer=True)
                outcome.rolled_back = True
            except MaintError as again:
                outcome.failure += (f"; THE ROLLBACK FAILED TOO ({again.message}): put the store back with: "
                                    f"fab restore {cfg.store} --snapshot {outcome.snapshot} --yes")
    outcome.seconds = time.monotonic() - began
    return outcome
