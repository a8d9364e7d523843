"""`fab flyer STORE`: the weekly marketing flyer, drawn from the store's own products and prices."""

from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path

from maint import render
from maint.billing.marketing import refuse_beyond
from maint.errors import InputError
from maint.facts.opencart import get_store_facts
from maint.flyer import service
from maint.flyer.layout import load_layout
from maint.pricing.issues import issue_table
from maint.remote.sql import open_db
from maint.remote.ssh import connect
from maint.tasks.common import emit_json, maint_task, task, wants_over_budget, work_session
from maint.tasks.marketing import done, marketing_week

ISSUE_COLUMNS = ("where", "product id", "field", "product", "reason")


def _split(value: str) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _request(products, specials, sheet, headline, text, footer, content, send_date, skip_invalid):
    from_file = service.read_content_file(Path(content)) if content else {}
    when = from_file.get("send_date")
    if send_date:
        try:
            when = date.fromisoformat(send_date)
        except ValueError:
            raise InputError("expected YYYY-MM-DD", column="--send-date") from None
    if sheet and not Path(sheet).is_file():
        raise InputError("file not found", file=sheet, column="--sheet")
    return service.FlyerRequest(
        products=_split(products) or list(from_file.get("products") or []),
        specials=specials,
        sheet=Path(sheet) if sheet else None,
        headline=headline or from_file.get("headline") or "",
        text=text or from_file.get("text") or "",
        footer=footer or from_file.get("footer") or "",
        send_date=when,
        skip_invalid=skip_invalid,
    )


@task(
    name="flyer",
    examples=["fab flyer demo --specials --dry-run", "fab flyer demo --products SKU-1,SKU-2 --headline \"Summer sale\"",
              "fab flyer demo --content flyer.yaml --send-date 2026-12-01"],
    positional=["store"],
    help={
        "store": "store name from the inventory",
        "products": "products by SKU, model or id, comma-separated",
        "specials": "add every product with a special today",
        "sheet": "a sheet (.xlsx/.csv) with a column of SKUs, models or ids",
        "headline": "the flyer's headline",
        "text": "a short text under the headline",
        "footer": "the footer line (default: the shop's URL)",
        "content": "a YAML file with headline, text, footer, products, send_date",
        "send_date": "when the flyer goes out (YYYY-MM-DD, default today): specials must last until then",
        "layout": "a layout: flyers/NAME.yaml in the playbooks (default: default)",
        "skip_invalid": "leave out products that can't go on the flyer, instead of stopping",
        "dry_run": "show the products and prices and stop (no files)",
        "json": "print the result as JSON",
        "over_budget": "a flyer beyond what the client's plan includes this week (plans.yaml marketing)",
    },
)
@maint_task
def flyer(
    c,
    store,
    products="",
    specials=False,
    sheet="",
    headline="",
    text="",
    footer="",
    content="",
    send_date="",
    layout="default",
    skip_invalid=False,
    dry_run=False,
    json=False,
    over_budget=False,
):
    """Make the weekly flyer: PNGs (e-mail, square) and an HTML body from the store's products and prices."""
    week = marketing_week(c, store)
    tc, cfg, today = week.tc, week.cfg, week.today
    request = _request(products, specials, sheet, headline, text, footer, content, send_date, skip_invalid)
    the_layout = load_layout(layout, tc.settings.playbooks)
    root = service.flyers_root(cfg.state_dir, cfg.client)
    allowed = week.allowance("flyer", [f["id"] for f in service.flyers_in_week(root, today, zone=week.zone)])
    if not dry_run:
        refuse_beyond([allowed], cfg.client, over_budget=wants_over_budget(tc, over_budget))
    ledger_note: list[str] = []
    with work_session(tc, cfg, "flyer", quiet=json, over_budget=over_budget, dry_run=dry_run, detail=ledger_note):
        conn = connect(cfg)
        try:
            facts = get_store_facts(conn, cfg)
            with open_db(conn, facts.db, store=store) as db:
                store_data, chosen, passed, problems, notes = service.plan_flyer(
                    conn, facts, db, request, the_layout, today=today, store_id=cfg.store_id
                )
                logo = None
                if store_data.logo and not dry_run:
                    try:
                        logo = service.fetch_image(conn, facts.path("DIR_IMAGE") or facts.root + "/image/", store_data.logo)
                        service.render.decode_image(logo)
                    except (service.FactError, ValueError) as exc:
                        notes.append(f"logo {store_data.logo}: {exc}; the store's name is shown instead")
                        logo = None
                elif not store_data.logo:
                    notes.append("the store has no logo (config_logo); its name is shown instead")
        finally:
            conn.close()
        if problems:
            if json and not skip_invalid:
                emit_json([{"store": store, "ok": False, "error": f"{len(problems)} product problem(s)",
                            "exit_code": 50, "issues": [i.as_dict() for i in problems]}])
            else:
                render.table(
                    f"{len(problems)} product problem(s)" + (" (left out: --skip-invalid)" if skip_invalid else ""),
                    ISSUE_COLUMNS, issue_table(problems), out=render.console(sys.stderr),
                )
            if not skip_invalid:
                raise service.FlyerProblemsError(problems)
            notes += [f"left out product {i.row}: {i.reason}" for i in problems]
        if not passed:
            raise InputError("no product left for the flyer", column="--products")
        flyer_id = service.next_flyer_id(root, store, today)
        if allowed.over:
            notes.append(f"beyond the plan (--over-budget): {allowed.describe()}")
        result = service.Flyer(
            id=flyer_id, folder=None, store=store, created=service.now_utc().isoformat(timespec="seconds"),
            send_date=(request.send_date or today).isoformat(), headline=request.headline, text=request.text,
            products=chosen, warnings=notes, skipped=problems,
        )
        if not json:
            rows = [(p.product_id, p.sku or p.model, p.name, p.price, p.special or "", p.special_ends or "",
                     "; ".join(f"{q}+ {t}" for q, t in p.tiers)) for p in chosen]
            render.table(f"Flyer for {store}: {len(chosen)} product(s), prices as a customer sees them today",
                         ("id", "sku/model", "name", "price", "special", "special until", "quantity prices"), rows)
        if dry_run:
            summary = result.summary() | {"dry_run": True, "allowance": allowed.as_dict()}
            done(summary, json, f"{store}: dry run, no flyer written ({allowed.describe()}).", notes)
            return summary
        began = time.perf_counter()
        email_png, square_png = service.draw(the_layout, store_data, passed, request.headline, request.text,
                                             request.footer, logo)
        result.render_seconds = time.perf_counter() - began
        folder = service.write_flyer(root, result, store_data, email_png, square_png)
        ledger_note.append(f"flyer {flyer_id}: {len(chosen)} product(s), {request.headline or 'no headline'}")
    summary = result.summary() | {"dry_run": False, "render_seconds": round(result.render_seconds, 3),
                                  "allowance": allowed.as_dict()}
    done(summary, json, f"{store}: flyer {flyer_id} written to {folder} (flyer.png, flyer-square.png, body.html); "
                         f"send it with: fab mail {store} --flyer {flyer_id}", notes)
    return summary

