"""What every task shares: config resolution, error translation, the time ledger, prompts, fan-out.

Only this package knows about Fabric's ``c``; everything below it takes plain arguments.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from invoke.exceptions import Exit

from maint import render
from maint.config import Settings, StoreConfig, load_settings, store_config
from maint.errors import CancelledByUser, ConfigError, MaintError
from maint.inventory import Client, Inventory, load_inventory
from maint.model import RunReport, StoreResult

# Defaults declared on the collection, so invoke maps FABRIC_MAINT_* env vars onto them.
CONFIG_DEFAULTS: dict[str, Any] = {
    "maint": {
        "inventory": "",
        "playbooks": "",
        "state_dir": "",
        "ssh_config": "",
        "known_hosts": "",
        "connect_timeout": 15,
        "block_over_budget": False,
        "parallel": 8,
        "webhook": "",
        "yes": False,
    }
}


def _stderr(message: str) -> None:
    con = render.console(sys.stderr)
    if con.is_terminal:
        con.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    else:
        sys.stderr.write(f"error: {message}\n")


def maint_task(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a MaintError into a one-line message and its exit code; anything else is a bug."""

    @functools.wraps(fn)
    def wrapper(c: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(c, *args, **kwargs)
        except MaintError as exc:
            _stderr(str(exc))
            raise Exit(code=exc.exit_code) from None
        except KeyboardInterrupt:
            _stderr("interrupted")
            raise Exit(code=130) from None

    return wrapper


@dataclass
class TaskContext:
    """Settings and inventory, resolved once per task run."""

    settings: Settings
    _inventory: Inventory | None = None

    @classmethod
    def from_c(cls, c: Any) -> TaskContext:
        raw = c.config.get("maint", {}) if hasattr(c, "config") else {}
        return cls(load_settings(dict(raw) if raw else {}))

    @property
    def inventory(self) -> Inventory:
        if self._inventory is None:
            self._inventory = load_inventory(self.settings.inventory, self.settings.plans_file)
        return self._inventory

    def store(self, name: str, **flags: Any) -> StoreConfig:
        return store_config(self.settings, self.inventory, name, flags)

    def client(self, name: str) -> Client:
        return self.inventory.find_client(name)

    def targets(self, store: str | None, all_: bool) -> list[str]:
        """Which stores a task runs on; conflicting arguments fail before any connection opens."""
        if store and all_:
            raise ConfigError("give a STORE or --all, not both")
        if all_:
            return self.inventory.store_names()
        if not store:
            raise ConfigError("which store? give a STORE name or --all")
        self.inventory.find_store(store)
        return [store]


def assume_yes(yes: bool) -> bool:
    return yes or os.environ.get("MAINT_YES", "") in ("1", "true", "yes")


def confirm(question: str, *, yes: bool = False) -> None:
    """Ask before changing a store; --yes or MAINT_YES=1 answers for the user. Raises CancelledByUser."""
    if assume_yes(yes):
        return
    if not sys.stdin.isatty():
        raise CancelledByUser(f"{question} needs confirmation: run in a terminal or pass --yes")
    answer = input(f"{question} [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise CancelledByUser("cancelled, nothing was changed")


@contextmanager
def work_session(
    tc: TaskContext,
    cfg: StoreConfig,
    task: str,
    *,
    over_budget: bool = False,
    yes: bool = False,
    quiet: bool = False,
    dry_run: bool = False,
    detail: list[str] | None = None,
) -> Iterator[list[str]]:
    """Guard the client's budget before, and record elapsed time in the ledger after, also on failure.
    A dry run is recorded as such (outcome "dry run"): it costs the client no credits.
    `detail`: lines the task adds while it runs (e.g. the flyer's id), kept as the ledger entry's note."""
    from maint.billing import hooks  # imported here: the billing layer is optional for library users

    # The flag, or MAINT_OVER_BUDGET=1 / maint.over_budget for scripted runs.
    over_budget = (
        over_budget
        or os.environ.get("MAINT_OVER_BUDGET", "") in ("1", "true", "yes")
        or bool(tc.settings.raw.get("over_budget"))
    )

    def client_confirmed(question: str) -> bool:
        confirm(question, yes=yes)
        return True

    warnings = hooks.before_task(
        tc.settings, cfg.client, cfg.plan, task, over_budget=over_budget, confirm=client_confirmed
    )
    if not quiet:
        for w in warnings:
            _stderr_warning(w)
    started = datetime.now(UTC)
    outcome = "dry run" if dry_run else "ok"
    try:
        yield warnings
    except MaintError as exc:
        outcome = f"failed: {exc.message}"
        raise
    except BaseException as exc:
        outcome = f"failed: {type(exc).__name__}"
        raise
    finally:
        hooks.record_task(
            tc.settings,
            client=cfg.client,
            store=cfg.store,
            task=task,
            started=started,
            ended=datetime.now(UTC),
            outcome=outcome,
            detail="; ".join(detail or []),
        )


def _stderr_warning(message: str) -> None:
    con = render.console(sys.stderr)
    if con.is_terminal:
        con.print(f"[yellow]warning:[/] {message}", markup=True, highlight=False)
    else:
        sys.stderr.write(f"warning: {message}\n")


def with_url(cfg: StoreConfig) -> StoreConfig:
    """The store's config with its public URL: from the inventory, else config.php's HTTP_SERVER.

    Left empty when the host can't be read; the caller's checks then report that.
    """
    if cfg.url:
        return cfg
    from maint.facts.opencart import get_store_facts
    from maint.remote.ssh import connect

    try:
        conn = connect(cfg)
        try:
            return dataclasses.replace(cfg, url=get_store_facts(conn, cfg).url)
        finally:
            conn.close()
    except MaintError:
        return cfg


def with_urls(configs: Sequence[StoreConfig], parallel: int = 8) -> list[StoreConfig]:
    if all(cfg.url for cfg in configs):
        return list(configs)
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(configs)))) as pool:
        return list(pool.map(with_url, configs))


def for_each_store(
    stores: Sequence[str],
    work: Callable[[str], Any],
    *,
    parallel: int = 8,
) -> RunReport:
    """Run ``work`` for every store, in parallel, finishing every store even when some fail."""

    def one(name: str) -> StoreResult:
        started = time.monotonic()
        try:
            return StoreResult(store=name, ok=True, data=work(name))
        except MaintError as exc:
            return StoreResult(store=name, ok=False, error=str(exc), exit_code=exc.exit_code)
        finally:
            _ = time.monotonic() - started

    report = RunReport()
    if len(stores) == 1:
        report.add(one(stores[0]))
        return report
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(stores)))) as pool:
        for result in pool.map(one, stores):
            report.add(result)
    return report


def finish(report: RunReport) -> None:
    """Print the failures of a many-store run and exit non-zero if any store failed."""
    for failed in report.failed:
        _stderr(failed.error if failed.error.startswith(failed.store) else f"{failed.store}: {failed.error}")
    if report.failed:
        raise Exit(code=report.exit_code or 2)
