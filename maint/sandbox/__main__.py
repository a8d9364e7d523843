"""`python -m maint.sandbox up [--base DIR] [--demo]`, `real [--source PATH]`, `down`, `status`, `env`.

`up` leaves the services running after it exits (stop them with `down`, which stops by PID from
state.json). With --demo (the default) it starts the demo client's stores, which the project's
maint/playbooks/clients/demo.yaml describes, so FABRIC_MAINT_INVENTORY is left alone.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from maint.errors import MaintError
from maint.sandbox.orchestrator import (
    Sandbox,
    StoreBuilder,
    StoreSpec,
    read_state,
    recorded_processes,
    stop_recorded,
)

DEFAULT_BASE = Path("~/.maint-sandbox")
DEMO_STORES = (StoreSpec("demo", "3.0.3.8"), StoreSpec("demo4", "4.0.2.3"))


def real_store_name(version: str) -> str:
    """3.0.5.1 -> r3051: the name a real release's store gets unless --store names it."""
    return "r" + "".join(ch for ch in version if ch.isalnum()).lower()


def cmd_real(base: Path, source: str | None, wanted: list[str], client: str, fresh: bool,
             fixed_ports: dict[str, int]) -> int:
    from maint.sandbox.real import REAL_VERSIONS, RealStoreBuilder, how_to_enable

    builder = RealStoreBuilder.find(source)
    if builder is None:
        print(f"no OpenCart source found: {how_to_enable()}", file=sys.stderr)
        return 2
    stores = []
    for text in wanted or list(REAL_VERSIONS):
        spec = parse_store_arg(text) if "=" in text else StoreSpec(real_store_name(text), text)
        stores.append(spec)
    return cmd_up(base, stores, client, fresh, fixed_ports, builder=builder)


def _print_env(env: dict[str, str]) -> None:
    import shlex

    for key, value in env.items():
        print(f"export {key}={shlex.quote(value)}")


def _is_default_base(base: Path) -> bool:
    return base.expanduser().absolute() == DEFAULT_BASE.expanduser().absolute()


def parse_store_arg(text: str) -> StoreSpec:
    """NAME=VERSION, optionally followed by :outside (storage outside the web root)."""
    name, sep, rest = text.partition("=")
    version, _, flag = rest.partition(":")
    if not sep or not name or not version or flag not in ("", "outside"):
        raise MaintError(f"--store {text!r}: expected NAME=VERSION or NAME=VERSION:outside")
    return StoreSpec(name, version, storage_outside=flag == "outside")


def parse_ports(words: list[str]) -> dict[str, int]:
    """["sshd=2222", "php:demo=8080"] -> {"sshd": 2222, "php:demo": 8080}."""
    fixed = {}
    for word in words:
        name, sep, number = word.rpartition("=")
        if not sep or not name or not number.isdigit() or not 0 < int(number) < 65536:
            raise MaintError(f"--port {word!r}: expected SERVICE=PORT (sshd, mariadb or php:STORE)")
        fixed[name] = int(number)
    return fixed


def cmd_up(base: Path, stores: list[StoreSpec], client: str, fresh: bool, fixed_ports: dict[str, int],
           builder: StoreBuilder | None = None) -> int:
    if fresh:
        stop_recorded(base)
        shutil.rmtree(base.expanduser(), ignore_errors=True)
    state = read_state(base)
    recorded = list(recorded_processes(state))
    if recorded and all(running for _, _, running in recorded):
        print(f"sandbox already running in {base.expanduser()}", file=sys.stderr)
        _print_env(state.get("env", {}))
        return 0
    if recorded:  # partly running (a crash, a reboot): stop the rest and start again in place
        stop_recorded(base)
    demo = not stores
    # The project's demo.yaml names the demo stores under the default base; otherwise write an inventory.
    sandbox = Sandbox(base, stores or DEMO_STORES, client="demo" if demo else client,
                      write_inventory=not (demo and _is_default_base(base)), stop_at_exit=False,
                      fixed_ports=fixed_ports, builder=builder)
    sandbox.start()
    print(f"sandbox up in {sandbox.start_seconds:.1f}s: {sandbox.base}", file=sys.stderr)
    for store in sandbox.stores:
        print(f"  {store.name}: OpenCart {store.version} at {store.url} (root {store.root})", file=sys.stderr)
    print(f"  ssh: ssh -F {sandbox.ssh_config} {sandbox.host}", file=sys.stderr)
    print(f"  load the environment with: . {sandbox.env_file}", file=sys.stderr)
    _print_env(sandbox.env())
    return 0


def cmd_down(base: Path) -> int:
    stopped = stop_recorded(base)
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running", file=sys.stderr)
    return 0


def cmd_status(base: Path) -> int:
    state = read_state(base)
    if not state:
        print(f"no sandbox in {base.expanduser()}")
        return 1
    recorded = list(recorded_processes(state))
    if not recorded:
        print(f"sandbox in {base.expanduser()} is stopped (start it again with `up`)")
    for name, ref, running in recorded:
        print(f"{name:16} pid {ref.pid:<8} {'running' if running else 'stopped'}")
    ports = state.get("ports", {})
    print(f"mariadb port {ports.get('mariadb')}, ssh port {ports.get('sshd')}")
    for store in state.get("stores", []):
        print(f"store {store['name']}: OpenCart {store['version']} at {store['url']}")
    up = bool(recorded) and all(running for _, _, running in recorded)
    return 0 if up else 1


def cmd_env(base: Path) -> int:
    state = read_state(base)
    if not state:
        print(f"no sandbox in {base.expanduser()}; run `python -m maint.sandbox up` first", file=sys.stderr)
        return 1
    _print_env(state.get("env", {}))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m maint.sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, default=Path(os.environ.get("MAINT_SANDBOX_BASE") or DEFAULT_BASE),
                        help="sandbox folder (default $MAINT_SANDBOX_BASE or %(default)s)")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the sandbox (idempotent) and print its environment")
    up.add_argument("--demo", action="store_true", help="the demo client's stores: demo (3.0.3.8), demo4 (4.0.2.3); "
                    "the default unless --store or $MAINT_SANDBOX_STORES names stores")
    up.add_argument("--store", action="append", default=[], metavar="NAME=VERSION[:outside]",
                    help="a store of your own (repeatable); its inventory goes to BASE/inventory/CLIENT.yaml")
    up.add_argument("--port", action="append", default=[], metavar="SERVICE=PORT",
                    help="a fixed port (sshd, mariadb, php:STORE; repeatable; default $MAINT_SANDBOX_PORTS, else free)")
    up.add_argument("--client", default="sandbox", help="client name for --store stores (default %(default)s)")
    up.add_argument("--fresh", action="store_true", help="delete the folder first and build everything anew")
    real = sub.add_parser("real", help="start a sandbox of real OpenCart releases, each installed by its own installer")
    real.add_argument("--source", help="git clone of github.com/opencart/opencart or a folder of release zips "
                      "(default $MAINT_OPENCART_SOURCE, else a known mirror location)")
    real.add_argument("--store", action="append", default=[], metavar="VERSION|NAME=VERSION[:outside]",
                      help="a release to install (repeatable; default 3.0.3.8 3.0.5.1 4.0.2.3 4.1.0.4 as r3038 ...)")
    real.add_argument("--port", action="append", default=[], metavar="SERVICE=PORT", help="a fixed port, as for up")
    real.add_argument("--client", default="real", help="client name in the inventory (default %(default)s)")
    real.add_argument("--fresh", action="store_true", help="delete the folder first and install everything anew")
    sub.add_parser("down", help="stop every process the sandbox started")
    sub.add_parser("status", help="say what runs (exit 0 when everything does)")
    sub.add_parser("env", help="print the shell exports for the sandbox")
    args = parser.parse_args(argv)
    base: Path = args.base
    try:
        if args.command == "up":
            wanted = [] if args.demo else args.store or os.environ.get("MAINT_SANDBOX_STORES", "").split()
            fixed = parse_ports(args.port or os.environ.get("MAINT_SANDBOX_PORTS", "").split())
            return cmd_up(base, [parse_store_arg(text) for text in wanted], args.client, args.fresh, fixed)
        if args.command == "real":
            fixed = parse_ports(args.port or os.environ.get("MAINT_SANDBOX_PORTS", "").split())
            return cmd_real(base, args.source, args.store, args.client, args.fresh, fixed)
        if args.command == "down":
            return cmd_down(base)
        if args.command == "status":
            return cmd_status(base)
        return cmd_env(base)
    except MaintError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
