"""The `maint` console script: Fabric's program with maint's task collection, usable from any folder."""

from __future__ import annotations

from fabric import Config, Executor
from fabric.main import Fab

from maint import __version__
from maint.tasks import ns
from maint.tasks.cli_compat import silence_stdout

program = Fab(name="maint", version=__version__, namespace=ns, executor_class=Executor, config_class=Config)


def main() -> None:
    try:
        program.run()
    except BrokenPipeError:  # `maint --help | head`: the reader has what it wanted
        silence_stdout()
