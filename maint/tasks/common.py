"""What every task shares: config resolution, error translation, the time ledger, prompts, fan-out.

Only this package knows about Fabric's ``c``; everything below it takes plain arguments.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from invoke import task as invoke_task
from invoke.exceptions import Exit
from rich.markup import escape

from maint import render
from maint.config import Settings, StoreConfig, load_settings, store_config
from maint.errors import CancelledByUser, MaintError, UsageError
from maint.inventory import Client, Inventory, load_inventory
from maint.model import RunReport, StoreResult
from maint.tasks.cli_compat import MaintTask, silence_stdout, usage_hint

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
        con.print(f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False)
    else:
        sys.stderr.write(f"error: {message}\n")


# Invoke's @task with maint's contract (maint.tasks.cli_compat.MaintTask): the short-flag table,
# --quiet/--verbose, help with examples. Every task uses it, with @maint_task under it.
task = functools.partial(invoke_task, klass=MaintTask)


@dataclass
class Run:
    """The task run under way (one per process): what the JSON envelope and the ledger need."""

    task: str
    started: datetime
    json: bool = False
    emitted: bool = False
    dry_run: bool = False


RUN: Run | None = None


def _run() -> Run:
    return RUN or Run(task="", started=datetime.now(UTC))


def maint_task(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The contract every task gets: global flags applied, Fabric's --dry honoured, a MaintError
    turned into a one-line message (and, with --json, the envelope with its error) and its exit
    code; anything else is a bug and keeps its traceback."""
    accepts = set(inspect.signature(fn).parameters)
    name = fn.__name__.rstrip("_").replace("_", "-")

    @functools.wraps(fn)
    def wrapper(c: Any, *args: Any, **kwargs: Any) -> Any:
        global RUN
        quiet = bool(kwargs.get("quiet") if "quiet" in accepts else kwargs.pop("quiet", False))
        verbose = bool(kwargs.get("verbose") if "verbose" in accepts else kwargs.pop("verbose", False))
        as_json = bool(kwargs.get("json", False))
        render.set_output(quiet=quiet, verbose=verbose)
        RUN = run = Run(task=name, started=datetime.now(UTC), json=as_json)
        try:
            if _fabric_dry(c):  # `fab --dry` reaches here only when a task is called outside the CLI
                if "dry_run" not in accepts:
                    raise UsageError(f"{name} has no dry run; run it without --dry")
                kwargs["dry_run"] = True
            run.dry_run = bool(kwargs.get("dry_run"))
            render.note(f"{name} started {render.iso(run.started)}")
            with contextlib.ExitStack() as stack:
                if quiet and not as_json:  # plain print()s too; questions go to stderr (confirm)
                    stack.enter_context(contextlib.redirect_stdout(stack.enter_context(open(os.devnull, "w"))))
                return fn(c, *args, **kwargs)
        except MaintError as exc:
            message = str(exc)
            if isinstance(exc, UsageError):
                message += usage_hint(getattr(wrapper, "maint_task", None))
            if as_json and not run.emitted:
                emit_json([], exit_code=exc.exit_code, error=message, ok=False,
                          stores_failed=[exc.store] if exc.store else [])
            _stderr(message)
            raise Exit(code=exc.exit_code) from None
        except KeyboardInterrupt:
            _stderr("interrupted")
            raise Exit(code=130) from None
        except BrokenPipeError:  # `fab hours --all | head`
            silence_stdout()
            raise Exit(code=0) from None
        finally:
            render.note(f"{name} finished in {(datetime.now(UTC) - run.started).total_seconds():.1f}s")
            RUN = None  # a library caller's next work_session is not this run's
            render.set_output()

    wrapper.maint_contract = True  # type: ignore[attr-defined]
    return wrapper


def _fabric_dry(c: Any) -> bool:
    try:
        return bool(c.config.run.dry)
    except AttributeError:
        return False


def store_items(report: RunReport) -> list[dict[str, Any]]:
    """A many-store run as envelope items: each store's data, or its error and exit code."""
    items: list[dict[str, Any]] = []
    for r in report.results:
        if r.ok:
            data = r.data if isinstance(r.data, dict) else {"result": r.data}
            items.append({"store": r.store, "ok": True, **{k: v for k, v in data.items() if not k.startswith("_")}})
        else:
            items.append({"store": r.store, "ok": False, "error": r.error, "exit_code": r.exit_code})
    return items


def emit_json(
    stores: Sequence[dict[str, Any]] | RunReport,
    *,
    exit_code: int | None = None,
    error: str | None = None,
    ok: bool | None = None,
    stores_failed: Sequence[str] = (),
    **extra: Any,
) -> None:
    """Print the run's one JSON envelope (task, version, ok, exit_code, started, stores)."""
    run = _run()
    if isinstance(stores, RunReport):
        code = (stores.exit_code or 2) if stores.failed else 0
        stores = store_items(stores)
    else:
        code = max((int(s.get("exit_code") or 2) for s in stores if s.get("ok") is False or s.get("error")),
                   default=0)
    items = list(stores) + [{"store": s, "ok": False, "error": error} for s in stores_failed]
    render.print_json(
        render.envelope(run.task, run.started, items, exit_code=code if exit_code is None else exit_code,
                        ok=ok, error=error, **extra)
    )
    run.emitted = True


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
            raise UsageError("give a STORE or --all, not both")
        if all_:
            return self.inventory.store_names()
        if not store:
            raise UsageError("which store? give a STORE name or --all")
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
    sys.stderr.write(f"{question} [y/N] ")  # on stderr: stdout may be piped, or silenced by --quiet
    sys.stderr.flush()
    answer = input().strip().lower()
    if answer not in ("y", "yes"):
        raise CancelledByUser("cancelled, nothing was changed")


def wants_over_budget(tc: TaskContext, flag: bool) -> bool:
    """The flag, or MAINT_OVER_BUDGET=1 / maint.over_budget for scripted runs."""
    return (
        flag
        or os.environ.get("MAINT_OVER_BUDGET", "") in ("1", "true", "yes")
        or bool(tc.settings.raw.get("over_budget"))
    )


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

    over_budget = wants_over_budget(tc, over_budget)

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
    # a dry run is logged as one (it costs nothing), whether the task says so or the run's flags do
    outcome = "dry run" if dry_run or (RUN is not None and RUN.dry_run) else "ok"
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
    if render.OUTPUT["quiet"]:
        return
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
