"""Which snapshots `fab mirror --prune` keeps: the newest of each of the last N days, weeks and months.

The rules work like borg's prune: walking newest first, a snapshot is kept when it is the first seen of
its period (day, ISO week, month) and fewer than N periods of that kind have been kept so far. The
newest snapshot is always kept, whatever the rules say.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from maint.errors import ConfigError
from maint.mirror.layout import parse_timestamp


@dataclass(frozen=True)
class Retention:
    daily: int = 7
    weekly: int = 4
    monthly: int = 6

    @classmethod
    def from_options(cls, options: dict[str, object] | None) -> Retention:
        """From the store's `mirror.keep` option: {"daily": 7, "weekly": 4, "monthly": 6}."""
        values = dict(options or {})
        unknown = set(values) - {"daily", "weekly", "monthly"}
        if unknown:
            raise ConfigError(f"mirror.keep: unknown key(s) {', '.join(sorted(unknown))}")
        kept = {}
        for key, value in values.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"mirror.keep.{key} must be a whole number >= 0, got {value!r}")
            kept[key] = value
        return cls(**kept)


_PERIODS: dict[str, Callable[[datetime], tuple[int, ...]]] = {
    "daily": lambda t: (t.year, t.month, t.day),
    "weekly": lambda t: tuple(t.isocalendar())[:2],
    "monthly": lambda t: (t.year, t.month),
}


@dataclass(frozen=True)
class Decision:
    snapshot: str
    keep: bool
    reasons: tuple[str, ...]  # e.g. ("daily #1", "weekly #1"); empty when pruned


def decide(snapshots: Iterable[str], rules: Retention) -> list[Decision]:
    """Decisions for each snapshot name, newest first."""
    newest_first = sorted(snapshots, reverse=True)
    reasons: dict[str, list[str]] = {name: [] for name in newest_first}
    for rule, period_of in _PERIODS.items():
        limit = getattr(rules, rule)
        seen: set[tuple[int, ...]] = set()
        for name in newest_first:
            if len(seen) >= limit:
                break
            period = period_of(parse_timestamp(name))
            if period not in seen:
                seen.add(period)
                reasons[name].append(f"{rule} #{len(seen)}")
    if newest_first and not reasons[newest_first[0]]:
        reasons[newest_first[0]].append("newest")
    return [Decision(name, bool(reasons[name]), tuple(reasons[name])) for name in newest_first]
