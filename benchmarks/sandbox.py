"""How fast the sandbox starts and stops, against the standard way to get the same MariaDB.

    .venv/bin/python benchmarks/sandbox.py [--rounds 5]

MariaDB: copying the cached template datadir and starting mariadbd (what the sandbox does), against
`mariadb-install-db` into an empty datadir and starting mariadbd (the standard tool). Whole sandbox:
MariaDB + sshd + two PHP servers and the two demo stores (3.0.3.8, 4.0.2.3), start and stop.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from maint.sandbox import Sandbox, StoreSpec  # noqa: E402
from maint.sandbox.mariadb import INSTALL_DB, MariaDB, build_template  # noqa: E402


def timed(action: Callable[[], object]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def mariadb_from_template(tmp: Path, cache: Path) -> tuple[float, float]:
    server = MariaDB(tmp, cache_dir=cache)
    start = timed(server.start)
    stop = timed(server.stop)
    return start, stop


def mariadb_from_install_db(tmp: Path, cache: Path) -> tuple[float, float]:
    server = MariaDB(tmp, cache_dir=cache)

    def install_and_start() -> None:
        subprocess.run(
            [INSTALL_DB, "--no-defaults", f"--datadir={server.datadir}", "--auth-root-authentication-method=normal",
             "--skip-test-db", "--innodb-log-file-size=16M", *(["--user=root"] if os.geteuid() == 0 else [])],
            check=True, capture_output=True,
        )
        server.start()

    start = timed(install_and_start)
    stop = timed(server.stop)
    return start, stop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as work:
        root = Path(work)
        cache = root / "cache"
        build_template(cache)
        ours = [mariadb_from_template(root / f"ours{i}", cache) for i in range(args.rounds)]
        standard = [mariadb_from_install_db(root / f"std{i}", cache) for i in range(args.rounds)]
        ours_start = statistics.median(s for s, _ in ours)
        std_start = statistics.median(s for s, _ in standard)
        print(f"mariadb start: template copy {ours_start:.2f}s, mariadb-install-db {std_start:.2f}s "
              f"-> ratio {ours_start / std_start:.2f}")
        print(f"mariadb stop: {statistics.median(s for _, s in ours):.2f}s")

        starts, stops = [], []
        for i in range(args.rounds):
            sandbox = Sandbox(root / f"sb{i}", [StoreSpec("demo", "3.0.3.8"), StoreSpec("demo4", "4.0.2.3")])
            starts.append(timed(sandbox.start))
            stops.append(timed(sandbox.stop))
        print(f"sandbox with 2 demo stores: start {statistics.median(starts):.2f}s "
              f"(min {min(starts):.2f}s, max {max(starts):.2f}s), stop {statistics.median(stops):.2f}s")


if __name__ == "__main__":
    main()
