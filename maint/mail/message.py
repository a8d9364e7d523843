"""One campaign's messages: HTML + plain text, inline images, List-Unsubscribe, personalised per recipient.

The parts every message shares (inline images, encoded once) are built when the campaign is; each
message then only encodes its headers and its two personalised text parts, so 10,000 messages cost
about what sending them costs. Placeholders in the HTML: `{{name}}` (the customer's name, or empty),
`{{greeting}}` ("Dear Anna Meyer," / "Hello,"), `{{unsubscribe}}` (the opt-out URL); a footer with the
opt-out link is added when the HTML has none.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import html
import mimetypes
import quopri
import re
import secrets
import urllib.parse
from dataclasses import dataclass, field
from email.header import Header
from pathlib import Path

from bs4 import BeautifulSoup

from maint.errors import InputError
from maint.mail.journal import Recipient

CRLF = b"\r\n"
_IMG_SRC = re.compile(r"""(<img\b[^>]*?\bsrc\s*=\s*["'])([^"']+)(["'])""", re.IGNORECASE)
FOOTER = (
    '<p style="font:12px sans-serif;color:#666;text-align:center;margin-top:24px">'
    "You get this e-mail from {store}. "
    '<a href="{{{{unsubscribe}}}}">Unsubscribe</a></p>'
)


@dataclass(frozen=True)
class Content:
    """What a campaign sends: HTML with local images turned into cid: references, and those images."""

    subject: str
    html: str
    images: tuple[tuple[str, str, bytes], ...] = ()  # (content id, file name, bytes)
    sha: str = ""

    @classmethod
    def from_html_file(cls, path: Path, subject: str, store_name: str) -> Content:
        """An HTML body whose <img src> may name files beside it: they travel inline (cid:)."""
        if not path.is_file():
            raise InputError("file not found", file=str(path))
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise InputError("the HTML file is not UTF-8", file=str(path)) from None
        images: list[tuple[str, str, bytes]] = []
        by_name: dict[str, str] = {}

        def inline(match: re.Match[str]) -> str:
            src = html.unescape(match.group(2))
            if re.match(r"^(?:[a-z]+:|//)", src, re.IGNORECASE):
                return match.group(0)  # remote or already cid:/data: — left as written
            local = (path.parent / urllib.parse.unquote(src)).resolve()
            if not local.is_file():
                raise InputError(f"image {src!r} not found beside the HTML", file=str(path))
            if src not in by_name:
                cid = f"img{len(images) + 1}.{hashlib.sha256(local.read_bytes()).hexdigest()[:12]}@maint"
                by_name[src] = cid
                images.append((cid, local.name, local.read_bytes()))
            return f"{match.group(1)}cid:{by_name[src]}{match.group(3)}"

        body = _IMG_SRC.sub(inline, text)
        if "{{unsubscribe}}" not in body:
            footer = FOOTER.format(store=html.escape(store_name))
            body = body.replace("</body>", footer + "</body>") if "</body>" in body else body + footer
        digest = hashlib.sha256(subject.encode() + body.encode())
        for _, _, data in images:
            digest.update(data)
        return cls(subject, body, tuple(images), digest.hexdigest())


def html_to_text(body: str) -> str:
    """A readable plain-text part: the text, links as "text (url)", images by their alt text."""
    soup = BeautifulSoup(body, "html.parser")
    for tag in soup(["style", "script", "head"]):
        tag.decompose()
    for img in soup.find_all("img"):
        img.replace_with(f"[{img.get('alt')}]" if img.get("alt") else "")
    for link in soup.find_all("a"):
        href = link.get("href") or ""
        label = link.get_text(" ", strip=True)
        link.replace_with(f"{label} ({href})" if href and href != label else label)
    for br in soup.find_all("br"):
        br.replace_with("\n")
    # block elements end a line, table cells are set apart; inline ones (<s>, <b>, <span>) stay in the line
    for tag in soup.find_all(["p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table"]):
        tag.append("\n")
    for tag in soup.find_all(["td", "th"]):
        tag.append("  ")
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in soup.get_text().splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


@dataclass
class MessageFactory:
    """Builds each recipient's message as bytes (CRLF line ends, ready for SMTP)."""

    content: Content
    sender: str
    sender_name: str
    unsubscribe_url: str
    unsubscribe_mailto: str
    campaign_id: str
    _shared: bytes = field(init=False, repr=False)
    _text_template: str = field(init=False, repr=False)
    _subject: bytes = field(init=False, repr=False)
    _from: bytes = field(init=False, repr=False)
    _domain: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.sender:
            raise InputError("no sender address: set the store's config_email or maint.smtp.from", column="--from")
        self._text_template = html_to_text(self.content.html)
        # one line: a line break in a subject or a name (shop registrations are anyone's input) would
        # start a header of the sender's choosing
        self._subject = Header(_one_line(self.content.subject), "utf-8").encode().encode("ascii")
        self._from = email.utils.formataddr((_one_line(self.sender_name), self.sender), charset="utf-8").encode("ascii")
        self._domain = self.sender.rpartition("@")[2] or "localhost"
        parts = []
        for cid, name, data in self.content.images:
            kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
            parts.append(
                b"--REL\r\nContent-Type: " + kind.encode() + b"\r\nContent-Transfer-Encoding: base64\r\n"
                b"Content-ID: <" + cid.encode() + b">\r\nContent-Disposition: inline; filename=\""
                + name.encode("ascii", "replace") + b"\"\r\n\r\n"
                + base64.encodebytes(data).replace(b"\n", CRLF)
            )
        self._shared = b"".join(parts)

    def unsubscribe_for(self, recipient: Recipient) -> str:
        return self.unsubscribe_url or self.unsubscribe_mailto

    def personalise(self, template: str, recipient: Recipient, *, escape: bool) -> str:
        name = _one_line(recipient.name)
        shown = html.escape(name) if escape else name
        greeting = f"Dear {shown}," if name else "Hello,"
        unsub = self.unsubscribe_for(recipient)
        return (
            template.replace("{{name}}", shown)
            .replace("{{greeting}}", greeting)
            .replace("{{unsubscribe}}", html.escape(unsub) if escape else unsub)
        )

    def build(self, recipient: Recipient) -> bytes:
        boundary = secrets.token_hex(12).encode()
        body_html = self.personalise(self.content.html, recipient, escape=True)
        body_text = self.personalise(self._text_template, recipient, escape=False)
        to = email.utils.formataddr((_one_line(recipient.name), recipient.address), charset="utf-8").encode("ascii")
        unsub = [f"<{self.unsubscribe_mailto}>"] if self.unsubscribe_mailto else []
        if self.unsubscribe_url:
            unsub.append(f"<{self.unsubscribe_url}>")
        headers = [
            b"From: " + self._from,
            b"To: " + to,
            b"Subject: " + self._subject,
            b"Date: " + email.utils.formatdate(localtime=False, usegmt=True).encode(),
            b"Message-ID: <" + f"{self.campaign_id}.{secrets.token_hex(8)}@{self._domain}".encode() + b">",
            b"MIME-Version: 1.0",
            b"List-Unsubscribe: " + ", ".join(unsub).encode("ascii", "replace"),
            b"X-Campaign: " + self.campaign_id.encode("ascii", "replace"),
        ]
        if self.unsubscribe_url:
            headers.append(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click")
        alt = b"ALT" + boundary
        rel = b"REL" + boundary
        out = [
            CRLF.join(headers),
            b"Content-Type: multipart/related; boundary=\"" + rel + b"\"; type=\"multipart/alternative\"",
            b"",
            b"--" + rel,
            b"Content-Type: multipart/alternative; boundary=\"" + alt + b"\"",
            b"",
            b"--" + alt,
            b"Content-Type: text/plain; charset=\"utf-8\"\r\nContent-Transfer-Encoding: quoted-printable",
            b"",
            _qp(body_text),
            b"--" + alt,
            b"Content-Type: text/html; charset=\"utf-8\"\r\nContent-Transfer-Encoding: quoted-printable",
            b"",
            _qp(body_html),
            b"--" + alt + b"--",
            b"",
        ]
        tail = self._shared.replace(b"--REL\r\n", b"--" + rel + CRLF) + b"--" + rel + b"--" + CRLF
        return CRLF.join(out) + tail


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _qp(text: str) -> bytes:
    return quopri.encodestring(text.replace("\r\n", "\n").encode("utf-8")).replace(b"\n", CRLF)
