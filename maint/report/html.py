"""The report as one self-contained HTML page: inline CSS and SVG, nothing fetched, phone-wide and printable.

Branding comes from the agency's config (`maint.report`: agency, logo, colour, footer); the logo is a
local image file embedded as a data: URI, so the page still makes no request.
"""

from __future__ import annotations

import base64
import mimetypes
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from maint.billing.duration import format_hours
from maint.errors import ConfigError
from maint.report.formats import Formats
from maint.report.model import LEVEL_WORDS, Availability, Report, StoreReport
from maint.verdicts import Recorded

_COLOUR = re.compile(r"^#[0-9a-fA-F]{3,8}$")


@dataclass(frozen=True)
class Branding:
    agency: str = "Your web agency"
    colour: str = "#1f5f8b"
    footer: str = ""
    logo: str = ""  # a data: URI, or ""

    @classmethod
    def from_config(cls, raw: Mapping[str, Any] | None) -> Branding:
        data = dict(raw or {})
        colour = str(data.get("colour") or data.get("color") or cls.colour)
        if not _COLOUR.match(colour):
            raise ConfigError(f"maint.report.colour must look like #1f5f8b, not {colour!r}")
        logo = ""
        if data.get("logo"):
            path = Path(str(data["logo"])).expanduser()
            kind = mimetypes.guess_type(path.name)[0] or ""
            if not kind.startswith("image/"):
                raise ConfigError(f"maint.report.logo: {path} is not an image file")
            try:
                logo = f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode()}"
            except OSError as exc:
                raise ConfigError(f"maint.report.logo: cannot read {path}: {exc.strerror}") from None
        return cls(
            agency=str(data.get("agency") or cls.agency),
            colour=colour,
            footer=str(data.get("footer") or ""),
            logo=logo,
        )


CSS = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 -apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;color:#222;background:#f4f5f7}
main{max-width:860px;margin:0 auto;padding:16px}
header{background:var(--brand);color:#fff;padding:18px 16px}
header .in{max-width:860px;margin:0 auto;display:flex;gap:14px;align-items:center;flex-wrap:wrap}
header img{max-height:48px;max-width:160px;background:#fff;border-radius:4px;padding:4px}
header h1{font-size:22px;margin:0}
header p{margin:2px 0 0;opacity:.9}
section{background:#fff;border-radius:8px;padding:14px 16px;margin:14px 0;box-shadow:0 1px 2px rgba(0,0,0,.08)}
h2{font-size:18px;margin:0 0 10px;color:var(--brand)}
h3{font-size:16px;margin:16px 0 6px}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px}
.tile{border:1px solid #e3e5e8;border-radius:6px;padding:10px}
.tile b{display:block;font-size:20px}
.tile span{color:#555;font-size:13px}
.good b,b.good{color:#1b7a3a}.bad b,b.bad{color:#b3261e}.warn b,b.warn{color:#a15c00}.unknown b{color:#666}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{text-align:left;padding:5px 6px;border-bottom:1px solid #eceef0;vertical-align:top}
th{color:#555;font-weight:600}
td.n,th.n{text-align:right;white-space:nowrap}
td.d,span.d{white-space:nowrap}
.muted{color:#666}
.note{background:#fff8e1;border-left:4px solid #f0b400;padding:6px 10px;margin:8px 0}
ul.steps li{margin:4px 0}
svg{max-width:100%;height:auto;display:block}
footer{color:#666;font-size:13px;text-align:center;padding:16px}
@media (max-width:520px){main{padding:8px}section{padding:12px 10px}table{font-size:13px}
 .wide td:nth-child(4),.wide th:nth-child(4){display:none}}
svg.weeks{max-width:520px}
@media print{body{background:#fff;font-size:12px}section{box-shadow:none;border:1px solid #ddd}
 h2,h3{break-after:avoid}tr,.tile,svg{break-inside:avoid}
 header{-webkit-print-color-adjust:exact;print-color-adjust:exact}.store{break-before:page}}
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _h(seconds: float) -> str:
    return format_hours(seconds)


def _pct(value: float | None, fmt: Formats) -> str:
    if value is None:
        return "not monitored"
    return fmt.percent(value)


def _when(epoch: float, zone: ZoneInfo, fmt: Formats) -> str:
    return fmt.day_time(datetime.fromtimestamp(epoch, zone))


def _span(start: float, end: float | None, zone: ZoneInfo, fmt: Formats) -> str:
    """'20 Nov 10:00–13:00' on one day, '20 Nov 22:00 – 21 Nov 01:00' across days (in the client's locale)."""
    if end is None:
        return f"{_e(_when(start, zone, fmt))}, still open"
    a, b = datetime.fromtimestamp(start, zone), datetime.fromtimestamp(end, zone)
    if a.date() == b.date():
        return f"<span class=d>{_e(fmt.day(a))}</span> {_e(fmt.time(a))}–{_e(fmt.time(b))}"
    return f"<span class=d>{_e(fmt.day_time(a))}</span> – <span class=d>{_e(fmt.day_time(b))}</span>"


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    return f"{hours // 24} days {hours % 24} h"


def _age(age: timedelta, fmt: Formats) -> str:
    if age < timedelta(hours=1):
        return "under an hour"
    if age < timedelta(days=2):
        return f"{int(age.total_seconds() // 3600)} hours"
    return f"{fmt.number(age.days)} days"


def _at_end(report: Report) -> str:
    return "at the end of the month" if report.generated.timestamp() >= report.month.end else "today"


def _tile(value: str, label: str, mood: str) -> str:
    return f'<div class="tile {mood}"><b>{_e(value)}</b><span>{_e(label)}</span></div>'


def weeks_chart(report: Report, colour: str) -> str:
    """Hours per week against the weekly cap, as bars with a cap mark."""
    weeks, fmt = report.statement.usage.weeks, report.fmt
    if not weeks:
        return ""
    top = max([w.hours for w in weeks] + [w.cap or 0 for w in weeks] + [0.5])
    # A fixed, narrow viewBox: on a phone the labels stay readable once scaled down. The bars start
    # 16 units down, so the label over the tallest one is not cut off.
    width, head, height, left, gap = 480, 16, 110, 8, 10
    bar_w = (width - left) / len(weeks) - gap
    capped = any(w.cap is not None for w in weeks)
    parts = [
        f'<svg class="weeks" viewBox="0 0 {width} {head + height + (34 if capped else 20)}" role="img" '
        'aria-label="hours per week" xmlns="http://www.w3.org/2000/svg" font-size="12" font-family="sans-serif">'
    ]
    base = head + height
    for i, w in enumerate(weeks):
        x = left + i * (bar_w + gap)
        h = height * w.hours / top
        fill = "#b3261e" if w.over_cap else colour
        parts.append(
            f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{fill}"/>'
        )
        parts.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{base - h - 3:.1f}" text-anchor="middle">{_e(fmt.number(w.hours, 1))} h</text>'
        )
        if w.cap is not None:
            y = base - height * w.cap / top
            parts.append(
                f'<line x1="{x - 4:.1f}" x2="{x + bar_w + 4:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="#333" '
                'stroke-dasharray="4 3"/>'
            )
        parts.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{base + 14}" text-anchor="middle">{_e(fmt.day(w.start))}</text>'
        )
    parts.append(f'<line x1="{left - 4}" x2="{width}" y1="{base}" y2="{base}" stroke="#999"/>')
    if capped:
        parts.append(f'<text x="{left}" y="{base + 30}" fill="#555">dashed line: the weekly cap</text>')
    parts.append("</svg>")
    return "".join(parts)


def timeline_chart(av: Availability, report: Report) -> str:
    """The month as one strip: green up, red down, grey where no check ran."""
    start, end = report.month.start, report.month.end
    width, height = 600, 26
    scale = width / (end - start)
    parts = [
        f'<svg viewBox="0 0 {width} {height + 18}" role="img" aria-label="availability timeline" '
        f'xmlns="http://www.w3.org/2000/svg" font-size="13" font-family="sans-serif">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#d9dbde"/>',
    ]
    for a, b, up in av.spans:
        # A down span at least 2 px wide, so a 15-minute outage shows on a month-wide strip.
        w = max((b - a) * scale, 0.0 if up else 2.0)
        parts.append(
            f'<rect x="{(a - start) * scale:.2f}" y="0" width="{w:.2f}" height="{height}" '
            f'fill="{"#3a9d5d" if up else "#b3261e"}"/>'
        )
    day = report.month.first
    while day < report.month.next_first:
        x = (report.month.moment(day).timestamp() - start) * scale
        if day.day in (1, 8, 15, 22, 29):
            # The last label ends at its tick, so it is not cut off at the strip's right edge.
            anchor = ' text-anchor="end"' if x > width - 60 else ""
            parts.append(f'<text x="{x + 2:.1f}" y="{height + 14}"{anchor}>{_e(report.fmt.day(day))}</text>')
        day += timedelta(days=1)
    parts.append("</svg>")
    return "".join(parts)


def _summary(report: Report, colour: str) -> str:
    st, fmt = report.statement, report.fmt
    # The statement `fab hours` prints, the same numbers, written in the client's locale.
    rows = "".join(
        f"<tr><td>{_e(k.strip())}</td><td class=n>{_e(fmt.amounts(_iso_days(v, fmt)))}</td></tr>"
        for k, v in st.summary()
    )
    weeks = ""
    if st.usage.weeks:
        body = "".join(
            f"<tr><td>{_e(fmt.day(w.start))}</td><td class=n>{_h(w.hours * 3600)}</td>"
            f"<td class=n>{_h(w.cap * 3600) if w.cap is not None else '–'}</td>"
            f"<td class=n>{_h(w.over_cap * 3600) if w.over_cap else ''}</td></tr>"
            for w in st.usage.weeks
        )
        weeks = (
            "<h3>Hours per week</h3>"
            + weeks_chart(report, colour)
            + "<table><tr><th>week of</th><th class=n>hours</th><th class=n>cap</th><th class=n>over cap</th></tr>"
            + body
            + "</table>"
        )
    extra = "".join(f'<p class="note">{_e(n)}</p>' for n in (*st.usage.warnings, *st.usage.notes))
    return f"<section><h2>Your plan this month</h2><table>{rows}</table>{weeks}{extra}</section>"


def _work(report: Report) -> str:
    if not report.work:
        return "<section><h2>Work done</h2><p>No work was recorded this month.</p></section>"
    rows = "".join(
        f"<tr><td class=d>{_e(report.fmt.day(w.day))}</td><td>{_e(w.store)}</td><td>{_e(w.text)}</td>"
        f"<td class=n>{_h(w.seconds)}</td></tr>"
        for w in report.work
    )
    return (
        "<section><h2>Work done</h2><table class=wide><tr><th>day</th><th>shop</th><th>what</th>"
        f"<th class=n>time</th></tr>{rows}</table></section>"
    )


def _availability(store: StoreReport, report: Report) -> str:
    av = store.availability
    if av is None:
        return (
            "<h3>Availability</h3><p><b>Not monitored this month</b>: no health check ran, so we cannot "
            "say how often the shop was up.</p>"
        )
    zone, fmt = report.month.zone, report.fmt
    assert av.first_run is not None and av.last_run is not None
    covered = (
        f"{fmt.number(av.runs)} health checks from {_when(av.first_run, zone, fmt)} "
        f"to {_when(av.last_run, zone, fmt)}; "
        "the shop counts as up when its home page, cart and checkout all worked."
    )
    if store.monitored_since is not None:
        since = fmt.day(datetime.fromtimestamp(store.monitored_since, zone))
        covered += f" Monitoring began on {since}, when the shop was added: the share covers the days since."
    html = [
        f"<h3>Availability: {_e(_pct(av.percent, fmt))}</h3><p class=muted>{_e(covered)}</p>",
        timeline_chart(av, report),
    ]
    if av.incidents:
        rows = "".join(
            f"<tr><td>{_span(i.start, i.end, zone, fmt)}</td>"
            f"<td class=n>{_duration(i.seconds) if i.seconds is not None else '–'}</td>"
            f"<td>level {_e(LEVEL_WORDS.get(i.level or 0, 'not graded'))} ({_e(', '.join(i.checks))})</td></tr>"
            for i in av.incidents
        )
        html.append(f"<table><tr><th>when</th><th class=n>lasted</th><th>what failed</th></tr>{rows}</table>")
    else:
        html.append("<p>No outage was seen this month.</p>")
    return "".join(html)


def _backups(store: StoreReport, report: Report) -> str:
    b, fmt = store.backups, report.fmt
    if not b.mirror_root:
        return "<h3>Backups</h3><p><b>No backup location is set up</b> for this shop.</p>"
    if b.unreadable:  # the reason (borg's message) is the agency's to read in the log, not the client's
        return "<h3>Backups</h3><p><b>The backups could not be read</b> when this report was made.</p>"
    verified = sum(1 for s in b.in_month if s.verified)
    lines = [f"<p>{len(b.in_month)} backup(s) taken this month, {verified} verified.</p>"]
    if b.newest is not None and b.age_at_end is not None:
        taken = b.newest.taken.astimezone(report.month.zone)
        lines.append(
            f"<p>Newest verified backup: {_e(fmt.long_day(taken))} {_e(fmt.time(taken))}, "
            f"{_age(b.age_at_end, fmt)} old {_at_end(report)}.</p>"
        )
    else:
        lines.append("<p><b>No verified backup</b> existed at the end of the month.</p>")
    if b.retention is not None:
        r = b.retention
        lines.append(
            f"<p class=muted>Kept: the last {r.daily} days, {r.weekly} weeks and {r.monthly} months "
            f"({b.kept} backups on hand now).</p>"
        )
    for w in b.failed_runs:
        lines.append(f'<p class="note">A backup run on {_e(fmt.day(w.day))} did not complete.</p>')
    if b.in_month:
        rows = "".join(
            f"<tr><td class=d>{_e(_when(s.taken.timestamp(), report.month.zone, fmt))}</td>"
            f"<td>{'verified' if s.verified else 'NOT verified'}</td>"
            f"<td>{_e(s.opencart_version)}</td></tr>"
            for s in b.in_month
        )
        lines.append(f"<table><tr><th>taken</th><th>check</th><th>OpenCart</th></tr>{rows}</table>")
    return "<h3>Backups</h3>" + "".join(lines)


_ISO_DAY = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
VERDICT_WORDS = {
    "ok": "all supported",
    "warning": "works, with points to watch",
    "critical": "needs action",
    "unsupported": "needs action",
    "unknown": "could not be checked completely",
}
GRADE_WORDS = {"critical": "urgent", "warning": "to plan"}
# The check's verdict on a tile: (word, mood).
GLANCE = {
    "ok": ("supported", "good"),
    "warning": ("to watch", "warn"),
    "critical": ("action needed", "bad"),
    "unsupported": ("action needed", "bad"),
    "unknown": ("not fully checked", "unknown"),
}


def _iso_days(text: str, fmt: Formats) -> str:
    """'2026-11-01 to 2026-11-30' (the statement's period) as the client writes dates."""
    return _ISO_DAY.sub(lambda m: fmt.long_day(date(int(m[1]), int(m[2]), int(m[3]))), text)


def _verdict(check: Recorded, report: Report) -> str:
    when = report.fmt.long_day(check.at.astimezone(report.month.zone))
    mood = "bad" if check.status in ("critical", "unsupported") else "warn" if check.status != "ok" else "good"
    return (
        f'<p>Compatibility and security check ({_e(when)}): <b class="{mood}">'
        f"{_e(VERDICT_WORDS.get(check.status, check.status))}</b>.</p>"
    )


def _advisories(advisories: list[dict[str, Any]]) -> str:
    if not advisories:
        return "<p>Security advisories: none known to apply at the month's end.</p>"
    # "fixed in" last: the column a phone leaves out (table.wide); the next steps name the release anyway.
    rows = "".join(
        f"<tr><td>{_e(a.get('id'))}</td><td>{_e(a.get('summary') or a.get('severity') or '')}</td>"
        f"<td>{_e(GRADE_WORDS.get(str(a.get('grade')), a.get('grade')))}</td>"
        f"<td>{_e(a.get('fixed') or 'no fix yet')}</td></tr>"
        for a in advisories
    )
    meanwhile = "".join(
        f"<p class=muted>{_e(a.get('id'))} has no fix yet; meanwhile: {_e(a['action'])}</p>"
        for a in advisories
        if not a.get("fixed") and a.get("action")
    )
    return (
        "<p>Security advisories that apply at the month's end:</p><table class=wide><tr><th>advisory</th>"
        f"<th>what it is</th><th>how urgent</th><th>fixed in</th></tr>{rows}</table>{meanwhile}"
    )


def _platform(store: StoreReport, report: Report) -> str:
    p = store.platform

    def known(v: str) -> str:
        return _e(v) if v else '<span class="muted">not recorded</span>'

    rows = (
        f"<tr><td>OpenCart</td><td>{known(p.opencart)}</td></tr><tr><td>PHP</td><td>{known(p.php)}</td></tr>"
        f"<tr><td>Database</td><td>{known(p.database)}</td></tr>"
        f"<tr><td>Web server</td><td>{known(p.web_server)}</td></tr>"
    )
    html = ["<h3>Platform and security</h3><table>", rows, "</table>"]
    if p.source:
        html.append(f"<p class=muted>Versions as seen in {_e(p.source)}.</p>")
    html.append(
        "<p>Changes this month: " + (_e("; ".join(p.changes)) if p.changes else "none recorded") + ".</p>"
    )
    if p.check is not None:
        html.append(_verdict(p.check, report))
    elif p.check_before is not None:
        when = report.fmt.long_day(p.check_before.at.astimezone(report.month.zone))
        html.append(
            "<p>Compatibility and security check: <b>not run this month</b> (the last one, on "
            f"{_e(when)}, found: {_e(VERDICT_WORDS.get(p.check_before.status, p.check_before.status))}).</p>"
        )
    else:
        html.append("<p>Compatibility and security check: <b>not run yet</b>.</p>")
    if (p.check is not None and p.check_is_newest) or p.advisory_rows:
        html.append(_advisories(p.advisory_rows))
    elif not p.advisories_state:
        html.append("<p>Security advisories: <b>not checked this month</b>.</p>")
    elif p.advisories_state in ("OK", "SKIPPED"):
        html.append("<p>Security advisories: none known to apply at the month's end.</p>")
    else:
        html.append(
            f"<p>Security advisories: <b>{_e(p.advisories_state.lower())}</b>: {_e(p.advisories_detail)}</p>"
        )
    if p.advisories_cleared:
        html.append("<p>Cleared this month: " + _e("; ".join(p.advisories_cleared)) + "</p>")
    return "".join(html)


def _store(store: StoreReport, report: Report) -> str:
    steps = "".join(f"<li>{_e(s)}</li>" for s in store.next_steps) or "<li>Nothing needs your attention.</li>"
    return (
        f'<section class="store"><h2>Shop: {_e(store.name)}</h2>'
        + (f"<p class=muted>{_e(store.url)}</p>" if store.url else "")
        + _availability(store, report)
        + _backups(store, report)
        + _platform(store, report)
        + f'<h3>Next steps</h3><ul class="steps">{steps}</ul></section>'
    )


def _tiles(report: Report) -> str:
    st = report.statement.usage
    tiles = [_tile(_h(st.hours_used * 3600), "hours used", "good")]
    if st.hours_included is not None:
        left = max(0.0, st.hours_included - st.hours_covered)
        tiles.append(_tile(_h(left * 3600), "hours left", "good" if left else "warn"))
    if st.credits_balance is not None:
        tiles.append(
            _tile(
                report.fmt.amounts(str(st.credits_balance)),
                "credits left",
                "good" if st.credits_balance > 0 else "warn",
            )
        )
    for s in report.stores:
        pct = s.availability.percent if s.availability else None
        mood = "unknown" if pct is None else "good" if pct >= 99.5 else "warn" if pct >= 98 else "bad"
        tiles.append(_tile(_pct(pct, report.fmt), f"{s.name} up", mood))
        fresh = s.backups.age_at_end is not None and s.backups.age_at_end <= timedelta(days=7)
        tiles.append(_tile("yes" if fresh else "no", f"{s.name}: recent backup", "good" if fresh else "bad"))
        status = s.platform.check.status if s.platform.check else ""
        word, mood = GLANCE.get(status, ("not checked", "unknown"))
        tiles.append(_tile(word, f"{s.name}: platform and security", mood))
    return f'<section><h2>At a glance</h2><div class="tiles">{"".join(tiles)}</div></section>'


def render_html(report: Report, brand: Branding) -> str:
    notes = "".join(f'<p class="note">{_e(n)}</p>' for n in report.notes)
    logo = f'<img src="{brand.logo}" alt="{_e(brand.agency)}">' if brand.logo else ""
    made = report.generated.astimezone(UTC)
    generated = f"{report.fmt.long_day(made)} {report.fmt.time(made)} UTC"
    footer = _e(brand.footer) + "<br>" if brand.footer else ""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        # No request may leave the page, even if a future section forgot and linked something.
        "<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; style-src 'unsafe-inline'; "
        'img-src data:">'
        f"<title>{_e(report.title)}: maintenance report {_e(report.month_label)}</title>"
        f"<style>:root{{--brand:{brand.colour}}}{CSS}</style></head><body>"
        f'<header><div class="in">{logo}<div><h1>{_e(report.title)}</h1>'
        f"<p>Maintenance report for {_e(report.month_label)} · {_e(brand.agency)}</p>"
        + (f"<p>For {_e(', '.join(report.contacts))}</p>" if report.contacts else "")
        + "</div></div></header><main>"
        + notes
        + _tiles(report)
        + _summary(report, brand.colour)
        + _work(report)
        + "".join(_store(s, report) for s in report.stores)
        + f"</main><footer>{footer}Made by maint on {generated} from our maintenance records.</footer></body></html>"
    )
