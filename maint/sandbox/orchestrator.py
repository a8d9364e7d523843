"""The sandbox: one MariaDB, one sshd and one PHP server per store, all on 127.0.0.1.

Layout under `base`:
    mariadb/   datadir, socket, log          ssh/        keys, sshd_config, ssh_config, known_hosts
    stores/<name>/www (docroot), storage     logs/       php logs
    inventory/<client>.yaml, env, state.json, state/ (FABRIC_MAINT_STATE_DIR), mirror/

state.json records the ports, the store databases and the PIDs, so `python -m maint.sandbox down`
can stop a sandbox started by another process, and `up` can restart a stopped one in place (the
stores' config.php files hold the ports, so they must not change).
"""

from __future__ import annotations

import atexit
import json
import os
import shlex
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from maint.sandbox import ports
from maint.sandbox.mariadb import MariaDB, StoreDatabase
from maint.sandbox.php import PhpServer
from maint.sandbox.process import ProcessRef, SandboxError, is_running, process_start_ticks, stop_process
from maint.sandbox.sshd import HOST_ALIAS, Sshd

STATE_FILE = "state.json"
STATE_VERSION = 1

# build_store(version, root, db, *, url, prefix, admin_dir, storage_dir, size, seed, engine)
StoreBuilder = Callable[..., None]


@dataclass(frozen=True)
class StoreSpec:
    name: str
    version: str
    size: str = "small"
    admin_dir: str = "admin"
    storage_outside: bool = False
    prefix: str = "oc_"
    engine: str | None = None


@dataclass(frozen=True)
class SandboxStore:
    name: str
    version: str
    root: Path
    storage: Path
    url: str
    db_name: str
    db_user: str
    db_password: str = field(repr=False)
    php_port: int
    admin_dir: str
    prefix: str = "oc_"
    db_host: str = "127.0.0.1"
    db_port: int = 0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["root"], data["storage"] = str(self.root), str(self.storage)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SandboxStore:
        values = dict(data)
        values["root"], values["storage"] = Path(values["root"]), Path(values["storage"])
        return cls(**values)


def default_builder() -> StoreBuilder:
    from maint.sandbox.fixture import build_store  # imported late: the builder is heavy and optional in tests

    return build_store


@dataclass(frozen=True)
class DbTarget:
    """Same fields as maint.sandbox.fixture.DbTarget, for builders injected by tests."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    database: str


def _builder_arguments(injected: bool, db: StoreDatabase, port: int, size: str) -> tuple[Any, Any]:
    """The `db` and `size` arguments for the builder: the fixture's own types unless one was injected."""
    if injected:
        return DbTarget("127.0.0.1", port, db.user, db.password, db.name), size
    from maint.sandbox import fixture

    if size not in fixture.SIZES:
        raise SandboxError(f"unknown store size {size!r} (sizes: {', '.join(fixture.SIZES)})")
    return fixture.DbTarget(host="127.0.0.1", port=port, user=db.user, password=db.password,
                            database=db.name), fixture.SIZES[size]


class Sandbox:
    """Start with start() or `with Sandbox(...) as sb:`; everything started is stopped by PID on
    stop(), on leaving the context, and at interpreter exit (unless stop_at_exit=False, as for `up`)."""

    def __init__(
        self,
        base: Path,
        stores: Sequence[StoreSpec],
        *,
        client: str = "sandbox",
        builder: StoreBuilder | None = None,
        write_inventory: bool = True,
        stop_at_exit: bool = True,
        seed: int = 1,
        fixed_ports: Mapping[str, int] | None = None,
        mariadb_options: Sequence[str] = (),
    ) -> None:
        """fixed_ports: {"sshd": 2222, "mariadb": 3307, "php:<store>": 8080}; the rest are picked free.
        mariadb_options: extra server options (benchmarks: PRODUCTION_DURABILITY)."""
        names = [spec.name for spec in stores]
        if len(set(names)) != len(names):
            raise SandboxError(f"store names must be unique: {names}")
        self.base = Path(base).expanduser().absolute()
        self.specs = list(stores)
        self.client = client
        self.write_inventory = write_inventory
        self.stop_at_exit = stop_at_exit
        self.seed = seed
        self._builder = builder
        self._stores: dict[str, SandboxStore] = {}
        self._php: dict[str, PhpServer] = {}
        self.start_seconds = 0.0
        self._attached = False
        previous = read_state(self.base)
        layout = previous.get("ports", {}) if previous else {}
        socket = Path(previous["mariadb_socket"]) if previous.get("mariadb_socket") else None
        self._fixed = dict(fixed_ports or {})
        unknown = set(self._fixed) - {"mariadb", "sshd", *(f"php:{name}" for name in names)}
        if unknown:
            raise SandboxError(f"fixed ports for unknown services: {', '.join(sorted(unknown))}")
        self.mariadb = MariaDB(self.base / "mariadb", port=layout.get("mariadb") or self._fixed.get("mariadb"),
                               socket=socket, options=mariadb_options)
        self.sshd = Sshd(self.base / "ssh", port=layout.get("sshd") or self._fixed.get("sshd"))
        if previous:
            self._stores = {s["name"]: SandboxStore.from_dict(s) for s in previous.get("stores", [])}

    @classmethod
    def attach(cls, base: Path) -> Sandbox:
        """A handle on a sandbox another process started (state.json), e.g. the Docker testbed's.

        Its services keep running when the handle goes away; php_stop/php_start and mariadb.stop/start
        still work (by PID), but a restarted service then runs as a child of this process."""
        state = read_state(base)
        if not state:
            raise SandboxError(f"no sandbox state in {base}")
        specs = [StoreSpec(s["name"], s["version"], admin_dir=s["admin_dir"], prefix=s["prefix"])
                 for s in state.get("stores", [])]
        sandbox = cls(base, specs, client=state["client"], write_inventory=state["write_inventory"],
                      stop_at_exit=False)
        refs = {name: ref for name, ref, running in recorded_processes(state) if running}
        if "mariadb" in refs:
            sandbox.mariadb.adopt(refs["mariadb"])
        if "sshd" in refs:
            sandbox.sshd.adopt(refs["sshd"])
        for store in sandbox.stores:
            php = PhpServer(store.name, store.root, sandbox.base / "logs", port=store.php_port)
            if f"php:{store.name}" in refs:
                php.adopt(refs[f"php:{store.name}"])
            sandbox._php[store.name] = php
        sandbox._attached = True
        return sandbox

    @staticmethod
    def is_up(base: Path) -> bool:
        """True when state.json lists the database, sshd and every store's PHP server, all running."""
        try:
            state = read_state(base)
        except SandboxError:
            return False
        recorded = {name: running for name, _, running in recorded_processes(state)}
        wanted = {"mariadb", "sshd", *(f"php:{s['name']}" for s in state.get("stores", []))}
        return bool(state) and all(recorded.get(name, False) for name in wanted)

    # -- paths ---------------------------------------------------------------------------------
    @property
    def inventory_dir(self) -> Path:
        return self.base / "inventory"

    @property
    def state_dir(self) -> Path:
        return self.base / "state"

    @property
    def mirror_dir(self) -> Path:
        return self.base / "mirror"

    @property
    def env_file(self) -> Path:
        return self.base / "env"

    @property
    def ssh_config(self) -> Path:
        return self.sshd.ssh_config

    @property
    def known_hosts(self) -> Path:
        return self.sshd.known_hosts

    @property
    def host(self) -> str:
        return HOST_ALIAS

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> Sandbox:
        if self._attached:
            raise SandboxError("an attached sandbox is started by its owner (python -m maint.sandbox up)")
        running = [name for name, _, up in recorded_processes(read_state(self.base)) if up]
        if running and not self.processes():
            raise SandboxError(f"a sandbox already runs in {self.base} ({', '.join(running)}); attach to it or "
                               f"stop it first: python -m maint.sandbox --base {self.base} down")
        began = time.monotonic()
        for folder in (self.base, self.state_dir, self.mirror_dir, self.base / "logs", self.base / "stores"):
            folder.mkdir(parents=True, exist_ok=True)
        self.base.chmod(0o700)  # holds keys and DB passwords
        if self.stop_at_exit:
            atexit.register(self.stop)
        try:
            self.mariadb.start()
            self.sshd.start()
            self._write_state()
            for spec in self.specs:
                self._start_store(spec)
                self._write_state()
            self._write_client_files()
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - began
        return self

    def _start_store(self, spec: StoreSpec) -> None:
        existing = self._stores.get(spec.name)
        if existing is not None and existing.root.is_dir():
            store = existing  # restart in place: its config.php already names these ports
        else:
            store = self._build_store(spec)
            self._stores[spec.name] = store
        php = PhpServer(spec.name, store.root, self.base / "logs", port=store.php_port)
        self._php[spec.name] = php
        php.start()

    def _build_store(self, spec: StoreSpec) -> SandboxStore:
        folder = self.base / "stores" / spec.name
        root = folder / "www"
        storage = folder / "storage" if spec.storage_outside else root / "system" / "storage"
        php_port = self._fixed.get(f"php:{spec.name}") or ports.free_port()
        url = f"http://127.0.0.1:{php_port}/"
        db = self.mariadb.create_store_database(spec.name)
        builder = self._builder or default_builder()
        target, size = _builder_arguments(self._builder is not None, db, self.mariadb.port, spec.size)
        root.mkdir(parents=True, exist_ok=True)
        builder(
            spec.version, root, target, url=url, prefix=spec.prefix, admin_dir=spec.admin_dir,
            storage_dir=storage if spec.storage_outside else None, size=size, seed=self.seed,
            engine=spec.engine,
        )
        return SandboxStore(
            name=spec.name, version=spec.version, root=root, storage=storage, url=url, db_name=db.name,
            db_user=db.user, db_password=db.password, php_port=php_port, admin_dir=spec.admin_dir,
            prefix=spec.prefix, db_port=self.mariadb.port,
        )

    def stop(self) -> None:
        """Stop everything this object started; safe to call twice. An attached handle stops nothing."""
        atexit.unregister(self.stop)
        if self._attached:
            return
        for php in self._php.values():
            php.stop()
        self.sshd.stop()
        self.mariadb.stop()
        if self.base.is_dir():
            self._write_state()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- per-store access and faults -----------------------------------------------------------
    def store(self, name: str) -> SandboxStore:
        try:
            return self._stores[name]
        except KeyError:
            raise SandboxError(f"no sandbox store {name!r} (stores: {', '.join(self._stores)})") from None

    @property
    def stores(self) -> list[SandboxStore]:
        return [self._stores[spec.name] for spec in self.specs if spec.name in self._stores]

    def php_stop(self, name: str) -> None:
        self.store(name)
        if name in self._php:
            self._php[name].stop()
        self._write_state()

    def php_start(self, name: str) -> None:
        store = self.store(name)
        php = self._php.setdefault(name, PhpServer(name, store.root, self.base / "logs", port=store.php_port))
        php.start()
        self._write_state()

    def db_admin(self, database: str | None = None) -> Any:
        """A PyMySQL admin connection (root over the unix socket), optionally to a store's database."""
        return self.mariadb.connect(database)

    # -- what clients read ---------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        env = {
            "FABRIC_MAINT_SSH_CONFIG": str(self.ssh_config),
            "FABRIC_MAINT_KNOWN_HOSTS": str(self.known_hosts),
            "FABRIC_MAINT_STATE_DIR": str(self.state_dir),
        }
        if self.write_inventory:
            env["FABRIC_MAINT_INVENTORY"] = str(self.inventory_dir)
        return env

    def maint_config(self) -> dict[str, str]:
        """The same settings as the `maint` section of a fabric.yaml (for Context(Config(...)))."""
        return maint_config(self.env())

    def inventory(self) -> dict[str, Any]:
        return {
            "name": self.client,
            "title": f"Sandbox client ({self.client})",
            "plan": "retainer",
            "contacts": [{"name": "Sandbox Owner", "email": "owner@example.invalid", "role": "owner"}],
            "stores": [
                {"name": s.name, "host": HOST_ALIAS, "root": str(s.root), "admin": s.admin_dir, "url": s.url,
                 "mirror": str(self.mirror_dir)}
                for s in self.stores
            ],
        }

    def _write_client_files(self) -> None:
        if self.write_inventory:
            self.inventory_dir.mkdir(exist_ok=True)
            text = yaml.safe_dump(self.inventory(), sort_keys=False)
            (self.inventory_dir / f"{self.client}.yaml").write_text(text)
        lines = [f"export {key}={shlex.quote(value)}" for key, value in self.env().items()]
        self.env_file.write_text("\n".join(lines) + "\n")

    def processes(self) -> dict[str, ProcessRef]:
        refs = {"mariadb": self.mariadb.ref, "sshd": self.sshd.ref}
        refs.update({f"php:{name}": php.ref for name, php in self._php.items()})
        return {name: ref for name, ref in refs.items() if ref is not None}

    def _write_state(self) -> None:
        state = {
            "version": STATE_VERSION,
            "client": self.client,
            "write_inventory": self.write_inventory,
            "ports": {"mariadb": self.mariadb.port, "sshd": self.sshd.port},
            "mariadb_socket": str(self.mariadb.socket),
            "stores": [s.as_dict() for s in self.stores],
            "pids": {name: ref.as_dict() for name, ref in self.processes().items()},
            "env": self.env(),
            # Who stops these services: a test run (stop_at_exit) or nobody but `down` (the CLI's `up`).
            "owner": _this_process().as_dict() if self.stop_at_exit else None,
        }
        path = self.base / STATE_FILE
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds DB passwords
        with os.fdopen(fd, "w") as handle:
            json.dump(state, handle, indent=2)
        tmp.replace(path)


def _this_process() -> ProcessRef:
    ticks = process_start_ticks(os.getpid())
    return ProcessRef(os.getpid(), ticks if ticks is not None else -1)


# -- state.json, for the CLI ------------------------------------------------------------------
def maint_config(env: Mapping[str, str]) -> dict[str, str]:
    """FABRIC_MAINT_* variables as the keys of invoke's `maint` config section."""
    return {k.removeprefix("FABRIC_MAINT_").lower(): v for k, v in env.items() if k.startswith("FABRIC_MAINT_")}


def read_state(base: Path) -> dict[str, Any]:
    path = Path(base).expanduser() / STATE_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise SandboxError(f"{path} is unreadable ({exc}); remove the sandbox folder and start again") from None
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        raise SandboxError(f"{path} was written by another version of the sandbox; remove the folder")
    return data


def recorded_processes(state: Mapping[str, Any]) -> Iterator[tuple[str, ProcessRef, bool]]:
    """(name, ref, running) for every process state.json lists."""
    for name, raw in state.get("pids", {}).items():
        ref = ProcessRef.from_dict(raw)
        yield name, ref, is_running(ref)


def stop_recorded(base: Path) -> list[str]:
    """Stop, by PID, every process a sandbox's state.json lists; returns the names that were running."""
    state = read_state(base)
    stopped = [name for name, ref, running in recorded_processes(state) if running and stop_process(ref)]
    if state:
        state["pids"] = {}
        (Path(base).expanduser() / STATE_FILE).write_text(json.dumps(state, indent=2))
    return stopped


def stop_orphans(state_files: Iterator[Path]) -> list[Path]:
    """Stop sandboxes whose owning process died without stopping them (a test run killed with SIGKILL).

    Sandboxes started by `up` have no owner and are left alone, as are those whose owner still runs."""
    stopped = []
    for path in state_files:
        try:
            owner = read_state(path.parent).get("owner")
        except SandboxError:
            continue
        if owner and not is_running(ProcessRef.from_dict(owner)) and stop_recorded(path.parent):
            stopped.append(path.parent)
    return stopped
