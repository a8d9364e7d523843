"""Benchmark: `fab health` page checks over 50 stores, five of them deliberately slow.

Each store is a small OpenCart-shaped HTTP server on 127.0.0.1 (home, product, search, cart add
with a session cookie, cart, checkout, admin login) that waits a set time before every answer.
The issue's target: checking all 50 stores takes at most 2x the slowest single store.
The standard tool to compare with is a check loop that visits stores one after another
(what a cron'd curl script does); its time is the sum of the single-store times.

    .venv/bin/python benchmarks/health.py [--stores 50] [--slow 5] [--delay 0.4]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from maint.config import StoreConfig  # noqa: E402
from maint.health.model import State  # noqa: E402
from maint.health.playbook import load_checks  # noqa: E402
from maint.health.runner import StoreJob, run_health  # noqa: E402

PLAYBOOK = Path(__file__).resolve().parents[1] / "maint" / "playbooks" / "health.yaml"
# A storefront as health recognises one: title, header, cart link.
PAGE = (
    '<!DOCTYPE html><html><head><title>{title}</title></head><body><header><div id="logo">Bench</div>'
    '<div id="cart"><a href="index.php?route=checkout/cart">Cart</a></div></header>'
    '<div id="content">{body}</div></body></html>'
)
CARD = '<div class="product-thumb"><h4><a href="{base}index.php?route=product/product&amp;product_id={id}">Camera {id}</a></h4><p class="price">$10.00</p></div>'


def handler_for(delay: float) -> type[BaseHTTPRequestHandler]:
    class Shop(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def answer(self, body: str, content_type: str = "text/html", cookie: bool = False) -> None:
            time.sleep(delay)
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            if cookie:
                self.send_header("Set-Cookie", "OCSESSID=bench; path=/")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            base = f"http://127.0.0.1:{self.server.server_address[1]}/"
            parts = urlsplit(self.path)
            route = parse_qs(parts.query).get("route", ["common/home"])[0]
            if parts.path.startswith("/admin"):
                form = '<form><input name="username"/><input type="password" name="password"/></form>'
                self.answer(PAGE.format(title="Administration", body=form))
            elif route == "product/product":
                body = '<h1>Camera 1</h1><h2 class="price-new">$10.00</h2><button id="button-cart" data-action="index.php?route=checkout/cart.add">Add</button>'
                self.answer(PAGE.format(title="Camera 1", body=body))
            elif route == "product/search":
                self.answer(
                    PAGE.format(
                        title="Search", body=CARD.format(base=base, id=1) + CARD.format(base=base, id=2)
                    )
                )
            elif route == "checkout/cart":
                self.answer(
                    PAGE.format(
                        title="Shopping Cart",
                        body='<table><tr data-product-id="1"><td>Camera 1</td></tr></table>',
                    )
                )
            elif route == "checkout/checkout":
                self.answer(PAGE.format(title="Checkout", body="<h1>Checkout</h1>"))
            else:
                self.answer(PAGE.format(title="Your Store", body=CARD.format(base=base, id=1)), cookie=True)

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.answer(json.dumps({"success": "added"}), "application/json", cookie=True)

        def log_message(self, *args: object) -> None:
            pass

    return Shop


def start_shops(delays: list[float]) -> list[ThreadingHTTPServer]:
    servers = []
    for delay in delays:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(delay))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    return servers


def job(name: str, server: ThreadingHTTPServer, specs) -> StoreJob:
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    return StoreJob(StoreConfig(client="bench", store=name, host="-", root="/", url=url), specs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=50)
    parser.add_argument("--slow", type=int, default=5, help="how many stores answer slowly")
    parser.add_argument("--delay", type=float, default=0.4, help="seconds a slow store waits per request")
    parser.add_argument(
        "--fast-delay", type=float, default=0.02, help="seconds a normal store waits per request"
    )
    args = parser.parse_args()
    web = ("home", "product", "search", "cart", "checkout", "admin_login", "page_notices", "tls")
    specs = [s for s in load_checks(PLAYBOOK) if s.id in web]
    delays = [args.delay if i < args.slow else args.fast_delay for i in range(args.stores)]
    servers = start_shops(delays)
    jobs = [job(f"shop{i:02d}", server, specs) for i, server in enumerate(servers)]
    try:
        run_health([jobs[-1]])  # warm up imports and sockets
        singles = []
        for j in jobs[: args.slow] + jobs[args.slow : args.slow + 3]:
            began = time.monotonic()
            run_health([j])
            singles.append(time.monotonic() - began)
        slowest = max(singles)
        fast_single = min(singles)
        sequential = slowest * args.slow + fast_single * (args.stores - args.slow)
        began = time.monotonic()
        outcome = run_health(jobs, workers=64)
        total = time.monotonic() - began
    finally:
        # shutdown() waits up to a poll interval each: stop all servers at once, not one by one.
        stoppers = [threading.Thread(target=server.shutdown) for server in servers]
        for t in stoppers:
            t.start()
        for t in stoppers:
            t.join()
    bad = [r for r in outcome.results if r.state not in (State.OK, State.SKIPPED)]
    print(
        f"stores: {args.stores} ({args.slow} slow at {args.delay}s/request, others {args.fast_delay}s), "
        f"checks: {len(outcome.results)}, not OK: {len(bad)}"
    )
    print(f"slowest single store: {slowest:.2f}s; fastest: {fast_single:.2f}s")
    print(f"all {args.stores} stores in parallel: {total:.2f}s")
    print(f"ratio all / slowest single store: {total / slowest:.2f}  (target <= 2.0)")
    print(f"ratio all / one-after-another loop (estimated {sequential:.1f}s): {total / sequential:.3f}")
    for r in bad[:5]:
        print(f"  {r.store} {r.check} {r.state.value}: {r.evidence}")
    return 0 if total <= 2 * slowest and not bad else 1


if __name__ == "__main__":
    sys.exit(main())
