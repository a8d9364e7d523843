"""The task collection: one module per CLI verb. `fab --list` in the project folder lists them."""

from __future__ import annotations

from invoke import Collection

from maint.tasks import check, cli_compat, health, info  # noqa: F401  (cli_compat patches the parser)
from maint.tasks import hours as hours_tasks
from maint.tasks.common import CONFIG_DEFAULTS

ns = Collection()
ns.add_task(info.info)
ns.add_task(check.check)
ns.add_task(health.health)
for _task in (hours_tasks.hours, hours_tasks.log, hours_tasks.account):
    ns.add_task(_task)
ns.configure(CONFIG_DEFAULTS)
