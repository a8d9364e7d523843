"""`maint init [FOLDER]`: set up an agency folder (settings, inventory, own playbooks, state)."""

from __future__ import annotations

import sys
from pathlib import Path

from maint.agency import default_folder, init_folder, next_steps
from maint.tasks.common import emit_json, maint_task, task


@task(
    name="init",
    examples=["maint init", "maint init ~/agency --state-dir ~/agency/state", "maint init --force"],
    positional=["folder"],
    help={
        "folder": "the agency folder (default ~/.config/maint, or $MAINT_HOME)",
        "force": "the folder exists already: create only what is missing, never overwrite",
        "state_dir": "where the ledger, health history and undo files go (default ~/.local/state/maint "
        "for the default folder, else FOLDER/state)",
        "json": "print JSON for machines",
    },
)
@maint_task
def init(c, folder="", force=False, state_dir="", json=False):
    """Create an agency folder: fabric.yaml, inventory/ with an example client, playbooks/, state folder."""
    target = Path(folder).expanduser() if folder else default_folder()
    result = init_folder(target, force=force, state_dir=Path(state_dir) if state_dir else None)
    steps = next_steps(result.folder)
    if json:
        emit_json([{"store": None, "folder": str(result.folder), "created": [str(p) for p in result.created],
                    "kept": [str(p) for p in result.kept], "next": steps}])
        return
    out = sys.stdout
    for path in result.created:
        out.write(f"created {path}\n")
    for path in result.kept:
        out.write(f"kept    {path} (exists)\n")
    out.write("\nNext:\n" + "".join(f"  {s}\n" for s in steps))
