"""`fab info STORE`: what a store is, read over SSH and SQL."""

from __future__ import annotations

from typing import Any

from maint import render
from maint.facts.database import get_db_summary
from maint.facts.disk import get_tree_size
from maint.facts.opencart import get_store_facts
from maint.remote.sql import open_db
from maint.remote.ssh import connect
from maint.tasks.common import TaskContext, emit_json, finish, for_each_store, maint_task, task, work_session


def gather_info(tc: TaskContext, name: str, *, over_budget: bool = False) -> dict[str, Any]:
    cfg = tc.store(name)
    with work_session(tc, cfg, "info", over_budget=over_budget):
        conn = connect(cfg)
        try:
            facts = get_store_facts(conn, cfg)
            with open_db(conn, facts.db, store=name) as db:
                summary = get_db_summary(db, facts.db.database, facts.db.prefix)
            paths = [facts.root]
            if facts.dir_storage and not facts.storage_in_webroot:
                paths.append(facts.dir_storage)
            tree = get_tree_size(conn, paths, store=name)
        finally:
            conn.close()
    info = {"client": cfg.client, "host": cfg.host, **facts.public(), **summary}
    info["files"] = {"count": tree.files, "bytes": tree.bytes}
    return info


def show_info(info: dict[str, Any]) -> None:
    counts = info["counts"]
    extensions = ", ".join(f"{e['type']}/{e['code']}" for e in info["extensions"]) or "none"
    engines = ", ".join(f"{n} {e}" for e, n in sorted(info["engines"].items()))
    version = info["version"]
    if info["version_define"] and info["version_define"] != version:
        version += f" (VERSION define says {info['version_define']})"
    pairs = [
        ("client", info["client"]),
        ("host", info["host"]),
        ("OpenCart", version),
        ("root", info["root"]),
        ("admin folder", info["admin_dir"]),
        ("storage", info["dir_storage"] + ("" if info["storage_in_webroot"] else "  (outside the web root)")),
        ("URL", info["url"]),
        ("table prefix", info["table_prefix"]),
        ("maintenance mode", "ON" if info["maintenance"] else "off"),
        ("products", counts.get("product")),
        ("customers", counts.get("customer")),
        ("orders", counts.get("order")),
        ("customer groups", counts.get("customer_group")),
        ("extensions", extensions),
        ("files", f"{info['files']['count']} files, {render.bytes_human(info['files']['bytes'])}"),
        ("database", f"{info['database']}: {render.bytes_human(info['database_bytes'])}, {info['tables']} tables ({engines})"),
        ("database server", info["server_version"]),
    ]
    pairs += [("warning", w) for w in info["warnings"]]
    render.key_values(f"{info['store']}", pairs)


@task(
    name="info",
    examples=[
        "fab info demo",
        "fab info --all --json",
        "fab info demo -q -j > demo.json",
    ],
    positional=["store"],
    help={
        "store": "store name from the inventory",
        "all_": "every store in the inventory",
        "json": "print JSON for machines",
        "over_budget": "work even when the client's plan is spent",
    },
)
@maint_task
def info(c, store=None, all_=False, json=False, over_budget=False):
    """Show a store's OpenCart version, paths, counts and sizes (read-only)."""
    tc = TaskContext.from_c(c)
    names = tc.targets(store, all_)
    report = for_each_store(
        names, lambda name: gather_info(tc, name, over_budget=over_budget), parallel=tc.settings.parallel
    )
    if json:
        emit_json(report)
    else:
        for result in report.succeeded:
            show_info(result.data)
    finish(report)
