"""Builder of the OpenCart-shaped fixture store, one of four real releases (opencart-facts.md part B).

The store's files come from layers under ``fixtures/opencart/``: ``common/`` (what every release
shares), ``line-3.0/`` or ``line-4.x/``, then the release's own folder, each overriding the one
before. The builder adds what an install writes (both config.php files), generated product images,
and the schema and rows of the release in the database. Same arguments, same files and rows.
"""

from __future__ import annotations

import calendar
import io
import os
import random
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pymysql

from maint.errors import MaintError
from maint.sandbox import fixture_data as data
from maint.sandbox.fixture_config import ConfigValues, config_files
from maint.sandbox.fixture_schema import Schema, schema_for

VERSIONS = ("3.0.3.8", "3.0.5.1", "4.0.2.3", "4.1.0.4")
FIXTURE_DIR = Path(__file__).resolve().parent.parent.parent / "fixtures" / "opencart"
VERSION_PLACEHOLDER = "@OC_VERSION@"
SQL_MODE = "NO_ZERO_IN_DATE,NO_ENGINE_SUBSTITUTION"  # what OpenCart's mysqli driver sets
# Files carry their release's date (tag commit dates, facts §1) so rsync's size+mtime check sees
# every file of a newer release as changed, as it would with real release zips. Generated images
# carry the fixed data timestamp.
RELEASE_DATES = {"3.0.3.8": (2021, 8, 25), "3.0.5.1": (2026, 8, 4), "4.0.2.3": (2023, 9, 16), "4.1.0.4": (2026, 7, 29)}
DATA_MTIME = calendar.timegm(data.BASE_TIME.timetuple())


def release_mtime(version: str) -> int:
    year, month, day = RELEASE_DATES[version]
    return calendar.timegm((year, month, day, 12, 0, 0, 0, 0, 0))
_NAME = re.compile(r"^[A-Za-z0-9_]*$")
_DIR_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
# Tables filled with LOAD DATA LOCAL INFILE; the rest are a handful of rows each.
_BULK_TABLES = frozenset({"product", "product_description", "product_to_store", "product_discount", "product_special", "product_code",
                          "customer", "order"})


class FixtureError(MaintError):
    """The fixture store could not be built."""


@dataclass(frozen=True)
class StoreSize:
    products: int = 40
    customers: int = 20
    orders: int = 30
    customer_groups: int = 3
    image_files: int = 60  # files under image/catalog/, for mirror tests and benchmarks
    image_bytes: int = 4096


SIZES: dict[str, StoreSize] = {
    "small": StoreSize(),
    "large": StoreSize(products=100_000, customers=20_000, orders=50_000, customer_groups=3,
                       image_files=20_000, image_bytes=16_384),
}


@dataclass(frozen=True)
class DbTarget:
    host: str
    port: int
    user: str
    password: str
    database: str

    def __repr__(self) -> str:  # the password never shows in a repr or a traceback
        return f"DbTarget(host={self.host!r}, port={self.port}, user={self.user!r}, database={self.database!r})"


def admin_credentials() -> tuple[str, str]:
    """The fixture's admin user and password."""
    return data.ADMIN_USER, data.ADMIN_PASSWORD


def build_store(version: str, root: Path, db: DbTarget, *, url: str, prefix: str = "oc_", admin_dir: str = "admin",
                storage_dir: Path | None = None, size: StoreSize = SIZES["small"], seed: int = 1,
                engine: str | None = None) -> None:
    """Write the store's files under root (the docroot) and create its schema and data in db.database (which exists,
    empty; db.user has all privileges on it). url is HTTP_SERVER, e.g. 'http://127.0.0.1:8123/'. storage_dir set =
    storage folder outside the web root (DIR_STORAGE points there). engine overrides the version's table engines
    (benchmarks use it to build an InnoDB 3.0 store or a MyISAM one)."""
    _check_args(version, prefix, admin_dir, url, engine)
    write_files(version, root, db, url=url, prefix=prefix, admin_dir=admin_dir, storage_dir=storage_dir, size=size,
                seed=seed)
    load_database(version, db, prefix=prefix, size=size, seed=seed, engine=engine)


def write_files(version: str, root: Path, db: DbTarget, *, url: str, prefix: str = "oc_", admin_dir: str = "admin",
                storage_dir: Path | None = None, size: StoreSize = SIZES["small"], seed: int = 1) -> None:
    """The file half of build_store(): the release tree, both config.php files, router.php, images."""
    _check_args(version, prefix, admin_dir, url, None)
    root = Path(root).resolve()
    storage = Path(storage_dir).resolve() if storage_dir is not None else None
    _write_tree(version, root, admin_dir=admin_dir, storage_dir=storage, release=False)
    mtime = release_mtime(version)
    _write_file(root / "router.php", (FIXTURE_DIR / "router.php").read_bytes(), mtime)
    values = ConfigValues(url=url, root=root, admin_dir=admin_dir, storage_dir=storage, db_host=db.host,
                          db_port=db.port, db_user=db.user, db_password=db.password, db_database=db.database,
                          db_prefix=prefix)
    for rel, text in config_files(values, version).items():
        _write_file(root / rel, text.encode(), mtime)
    _write_images(root / "image" / "catalog", size, seed)


def export_release(version: str, dest: Path) -> None:
    """Write the release tree of `version` (what a release zip's upload/ holds: no config.php, no admin/config.php,
    config-dist.php files, .htaccess.txt, install/ with its upgrader) so an upgrade can copy it over a store."""
    _check_version(version)
    _write_tree(version, Path(dest).resolve(), admin_dir="admin", storage_dir=None, release=True)


# ------------------------------------------------------------------------------------------------
# files


def _check_version(version: str) -> None:
    if version not in VERSIONS:
        raise FixtureError(f"unknown fixture version {version!r}; expected one of {', '.join(VERSIONS)}")


def _check_args(version: str, prefix: str, admin_dir: str, url: str, engine: str | None) -> None:
    _check_version(version)
    if not _NAME.match(prefix):
        raise FixtureError(f"table prefix {prefix!r} must match {_NAME.pattern}")
    if not _DIR_NAME.match(admin_dir) or admin_dir in (".", ".."):
        raise FixtureError(f"admin folder {admin_dir!r} is not a plain folder name")
    if not url.endswith("/"):
        raise FixtureError(f"store url {url!r} must end with '/'")
    if engine is not None and engine not in ("InnoDB", "MyISAM", "Aria"):
        raise FixtureError(f"unsupported table engine {engine!r}")


def layers(version: str) -> list[Path]:
    """The layer folders of `version`, lowest first."""
    line = "line-3.0" if version.startswith("3.") else "line-4.x"
    return [FIXTURE_DIR / "common", FIXTURE_DIR / line, FIXTURE_DIR / version]


def release_files(version: str) -> dict[str, Path]:
    """{path in the release tree: source file}, later layers overriding earlier ones."""
    files: dict[str, Path] = {}
    for layer in layers(version):
        if not layer.is_dir():
            continue
        for path in layer.rglob("*"):
            if path.is_file():
                files[path.relative_to(layer).as_posix()] = path
    return dict(sorted(files.items()))


def _target(rel: str, root: Path, admin_dir: str, storage_dir: Path | None) -> Path:
    if rel.startswith("admin/"):
        return root / admin_dir / rel[len("admin/"):]
    if storage_dir is not None and rel.startswith("system/storage/"):
        return storage_dir / rel[len("system/storage/"):]
    return root / rel


def _write_tree(version: str, root: Path, *, admin_dir: str, storage_dir: Path | None, release: bool) -> None:
    for rel, src in release_files(version).items():
        if not release and rel.startswith("install/"):
            continue  # an installed store has had install/ deleted, as INSTALL.md asks
        content = src.read_bytes()
        if VERSION_PLACEHOLDER.encode() in content:
            content = content.replace(VERSION_PLACEHOLDER.encode(), version.encode())
        _write_file(_target(rel, root, admin_dir, storage_dir), content, release_mtime(version))


def _write_file(path: Path, content: bytes, mtime: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    os.utime(path, (mtime, mtime))


def _tiles() -> list[bytes]:
    """Small real JPEGs (a coloured tile with a disc), so a flyer can draw the products' pictures."""
    from PIL import Image, ImageDraw  # imported here: only the builder needs Pillow

    tiles = []
    for hue in range(0, 240, 30):
        image = Image.new("RGB", (48, 48), (hue, 140, 240 - hue))
        ImageDraw.Draw(image).ellipse((10, 10, 38, 38), fill=(255, 255, 255))
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=60)
        tiles.append(out.getvalue())
    return tiles


def _write_images(folder: Path, size: StoreSize, seed: int) -> None:
    """image_files JPEGs of image_bytes each: a small real picture followed by random bytes after its end
    marker (decoders stop there), so the files decode, yet neither compress nor dedupe. Sizes below a
    picture's own get random bytes between JPEG markers only. Also the store's logo (config_logo)."""
    rng = random.Random(f"{seed}:images")
    head, tail = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", b"\xff\xd9"
    tiles = _tiles()
    made: set[Path] = set()
    for pid in range(1, size.image_files + 1):
        path = folder.parent / data.product_image(pid)
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        tile = tiles[pid % len(tiles)]
        if len(tile) <= size.image_bytes:
            body = tile + rng.randbytes(size.image_bytes - len(tile))
        else:
            body_len = max(size.image_bytes - len(head) - len(tail), 0)
            body = (head + rng.randbytes(body_len) + tail)[: max(size.image_bytes, 0)]
        path.write_bytes(body)
        os.utime(path, (DATA_MTIME, DATA_MTIME))
    logo = folder.parent / data.LOGO_IMAGE
    logo.parent.mkdir(parents=True, exist_ok=True)
    logo.write_bytes(_logo())
    os.utime(logo, (DATA_MTIME, DATA_MTIME))


def _logo() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (240, 60), (11, 61, 92))
    ImageDraw.Draw(image).text((16, 22), "FIXTURE STORE", fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


# ------------------------------------------------------------------------------------------------
# database


def connect(db: DbTarget) -> pymysql.connections.Connection:
    """A PyMySQL connection to the store's database with OpenCart's session sql_mode."""
    try:
        conn = pymysql.connect(host=db.host, port=db.port, user=db.user, password=db.password, database=db.database,
                               charset="utf8mb4", local_infile=True, autocommit=True)
    except pymysql.MySQLError as exc:
        raise FixtureError(f"cannot connect to {db.user}@{db.host}:{db.port}/{db.database}: {exc.args[-1]}") from None
    with conn.cursor() as cur:
        cur.execute("SET SESSION sql_mode = %s", (SQL_MODE,))
    return conn


def table_rows(version: str, size: StoreSize, seed: int) -> Iterator[data.TableRows]:
    """Every row of the store, table by table."""
    yield data.settings(version, "Fixture Store")
    yield from data.customer_groups(size.customer_groups)
    yield data.languages(version)
    yield data.currencies()
    yield from data.admin_users(version)
    yield from data.extensions(version)
    yield data.products(version, size.products, seed, size.image_files)
    yield data.product_descriptions(size.products, seed)
    yield data.product_stores(size.products)
    yield data.product_options(size.products, seed)
    yield data.discounts(version, size.products, seed, size.customer_groups)
    if version == "4.1.0.4":
        yield data.product_codes(size.products)
    else:
        yield data.specials(size.products, seed)
    yield data.customers(version, size.customers, seed, size.customer_groups)
    yield data.orders(size.orders, size.customers, seed, size.customer_groups)


def load_database(version: str, db: DbTarget, *, prefix: str = "oc_", size: StoreSize = SIZES["small"], seed: int = 1,
                  engine: str | None = None) -> None:
    """(Re)create the release's tables in db.database and fill them."""
    _check_args(version, prefix, "admin", "/", engine)
    schema = schema_for(version, engine)
    conn = connect(db)
    try:
        with conn.cursor() as cur:
            _create_tables(cur, schema, prefix)
            with tempfile.TemporaryDirectory(prefix="oc-fixture-") as tmp:
                for rows in table_rows(version, size, seed):
                    if rows.table in _BULK_TABLES:
                        _load_bulk(cur, prefix, rows, Path(tmp))
                    else:
                        _insert(cur, prefix, rows)
    except pymysql.MySQLError as exc:
        raise FixtureError(f"building the {version} database failed: {exc.args[-1]}") from None
    finally:
        conn.close()


def _create_tables(cur: pymysql.cursors.Cursor, schema: Schema, prefix: str) -> None:
    cur.execute(f"ALTER DATABASE CHARACTER SET {schema.charset} COLLATE {schema.collation}")
    for tbl in schema.tables:
        cur.execute(f"DROP TABLE IF EXISTS `{prefix}{tbl.name}`")
        cur.execute(tbl.create_sql(prefix, schema.charset, schema.collation))


def _column_list(columns: Iterable[str]) -> str:
    return ", ".join(f"`{c}`" for c in columns)


def _insert(cur: pymysql.cursors.Cursor, prefix: str, rows: data.TableRows) -> None:
    values = list(rows.rows)
    if not values:
        return
    marks = ", ".join(["%s"] * len(rows.columns))
    sql = f"INSERT INTO `{prefix}{rows.table}` ({_column_list(rows.columns)}) VALUES ({marks})"  # noqa: S608
    cur.executemany(sql, values)


_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"})


def _tsv_field(value: object) -> str:
    if value is None:
        return "\\N"
    return str(value).translate(_TSV_ESCAPES)


def _load_bulk(cur: pymysql.cursors.Cursor, prefix: str, rows: data.TableRows, tmp: Path) -> None:
    """Stream the rows through a TSV file into LOAD DATA LOCAL INFILE (the fast path for big tables)."""
    path = tmp / f"{rows.table}.tsv"
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for row in rows.rows:
            out.write("\t".join(_tsv_field(v) for v in row))
            out.write("\n")
    sql = (
        f"LOAD DATA LOCAL INFILE %s INTO TABLE `{prefix}{rows.table}` CHARACTER SET utf8mb4 "
        f"FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({_column_list(rows.columns)})"
    )
    cur.execute(sql, (str(path),))
    path.unlink()
