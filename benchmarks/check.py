"""`fab check` timings against what an admin would run by hand with the standard tools.

    .venv/bin/python benchmarks/check.py [--repeat 3]

Starts a private sandbox (MariaDB, sshd, PHP's server on 127.0.0.1) with four stores, then:
1. one store, every probe (store facts, HTTP PHP probe upload/GET/delete, SQL version and sql_mode,
   web server, df and stat) plus the verdicts, against the hand-run baseline: one `ssh` running
   `php -v`, `df`, `stat` and a `mariadb` query, plus one `curl -sI` of the store URL (no verdicts);
2. `check --all` over the four stores in parallel, against the baseline repeated store after store;
3. loading and validating both playbooks.
Each line prints the ratio maint / standard tool (lower is better).
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from invoke import Config, Context  # noqa: E402
from invoke.exceptions import Exit  # noqa: E402

from maint.matrix import load_advisories, load_matrix  # noqa: E402
from maint.sandbox import Sandbox, StoreSpec  # noqa: E402
from maint.tasks.check import check  # noqa: E402

STORES = (
    StoreSpec("b3", "3.0.3.8"),
    StoreSpec("b4", "4.1.0.4"),
    StoreSpec("b30", "3.0.5.1"),
    StoreSpec("b40", "4.0.2.3"),
)


def median_time(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_check(sb: Sandbox, *args: str, **kwargs: object) -> None:
    env = sb.env()
    maint = {
        k: env[f"FABRIC_MAINT_{k.upper()}"] for k in ("inventory", "ssh_config", "known_hosts", "state_dir")
    }
    with redirect_stdout(io.StringIO()):
        try:
            check(Context(config=Config(overrides={"maint": maint})), *args, json=True, **kwargs)
        except Exit:
            pass


def by_hand(sb: Sandbox, name: str) -> None:
    store = sb.store(name)
    root = str(store.root)
    socket = sb.base / "mariadb" / "mariadb.sock"
    remote = (
        f"php -v >/dev/null; df -Pk {root} >/dev/null; stat -c '%a %U %n' {root}/config.php {root}/admin/config.php"
        f" >/dev/null; mariadb --socket={socket} -N -e 'SELECT VERSION(), @@GLOBAL.sql_mode' >/dev/null"
    )
    subprocess.run(
        ["ssh", "-F", str(sb.ssh_config), "maint-sandbox", remote], check=True, capture_output=True
    )
    subprocess.run(["curl", "-sI", "-o", "/dev/null", store.url], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="maint-bench-check-") as tmp, Sandbox(Path(tmp), STORES) as sb:
        one = median_time(lambda: run_check(sb, "b3"), args.repeat)
        hand = median_time(lambda: by_hand(sb, "b3"), args.repeat)
        print(
            f"1. one store, all probes + verdicts: maint {one:.2f}s, ssh+curl by hand {hand:.2f}s, ratio {one / hand:.2f}"
        )
        every = median_time(lambda: run_check(sb, all_=True), args.repeat)
        hand_all = median_time(lambda: [by_hand(sb, s.name) for s in STORES], args.repeat)
        print(
            f"2. check --all, {len(STORES)} stores in parallel: maint {every:.2f}s, by hand one after another "
            f"{hand_all:.2f}s, ratio {every / hand_all:.2f}"
        )
    load = median_time(lambda: (load_matrix(), load_advisories()), max(5, args.repeat))
    print(
        f"3. load + validate matrix.yaml and advisories.yaml: {load * 1000:.0f} ms (no standard tool to compare)"
    )


if __name__ == "__main__":
    main()
