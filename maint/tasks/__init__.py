"""The task collection: one module per CLI verb. `fab --list` in the project folder lists them."""

from __future__ import annotations

from invoke import Collection

from maint.tasks import add_store, check, cli_compat, doctor, flyer, health, info
from maint.tasks import hours as hours_tasks
from maint.tasks import init as init_tasks
from maint.tasks import mail as mail_tasks
from maint.tasks import mirror as mirror_tasks
from maint.tasks import prices as price_tasks
from maint.tasks import report as report_tasks
from maint.tasks import restore as restore_tasks
from maint.tasks import serve as serve_tasks
from maint.tasks import upgrade as upgrade_tasks
from maint.tasks.common import CONFIG_DEFAULTS

ns = Collection()
for _task in (
    info.info,
    check.check,
    mirror_tasks.mirror,
    serve_tasks.serve,
    restore_tasks.restore,
    upgrade_tasks.upgrade,
    upgrade_tasks.rollback,
    price_tasks.prices,
    price_tasks.discounts,
    price_tasks.groups,
    price_tasks.undo,
    health.health,
    flyer.flyer,
    mail_tasks.mail,
    hours_tasks.hours,
    hours_tasks.log,
    hours_tasks.account,
    report_tasks.report,
    init_tasks.init,
    add_store.add_store,
    doctor.doctor,
):
    # every task takes the contract (short flags, --quiet/--verbose, help): docs/internals.md. A task made
    # with invoke's own @task is fitted here; tests/tasks/test_cli_contract.py then asks for its examples.
    ns.add_task(_task if isinstance(_task, cli_compat.MaintTask) else cli_compat.adopt(_task))
ns.configure(CONFIG_DEFAULTS)
