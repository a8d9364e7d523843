"""Bulk e-mail and flyer speed, against the plainest way to do the same.

    .venv/bin/python benchmarks/mail.py [--messages 10000] [--image-kb 20]

1. A campaign of N personalised messages (HTML + text + an inline image, List-Unsubscribe) through
   maint's sender with no rate limit: the journal written before and after every message, to the
   local SMTP server of the tests (tests/smtp_capture.py, its own process, writing to tmpfs when
   there is one), against a plain `smtplib` loop over one connection sending the same bodies
   (built beforehand, so the yardstick pays nothing but the SMTP dialogue). The growth of the
   process's peak memory during maint's send is measured too (it must stay flat as N grows).
2. The flyer of 12 products drawn (600 px e-mail PNG + 1080 px square PNG), target < 2 s.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageDraw  # noqa: E402

from maint.flyer import render  # noqa: E402
from maint.flyer.layout import load_layout  # noqa: E402
from maint.mail.journal import Campaign, Journal, Recipient  # noqa: E402
from maint.mail.message import Content, MessageFactory  # noqa: E402
from maint.mail.send import send_campaign  # noqa: E402
from maint.mail.smtp import SmtpSettings  # noqa: E402
from maint.sandbox.ports import free_port  # noqa: E402


def picture(kb: int, seed: int = 1) -> bytes:
    """A PNG of about `kb` KB (noise does not compress)."""
    side = max(16, int((kb * 1024 / 3) ** 0.5))
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def start_server(out: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "smtp_capture.py"), "--port", str(port),
                             "--out", str(out)])
    deadline = time.monotonic() + 15
    while not (out / "ready").exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("the SMTP server did not start")
        time.sleep(0.02)
    return proc, port


def campaign_bench(count: int, image_kb: int, work: Path) -> None:
    (work / "pic.png").write_bytes(picture(image_kb))
    (work / "body.html").write_text(
        '<html><body><p>{{greeting}}</p><img src="pic.png" alt="This week"><p>Offers for {{name}}.</p>'
        '<p><a href="{{unsubscribe}}">Unsubscribe</a></p></body></html>', encoding="utf-8")
    content = Content.from_html_file(work / "body.html", "This week's offers", "Bench Shop")
    factory = MessageFactory(content, "shop@example.test", "Bench Shop", "https://shop.example/unsub",
                             "mailto:shop@example.test?subject=unsubscribe", "bench")
    people = [Recipient(f"customer{i:06d}@example.test", f"Customer {i}", "newsletter") for i in range(count)]

    spool = Path(tempfile.mkdtemp(dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    try:
        proc, port = start_server(spool / "maint")
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        began = time.perf_counter()
        with Journal(work / "mail.sqlite") as journal:
            journal.create(Campaign("bench", "c", "s", "subj", content.sha, "newsletter", "2026-12-06", None),
                           people, [])
            report = send_campaign(journal, "bench", factory, SmtpSettings("127.0.0.1", port))
        ours = time.perf_counter() - began
        peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) * 1024
        proc.terminate()
        proc.wait()
        proc, port = start_server(spool / "plain")
        bodies = [factory.build(r) for r in people]
        began = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port) as client:
            for r, body in zip(people, bodies, strict=True):
                client.sendmail("shop@example.test", [r.address], body)
        plain = time.perf_counter() - began
        del bodies
        proc.terminate()
        proc.wait()

        got = len(list((spool / "maint").glob("*.eml")))
    finally:
        shutil.rmtree(spool, ignore_errors=True)
    size = len(factory.build(people[0])) / 1024
    print(f"campaign: {count} messages of {size:.0f} KB: plain smtplib loop {plain:.2f} s, maint {ours:.2f} s "
          f"(journal, build, send) -> {ours / plain:.2f}x (target <= 1.5x); sent {report.sent}, received {got}; "
          f"peak memory growth during the send {peak / 1e6:.1f} MB")


def flyer_bench(work: Path) -> None:
    layout = load_layout()
    items = []
    for i in range(12):
        image = Image.new("RGB", (800, 800), (i * 20, 120, 200))
        ImageDraw.Draw(image).ellipse((100, 100, 700, 700), fill="white")
        out = io.BytesIO()
        image.save(out, format="JPEG")
        items.append(render.Item(name=f"Product number {i} with a name", image=render.decode_image(out.getvalue()),
                                 price="$1,234.56", special="$999.00" if i % 3 == 0 else None,
                                 tiers=[(10, "$1,100.00")] if i % 4 == 0 else ()))
    content = render.FlyerContent("Bench Shop", "Twelve offers this week", "Prices as in the shop", "shop.example",
                                  items)
    began = time.perf_counter()
    render.png_bytes(render.render_email(layout, content))
    render.png_bytes(render.render_square(layout, content))
    print(f"flyer: 12 products, e-mail + square PNG drawn in {time.perf_counter() - began:.2f} s (target < 2 s)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--image-kb", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        flyer_bench(Path(tmp))
        campaign_bench(args.messages, args.image_kb, Path(tmp))


if __name__ == "__main__":
    main()
