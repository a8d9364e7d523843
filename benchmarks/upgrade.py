"""`fab upgrade` against the bare procedure by hand, on real OpenCart releases (the real tier's source).

    .venv/bin/python benchmarks/upgrade.py [--pairs 3.0.3.8:3.0.5.1,4.0.2.3:4.1.0.4] [--no-rehearse]

For each pair, two identical real stores are installed by the release's own installer. On one the bare
procedure runs as an agency would script it (facts B5): `rsync -a` of the release over the store through
the same SSH host (configs excluded), then the upgrade routes in a loop with `requests`, then
`rm -rf install/` and the data cache. On the other `fab upgrade --yes` runs. Printed: the bare procedure's
time, maint's maintenance window (maintenance on → off, as it reports it) and its whole run (snapshot,
rehearsal, verification included), the ratio window / bare (target ≤ 1.5×) and whether the whole run
stays under a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402

from maint.sandbox import Sandbox, StoreSpec  # noqa: E402
from maint.sandbox.real import RealStoreBuilder, how_to_enable, release_tree  # noqa: E402
from maint.upgrade.routes import first_url, next_url  # noqa: E402

PROJECT = Path(__file__).resolve().parent.parent
FAB = PROJECT / ".venv" / "bin" / "fab"


def bare(sandbox: Sandbox, name: str, tree: Path, line: str) -> float:
    store = sandbox.store(name)
    ssh = shlex.join(["ssh", "-F", str(sandbox.ssh_config)])
    began = time.perf_counter()
    subprocess.run(["rsync", "-a", "-e", ssh, "--exclude=/config.php", "--exclude=/admin/config.php",
                    f"{tree}/", f"{sandbox.host}:{store.root}/"], check=True, capture_output=True)
    url: str | None = first_url(store.url, line, "admin")
    http = requests.Session()
    while url:
        answer = http.get(url, timeout=600).json()
        if answer.get("error"):
            raise SystemExit(f"bare procedure: the upgrader failed: {answer['error']}")
        url = next_url(url, answer, store.url)
    subprocess.run(["ssh", "-F", str(sandbox.ssh_config), sandbox.host,
                    f"rm -rf {shlex.quote(str(store.root))}/install {shlex.quote(str(store.storage))}/cache/cache.*"],
                   check=True)
    return time.perf_counter() - began


def with_maint(sandbox: Sandbox, name: str, tree: Path, to: str, rehearse: bool) -> tuple[float, float, str]:
    env = {**os.environ, **sandbox.env()}
    argv = [str(FAB), "-r", str(PROJECT), "upgrade", name, "--to", to, "--release", str(tree), "--yes", "--json"]
    if not rehearse:
        argv.append("--no-rehearse")
    began = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    total = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"fab upgrade failed: {done.stderr[-800:]}")
    data = json.loads(done.stdout)["stores"][0]
    steps = ", ".join(f"{s['step']} {s['seconds']:.1f}" for s in data["live"]["steps"])
    if data.get("rehearsal"):
        steps += "; rehearsal steps (s): " + ", ".join(f"{s['step']} {s['seconds']:.1f}" for s in data["rehearsal"]["steps"])
    phases = ", ".join(f"{name} {secs:.1f}" for name, secs in data.get("phases", {}).items())
    return float(data["live"]["maintenance_window_seconds"]), total, f"{steps}; phases (s): {phases}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", default="3.0.3.8:3.0.5.1,4.0.2.3:4.1.0.4")
    parser.add_argument("--no-rehearse", action="store_true", help="time fab upgrade without its rehearsal")
    args = parser.parse_args()
    builder = RealStoreBuilder.find()
    if builder is None:
        print(f"no OpenCart source: {how_to_enable()}", file=sys.stderr)
        return 2
    for pair in args.pairs.split(","):
        old, new = pair.split(":")
        tree = release_tree(builder.source, new)
        with tempfile.TemporaryDirectory(prefix="bench-upgrade-") as base, \
                Sandbox(Path(base), (StoreSpec("hand", old), StoreSpec("tool", old)), builder=builder) as sb:
            hand = bare(sb, "hand", tree, ".".join(new.split(".")[:2]))
            window, total, steps = with_maint(sb, "tool", tree, new, not args.no_rehearse)
        print(f"{old} → {new}: bare procedure {hand:.1f}s; fab upgrade window {window:.1f}s "
              f"= {window / hand:.2f}× (target ≤ 1.5×); whole run {total:.1f}s "
              f"({'under' if total < 60 else 'OVER'} a minute); live steps (s): {steps}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
