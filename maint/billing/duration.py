"""Durations typed by people: "1h30", "90m", "1.5h", "2h", "45", "0:45"."""

from __future__ import annotations

import re

from maint.errors import InputError

_HOURS_MINUTES = re.compile(r"^(?:(?P<h>\d+(?:[.,]\d+)?)\s*h)?\s*(?:(?P<m>\d+(?:[.,]\d+)?)\s*(?:m|min)?)?$")
_CLOCK = re.compile(r"^(?P<h>\d+):(?P<m>[0-5]\d)$")


def parse_duration(text: str, *, allow_zero: bool = False) -> float:
    """Seconds in `text`. A bare number is minutes ("45"), "h" marks hours, "m"/"min" minutes.

    Refuses negatives, garbage and (unless allow_zero, used when voiding an entry) zero.
    """
    raw = text.strip().lower()
    if raw.startswith("-"):
        raise InputError(f"duration {text!r} is negative", column="duration", value=text)
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
    return float(seconds)


def format_hours(seconds: float) -> str:
    """'1h30' style, for tables people read."""
    minutes = round(seconds / 60)
    hours, rest = divmod(minutes, 60)
    return f"{hours}h{rest:02d}"
