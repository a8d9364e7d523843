"""Drawing the flyer with Pillow: a 600 px wide PNG for e-mail and a square PNG for social posts.

Both are drawn from the same content by one card routine: the e-mail image grows as tall as its
product grid needs, the square one fits its grid into the square.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from PIL import Image, ImageDraw, ImageFont, ImageOps

from maint.flyer.layout import Layout

Font = ImageFont.FreeTypeFont


@dataclass
class Item:
    name: str
    image: Image.Image
    price: str  # the regular price as shown
    special: str | None = None
    tiers: Sequence[tuple[int, str]] = ()
    ends: str = ""  # "Offer ends 31.12.2026", or ""


@dataclass
class FlyerContent:
    store_name: str
    headline: str
    text: str
    footer: str
    items: list[Item]
    logo: Image.Image | None = None
    _fonts: dict[tuple[str, int], Font] = field(default_factory=dict, repr=False)


def decode_image(data: bytes) -> Image.Image:
    """An RGB(A) image from file bytes; ValueError when Pillow can't read it."""
    try:
        opened = Image.open(io.BytesIO(data))
        opened.load()
    except Exception as exc:  # Pillow raises many kinds for a damaged file
        raise ValueError(f"not a readable image ({type(exc).__name__})") from None
    image: Image.Image = ImageOps.exif_transpose(opened) or opened
    return image.convert("RGBA") if image.mode in ("P", "LA", "RGBA") else image.convert("RGB")


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False, compress_level=6)
    return out.getvalue()


class _Painter:
    def __init__(self, layout: Layout, content: FlyerContent, scale: float) -> None:
        self.layout, self.content, self.scale = layout, content, scale

    def font(self, kind: str, bold: bool = False) -> Font:
        size = max(6, round(self.layout.sizes.get(kind, 14) * self.scale))
        key = (("b" if bold else "r") + kind, size)
        if key not in self.content._fonts:
            path = self.layout.bold_font if bold else self.layout.regular_font
            self.content._fonts[key] = ImageFont.truetype(str(path), size)
        return self.content._fonts[key]

    def px(self, value: float) -> int:
        return round(value * self.scale)

    def colour(self, name: str) -> str:
        return self.layout.colors.get(name, "#000000")


def wrap(text: str, font: Font, width: int, max_lines: int = 0) -> list[str]:
    """Words into lines no wider than `width`; the last allowed line ends in … when text is left over."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        words = paragraph.split()
        line = ""
        for word in words:
            candidate = f"{line} {word}".strip()
            if font.getlength(candidate) <= width or not line:
                line = candidate
            else:
                lines.append(line)
                line = word
        lines.append(line)
    if max_lines and len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and font.getlength(last + "…") > width:
            last = last[:-1]
        lines[-1] = last.rstrip() + "…"
    return lines


def _line_height(font: Font) -> int:
    ascent, descent = font.getmetrics()
    return int((ascent + descent) * 1.15)


def _header(p: _Painter, draw: ImageDraw.ImageDraw, canvas: Image.Image | None, width: int, top: int) -> int:
    """Logo (or the store's name) and the headline band; returns the y below them."""
    pad = p.px(20)
    y = top + pad
    logo = p.content.logo
    if logo is not None:
        box = (min(p.px(260), width - 2 * pad), p.px(70))
        fitted = ImageOps.contain(logo, box, Image.Resampling.LANCZOS)
        if canvas is not None:
            canvas.paste(fitted, ((width - fitted.width) // 2, y), fitted if fitted.mode == "RGBA" else None)
        y += fitted.height + pad
    else:
        font = p.font("headline", bold=True)
        for line in wrap(p.content.store_name, font, width - 2 * pad, 2):
            if canvas is not None:
                draw.text((width // 2, y), line, font=font, fill=p.colour("headline"), anchor="ma")
            y += _line_height(font)
        y += pad // 2
    if p.content.headline:
        font = p.font("headline", bold=True)
        lines = wrap(p.content.headline, font, width - 2 * pad, 3)
        band = len(lines) * _line_height(font) + 2 * pad // 1
        if canvas is not None:
            draw.rectangle((0, y, width, y + band), fill=p.colour("header"))
            ty = y + pad
            for line in lines:
                draw.text((width // 2, ty), line, font=font, fill=p.colour("header_text"), anchor="ma")
                ty += _line_height(font)
        y += band
    if p.content.text:
        font = p.font("text")
        y += pad // 2
        for line in wrap(p.content.text, font, width - 2 * pad, 6):
            if canvas is not None:
                draw.text((width // 2, y), line, font=font, fill=p.colour("text"), anchor="ma")
            y += _line_height(font)
    return y + pad // 2


def _card_text_height(p: _Painter, item: Item, inner: int) -> int:
    h = 2 * _line_height(p.font("name", bold=True)) + _line_height(p.font("price", bold=True))
    h += min(len(item.tiers), 3) * _line_height(p.font("tier"))
    if item.ends:
        h += _line_height(p.font("tier"))
    if item.special:  # room for the old price on a line of its own, when it doesn't fit beside
        h += _line_height(p.font("old_price"))
    return h + p.px(8)


def _card(
    p: _Painter, canvas: Image.Image, draw: ImageDraw.ImageDraw, item: Item, box: tuple[int, int, int, int], text_h: int
) -> None:
    """One product: its picture (the same size in every card of the grid: `text_h` is the tallest text), name, prices."""
    x0, y0, x1, y1 = box
    inner = p.px(10)
    draw.rounded_rectangle(box, radius=p.px(8), fill=p.colour("card"))
    beside = x1 - x0 >= 1.4 * (y1 - y0)  # a wide card (few products on the square): picture left, text right
    if beside:
        side = max(10, y1 - y0 - 2 * inner)
        width = x1 - x0 - side - 3 * inner
        cx = x0 + 2 * inner + side + width // 2
        y = y0 + max(inner, (y1 - y0 - text_h) // 2)
        picture_at = (x0 + inner, y0 + inner)
    else:
        side = max(10, min(x1 - x0 - 2 * inner, y1 - y0 - 2 * inner - text_h))
        width = x1 - x0 - 2 * inner
        cx = (x0 + x1) // 2
        y = y0 + inner + side + p.px(6)
        picture_at = (x0 + (x1 - x0 - side) // 2, y0 + inner)
    picture = ImageOps.pad(item.image.convert("RGB"), (side, side), Image.Resampling.LANCZOS, color="#ffffff")
    canvas.paste(picture, picture_at)
    name_font = p.font("name", bold=True)
    for line in wrap(item.name, name_font, width, 2):
        draw.text((cx, y), line, font=name_font, fill=p.colour("name"), anchor="ma")
        y += _line_height(name_font)
    price_font = p.font("price", bold=True)
    if item.special:
        old_font = p.font("old_price")
        special_w, old_w, gap = price_font.getlength(item.special), old_font.getlength(item.price), p.px(10)
        if special_w + gap + old_w <= width:  # side by side
            left = cx - (special_w + gap + old_w) / 2
            draw.text((left, y), item.special, font=price_font, fill=p.colour("special"))
            ox, oy = left + special_w + gap, y + price_font.getmetrics()[0] - old_font.getmetrics()[0]
            y += _line_height(price_font)
        else:  # the old price on a line of its own
            draw.text((cx, y), item.special, font=price_font, fill=p.colour("special"), anchor="ma")
            y += _line_height(price_font)
            ox, oy = cx - old_w / 2, y
            y += _line_height(old_font)
        draw.text((ox, oy), item.price, font=old_font, fill=p.colour("old_price"))
        mid = oy + old_font.getmetrics()[0] * 0.62
        draw.line((ox, mid, ox + old_w, mid), fill=p.colour("old_price"), width=max(1, p.px(1.5)))
    else:
        draw.text((cx, y), item.price, font=price_font, fill=p.colour("price"), anchor="ma")
        y += _line_height(price_font)
    tier_font = p.font("tier")
    for quantity, text in list(item.tiers)[:3]:
        draw.text((cx, y), f"{quantity}+ at {text} each", font=tier_font, fill=p.colour("tier"), anchor="ma")
        y += _line_height(tier_font)
    if item.ends:
        draw.text((cx, y), item.ends, font=tier_font, fill=p.colour("special"), anchor="ma")


def _footer(p: _Painter, draw: ImageDraw.ImageDraw | None, width: int, y: int) -> int:
    font = p.font("footer")
    lines = wrap(p.content.footer, font, width - p.px(40), 2)
    for line in lines:
        if draw is not None:
            draw.text((width // 2, y), line, font=font, fill=p.colour("footer"), anchor="ma")
        y += _line_height(font)
    return y + p.px(16)


def render_email(layout: Layout, content: FlyerContent) -> Image.Image:
    """The e-mail image: layout.width wide, as tall as its grid of product cards."""
    width = layout.width
    p = _Painter(layout, content, width / 600)
    pad = p.px(16)
    cols = max(1, min(layout.columns, len(content.items) or 1))
    card_w = (width - pad * (cols + 1)) // cols
    text_h = max((_card_text_height(p, item, p.px(10)) for item in content.items), default=0)
    card_h = card_w + text_h + p.px(10) if content.items else 0
    rows = math.ceil(len(content.items) / cols)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    head = _header(p, probe, None, width, 0)
    footer_h = _footer(p, None, width, 0)
    height = head + rows * (card_h + pad) + pad + footer_h
    canvas = Image.new("RGB", (width, height), p.colour("background"))
    draw = ImageDraw.Draw(canvas)
    y = _header(p, draw, canvas, width, 0)
    for index, item in enumerate(content.items):
        row, col = divmod(index, cols)
        x = pad + col * (card_w + pad)
        top = y + pad + row * (card_h + pad)
        _card(p, canvas, draw, item, (x, top, x + card_w, top + card_h), text_h)
    _footer(p, draw, width, y + pad + rows * (card_h + pad))
    return canvas


def render_square(layout: Layout, content: FlyerContent) -> Image.Image:
    """The social image: layout.square × layout.square, the products in a near-square grid.

    The header shrinks as the grid grows, and the cards' text is scaled to the cards' width, so a
    product's picture keeps most of its card."""
    side = layout.square
    n = len(content.items)
    cols = max(1, math.ceil(math.sqrt(n))) if n else 1
    rows = math.ceil(n / cols) if n else 0
    head = _Painter(layout, content, side / 600 * (0.8 if rows <= 2 else 0.6))
    pad = head.px(14)
    card_w = (side - pad * (cols + 1)) // cols
    cards = _Painter(layout, content, min(head.scale * 0.8, card_w / 276))
    canvas = Image.new("RGB", (side, side), head.colour("background"))
    draw = ImageDraw.Draw(canvas)
    y = _header(head, draw, canvas, side, 0)
    footer_h = _footer(head, None, side, 0)
    if rows:
        text_h = max(_card_text_height(cards, item, cards.px(10)) for item in content.items)
        card_h = max(head.px(60), (side - y - footer_h - pad * (rows + 1)) // rows)
        for index, item in enumerate(content.items):
            row, col = divmod(index, cols)
            x = pad + col * (card_w + pad)
            top = y + pad + row * (card_h + pad)
            _card(cards, canvas, draw, item, (x, top, x + card_w, top + card_h), text_h)
    _footer(head, draw, side, side - footer_h + head.px(4))
    return canvas
