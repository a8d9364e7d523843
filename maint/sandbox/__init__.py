"""The local test host: MariaDB, sshd and PHP on 127.0.0.1 serving OpenCart-shaped fixture stores.

    with Sandbox(tmp / "sb", [StoreSpec("s3", "3.0.3.8")]) as sandbox:
        sandbox.store("s3").url, sandbox.env()

`python -m maint.sandbox up|down|status|env` runs the demo sandbox for people trying the toolkit.
"""

from maint.sandbox.orchestrator import Sandbox, SandboxStore, StoreSpec
from maint.sandbox.process import SandboxError
from maint.sandbox.sshd import HOST_ALIAS

__all__ = ["HOST_ALIAS", "Sandbox", "SandboxError", "SandboxStore", "StoreSpec"]
