"""`maint add-store CLIENT NAME --host ALIAS`: check the host key, find the OpenCart root, write the inventory."""

from __future__ import annotations

import dataclasses
import sys

from maint.billing.plans import load_plans
from maint.config import StoreConfig
from maint.errors import ConfigError, HostKeyError
from maint.facts.opencart import get_store_facts
from maint.onboard import (
    check_new_store,
    client_file_text,
    find_root,
    read_inventory,
    store_entry,
    write_client_file,
)
from maint.remote.hostkeys import add_known_host, offered_key, same_fingerprint
from maint.remote.ssh import connect
from maint.tasks.common import TaskContext, emit_json, maint_task, task


def _say(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def accept_host_key(cfg: StoreConfig, accept_fingerprint: str, dry_run: bool) -> bool:
    """Unknown host key: show it, add it only after a typed yes or the matching --accept-fingerprint.

    True when a key was (or, with --dry-run, would be) added.
    """
    offered = offered_key(cfg)
    if offered is None:
        return False
    _say(f"{offered.describe()}\nThis key is not in {offered.known_hosts}.")
    if accept_fingerprint:
        if not same_fingerprint(accept_fingerprint, offered):
            raise HostKeyError(
                f"--accept-fingerprint {accept_fingerprint} does not match the key {cfg.host} offers "
                f"({offered.sha256}); nothing was added", store=cfg.store)
    elif not sys.stdin.isatty():
        raise HostKeyError(
            f"unknown host key for {cfg.host} ({offered.key.get_name()} {offered.sha256}); not added. "
            "Verify it with the host's owner, then run in a terminal and answer yes, or pass "
            f"--accept-fingerprint {offered.sha256}", store=cfg.store)
    else:
        answer = input("Verify it with the host's owner or panel. Add it to known_hosts? Type yes to accept: ")
        if answer.strip().lower() != "yes":
            raise HostKeyError(f"host key for {cfg.host} not accepted; nothing was written", store=cfg.store)
    if dry_run:
        _say(f"would add it to {offered.known_hosts} (--dry-run: stopping before connecting)")
        return True
    _say(f"added {offered.entry_name} {offered.key.get_name()} to {add_known_host(offered)}")
    return True


@task(
    name="add-store",
    examples=["maint add-store acme shop --host acme-prod --dry-run", "maint add-store acme shop --host acme-prod",
              "maint add-store acme shop2 --host acme-prod --root /var/www/shop2 --plan starter"],
    positional=["client", "name"],
    help={
        "client": "client name (its inventory file is created when new)",
        "name": "store name, used on the command line (lower-case, digits, - and _)",
        "host": "SSH host alias from ~/.ssh/config (required)",
        "root": "the OpenCart root on the host (found under the usual places when not given)",
        "plan": "a new client's plan from plans.yaml (default: the first plan)",
        "accept_fingerprint": "accept the host's key only if it has this fingerprint (SHA256:...), for scripts",
        "dry_run": "show what would be written, write nothing",
        "json": "print JSON for machines (and skip the info report)",
    },
)
@maint_task
def add_store(c, client, name, host="", root="", plan="", accept_fingerprint="", dry_run=False, json=False):
    """Add a store to the inventory: verify the host key, find the OpenCart root, read it, write it, show its info."""
    if not host:
        raise ConfigError("--host ALIAS is required: the store's SSH host alias from ~/.ssh/config")
    tc = TaskContext.from_c(c)
    settings = tc.settings
    folder = settings.inventory.expanduser()
    if not folder.is_dir():
        raise ConfigError(f"inventory folder {folder} does not exist: run `maint init` first")
    inventory = read_inventory(folder, settings.plans_file)
    check_new_store(inventory, client, name)
    known_client = next((k for k in inventory.clients if k.name == client), None) if inventory else None
    if known_client is None:
        plans = load_plans(settings.plans_file).plans
        if plan and plan not in plans:
            raise ConfigError(f"--plan {plan!r}: not in {settings.plans_file} (plans: {', '.join(plans)})")
        plan = plan or next(iter(plans))
    cfg = StoreConfig(client=client, store=name, host=host, root=root, ssh_config=settings.ssh_config,
                      known_hosts=settings.known_hosts, connect_timeout=settings.connect_timeout,
                      state_dir=settings.state_dir)
    key_added = accept_host_key(cfg, accept_fingerprint, dry_run)
    if key_added and dry_run:
        return
    conn = connect(cfg)
    try:
        if not root:
            root = find_root(conn, host, name)
            _say(f"found OpenCart at {root}")
        facts = get_store_facts(conn, dataclasses.replace(cfg, root=root))
    finally:
        conn.close()
    entry = store_entry(name, host, facts.root, facts.admin_dir, facts.http_server)
    path, text = client_file_text(inventory, folder, client, entry, plan)
    summary = {"client": client, "store": name, "file": str(path), "version": facts.version,
               "url": facts.http_server, "admin": facts.admin_dir, "root": facts.root,
               "host_key_added": key_added, "written": not dry_run}
    if not json:
        _say(f"OpenCart {facts.version} at {facts.root} (admin folder {facts.admin_dir!r}, {facts.http_server or 'no URL'})")
        _say(f"{'would write' if dry_run else 'writing'} {path}")
    if dry_run:
        if json:
            emit_json([summary])
        else:
            sys.stdout.write(text)
        return
    write_client_file(path, text, folder, settings.plans_file)
    if json:
        emit_json([summary])
        return
    from maint.tasks.info import info

    info(c, name)
