"""How fast the fixture builder makes a store, against the standard tools that would make the same one.

    .venv/bin/python benchmarks/fixture.py [--size large|small] [--versions 3.0.5.1,4.1.0.4]

Database: build_store()'s schema + LOAD DATA LOCAL INFILE, against `mariadb < dump.sql` restoring a
mariadb-dump of the very same database. Files: writing the tree and images, against `cp -a` of the
built tree. Runs in a throwaway MariaDB; files go to /dev/shm when it exists (ext4 timings vary 10x).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from maint.sandbox.fixture import SIZES, DbTarget, StoreSize, load_database, write_files  # noqa: E402
from maint.sandbox.mariadb import MariaDB  # noqa: E402


def timed(action: Callable[[], object]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="large", choices=sorted(SIZES))
    parser.add_argument("--versions", default="3.0.5.1,4.1.0.4")
    args = parser.parse_args()
    size = SIZES[args.size]
    scratch = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
    with tempfile.TemporaryDirectory(prefix="fixture-bench-") as tmp, \
            tempfile.TemporaryDirectory(prefix="fixture-bench-files-", dir=scratch) as files:
        server = MariaDB(Path(tmp) / "mariadb")
        server.start()
        try:
            for version in args.versions.split(","):
                run(server, version, size, Path(files), Path(tmp), args.size)
        finally:
            server.stop()


def run(server: MariaDB, version: str, size: StoreSize, files: Path, tmp: Path, size_name: str) -> None:
    tag = version.replace(".", "")
    built = server.create_store_database(f"b{tag}")
    restored = server.create_store_database(f"r{tag}")
    db = DbTarget("127.0.0.1", server.port, built.user, built.password, built.name)
    root = files / f"www-{tag}"
    t_files = timed(lambda: write_files(version, root, db, url="http://127.0.0.1:1/", size=size))
    t_db = timed(lambda: load_database(version, db, size=size))

    dump = tmp / f"{tag}.sql"
    with dump.open("wb") as out:
        subprocess.run(["mariadb-dump", f"--socket={server.socket}", "-uroot", "--quick", built.name], stdout=out,
                       check=True)

    def restore() -> None:
        with dump.open("rb") as src:
            subprocess.run(["mariadb", f"--socket={server.socket}", "-uroot", restored.name], stdin=src, check=True)

    t_restore = timed(restore)
    t_cp = timed(lambda: subprocess.run(["cp", "-a", str(root), str(files / f"copy-{tag}")], check=True))
    megabytes = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6
    print(f"{version} ({size_name}): files {t_files:6.2f}s ({megabytes:.0f} MB) vs cp -a {t_cp:6.2f}s "
          f"ratio {t_files / t_cp:5.2f} | database {t_db:6.2f}s vs mariadb < dump {t_restore:6.2f}s "
          f"ratio {t_db / t_restore:5.2f}")
    shutil.rmtree(root)
    shutil.rmtree(files / f"copy-{tag}")


if __name__ == "__main__":
    main()
