"""Durations typed by people: "1h30", "90m", "1.5h", "2h", "0:45". A unit is required."""

from __future__ import annotations

import re

from maint.errors import InputError

_HOURS_MINUTES = re.compile(
    r"^(?:(?P<h>\d+(?:[.,]\d+)?)\s*h)?\s*(?:(?P<m>\d+(?:[.,]\d+)?)\s*(?P<unit>m|min)?)?$"
)
_CLOCK = re.compile(r"^(?P<h>\d+):(?P<m>[0-5]\d)$")
_BARE = re.compile(r"^\d+(?:[.,]\d+)?$")
DAY = 24 * 3600


def parse_duration(text: str, *, allow_zero: bool = False, days: int = 1) -> float:
    """Seconds in `text`: "h" marks hours, "m"/"min" minutes, "1h30" both, "0:45" a clock.

    A bare number ("1.5", "2") is refused: it was read as minutes before, and people mean hours
    as often as minutes. "0" alone is allowed with allow_zero (voiding an entry). Refuses
    negatives, garbage, zero (unless allow_zero) and more than 24 h per day of `days`.
    """
    raw = text.strip().lower()
    if raw.startswith("-"):
        raise InputError(f"duration {text!r} is negative", column="duration", value=text)
    if _BARE.match(raw) and not (allow_zero and float(raw.replace(",", ".")) == 0):
        raise InputError(
            f"duration {text!r} has no unit: write {raw}h for hours or {raw}m for minutes",
            column="duration",
            value=text,
        )
    clock = _CLOCK.match(raw)
    match = clock or _HOURS_MINUTES.match(raw)
    if not raw or match is None or not (match.group("h") or match.group("m")):
        raise InputError(
            f"duration {text!r} not understood (try 1h30, 90m or 1.5h)", column="duration", value=text
        )
    hours = float((match.group("h") or "0").replace(",", "."))
    minutes = float((match.group("m") or "0").replace(",", "."))
    if not clock and match.group("h") and match.group("m") and minutes >= 60:
        raise InputError(f"duration {text!r}: minutes after hours must be under 60", column="duration")
    seconds = round(hours * 3600 + minutes * 60)
    if seconds == 0 and not allow_zero:
        raise InputError(f"duration {text!r} is zero", column="duration", value=text)
    if seconds > days * DAY:
        limit = "24 h in a day" if days == 1 else f"{days * 24} h in {days} days"
        raise InputError(
            f"duration {text!r} is more than {limit}; give --span DAYS for work over several days",
            column="duration",
            value=text,
        )
    return float(seconds)


def format_hours(seconds: float) -> str:
    """'1h30' style, for tables people read."""
    minutes = round(seconds / 60)
    hours, rest = divmod(minutes, 60)
    return f"{hours}h{rest:02d}"
