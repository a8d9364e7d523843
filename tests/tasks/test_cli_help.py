"""Every task shows a summary in `fab --list` and help text for every option in `fab --help TASK`."""

import re
import subprocess
from pathlib import Path

import pytest

from maint.tasks import ns

PROJECT = Path(__file__).resolve().parents[2]
FAB = PROJECT / ".venv" / "bin" / "fab"


def fab(*args: str) -> str:
    result = subprocess.run([str(FAB), "-r", str(PROJECT), *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_fab_list_names_every_task_with_a_summary():
    listing = fab("--list")
    for name in ns.task_names:
        line = next((ln for ln in listing.splitlines() if ln.strip().startswith(name + " ")), "")
        assert line.strip()[len(name):].strip(), f"{name} has no summary in fab --list"


@pytest.mark.parametrize("name", sorted(ns.task_names))
def test_every_option_of_every_task_has_help(name):
    text = fab("--help", name)
    options = text.split("Options:", 1)[1] if "Options:" in text else ""
    for line in options.splitlines():
        if re.match(r"^  -", line):  # a flag; its help's continuation lines are indented deeper
            # "  -s STRING, --store=STRING   store name": flag spec, two or more spaces, help.
            assert re.match(r"^\s+-\S.*?\s{2,}\S", line), f"{name}: {line.strip()} has no help"
