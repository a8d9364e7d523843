"""Health results as plain data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class State(Enum):
    """Monitoring-plugin states; ``value`` is the Nagios exit code (a skipped check counts as OK)."""

    OK = "OK"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"
    UNKNOWN = "UNKNOWN"
    SKIPPED = "SKIPPED"

    @property
    def exit_code(self) -> int:
        return {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3, "SKIPPED": 0}[self.value]

    @property
    def severity(self) -> int:
        """Order for "worst state": critical beats warning beats unknown beats ok."""
        return {"OK": 0, "SKIPPED": 0, "UNKNOWN": 1, "WARNING": 2, "CRITICAL": 3}[self.value]

    @property
    def healthy(self) -> bool:
        return self in (State.OK, State.SKIPPED)


@dataclass(frozen=True)
class CheckSpec:
    """One check from health.yaml, after per-store overrides."""

    id: str
    probe: str
    title: str
    level: int
    warn: float | None = None
    crit: float | None = None
    # "above": values above the thresholds are bad (response time); "below": values below are (disk free).
    bad_when: str = "above"
    uom: str = ""
    timeout: float = 10.0
    enabled: bool = True
    params: Mapping[str, Any] = field(default_factory=dict)
    # Checks this one relies on (health.yaml `depends`): when one of them failed, this check's own
    # failure is shown UNKNOWN with that cause and raises no alert (Nagios service dependencies).
    depends: tuple[str, ...] = ()

    @property
    def warn_level(self) -> int:
        """A warning means one support level less urgent than a failure."""
        return min(self.level + 1, 4)


@dataclass(frozen=True)
class Observation:
    """What a probe saw, before grading: a number to compare, or a verdict it reached itself."""

    value: float | str | None = None
    evidence: str = ""
    # A probe that recognised a failure (DB error page, fatal) says so; None lets thresholds decide.
    state: State | None = None
    # Set by the maintenance probe while maint itself holds the store in maintenance (who, why, until):
    # the checks that depend on it are then "planned maintenance", not an outage.
    planned: str = ""


@dataclass(frozen=True)
class CheckResult:
    store: str
    check: str
    state: State
    level: int | None
    value: float | str | None
    evidence: str
    uom: str = ""
    warn: float | None = None
    crit: float | None = None
    seconds: float = 0.0
    bad_when: str = "above"  # the spec's direction, for perfdata ranges
    # The failed (or planned-maintenance) check this result is explained by: it raises no alert itself.
    cause: str = ""
    # The planned-maintenance note (who, why, until) when the cause is maint's own maintenance.
    planned: str = ""

    @property
    def blocks_dependents(self) -> bool:
        """Whether checks that depend on this one are explained by it rather than failing on their own."""
        return self.state is State.CRITICAL or bool(self.cause) or bool(self.planned)

    def as_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "check": self.check,
            "state": self.state.value,
            "level": self.level,
            "value": self.value,
            "uom": self.uom,
            "evidence": self.evidence,
            "seconds": round(self.seconds, 3),
            "cause": self.cause or None,
            "planned": self.planned or None,
        }


def worst_state(results: list[CheckResult]) -> State:
    return max((r.state for r in results), key=lambda s: s.severity, default=State.OK)


def exit_code_for(results: list[CheckResult]) -> int:
    """The overall exit code follows the worst state (0 ok, 1 warning, 2 critical, 3 unknown)."""
    return worst_state(results).exit_code
