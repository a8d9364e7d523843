"""A sandbox stops its services by PID when its owner ends: normally, on Ctrl-C, on SIGTERM under pytest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from maint.sandbox import Sandbox
from maint.sandbox.orchestrator import stop_orphans
from maint.sandbox.process import ProcessRef, is_running

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parents[2]

OWNER = textwrap.dedent("""
    import importlib.util, sys, time
    from pathlib import Path
    from maint.sandbox import Sandbox, StoreSpec

    spec = importlib.util.spec_from_file_location("stub", {stub!r})
    stub = importlib.util.module_from_spec(spec); spec.loader.exec_module(stub)
    sandbox = Sandbox(Path({base!r}), [StoreSpec("one", "3.0.3.8")], builder=stub.build_stub_store)
    sandbox.start()
    print("READY", flush=True)
    if {mode!r} == "exit":
        sys.exit(0)  # no stop(): atexit does it
    time.sleep(120)
""")


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT), os.environ.get("PYTHONPATH")]))}


def start_owner(tmp_path: Path, mode: str) -> tuple[subprocess.Popen[str], Path]:
    base = tmp_path / "sb"
    script = OWNER.format(stub=str(HERE / "stub_store.py"), base=str(base), mode=mode)
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=child_env())
    assert owner.stdout is not None
    assert owner.stdout.readline().strip() == "READY"
    return owner, base


def recorded_refs(base: Path) -> list[ProcessRef]:
    return [ProcessRef.from_dict(raw) for raw in json.loads((base / "state.json").read_text())["pids"].values()]


def wait_stopped(refs: list[ProcessRef], timeout: float = 20) -> list[ProcessRef]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(is_running(ref) for ref in refs):
        time.sleep(0.1)
    return [ref for ref in refs if is_running(ref)]


@pytest.mark.parametrize("mode", ["exit", "ctrl-c"])
def test_services_stop_when_their_owner_ends(tmp_path: Path, mode: str) -> None:
    owner, base = start_owner(tmp_path, mode)
    try:
        refs = recorded_refs(base)
        assert len(refs) == 3
        if mode == "ctrl-c":
            owner.send_signal(signal.SIGINT)
        assert owner.wait(timeout=30) in (0, 1, -signal.SIGINT)
        assert wait_stopped(refs) == []
        assert json.loads((base / "state.json").read_text())["pids"] == {}
    finally:
        if owner.poll() is None:
            owner.kill()
        subprocess.run([sys.executable, "-m", "maint.sandbox", "--base", str(base), "down"], cwd=PROJECT,
                       env=child_env(), capture_output=True, check=False)


def test_sandbox_of_a_killed_owner_is_stopped_by_the_next_run(tmp_path: Path) -> None:
    owner, base = start_owner(tmp_path, "sleep")
    try:
        refs = recorded_refs(base)
        owner.kill()  # SIGKILL: no atexit, no finaliser
        owner.wait(timeout=10)
        assert all(is_running(ref) for ref in refs)
        assert stop_orphans(iter([base / "state.json"])) == [base]
        assert wait_stopped(refs) == []
    finally:
        subprocess.run([sys.executable, "-m", "maint.sandbox", "--base", str(base), "down"], cwd=PROJECT,
                       env=child_env(), capture_output=True, check=False)


def test_a_running_owner_keeps_its_sandbox(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox()
    assert stop_orphans(iter([sandbox.base / "state.json"])) == []
    assert all(is_running(ref) for ref in sandbox.processes().values())
