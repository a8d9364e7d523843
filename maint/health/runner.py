"""Run every store's checks in parallel; one slow or broken store never holds up the rest.

Each store's checks split into independent units (pages, host, TLS, mirror) that run on a shared
thread pool. Every unit has a time budget (the sum of its checks' timeouts plus slack); when a
unit overruns, its checks are reported UNKNOWN ("timed out") and the run goes on without waiting.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from maint.config import StoreConfig
from maint.health.dependencies import apply_dependencies
from maint.health.grading import grade
from maint.health.local import probe_mirror_age, probe_tls
from maint.health.model import CheckResult, CheckSpec, Observation, State
from maint.health.remote import REMOTE_PROBES, run_remote_checks
from maint.health.web import WEB_PROBES, Purchase, purchase_product, run_web_checks
from maint.mirror.listing import SnapshotPlace

SLACK = 5.0  # seconds on top of a unit's timeouts (retry waits, thread start, grading)
UnitOutput = tuple[list[CheckResult], dict[str, Any]]


@dataclass(frozen=True)
class StoreJob:
    cfg: StoreConfig
    specs: list[CheckSpec]  # enabled checks, overrides applied
    memos: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class RunOutcome:
    results: list[CheckResult]
    memos: dict[str, dict[str, Any]]  # store → memos to remember
    seconds: float


@dataclass
class Unit:
    store: str
    specs: list[CheckSpec]
    budget: float
    work: Callable[[], UnitOutput]
    started: float | None = None


def _single(cfg: StoreConfig, spec: CheckSpec, probe: Callable[[], Observation]) -> Callable[[], UnitOutput]:
    def work() -> UnitOutput:
        began = time.monotonic()
        return [grade(cfg.store, spec, probe(), time.monotonic() - began)], {}

    return work


def units_for(job: StoreJob, *, attempts: int = 3) -> list[Unit]:
    cfg, specs = job.cfg, [s for s in job.specs if s.enabled]
    web = [s for s in specs if s.probe in WEB_PROBES]
    host = [s for s in specs if s.probe in REMOTE_PROBES]
    units: list[Unit] = []
    # The cart check buys a product the database says a customer can buy: the host unit answers
    # this future right after its first query, while the web unit walks home, product and search.
    wants = bool(host) and any(s.probe == "cart" for s in web) and not purchase_product(web)
    purchase: Future[Purchase | None] | None = Future() if wants else None
    wait = cfg.connect_timeout + sum(s.timeout for s in host if s.probe in ("host", "db")) + SLACK
    if web:
        maintenance = next((s for s in job.specs if s.probe == "maintenance"), None)
        expected = bool(maintenance and maintenance.params.get("expected"))
        units.append(
            Unit(
                cfg.store,
                web,
                sum(s.timeout for s in web) + SLACK + (wait if purchase else 0.0),
                lambda: (
                    run_web_checks(
                        cfg.store,
                        cfg.url,
                        web,
                        admin_dir=cfg.admin_dir,
                        maintenance_expected=expected,
                        attempts=attempts,
                        purchase=purchase,
                        purchase_wait=wait,
                    ),
                    {},
                ),
            )
        )
    if host:
        budget = cfg.connect_timeout + sum(s.timeout for s in host) + 2 * SLACK
        units.append(Unit(cfg.store, host, budget, lambda: run_remote_checks(cfg, host, job.memos, purchase)))
    for spec in specs:
        if spec.probe == "tls":
            cafile = str(spec.params.get("cafile") or "") or None  # a private CA, for stores behind one
            probe: Callable[[], Observation] = functools.partial(
                probe_tls, cfg.url, spec.timeout, cafile=cafile
            )
        elif spec.probe == "mirror_age":
            place = SnapshotPlace.of(cfg.mirror_root, cfg.options.get("mirror"), cfg.client, cfg.store)
            probe = functools.partial(probe_mirror_age, place)
        else:
            continue
        units.append(Unit(cfg.store, [spec], spec.timeout + SLACK, _single(cfg, spec, probe)))
    return units


def _gave_up(unit: Unit, why: str) -> list[CheckResult]:
    return [grade(unit.store, s, Observation(None, why, State.UNKNOWN)) for s in unit.specs]


def run_health(
    jobs: list[StoreJob], *, workers: int = 32, attempts: int = 3, poll: float = 0.05
) -> RunOutcome:
    """Run all jobs; results come back in store order, then in playbook order."""
    began = time.monotonic()
    units = [u for job in jobs for u in units_for(job, attempts=attempts)]
    lock = threading.Lock()

    def start(unit: Unit) -> UnitOutput:
        with lock:
            unit.started = time.monotonic()
        return unit.work()

    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(units) or 1)), thread_name_prefix="health")
    pending: dict[Future[UnitOutput], Unit] = {pool.submit(start, u): u for u in units}
    results: list[CheckResult] = []
    memos: dict[str, dict[str, Any]] = {}
    try:
        while pending:
            now = time.monotonic()
            for future, unit in list(pending.items()):
                if future.done():
                    del pending[future]
                    exc = future.exception()
                    if exc is None:
                        out, new_memos = future.result()
                        results.extend(out)
                        memos.setdefault(unit.store, {}).update(new_memos)
                    else:  # a bug in a probe: report it on this store and keep the others going
                        results.extend(_gave_up(unit, f"check crashed: {type(exc).__name__}: {exc}"[:200]))
                    continue
                with lock:
                    started = unit.started
                if started is not None and now - started > unit.budget:
                    del pending[future]
                    results.extend(_gave_up(unit, f"timed out: no result within {unit.budget:g}s"))
            if pending:
                time.sleep(poll)
    finally:
        # Do not wait for overrunning units: their own timeouts end them in the background.
        pool.shutdown(wait=False, cancel_futures=True)
    index = {(job.cfg.store, s.id): n for n, (job, s) in enumerate((j, s) for j in jobs for s in j.specs)}
    results.sort(key=lambda r: index.get((r.store, r.check), len(index)))
    explained = []
    for job in jobs:
        explained += apply_dependencies(job.specs, [r for r in results if r.store == job.cfg.store])
    return RunOutcome(explained, memos, time.monotonic() - began)
