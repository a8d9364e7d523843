"""The `maint` console script: Fabric's program with maint's task collection, usable from any folder.

It loads the agency folder's fabric.yaml (``~/.config/maint/`` or ``$MAINT_HOME``, made by
`maint init`) as the project-level config, so an installed maint finds the agency's inventory
wherever it is run; ``FABRIC_MAINT_*`` variables and ``-f FILE`` still win over it.
"""

from __future__ import annotations

import platform

import fabric
import invoke
import paramiko
from fabric import Config, Executor
from fabric.main import Fab
from invoke.exceptions import Exit

from maint import __version__
from maint.agency import CONFIG_NAME, config_problem, default_folder
from maint.errors import ConfigError
from maint.tasks import ns
from maint.tasks.cli_compat import silence_stdout


class MaintProgram(Fab):
    def print_version(self) -> None:
        print(f"maint {__version__}")
        print(f"Fabric {fabric.__version__}, Invoke {invoke.__version__}, Paramiko {paramiko.__version__}, "
              f"Python {platform.python_version()}")

    def update_config(self) -> None:
        folder = default_folder()
        if (folder / CONFIG_NAME).is_file():
            problem = config_problem(folder / CONFIG_NAME)
            if problem is None:
                self.config.set_project_location(str(folder))
                self.config.load_project(merge=False)
            elif "doctor" not in [t.name for t in getattr(self, "tasks", None) or []]:
                # invoke would stop with a traceback; say which file and line instead (doctor reports it too)
                raise Exit(f"error: {problem}", code=ConfigError.exit_code)
        super().update_config()


program = MaintProgram(name="maint", version=__version__, namespace=ns, executor_class=Executor,
                       config_class=Config)


def main() -> None:
    try:
        program.run()
    except BrokenPipeError:  # `maint --help | head`: the reader has what it wanted
        silence_stdout()
