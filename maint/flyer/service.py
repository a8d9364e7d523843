"""`fab flyer`: pick products, check them, price them as the shop does today, draw, write, remember.

Nothing is invented: a product that is disabled, not in the default store, not yet available, has no
image (or one that can't be read), or whose special ends before the send date is a problem; the
flyer is refused with every problem named, or (with skip_invalid) made without those products.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import pymysql.connections
import yaml
from fabric import Connection

from maint.errors import FactError, InputError
from maint.facts.opencart import StoreFacts
from maint.flyer import render
from maint.flyer.layout import Layout
from maint.flyer.prices import shown_price
from maint.flyer.store import (
    StoreData,
    current_specials,
    fetch_image,
    read_products,
    read_store,
    resolve_keys,
    store_url,
)
from maint.pricing.issues import Issue
from maint.pricing.schema import price_schema
from maint.remote.ssh import read_text
from maint.sheets import Field, open_sheet
from maint.sheets.values import cell_text

PRODUCT = Field("product", ("sku", "model", "product_id", "id", "artikel", "artikelnummer", "art nr", "référence"),
                required=True)
CONTENT_KEYS = {"headline", "text", "footer", "products", "send_date"}


class FlyerProblemsError(InputError):
    """Products that can't go on a flyer as they are; `problems` lists all of them."""

    def __init__(self, problems: list[Issue]) -> None:
        first = problems[0]
        more = f" (and {len(problems) - 1} more; see the table)" if len(problems) > 1 else ""
        super().__init__(f"product {first.value}: {first.reason}{more}", column=first.column)
        self.problems = problems


@dataclass
class FlyerRequest:
    products: list[str] = field(default_factory=list)
    specials: bool = False
    sheet: Path | None = None
    headline: str = ""
    text: str = ""
    footer: str = ""
    send_date: date | None = None
    skip_invalid: bool = False


def read_content_file(path: Path) -> dict[str, Any]:
    """headline / text / footer / products / send_date from a small YAML file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise InputError("file not found", file=str(path)) from None
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML: {exc}", file=str(path)) from None
    if not isinstance(data, dict):
        raise InputError("expected keys headline, text, footer, products, send_date", file=str(path))
    unknown = set(data) - CONTENT_KEYS
    if unknown:
        raise InputError(f"unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(CONTENT_KEYS))}",
                         file=str(path))
    products = data.get("products") or []
    if isinstance(products, str):
        products = [p for p in products.split(",")]
    if not isinstance(products, list):
        raise InputError("products must be a list of SKUs, models or ids", file=str(path), column="products")
    data["products"] = [str(p).strip() for p in products if str(p).strip()]
    if data.get("send_date") is not None:
        try:
            data["send_date"] = date.fromisoformat(str(data["send_date"]))
        except ValueError:
            raise InputError("send_date must be YYYY-MM-DD", file=str(path), column="send_date") from None
    for key in ("headline", "text", "footer"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise InputError(f"{key} must be text", file=str(path), column=key)
    return data


def sheet_keys(path: Path) -> list[str]:
    """Product keys (SKU, model or id) from the first matching column of a sheet; blank rows skipped."""
    sheet = open_sheet(path, (PRODUCT,))
    return [cell_text(row.values["product"]) for row in sheet.rows if cell_text(row.values["product"])]


@dataclass
class FlyerProduct:
    product_id: int
    name: str
    model: str
    sku: str
    url: str
    image: str
    price: str
    special: str | None
    special_ends: str | None  # the last day the special shows (YYYY-MM-DD), None when open-ended
    tiers: list[tuple[int, str]]

    @property
    def alt(self) -> str:
        price = f"{self.special} (was {self.price})" if self.special else self.price
        return f"{self.name}: {price}"


@dataclass
class Flyer:
    id: str
    folder: Path | None
    store: str
    created: str
    send_date: str
    headline: str
    text: str
    products: list[FlyerProduct]
    warnings: list[str]
    skipped: list[Issue]
    files: dict[str, str] = field(default_factory=dict)  # name → sha256
    render_seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "store": self.store,
            "folder": str(self.folder) if self.folder else None,
            "created": self.created,
            "send_date": self.send_date,
            "headline": self.headline,
            "text": self.text,
            "products": [vars(p) for p in self.products],
            "warnings": self.warnings,
            "skipped": [i.as_dict() for i in self.skipped],
            "files": self.files,
        }


def product_url(base: str, product_id: int) -> str:
    return f"{base.rstrip('/')}/index.php?route=product/product&product_id={product_id}"


def language_reader(conn: Connection, facts: StoreFacts) -> Callable[[str], str | None]:
    """The catalog language file holding decimal_point (3.0: <code>/<code>.php, 4.x: <code>/default.php)."""
    base = facts.path("DIR_LANGUAGE") or facts.root.rstrip("/") + "/catalog/language/"

    def read(code: str) -> str | None:
        name = f"{code}.php" if facts.version.startswith("3.") else "default.php"
        try:
            return read_text(conn, f"{base.rstrip('/')}/{code}/{name}", store=facts.store)
        except FactError:
            return None

    return read


def plan_flyer(
    conn: Connection,
    facts: StoreFacts,
    db: pymysql.connections.Connection,
    request: FlyerRequest,
    layout: Layout,
    *,
    today: date,
    store_id: int = 0,
) -> tuple[StoreData, list[FlyerProduct], list[tuple[FlyerProduct, bytes]], list[Issue], list[str]]:
    """The store's data, the products that pass (with their image bytes), the problems, and notes.
    `store_id`: which store of a multi-store install (its name, logo, URL and products)."""
    schema = price_schema(facts.version)
    prefix = facts.db.prefix
    url = store_url(db, prefix, store_id, facts.url)
    store = read_store(db, prefix, url, language_reader(conn, facts), store_id=store_id)
    send_date = request.send_date or today
    if send_date < today:
        raise InputError(f"the send date {send_date} is in the past", column="--send-date")
    ids = resolve_keys(db, prefix, schema, request.products, what="--products")
    if request.sheet is not None:
        for pid in resolve_keys(db, prefix, schema, sheet_keys(request.sheet), what=request.sheet.name):
            if pid not in ids:
                ids.append(pid)
    if request.specials:
        for pid in current_specials(db, prefix, schema, store.customer_group_id, today):
            if pid not in ids:
                ids.append(pid)
    if not ids:
        raise InputError("no products: give --products, --specials or --sheet (or products: in --content)",
                         column="--products")
    if len(ids) > layout.max_products:
        raise InputError(f"{len(ids)} products; layout {layout.name!r} takes at most {layout.max_products}",
                         column="--products")
    rows = read_products(db, prefix, schema, ids, store.customer_group_id, store.language_id, store_id=store_id)
    dir_image = facts.path("DIR_IMAGE") or facts.root.rstrip("/") + "/image/"
    problems: list[Issue] = []
    notes = list(store.notes)
    passed: list[tuple[FlyerProduct, bytes]] = []
    for pid in ids:
        row = rows[pid]
        label = row.sku or row.model or str(pid)

        def problem(reason: str, column: str = "product", pid: int = pid, what: str = f"{label} ({row.name or 'no name'})") -> None:
            problems.append(Issue("store", pid, column, what, reason))

        before = len(problems)
        if row.status != 1:
            problem("disabled in the store")
        if not row.in_store:
            problem("not in this store (product_to_store)" if store_id else "not in the default store (product_to_store)")
        if row.date_available and row.date_available not in ("0000-00-00",) and row.date_available > today.isoformat():
            problem(f"not available before {row.date_available}")
        if not row.name:
            problem("no name in the catalog language", "name")
        price, special_row = shown_price(row.price, row.discounts, row.specials, today)
        if special_row is not None and special_row.ends_before(send_date + timedelta(days=1)):
            last = date.fromisoformat(str(special_row.date_end)) - timedelta(days=1)
            problem(f"its special ends on {last} (last day), before the send date {send_date}", "special")
        data = b""
        if not row.image:
            problem("has no image", "image")
        elif len(problems) == before:
            try:
                data = fetch_image(conn, dir_image, row.image)
                render.decode_image(data)
            except (FactError, ValueError) as exc:
                problem(str(exc) if isinstance(exc, FactError) else f"image {row.image}: {exc}", "image")
        if len(problems) != before:
            continue
        for rule in row.discounts + row.specials:
            if rule.type == "P" and rule.price >= 50 and rule.holds_on(today):
                notes.append(
                    f"product {label}: a {'special' if rule in row.specials else 'quantity'} price is stored as "
                    f"{rule.price:g} % off (type P), so the shop shows it that way; 4.1 reads untyped rows as "
                    "percentages (facts B6): check the product's discounts"
                )
                break
        texts = price.texts(store.tax, row.tax_class_id, store.currency)
        ends = None
        if special_row is not None and price.special_ends:
            ends = (date.fromisoformat(price.special_ends) - timedelta(days=1)).isoformat()
        product = FlyerProduct(
            product_id=pid, name=row.name, model=row.model, sku=row.sku, url=product_url(store.url, pid),
            image=row.image, price=str(texts["price"]), special=str(texts["special"]) if texts["special"] else None,
            special_ends=ends, tiers=[(int(q), str(t)) for q, t in texts["tiers"]],  # type: ignore[attr-defined]
        )
        passed.append((product, data))
    return store, [p for p, _ in passed], passed, problems, notes


def flyers_root(state_dir: Path, client: str) -> Path:
    return Path(state_dir).expanduser() / "clients" / client / "flyers"


def flyers_in_week(root: Path, day: date, *, store: str | None = None, zone: tzinfo = UTC) -> list[dict[str, Any]]:
    """Flyers made in the week (Monday to Sunday, in the agency's time zone) holding `day`, from their
    flyer.json files."""
    monday = day - timedelta(days=day.weekday())
    found = []
    for meta in sorted(root.glob("*/flyer.json")):
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
            made = datetime.fromisoformat(str(data.get("created"))).astimezone(zone).date()
        except (OSError, ValueError, TypeError):
            continue
        if monday <= made < monday + timedelta(days=7) and (store is None or data.get("store") == store):
            found.append(data)
    return found


def find_flyer(state_dir: Path, client: str, flyer_id: str) -> Path:
    folder = flyers_root(state_dir, client) / flyer_id
    if not (folder / "flyer.json").is_file() or "/" in flyer_id or flyer_id.startswith("."):
        known = ", ".join(sorted(p.parent.name for p in flyers_root(state_dir, client).glob("*/flyer.json"))) or "none"
        raise InputError(f"no flyer {flyer_id!r} for client {client} (known: {known})", column="--flyer")
    return folder


def next_flyer_id(root: Path, store: str, day: date) -> str:
    stem = f"{store}-{day:%Y%m%d}"
    n = 1
    while (root / f"{stem}-{n}").exists():
        n += 1
    return f"{stem}-{n}"


def body_html(flyer: Flyer, store: StoreData) -> str:
    """The e-mail body: the flyer image linked to the shop, then each product as a link with alt text."""
    esc = html.escape
    links = "\n".join(
        f'<tr><td style="padding:6px 0;font:15px sans-serif"><a href="{esc(p.url)}" title="{esc(p.alt)}" '
        f'style="color:#0b3d5c">{esc(p.name)}</a></td>'
        f'<td style="padding:6px 0;font:15px sans-serif;text-align:right">'
        f'{esc(p.special) + " (was <s>" + esc(p.price) + "</s>)" if p.special else esc(p.price)}</td></tr>'
        for p in flyer.products
    )
    alt = flyer.headline or f"{store.name}: this week's offers"
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + esc(alt) + "</title></head>\n"
        '<body style="margin:0;background:#ffffff">\n'
        '<table role="presentation" width="600" align="center" cellpadding="0" cellspacing="0" '
        'style="max-width:600px;width:100%">\n'
        '<tr><td style="padding:12px 0;font:15px sans-serif">{{greeting}}</td></tr>\n'
        f'<tr><td><a href="{esc(store.url)}"><img src="flyer.png" width="600" alt="{esc(alt)}" '
        'style="display:block;width:100%;max-width:600px;height:auto;border:0"></a></td></tr>\n'
        '<tr><td><table role="presentation" width="100%" cellpadding="0" cellspacing="0">\n'
        f"{links}\n</table></td></tr>\n"
        f'<tr><td style="padding:16px 0;font:12px sans-serif;color:#666;text-align:center">{esc(store.name)} · '
        f'<a href="{esc(store.url)}">{esc(store.url)}</a> · '
        '<a href="{{unsubscribe}}">Unsubscribe</a></td></tr>\n'
        "</table>\n</body></html>\n"
    )


def draw(layout: Layout, store: StoreData, passed: Sequence[tuple[FlyerProduct, bytes]], headline: str, text: str,
         footer: str, logo: bytes | None) -> tuple[bytes, bytes]:
    items = [
        render.Item(
            name=p.name, image=render.decode_image(data), price=p.price, special=p.special, tiers=p.tiers,
            ends=f"Offer ends {p.special_ends}" if p.special_ends else "",
        )
        for p, data in passed
    ]
    content = render.FlyerContent(
        store_name=store.name, headline=headline, text=text, footer=footer or store.url, items=items,
        logo=render.decode_image(logo) if logo else None,
    )
    return render.png_bytes(render.render_email(layout, content)), render.png_bytes(render.render_square(layout, content))


def write_flyer(root: Path, flyer: Flyer, store: StoreData, email_png: bytes, square_png: bytes) -> Path:
    """The flyer's folder (0700) with its files (0600): written under a temporary name, then renamed."""
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(root, 0o700)
    tmp = root / f".{flyer.id}.tmp"
    tmp.mkdir(mode=0o700)
    files = {"flyer.png": email_png, "flyer-square.png": square_png, "body.html": body_html(flyer, store).encode()}
    for name, data in files.items():
        path = tmp / name
        path.write_bytes(data)
        path.chmod(0o600)
        flyer.files[name] = hashlib.sha256(data).hexdigest()
    flyer.folder = root / flyer.id
    meta = tmp / "flyer.json"
    meta.write_text(json.dumps(flyer.summary(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    meta.chmod(0o600)
    tmp.rename(flyer.folder)
    return flyer.folder


def now_utc() -> datetime:
    return datetime.now(UTC)
