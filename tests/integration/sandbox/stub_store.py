"""A tiny stand-in for maint.sandbox.fixture.build_store: enough OpenCart shape for the sandbox's own tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pymysql

from maint.remote.sql import table

INDEX = """<?php
// Version
define('VERSION', '{version}');
require_once 'config.php';
$db = new mysqli(DB_HOSTNAME, DB_USERNAME, DB_PASSWORD, DB_DATABASE, (int)DB_PORT);
$row = $db->query('SELECT COUNT(*) AS n FROM ' . DB_PREFIX . 'product')->fetch_assoc();
echo 'stub store ' . VERSION . ' products=' . $row['n'];
"""
CONFIG = """<?php
define('HTTP_SERVER', '{url}');
define('DIR_STORAGE', '{storage}/');
define('DB_DRIVER', 'mysqli');
define('DB_HOSTNAME', '{db.host}');
define('DB_USERNAME', '{db.user}');
define('DB_PASSWORD', '{db.password}');
define('DB_DATABASE', '{db.database}');
define('DB_PORT', '{db.port}');
define('DB_PREFIX', '{prefix}');
"""
ROUTER = """<?php
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
if ($path !== '/' && is_file(__DIR__ . $path)) { return false; }
require __DIR__ . '/index.php';
"""


def build_stub_store(version: str, root: Path, db: Any, *, url: str, prefix: str = "oc_", admin_dir: str = "admin",
                     storage_dir: Path | None = None, size: Any = "small", seed: int = 1, engine: Any = None) -> None:
    storage = storage_dir or root / "system" / "storage"
    storage.mkdir(parents=True, exist_ok=True)
    (root / admin_dir).mkdir(parents=True, exist_ok=True)
    (root / "index.php").write_text(INDEX.format(version=version))
    (root / admin_dir / "index.php").write_text(INDEX.format(version=version).replace("config.php", "../config.php"))
    (root / "config.php").write_text(CONFIG.format(url=url, storage=storage, db=db, prefix=prefix))
    (root / "router.php").write_text(ROUTER)
    conn = pymysql.connect(host=db.host, port=db.port, user=db.user, password=db.password, database=db.database)
    with conn, conn.cursor() as cur:
        product = table(prefix, "product")
        cur.execute(f"CREATE TABLE {product} (product_id INT AUTO_INCREMENT PRIMARY KEY, price DECIMAL(15,4))")
        rows = [(10 + i,) for i in range(5)]
        cur.executemany(f"INSERT INTO {product} (price) VALUES (%s)", rows)  # noqa: S608 (table() checked it)
        conn.commit()
